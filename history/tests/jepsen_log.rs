//! Jepsen log lines and history.txt.

use history::{jepsen_log, OpType, Process, Value};

fn kw(x: &str) -> Value {
    Value::Keyword(x.into())
}

#[test]
fn log_lines_with_tabs_and_spaces_and_other_lines_skipped() {
    let text = "2017-01-01 INFO  jepsen.core - Running test\n\
                INFO  jepsen.util - 2\t:invoke\t:cas\t[2 4]\n\
                some unrelated line\n\
                INFO  jepsen.util - 4\t:info\t:write\t:timed-out\n\
                INFO  jepsen.util - 3  :ok  :read  nil\r\n\
                INFO  jepsen.util - :nemesis\t:info\t:start\t{\"n1\" #{\"n2\"}}\t:partitioned\n\
                INFO  jepsen.util - 0   :fail   :cas    [1 4]   \n";
    let h = jepsen_log::read(text.as_bytes()).unwrap();
    assert_eq!(h.len(), 5);
    let ops = h.ops();
    assert_eq!(ops[0].process, Process::Client(2));
    assert_eq!(ops[0].kind, OpType::Invoke);
    assert_eq!(ops[0].f, "cas");
    assert_eq!(
        ops[0].value,
        Value::Vector(vec![Value::Int(2), Value::Int(4)])
    );
    assert_eq!(ops[1].value, kw("timed-out"));
    assert_eq!(ops[1].kind, OpType::Info);
    assert_eq!(ops[2].value, Value::Nil);
    assert_eq!(ops[2].kind, OpType::Ok);
    assert_eq!(ops[3].process, Process::Named("nemesis".into()));
    assert_eq!(ops[3].error, Some(kw("partitioned")));
    assert_eq!(ops[4].kind, OpType::Fail);
    assert_eq!(ops[4].error, None);
    assert_eq!(
        ops.iter().map(|o| o.index).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4]
    );
    assert!(ops.iter().all(|o| o.time == -1));
    assert_eq!(
        (0..5).map(|i| h.line(i).unwrap()).collect::<Vec<_>>(),
        [2, 4, 5, 6, 7]
    );
}

#[test]
fn history_txt() {
    let text = "1\t:invoke\t:txn\t[[:write 68 229]]\n\
                :nemesis\t:info\t:start\tnil\n\
                \n\
                1\t:info\t:txn\t[[:write 151 57]]\t:timeout\n\
                2\t:fail\t:read\tnil\tindeterminate: Connection refused\n";
    let h = jepsen_log::read(text.as_bytes()).unwrap();
    assert_eq!(h.len(), 4);
    let ops = h.ops();
    assert_eq!(
        ops[0].value,
        Value::Vector(vec![Value::Vector(vec![
            kw("write"),
            Value::Int(68),
            Value::Int(229)
        ])])
    );
    assert_eq!(ops[1].process, Process::Named("nemesis".into()));
    assert_eq!(ops[2].error, Some(kw("timeout")));
    assert_eq!(ops[2].kind, OpType::Info);
    // errors printed with `print` need not be EDN
    assert_eq!(
        ops[3].error,
        Some(Value::Str("indeterminate: Connection refused".into()))
    );
    assert_eq!(h.line(3), Some(5));
}

#[test]
fn malformed_lines_are_errors_with_positions() {
    let cases: &[(&str, u32, u32, &str)] = &[
        (
            "INFO  jepsen.util - 2\t:invoke\t:cas\t[2 4]\nINFO  jepsen.util - x\t:ok\t:cas\t[2 4]",
            2,
            21,
            "expected a process (an integer, or a keyword such as :nemesis), found 'x'",
        ),
        (
            "INFO  jepsen.util - 2\t:okk\t:cas\t[2 4]",
            1,
            23,
            "expected the type to be one of :invoke :ok :fail :info, found ':okk'",
        ),
        (
            "INFO  jepsen.util - 2\t:ok",
            1,
            26,
            "expected a function such as :read or :write, found end of line",
        ),
        (
            "INFO  jepsen.util - 2\t:ok\t:cas",
            1,
            31,
            "expected a value after the function",
        ),
        (
            "INFO  jepsen.util - 2\t:ok\t:cas\t[2 4",
            1,
            36,
            "expected ']' to close the vector opened at line 1, column 32",
        ),
        (
            "INFO  jepsen.util - 2 :ok :cas [2 4] junk",
            1,
            38,
            "expected end of line after the value",
        ),
        (
            "1\t:invoke\t:txn\t[[:write 68 229]]\nnot an event\n",
            2,
            1,
            "expected a process",
        ),
        (
            "1\t:invoke\t:txn\t\"unterminated\n",
            1,
            29,
            "expected '\"' to close the string",
        ),
        (
            "99999999999999999999999\t:invoke\t:read\tnil",
            1,
            1,
            "fits in 64 bits",
        ),
    ];
    for &(text, line, column, message) in cases {
        let e = jepsen_log::read(text.as_bytes()).unwrap_err();
        assert!(e.message.contains(message), "{text:?}: {e}");
        assert_eq!((e.line, e.column), (line, column), "{text:?}: {e}");
    }
    let e = jepsen_log::read(b"1\t:invoke\t:read\t\"\xff\"").unwrap_err();
    assert!(e.message.contains("UTF-8"), "{e}");
}
