//! Each model on small histories: what it accepts and what it refuses,
//! including indeterminate operations and bad input.

use consistency::linearizable::{check_model, Options};
use consistency::Verdict;
use history::{History, Op, OpType, Process, Value};

/// A history from `(process, type, f, value)` rows.
fn h(rows: &[(u64, OpType, &str, Value)]) -> History {
    History::from_ops(
        rows.iter()
            .map(|(p, t, f, v)| Op::new(Process::Client(*p), *t, *f, v.clone())),
    )
}

fn verdict(model: &str, history: &History) -> Verdict {
    check_model(model, history, &Options::default())
        .expect("well-formed")
        .verdict
}

use OpType::{Info, Invoke, Ok as Done};

fn int(i: i64) -> Value {
    Value::Int(i)
}

fn vec(items: &[Value]) -> Value {
    Value::Vector(items.to_vec())
}

#[test]
fn register_reads_the_last_write_and_nil_before_any() {
    let ok = h(&[
        (0, Invoke, "read", Value::Nil),
        (0, Done, "read", Value::Nil),
        (0, Invoke, "write", int(1)),
        (0, Done, "write", int(1)),
        (1, Invoke, "read", Value::Nil),
        (1, Done, "read", int(1)),
    ]);
    assert_eq!(verdict("register", &ok), Verdict::Valid);
    let stale = h(&[
        (0, Invoke, "write", int(1)),
        (0, Done, "write", int(1)),
        (0, Invoke, "write", int(2)),
        (0, Done, "write", int(2)),
        (1, Invoke, "read", Value::Nil),
        (1, Done, "read", int(1)),
    ]);
    assert_eq!(verdict("register", &stale), Verdict::Invalid);
    let cas = h(&[(0, Invoke, "cas", vec(&[int(1), int(2)]))]);
    assert!(
        check_model("register", &cas, &Options::default()).is_err(),
        "register has no cas"
    );
}

#[test]
fn a_crashed_write_may_take_effect_late_or_never() {
    // The write of 2 crashed; a later read may see 2 (it took effect) or 1 (it did not).
    for seen in [1, 2] {
        let history = h(&[
            (0, Invoke, "write", int(1)),
            (0, Done, "write", int(1)),
            (1, Invoke, "write", int(2)),
            (1, Info, "write", int(2)),
            (2, Invoke, "read", Value::Nil),
            (2, Done, "read", int(seen)),
        ]);
        assert_eq!(
            verdict("cas-register", &history),
            Verdict::Valid,
            "read {seen}"
        );
    }
    // But it cannot take effect before it was invoked.
    let early = h(&[
        (2, Invoke, "read", Value::Nil),
        (2, Done, "read", int(2)),
        (1, Invoke, "write", int(2)),
        (1, Info, "write", int(2)),
    ]);
    assert_eq!(verdict("cas-register", &early), Verdict::Invalid);
}

#[test]
fn mutex_allows_one_holder_at_a_time() {
    let ok = h(&[
        (0, Invoke, "acquire", Value::Nil),
        (0, Done, "acquire", Value::Nil),
        (0, Invoke, "release", Value::Nil),
        (0, Done, "release", Value::Nil),
        (1, Invoke, "acquire", Value::Nil),
        (1, Done, "acquire", Value::Nil),
    ]);
    assert_eq!(verdict("mutex", &ok), Verdict::Valid);
    let twice = h(&[
        (0, Invoke, "acquire", Value::Nil),
        (0, Done, "acquire", Value::Nil),
        (1, Invoke, "acquire", Value::Nil),
        (1, Done, "acquire", Value::Nil),
    ]);
    assert_eq!(verdict("mutex", &twice), Verdict::Invalid);
    let release_free = h(&[
        (0, Invoke, "release", Value::Nil),
        (0, Done, "release", Value::Nil),
    ]);
    assert_eq!(verdict("mutex", &release_free), Verdict::Invalid);
}

#[test]
fn fifo_queue_dequeues_in_order() {
    let enq = |p, v| [(p, Invoke, "enqueue", int(v)), (p, Done, "enqueue", int(v))];
    let deq = |p, v: Value| [(p, Invoke, "dequeue", Value::Nil), (p, Done, "dequeue", v)];
    let mut rows: Vec<(u64, OpType, &str, Value)> = Vec::new();
    rows.extend(enq(0, 1));
    rows.extend(enq(0, 2));
    rows.extend(deq(1, int(1)));
    rows.extend(deq(1, int(2)));
    rows.extend(deq(1, Value::Nil)); // empty
    assert_eq!(verdict("fifo-queue", &h(&rows)), Verdict::Valid);
    let mut wrong: Vec<(u64, OpType, &str, Value)> = Vec::new();
    wrong.extend(enq(0, 1));
    wrong.extend(enq(0, 2));
    wrong.extend(deq(1, int(2)));
    assert_eq!(verdict("fifo-queue", &h(&wrong)), Verdict::Invalid);
}

#[test]
fn linearizable_set_reads_every_element_added_before() {
    let ok = h(&[
        (0, Invoke, "add", int(1)),
        (0, Done, "add", int(1)),
        (1, Invoke, "add", int(2)),
        (2, Invoke, "read", Value::Nil),
        (2, Done, "read", vec(&[int(1)])), // the add of 2 is still in flight
        (1, Done, "add", int(2)),
        (2, Invoke, "read", Value::Nil),
        (2, Done, "read", Value::Set(vec![int(2), int(1)])),
    ]);
    assert_eq!(verdict("linearizable-set", &ok), Verdict::Valid);
    let lost = h(&[
        (0, Invoke, "add", int(1)),
        (0, Done, "add", int(1)),
        (2, Invoke, "read", Value::Nil),
        (2, Done, "read", vec(&[])),
    ]);
    assert_eq!(verdict("linearizable-set", &lost), Verdict::Invalid);
}

#[test]
fn kv_is_checked_key_by_key() {
    let op = |p: u64, t: OpType, f: &str, k: &str, v: &str| {
        Op::new(Process::Client(p), t, f, Value::Str(v.into())).with_key(Value::Str(k.into()))
    };
    let history = History::from_ops([
        op(0, Invoke, "append", "a", "x"),
        op(0, Done, "append", "a", "x"),
        op(1, Invoke, "put", "b", "y"),
        op(1, Done, "put", "b", "y"),
        op(2, Invoke, "get", "a", ""),
        op(2, Done, "get", "a", "x"),
        op(2, Invoke, "get", "b", ""),
        op(2, Done, "get", "b", "z"),
    ]);
    let analysis = check_model("kv", &history, &Options::default()).expect("checks");
    assert_eq!(analysis.verdict, Verdict::Invalid);
    assert_eq!(analysis.partitions.len(), 2);
    let failing: Vec<String> = analysis
        .explanations()
        .map(|e| e.key.clone().unwrap_or_default())
        .collect();
    assert_eq!(failing, ["\"b\""], "only key b is not linearizable");
}

#[test]
fn failed_operations_did_not_happen() {
    let history = h(&[
        (0, Invoke, "write", int(1)),
        (0, OpType::Fail, "write", int(1)),
        (1, Invoke, "read", Value::Nil),
        (1, Done, "read", int(1)),
    ]);
    assert_eq!(
        verdict("register", &history),
        Verdict::Invalid,
        "a failed write cannot be read"
    );
}
