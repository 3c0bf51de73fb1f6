//! EDN reading and writing: Jepsen's history shapes, edge cases, errors.

use history::{edn, History, Op, OpType, ParseError, Process, Value};

fn int(i: i64) -> Value {
    Value::Int(i)
}
fn kw(s: &str) -> Value {
    Value::Keyword(s.into())
}
fn s(s: &str) -> Value {
    Value::Str(s.into())
}
fn vector(items: Vec<Value>) -> Value {
    Value::Vector(items)
}

fn read(text: &str) -> History {
    edn::read(text.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn read_err(text: &str) -> ParseError {
    match edn::read(text.as_bytes()) {
        Ok(h) => panic!("expected an error, read {h:?}"),
        Err(e) => e,
    }
}

fn value(text: &str) -> Value {
    edn::parse_value(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[test]
fn jepsen_literal_lines() {
    // jepsen-formats.md §2.1, elle's huge-scc.edn
    let h = read(
        r#"{:type :invoke, :f :txn, :value [[:append 11 1] [:r 11 nil] [:r 11 nil]], :process 10, :time 14532933, :index 0}
{:type :ok, :f :txn, :value [[:append 11 1] [:r 11 [1]] [:r 11 [1]]], :process 10, :time 31076248, :index 2}
{:type :info, :f :leave, :value ["n1" {"n1" "ERR cannot remove leader node"}], :process :nemesis, :time 1428419533, :index 330}
{:type :fail, :f :txn, :value [[:append 12 60]], :process 26, :time 8193433282, :error [:no-client "Connection refused"], :index 1404}
"#,
    );
    assert_eq!(h.len(), 4);
    let ops = h.ops();
    assert_eq!(ops[0].kind, OpType::Invoke);
    assert_eq!(ops[0].process, Process::Client(10));
    assert_eq!(ops[0].time, 14532933);
    assert_eq!(ops[0].f, "txn");
    assert_eq!(
        ops[0].value,
        vector(vec![
            vector(vec![kw("append"), int(11), int(1)]),
            vector(vec![kw("r"), int(11), Value::Nil]),
            vector(vec![kw("r"), int(11), Value::Nil]),
        ])
    );
    assert_eq!(ops[1].index, 2);
    assert_eq!(ops[2].index, 330);
    assert_eq!(ops[2].process, Process::Named("nemesis".into()));
    assert_eq!(
        ops[2].value,
        vector(vec![
            s("n1"),
            Value::Map(vec![(s("n1"), s("ERR cannot remove leader node"))])
        ])
    );
    assert_eq!(ops[3].kind, OpType::Fail);
    assert_eq!(
        ops[3].error,
        Some(vector(vec![kw("no-client"), s("Connection refused")]))
    );
    assert_eq!(ops[3].time, 8193433282);
    assert_eq!(
        (1..=4).map(|i| h.line(i - 1)).collect::<Vec<_>>(),
        [1, 2, 3, 4].map(Some)
    );
}

#[test]
fn list_wrapped_file_without_index() {
    // knossos data/cas-register/bad/rethink-fail.edn
    let h = read(
        "({:type :invoke, :f :cas, :value [1 4], :process 101, :time 99286665244}\n \
         {:type :ok, :f :cas, :value [1 4], :process 101, :time 99286665300})\n",
    );
    assert_eq!(h.len(), 2);
    assert_eq!(h.ops()[0].index, 0);
    assert_eq!(h.ops()[1].index, 1);
    assert_eq!(h.ops()[1].kind, OpType::Ok);
    assert_eq!(h.line(1), Some(2));
}

#[test]
fn vector_wrapped_file() {
    let h = read("[{:process 0 :type :invoke :f :read}\n{:process 0 :type :ok :f :read :value 5}]");
    assert_eq!(h.len(), 2);
    assert_eq!(h.ops()[1].value, int(5));
    assert_eq!(h.ops()[0].value, Value::Nil);
    // empty wrappers are empty histories
    assert!(read("[]").is_empty());
    assert!(read("()").is_empty());
    assert!(read("").is_empty());
    assert!(read("  ; only a comment\n").is_empty());
}

#[test]
fn older_jepsen_history_with_sets_and_extras() {
    let h = read(
        r#"{:type :info, :f :start-partition, :value [:isolated {"n2" #{"n5" "n1"}, "n4" #{"n5" "n1"}}], :time 2131079545, :process :nemesis, :source :generator}
{:type :info, :f :write, :value 77, :time 2607442466, :process 2, :source :generator}"#,
    );
    let op = &h.ops()[0];
    assert_eq!(op.index, 0);
    assert_eq!(h.ops()[1].index, 1);
    assert_eq!(op.extra, vec![("source".to_string(), kw("generator"))]);
    let grudge = &op.value.as_seq().unwrap()[1];
    assert_eq!(grudge.get("n2"), Some(&Value::Set(vec![s("n5"), s("n1")])));
}

#[test]
fn comments_commas_and_discards() {
    let h = read(
        "; a history\n\
         {:process 0, ; the process\n :type :invoke, #_ :ignored #_ 42 :f :write, :value #_[1 2] 3}\n\
         #_{:process 9 :type :bogus}\n\
         #! shebang-style comment\n\
         {:process 0,,, :type :ok :f :write :value 3 #_#_ :a :b}",
    );
    assert_eq!(h.len(), 2);
    assert_eq!(h.ops()[0].value, int(3));
    assert!(h.ops()[0].extra.is_empty());
    assert!(h.ops()[1].extra.is_empty());
    assert_eq!(h.line(0), Some(2));
    assert_eq!(h.line(1), Some(6));
    assert_eq!(h.ops()[1].index, 1);
}

#[test]
fn maps_spanning_lines_remember_their_first_line() {
    let h =
        read("\n\n{:process 0\n :type :invoke\n :f :read}\n{:process 0\n\n :type :ok :f :read}");
    assert_eq!(h.line(0), Some(3));
    assert_eq!(h.line(1), Some(6));
}

#[test]
fn records_and_other_tags() {
    let h = read(
        "#jepsen.history.Op{:index 5, :time 7, :type :invoke, :process 0, :f :read, :value nil}\n\
         #jepsen.history.Op {:index 6, :time 8, :type :ok, :process 0, :f :read, :value #{1 2} :at #inst \"2020-01-01\"}",
    );
    assert_eq!(h.len(), 2);
    assert_eq!(h.ops()[0].index, 5);
    assert_eq!(h.ops()[1].value, Value::Set(vec![int(1), int(2)]));
    assert_eq!(
        h.ops()[1].extra,
        vec![(
            "at".into(),
            Value::Tagged("inst".into(), Box::new(s("2020-01-01")))
        )]
    );
    // a tagged value that is not an op record is an error at top level
    let e = read_err("#foo {:process 0 :type :ok}");
    assert_eq!((e.line, e.column), (1, 1));
    assert!(e.message.contains("expected an op map"), "{e}");
    assert!(e.message.contains("tagged"), "{e}");
}

#[test]
fn keys_in_any_order_and_all_fields() {
    let h = read(
        r#"{:value [1 2] :extra-b 2 :error :timeout :key "k" :f "cas" :process "worker" :time -5 :index 3 :type "info" :extra-a {:x 1} "str-key" 1 42 2 [1] 3}"#,
    );
    let op = &h.ops()[0];
    assert_eq!(op.kind, OpType::Info);
    assert_eq!(op.process, Process::Named("worker".into()));
    assert_eq!(op.f, "cas");
    assert_eq!(op.key, Some(s("k")));
    assert_eq!(op.error, Some(kw("timeout")));
    assert_eq!(op.time, -5);
    assert_eq!(op.index, 3);
    assert_eq!(op.value, vector(vec![int(1), int(2)]));
    let names: Vec<&str> = op.extra.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["extra-b", "extra-a", "\"str-key\"", "42", "[1]"]);
    assert_eq!(op.extra[1].1, Value::Map(vec![(kw("x"), int(1))]));
}

#[test]
fn nested_maps_and_sets() {
    let v = value(r#"{:a {:b {:c #{1 #{2 3} [4 {5 6}]}}} "x" ()}"#);
    assert_eq!(
        v,
        Value::Map(vec![
            (
                kw("a"),
                Value::Map(vec![(
                    kw("b"),
                    Value::Map(vec![(
                        kw("c"),
                        Value::Set(vec![
                            int(1),
                            Value::Set(vec![int(2), int(3)]),
                            vector(vec![int(4), Value::Map(vec![(int(5), int(6))])]),
                        ])
                    )])
                )])
            ),
            (s("x"), vector(vec![])),
        ])
    );
}

#[test]
fn scalars() {
    assert_eq!(value("nil"), Value::Nil);
    assert_eq!(value("true"), Value::Bool(true));
    assert_eq!(value("false"), Value::Bool(false));
    assert_eq!(value("-42"), int(-42));
    assert_eq!(value("+42"), int(42));
    assert_eq!(value("42N"), int(42));
    assert_eq!(value("-9223372036854775808"), int(i64::MIN));
    assert_eq!(value("9223372036854775807"), int(i64::MAX));
    assert_eq!(value("1.5"), Value::Float(1.5));
    assert_eq!(value("-1.5e3"), Value::Float(-1500.0));
    assert_eq!(value("2E-2"), Value::Float(0.02));
    assert_eq!(value("1.25M"), Value::Float(1.25));
    assert_eq!(value("3."), Value::Float(3.0));
    assert_eq!(value("1/4"), Value::Float(0.25));
    assert_eq!(value("##Inf"), Value::Float(f64::INFINITY));
    assert_eq!(value("##-Inf"), Value::Float(f64::NEG_INFINITY));
    assert!(matches!(value("##NaN"), Value::Float(x) if x.is_nan()));
    assert_eq!(value(":a/b"), kw("a/b"));
    assert_eq!(value(":ok?"), kw("ok?"));
    assert_eq!(value("foo.bar/baz"), Value::Symbol("foo.bar/baz".into()));
    assert_eq!(value("-"), Value::Symbol("-".into()));
    assert_eq!(value("->x"), Value::Symbol("->x".into()));
    assert_eq!(value(r"\a"), s("a"));
    assert_eq!(value(r"\newline"), s("\n"));
    assert_eq!(value(r"\space"), s(" "));
    assert_eq!(value(r"\u00e9"), s("é"));
    assert_eq!(value(r"\("), s("("));
    assert_eq!(value(r"[\a \b]"), vector(vec![s("a"), s("b")]));
    assert_eq!(
        value("#uuid \"abc\""),
        Value::Tagged("uuid".into(), Box::new(s("abc")))
    );
}

#[test]
fn strings_with_escapes() {
    assert_eq!(value(r#""a\"b""#), s("a\"b"));
    assert_eq!(value(r#""t\tn\nr\rb\\""#), s("t\tn\nr\rb\\"));
    assert_eq!(value(r#""\u00e9\u0041""#), s("éA"));
    assert_eq!(value(r#""\ud83d\ude00""#), s("😀"));
    assert_eq!(value("\"multi\nline\""), s("multi\nline"));
    assert_eq!(value("\"unicode ☃ kept\""), s("unicode ☃ kept"));
    // a string spanning lines moves the line count on
    let h = read("{:process 0 :type :ok :f :x :value \"a\nb\nc\"}\n{:process 1 :type :ok :f :x}");
    assert_eq!(h.line(1), Some(4));
}

#[test]
fn negative_numbers_in_fields() {
    let h = read("{:process 0 :type :ok :f :add :value -3 :time -1 :key -7}");
    assert_eq!(h.ops()[0].value, int(-3));
    assert_eq!(h.ops()[0].key, Some(int(-7)));
    let e = read_err("{:process -1 :type :ok}");
    assert!(
        e.message
            .contains("expected :process to be a non-negative integer"),
        "{e}"
    );
    assert_eq!((e.line, e.column), (1, 11));
    let e = read_err("{:process 0 :type :ok :index -2}");
    assert!(
        e.message
            .contains("expected :index to be a non-negative integer, found -2"),
        "{e}"
    );
}

#[test]
fn wrong_type_is_named() {
    let e = read_err("{:process 0, :type :invoke}\n{:process 0, :type :okk, :f :read}");
    assert_eq!(e.line, 2);
    assert_eq!(e.column, 20);
    assert_eq!(
        e.message,
        "expected :type to be one of :invoke :ok :fail :info, found :okk"
    );
    let e = read_err("{:process 0, :type 3}");
    assert_eq!(
        e.message,
        "expected :type to be one of :invoke :ok :fail :info, found 3"
    );
    let e = read_err(r#"{:process 0, :type "nope"}"#);
    assert!(e.message.ends_with("found \"nope\""), "{e}");
}

#[test]
fn missing_fields_are_named() {
    let e = read_err("{:type :invoke :f :read}\n{:process 0 :type :ok}");
    assert_eq!((e.line, e.column), (1, 1));
    assert!(e.message.contains(":process"), "{e}");
    let e = read_err("\n  {:process 0 :f :read}");
    assert_eq!((e.line, e.column), (2, 3));
    assert!(e.message.contains(":type"), "{e}");
    assert!(e.message.contains("one of :invoke :ok :fail :info"), "{e}");
}

#[test]
fn forms_that_are_not_maps() {
    let e = read_err("{:process 0 :type :ok}\n42\n");
    assert_eq!((e.line, e.column), (2, 1));
    assert_eq!(
        e.message,
        "expected an op map {:type …, :process …, …}, found an integer 42"
    );
    let e = read_err("[{:process 0 :type :ok} [1 2]]");
    assert_eq!((e.line, e.column), (1, 25));
    assert!(e.message.contains("found a vector [1 2]"), "{e}");
    let e = read_err("[{:process 0 :type :ok}] {:process 0 :type :ok}");
    assert!(
        e.message
            .contains("expected end of input after the top-level vector"),
        "{e}"
    );
    assert_eq!(e.column, 26);
}

#[test]
fn syntax_errors_name_line_column_and_expectation() {
    let cases: &[(&str, u32, u32, &str)] = &[
        (
            "{:process 0 :type :ok",
            1,
            22,
            "expected '}' to close the op map opened at line 1, column 1, found end of input",
        ),
        (
            "{:process 0 :type :ok :value [1 2}",
            1,
            34,
            "expected ']' to close the vector opened at line 1, column 30, found '}'",
        ),
        (
            "{:process 0 :type :ok :value}",
            1,
            29,
            "expected a value for the key :value",
        ),
        (
            "{:process 0 :type :ok :value \"abc}\n",
            2,
            1,
            "expected '\"' to close the string opened at line 1, column 30",
        ),
        (
            "{:process 0 :type :ok :value 99999999999999999999}",
            1,
            30,
            "expected an integer that fits in 64 bits, found 99999999999999999999",
        ),
        (
            "{:process 0 :type :ok :value 12abc}",
            1,
            30,
            "expected a number",
        ),
        (
            "{:process 0 :type :ok :value \"\\q\"}",
            1,
            31,
            "expected an escape",
        ),
        (
            "{:process 0 :type :ok :value \"\\ud800\"}",
            1,
            31,
            "low surrogate",
        ),
        (
            "{:process 0 :type :ok :value ^foo}",
            1,
            30,
            "expected a value, found '^'",
        ),
        (
            "{:process 0 :type :ok :value #{1 2]}",
            1,
            35,
            "expected '}' to close the set",
        ),
        (
            "{:process 0 :type :ok :value : }",
            1,
            31,
            "expected a keyword name after ':'",
        ),
        (
            "{:process 0 :type :ok :value \\nope}",
            1,
            30,
            "expected a character literal",
        ),
        (
            "{:process 0 :type :ok :value #\"re\"}",
            1,
            30,
            "expected a set #{…}",
        ),
        (
            "{:process 0 :type :ok :value ##Foo}",
            1,
            30,
            "expected ##Inf, ##-Inf or ##NaN",
        ),
        (
            "{:process 0 :type :ok :type :ok}",
            1,
            23,
            "found :type again",
        ),
        (
            "{:process 0 :type :ok :time 1.5}",
            1,
            29,
            "expected :time to be an integer",
        ),
        (
            "{:process 0 :type :ok :f 7}",
            1,
            26,
            "expected :f to be a keyword or a string, found 7",
        ),
        ("{:process 0 :type :ok}\n)", 2, 1, "found ')'"),
        (
            "{:process 0 :type :ok :value #_}",
            1,
            32,
            "expected a value, found '}'",
        ),
    ];
    for &(text, line, column, message) in cases {
        let e = read_err(text);
        assert!(e.message.contains(message), "{text:?}: {e}");
        assert_eq!((e.line, e.column), (line, column), "{text:?}: {e}");
    }
}

#[test]
fn invalid_utf8_is_an_error_with_position() {
    let e =
        edn::read(b"{:process 0 :type :ok}\n{:process 0 :type :ok :value \"\xff\"}").unwrap_err();
    assert_eq!((e.line, e.column), (2, 31));
    assert!(e.message.contains("UTF-8"), "{e}");
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    for open in ["[", "(", "{:a ", "#{", "#t ", "#_"] {
        let text = format!("{{:process 0 :type :ok :value {}}}", open.repeat(100_000));
        let e = read_err(&text);
        assert!(e.message.contains("levels of nesting"), "{open}: {e}");
    }
    // 200 levels are fine
    let text = format!(
        "{{:process 0 :type :ok :value {}{}}}",
        "[".repeat(200),
        "]".repeat(200)
    );
    let h = read(&text);
    let mut v = &h.ops()[0].value;
    let mut depth = 0;
    while let Some([inner]) = v.as_seq() {
        v = inner;
        depth += 1;
    }
    assert_eq!(depth, 199);
}

#[test]
fn write_then_read_gives_the_same_history() {
    let mut op = Op::new(
        Process::Client(3),
        OpType::Fail,
        "cas",
        vector(vec![int(1), int(2)]),
    )
    .with_key(s("k"))
    .at(12);
    op.error = Some(vector(vec![kw("timeout"), s("a \"quoted\"\nline")]));
    op.extra = vec![
        ("node".into(), s("n1")),
        (
            "\"str-key\"".into(),
            Value::Set(vec![Value::Float(1.5), Value::Float(-0.0)]),
        ),
        (
            "42".into(),
            Value::Tagged("inst".into(), Box::new(s("2020"))),
        ),
    ];
    let nemesis = Op::new(
        Process::Named("nemesis".into()),
        OpType::Info,
        "start",
        Value::Nil,
    );
    let weird = Op::new(
        Process::Named("has space".into()),
        OpType::Invoke,
        "",
        Value::Float(1e300),
    );
    let h = History::from_ops([op, nemesis, weird]);
    let mut out = Vec::new();
    edn::write(&h, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        r#"{:index 0, :time 12, :type :fail, :process 3, :f :cas, :key "k", :value [1 2], :error [:timeout "a \"quoted\"\nline"], :node "n1", "str-key" #{1.5 -0.0}, :42 #inst "2020"}"#
    );
    assert_eq!(
        lines[1],
        "{:index 1, :type :info, :process :nemesis, :f :start, :value nil}"
    );
    assert_eq!(
        lines[2],
        r#"{:index 2, :type :invoke, :process "has space", :f "", :value 1e300}"#
    );
    let back = edn::read(text.as_bytes()).unwrap();
    assert_eq!(back.ops(), h.ops());
}

#[test]
fn display_writes_edn() {
    let v = Value::Map(vec![
        (kw("a"), int(1)),
        (
            s("b"),
            Value::Set(vec![Value::Float(2.0), Value::Nil, Value::Bool(true)]),
        ),
        (Value::Symbol("c".into()), s("tab\there\u{1}")),
    ]);
    assert_eq!(
        v.to_string(),
        r#"{:a 1, "b" #{2.0 nil true}, c "tab\there\u0001"}"#
    );
    assert_eq!(value(&v.to_string()), v);
    assert_eq!(Value::Float(f64::NAN).to_string(), "##NaN");
    assert_eq!(Value::Float(f64::NEG_INFINITY).to_string(), "##-Inf");
    assert_eq!(Value::Float(0.1).to_string(), "0.1");
}

#[test]
fn parse_value_rejects_trailing_input() {
    let e = edn::parse_value("1 2").unwrap_err();
    assert_eq!((e.line, e.column), (1, 3));
    assert!(
        e.message
            .contains("expected end of input after the value, found '2'"),
        "{e}"
    );
    let e = edn::parse_value("   ").unwrap_err();
    assert!(
        e.message.contains("expected a value, found end of input"),
        "{e}"
    );
}
