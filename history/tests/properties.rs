//! Property tests: no reader panics on any input, and writing then reading
//! gives back the same history.

use history::{edn, format, json, Format, History, Op, OpType, Process, Value};
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// Readers never panic

/// Fragments that exercise every branch of the readers.
const FRAGMENTS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    "#{",
    "#_",
    "#",
    "##",
    "##Inf",
    "#jepsen.history.Op",
    "#inst",
    "\"",
    "\\",
    "\\u",
    "\\ud800",
    "\\u00e9",
    "\\newline",
    ":",
    ":type",
    ":process",
    ":f",
    ":value",
    ":index",
    ":time",
    ":key",
    ":error",
    ":invoke",
    ":ok",
    ":fail",
    ":info",
    ":okk",
    ":nemesis",
    "0",
    "-1",
    "42",
    "1.5",
    "1e",
    "1e5",
    "99999999999999999999",
    "12N",
    "3M",
    "1/2",
    "-",
    "+",
    "nil",
    "true",
    "false",
    "sym",
    ";",
    "#!",
    "\n",
    "\r\n",
    " ",
    "\t",
    ",",
    "é",
    "😀",
    "\u{0}",
    "\u{7f}",
    "\"type\"",
    "\"process\"",
    "\"invoke\"",
    "\"nemesis\"",
    ":",
    "null",
    "tru",
    "[]",
    "{}",
    "\"a\\\"b\"",
    "jepsen.util - ",
    "INFO  jepsen.util - ",
    "\\a",
    "^",
    "@",
    "`",
    "~",
    "'",
];

fn punctuation_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..60).prop_map(|v| v.concat())
}

fn read_all_formats(bytes: &[u8]) {
    for f in Format::ALL {
        // Ok or Err, never a panic
        let _ = format::read(bytes, f);
    }
    let _ = format::detect(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = edn::parse_value(text);
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        read_all_formats(&bytes);
    }

    #[test]
    fn punctuation_never_panics(text in punctuation_soup()) {
        read_all_formats(text.as_bytes());
    }

    #[test]
    fn punctuation_after_a_valid_op_never_panics(text in punctuation_soup(), prefix in 0usize..4) {
        let heads = [
            "{:process 0 :type :invoke :f :read :value ",
            "{\"process\":0,\"type\":\"invoke\",\"value\":",
            "INFO  jepsen.util - 0\t:invoke\t:read\t",
            "[{:process 0 :type :ok}\n",
        ];
        read_all_formats(format!("{}{text}", heads[prefix]).as_bytes());
    }
}

// ---------------------------------------------------------------------------
// EDN round trip

fn keyword_name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9*+!?<>=._/-]{0,10}"
}

fn symbol_name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9*+!?._/-]{0,10}".prop_filter("reserved", |s| {
        !matches!(s.as_str(), "nil" | "true" | "false")
    })
}

fn finite_float() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |x| x.is_finite()),
        Just(0.0),
        Just(-0.0),
        Just(1e300),
        Just(5e-324),
        (-1000i32..1000).prop_map(f64::from),
    ]
}

/// Every variant, with finite floats, to bounded depth.
fn edn_value() -> impl Strategy<Value = Value> + Clone {
    let leaf = prop_oneof![
        Just(Value::Nil),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        finite_float().prop_map(Value::Float),
        any::<String>().prop_map(Value::Str),
        keyword_name().prop_map(Value::Keyword),
        symbol_name().prop_map(Value::Symbol),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Vector),
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Set),
            prop::collection::vec((inner.clone(), inner.clone()), 0..5).prop_map(Value::Map),
            ("[a-z][a-z.]{0,8}", inner).prop_map(|(t, v)| Value::Tagged(t, Box::new(v))),
        ]
    })
}

fn op_type() -> impl Strategy<Value = OpType> {
    prop::sample::select(vec![OpType::Invoke, OpType::Ok, OpType::Fail, OpType::Info])
}

fn process() -> impl Strategy<Value = Process> {
    prop_oneof![
        (0u64..100).prop_map(Process::Client),
        (0..=i64::MAX as u64).prop_map(Process::Client),
        keyword_name().prop_map(Process::Named),
        "[a-z :]{1,8}"
            .prop_filter("not just a colon prefix", |s| !s.starts_with(':'))
            .prop_map(Process::Named),
    ]
}

fn function() -> impl Strategy<Value = String> {
    prop_oneof![keyword_name(), Just(String::new()), "[a-z][a-z ]{0,8}"]
}

fn time() -> impl Strategy<Value = i64> {
    prop_oneof![Just(-1i64), 0..=i64::MAX]
}

const FIELDS: [&str; 8] = [
    "index", "time", "type", "process", "f", "value", "key", "error",
];

fn extra_name() -> impl Strategy<Value = String> {
    prop_oneof![
        keyword_name(),
        // a non-keyword key is kept as its EDN text
        any::<String>().prop_map(|s| Value::Str(s).to_string()),
        any::<i64>().prop_map(|i| i.to_string()),
    ]
    .prop_filter("not a field", |n| !FIELDS.contains(&n.as_str()))
}

fn op_with(
    value: impl Strategy<Value = Value> + Clone,
    extra_name: impl Strategy<Value = String>,
) -> impl Strategy<Value = Op> {
    (
        (
            0..=i64::MAX as u64,
            time(),
            process(),
            op_type(),
            function(),
        ),
        (
            value.clone(),
            prop::option::of(value.clone()),
            prop::option::of(value.clone()),
            prop::collection::vec((extra_name, value), 0..3),
        ),
    )
        .prop_map(
            |((index, time, process, kind, f), (value, key, error, extra))| Op {
                index,
                time,
                process,
                kind,
                f,
                value,
                key,
                error,
                extra,
            },
        )
}

fn history_of(op: impl Strategy<Value = Op>) -> impl Strategy<Value = History> {
    prop::collection::vec(op, 0..8).prop_map(|ops| {
        let mut h = History::new();
        for op in ops {
            h.push_from_line(op, 0);
        }
        h
    })
}

proptest! {
    #[test]
    fn edn_round_trip(h in history_of(op_with(edn_value(), extra_name()))) {
        let mut out = Vec::new();
        edn::write(&h, &mut out).unwrap();
        let back = edn::read(&out).map_err(|e| {
            TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&out)))
        })?;
        prop_assert_eq!(back.ops(), h.ops(), "{}", String::from_utf8_lossy(&out));
        // each op on its own line
        for i in 0..back.len() {
            prop_assert_eq!(back.line(i), Some(i as u32 + 1));
        }
        // and the detector agrees it is EDN (empty input is EDN too)
        prop_assert_eq!(format::detect(&out), Format::Edn);
    }

    #[test]
    fn edn_value_round_trip(v in edn_value()) {
        let text = v.to_string();
        let back = edn::parse_value(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(back, v);
    }
}

// ---------------------------------------------------------------------------
// JSON round trip

/// Values JSON keeps (up to keyword/string): no sets, tags, symbols or
/// floats, and map keys that are strings or keywords not looking like integers.
fn json_value() -> impl Strategy<Value = Value> + Clone {
    let leaf = prop_oneof![
        Just(Value::Nil),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        any::<String>().prop_map(Value::Str),
        keyword_name().prop_map(Value::Keyword),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let key = prop_oneof![
            "[a-z_ \"\\\\é]{0,6}".prop_map(Value::Str),
            keyword_name().prop_map(Value::Keyword),
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Vector),
            prop::collection::vec((key, inner), 0..5).prop_map(Value::Map),
        ]
    })
}

fn json_function() -> impl Strategy<Value = String> {
    prop_oneof![
        keyword_name(),
        Just(String::new()),
        any::<String>().prop_filter("colon", |s| !s.starts_with(':'))
    ]
}

fn loosely_eq_opt(a: &Option<Value>, b: &Option<Value>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.loosely_eq(b),
        (None, None) => true,
        _ => false,
    }
}

proptest! {
    #[test]
    fn json_lines_round_trip(
        h in history_of(op_with(json_value(), any::<String>().prop_filter("not a field", |n| !FIELDS.contains(&n.as_str())))),
        fs in prop::collection::vec(json_function(), 8),
    ) {
        let mut h2 = History::new();
        for (op, f) in h.ops().iter().zip(fs) {
            h2.push_from_line(Op { f, ..op.clone() }, 0);
        }
        let h = h2;
        let mut out = Vec::new();
        json::write_lines(&h, &mut out).unwrap();
        let text = String::from_utf8_lossy(&out).into_owned();
        let back = json::read(&out).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(back.len(), h.len());
        for (a, b) in h.ops().iter().zip(back.ops()) {
            prop_assert_eq!(a.index, b.index);
            prop_assert_eq!(a.time, b.time);
            prop_assert_eq!(a.kind, b.kind);
            prop_assert_eq!(&a.process, &b.process);
            prop_assert_eq!(&a.f, &b.f);
            prop_assert!(a.value.loosely_eq(&b.value), "{:?} vs {:?}\n{}", a.value, b.value, text);
            prop_assert!(loosely_eq_opt(&a.key, &b.key), "{text}");
            prop_assert!(loosely_eq_opt(&a.error, &b.error), "{text}");
            prop_assert_eq!(a.extra.len(), b.extra.len());
            for ((na, va), (nb, vb)) in a.extra.iter().zip(&b.extra) {
                prop_assert_eq!(na, nb);
                prop_assert!(va.loosely_eq(vb), "{text}");
            }
        }
        // every line is JSON that serde_json accepts, and detection says JSON Lines
        for line in text.lines() {
            prop_assert!(serde_json::from_str::<serde_json::Value>(line).is_ok(), "{line}");
        }
        if !h.is_empty() {
            prop_assert_eq!(format::detect(&out), Format::JsonLines);
        }
    }

    #[test]
    fn value_to_json_matches_written_json(v in json_value()) {
        let op = Op::new(Process::Client(0), OpType::Ok, "f", v.clone());
        let mut out = Vec::new();
        json::write_lines(&History::from_ops([op]), &mut out).unwrap();
        let parsed: serde_json::Value = serde_json::from_slice(&out).unwrap();
        prop_assert_eq!(&parsed["value"], &json::value_to_json(&v));
    }
}

// ---------------------------------------------------------------------------
// Mutated valid input never panics (reaches deeper parser states than noise)

proptest! {
    #[test]
    fn mutated_valid_input_never_panics(
        h in history_of(op_with(edn_value(), extra_name())),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, prop::sample::select(FRAGMENTS)), 1..6),
        which in 0usize..3,
    ) {
        let mut bytes = Vec::new();
        match which {
            0 => edn::write(&h, &mut bytes).unwrap(),
            1 => json::write_lines(&h, &mut bytes).unwrap(),
            _ => {
                for op in h.ops() {
                    bytes.extend_from_slice(
                        format!("INFO  jepsen.util - {}\t:{}\t:x\t{}\n", op.process, op.kind, op.value).as_bytes(),
                    );
                }
            }
        }
        for (at, kind, fragment) in edits {
            let i = if bytes.is_empty() { 0 } else { at.index(bytes.len()) };
            match kind {
                0 => { bytes.splice(i..i, fragment.bytes()); }
                1 => { if i < bytes.len() { bytes.remove(i); } }
                _ => bytes.truncate(i),
            }
        }
        read_all_formats(&bytes);
    }
}
