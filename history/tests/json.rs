//! JSON Lines and elle-cli JSON.

use history::{json, History, Op, OpType, ParseError, Process, Value};

fn read(text: &str) -> History {
    json::read(text.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn read_err(text: &str) -> ParseError {
    match json::read(text.as_bytes()) {
        Ok(h) => panic!("expected an error, read {h:?}"),
        Err(e) => e,
    }
}

fn s(x: &str) -> Value {
    Value::Str(x.into())
}

#[test]
fn elle_cli_array() {
    // jepsen-formats.md §2.3
    let h = read(
        r#"[{"index":0,"process":0,"type":"invoke","value":[["append",1,1],["r",2,null]]},
 {"index":1,"process":0,"type":"ok","value":[["append",1,1],["r",2,[]]]}]"#,
    );
    assert_eq!(h.len(), 2);
    let op = &h.ops()[0];
    assert_eq!(op.kind, OpType::Invoke);
    assert_eq!(op.f, "");
    assert_eq!(
        op.value,
        Value::Vector(vec![
            Value::Vector(vec![s("append"), Value::Int(1), Value::Int(1)]),
            Value::Vector(vec![s("r"), Value::Int(2), Value::Nil]),
        ])
    );
    assert_eq!(h.line(1), Some(2));
    assert!(read("[]").is_empty());
    assert!(read(" [ ] \n").is_empty());
    assert!(read("").is_empty());
}

#[test]
fn json_lines_with_all_fields_and_blank_lines() {
    let h = read(
        "{\"index\":0,\"time\":12,\"type\":\":invoke\",\"process\":0,\"f\":\":write\",\"key\":1,\"value\":3}\n\
         \n   \n\
         {\"type\":\"info\",\"process\":\":nemesis\",\"f\":\"kill\",\"value\":null,\"error\":\"boom\",\"node\":\"n1\",\"a\":{\"0\":97,\"x\":1.5,\"-3\":true,\"007\":1}}\r\n\
         {\"process\":\"nemesis\",\"type\":\"info\"}\n",
    );
    assert_eq!(h.len(), 3);
    let ops = h.ops();
    assert_eq!(ops[0].time, 12);
    assert_eq!(ops[0].f, "write");
    assert_eq!(ops[0].key, Some(Value::Int(1)));
    assert_eq!(ops[1].process, Process::Named("nemesis".into()));
    assert_eq!(ops[2].process, Process::Named("nemesis".into()));
    assert_eq!(ops[1].index, 1);
    assert_eq!(ops[1].time, -1);
    assert_eq!(ops[1].error, Some(s("boom")));
    assert_eq!(h.line(1), Some(4));
    assert_eq!(ops[1].extra[0], ("node".into(), s("n1")));
    // integer-looking keys become integers (elle-cli bank reads), in read order
    assert_eq!(
        ops[1].extra[1].1,
        Value::Map(vec![
            (Value::Int(0), Value::Int(97)),
            (s("x"), Value::Float(1.5)),
            (Value::Int(-3), Value::Bool(true)),
            (s("007"), Value::Int(1)),
        ])
    );
}

#[test]
fn numbers_and_strings() {
    let h = read(
        r#"{"process":0,"type":"ok","value":[-9223372036854775808,9223372036854775807,1e3,-0.5,0,"a\"b\\c\/d\n\u00e9\ud83d\ude00"]}"#,
    );
    assert_eq!(
        h.ops()[0].value,
        Value::Vector(vec![
            Value::Int(i64::MIN),
            Value::Int(i64::MAX),
            Value::Float(1000.0),
            Value::Float(-0.5),
            Value::Int(0),
            s("a\"b\\c/d\né😀"),
        ])
    );
}

#[test]
fn errors_name_line_column_and_expectation() {
    let cases: &[(&str, u32, u32, &str)] = &[
        (
            "{\"process\":0,\"type\":\"ok\"}\n{\"process\":0,\"type\":\"okk\"}",
            2,
            21,
            "expected \"type\" to be one of \"invoke\" \"ok\" \"fail\" \"info\", found \"okk\"",
        ),
        (
            "{\"process\":0}",
            1,
            1,
            "expected the op object to have \"type\"",
        ),
        (
            "\n{\"type\":\"ok\"}",
            2,
            1,
            "expected the op object to have \"process\"",
        ),
        (
            "{\"process\":0,\"type\":\"ok\",\"value\":99999999999999999999}",
            1,
            34,
            "expected an integer in the signed 64-bit range",
        ),
        (
            "{\"process\":0,\"type\":\"ok\" \"value\":1}",
            1,
            26,
            "expected ',' or '}' after a field of the op object, found '\"'",
        ),
        (
            "{\"process\":0,\"type\":\"ok\",\"value\":[1,2}",
            1,
            38,
            "expected ',' or ']' in the array opened at line 1, column 34",
        ),
        (
            "{\"process\":0,\"type\":\"ok\",\"value\":tru}",
            1,
            34,
            "expected a JSON value",
        ),
        (
            "{\"process\":0,\"type\":\"ok\",\"value\":\"ab",
            1,
            37,
            "expected '\"' to close the string opened at line 1, column 34",
        ),
        (
            "{\"process\":0,\"type\":\"ok\",\"value\":\"a\nb\"}",
            1,
            36,
            "control character",
        ),
        (
            "{\"process\":0,\"type\":\"ok\",\"value\":01}",
            1,
            34,
            "without leading zeros",
        ),
        (
            "{\"process\":-1,\"type\":\"ok\"}",
            1,
            12,
            "expected \"process\" to be a non-negative integer",
        ),
        (
            "{\"process\":0,\"type\":\"ok\",\"f\":3}",
            1,
            30,
            "expected \"f\" to be a string, found 3",
        ),
        (
            "{\"process\":0,\"type\":\"ok\",\"time\":1.5}",
            1,
            33,
            "expected \"time\" to be an integer",
        ),
        (
            "{\"process\":0,\"type\":\"ok\",\"type\":\"ok\"}",
            1,
            26,
            "found \"type\" again",
        ),
        (
            "{\"process\":0,\"type\":\"ok\",\"value\":{1:2}}",
            1,
            35,
            "expected a string key in the object",
        ),
        (
            "{\"process\":0,\"type\":\"ok\",\"value\":{\"a\" 2}}",
            1,
            39,
            "expected ':' after an object key",
        ),
        (
            "[{\"process\":0,\"type\":\"ok\"} {\"process\":0,\"type\":\"ok\"}]",
            1,
            28,
            "expected ',' or ']' after an op in the array",
        ),
        (
            "[{\"process\":0,\"type\":\"ok\"}] 1",
            1,
            29,
            "expected end of input after the array",
        ),
        (
            "{\"process\":0,\"type\":\"ok\"}\n[1]",
            2,
            1,
            "expected an op object",
        ),
        (
            "{\"process\":0,\"type\":\"ok\"}\n42",
            2,
            1,
            "found an integer 42",
        ),
        (
            "{\"process\":0,\"type\":\"ok\",\"value\":\"\\x\"}",
            1,
            35,
            "expected an escape",
        ),
    ];
    let mut wrong = Vec::new();
    for &(text, line, column, message) in cases {
        let e = read_err(text);
        if !e.message.contains(message) || (e.line, e.column) != (line, column) {
            wrong.push(format!(
                "{text:?}: expected {line}:{column} {message:?}, got {e}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn deep_nesting_and_bad_utf8_are_errors() {
    let text = format!(
        "{{\"process\":0,\"type\":\"ok\",\"value\":{}}}",
        "[".repeat(100_000)
    );
    assert!(read_err(&text).message.contains("levels of nesting"));
    let text = format!(
        "{{\"process\":0,\"type\":\"ok\",\"value\":{}}}",
        "{\"a\":".repeat(100_000)
    );
    assert!(read_err(&text).message.contains("levels of nesting"));
    let e = json::read(b"{\"process\":0,\"type\":\"ok\",\"value\":\"\xc3\"}").unwrap_err();
    assert_eq!((e.line, e.column), (1, 35));
}

#[test]
fn write_lines_native_format() {
    let mut op = Op::new(Process::Client(0), OpType::Invoke, "write", Value::Int(3))
        .with_key(Value::Int(1))
        .at(12);
    op.extra = vec![("node".into(), Value::Keyword("n1".into()))];
    let mut other = Op::new(
        Process::Named("nemesis".into()),
        OpType::Info,
        "kill",
        Value::Map(vec![
            (Value::Keyword("a".into()), Value::Set(vec![Value::Int(1)])),
            (Value::Int(7), Value::Symbol("sym".into())),
            (Value::Vector(vec![Value::Int(1)]), Value::Float(f64::NAN)),
            (
                s("t"),
                Value::Tagged("inst".into(), Box::new(s("2020\n\u{1}"))),
            ),
        ]),
    );
    other.error = Some(Value::Float(0.25));
    let h = History::from_ops([op, other]);
    let mut out = Vec::new();
    json::write_lines(&h, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        r#"{"index":0,"time":12,"type":"invoke","process":0,"f":"write","key":1,"value":3,"node":"n1"}"#
    );
    assert_eq!(
        lines[1],
        r#"{"index":1,"type":"info","process":"nemesis","f":"kill","value":{"a":[1],"7":"sym","[1]":null,"t":"2020\n\u0001"},"error":0.25}"#
    );
    // every line is valid JSON to serde_json too
    for line in &lines {
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
    let back = read(&text);
    assert_eq!(back.ops()[0].extra[0].1, s("n1"));
    assert!(back.ops()[0].extra[0].1.loosely_eq(&h.ops()[0].extra[0].1));
    assert_eq!(back.ops()[1].process, Process::Named("nemesis".into()));
}

#[test]
fn value_to_json_follows_elle_cli() {
    let v = Value::Vector(vec![
        Value::Nil,
        Value::Keyword("ok".into()),
        Value::Set(vec![Value::Int(1)]),
        Value::Map(vec![
            (Value::Int(0), Value::Float(1.5)),
            (Value::Keyword("k".into()), Value::Bool(false)),
        ]),
        Value::Float(f64::INFINITY),
        Value::Tagged("uuid".into(), Box::new(s("x"))),
    ]);
    assert_eq!(
        json::value_to_json(&v),
        serde_json::json!([null, "ok", [1], {"0": 1.5, "k": false}, null, "x"])
    );
}
