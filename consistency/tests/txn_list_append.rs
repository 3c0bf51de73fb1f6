//! Elle's list-append analysis: the published examples written down here, every anomaly
//! of the taxonomy planted into otherwise serializable histories, generated serializable
//! histories that must pass, and bad input.

use consistency::txn::{check, Analysis, Options, Workload};
use consistency::Verdict;
use history::{History, Op, OpType, Process, Value};

fn edn(text: &str) -> History {
    history::edn::read(text.as_bytes()).expect("valid EDN")
}

fn analyse(history: &History, models: &[&str]) -> Analysis {
    let options = Options {
        consistency_models: models.iter().map(|m| m.to_string()).collect(),
        ..Options::default()
    };
    check(history, Workload::ListAppend, &options).expect("checks")
}

/// The Elle paper's example (its figure of read skew): T3 reads key 255 without T2's append
/// of 8, although T2 read T1's write that T3 wrote after.
#[test]
fn the_papers_example_is_g_single() {
    let h = edn(
        r#"{:index 0 :type :invoke :process 0 :f :txn :value [[:append 253 1] [:append 253 3] [:append 253 4] [:append 255 2] [:append 255 3] [:append 255 4] [:append 255 5] [:append 256 1] [:append 256 2]]}
{:index 1 :type :ok :process 0 :f :txn :value [[:append 253 1] [:append 253 3] [:append 253 4] [:append 255 2] [:append 255 3] [:append 255 4] [:append 255 5] [:append 256 1] [:append 256 2]]}
{:index 2 :type :invoke :process 1 :f :txn :value [[:append 255 8] [:r 253 nil]]}
{:index 3 :type :ok :process 1 :f :txn :value [[:append 255 8] [:r 253 [1 3 4]]]}
{:index 4 :type :invoke :process 2 :f :txn :value [[:append 256 4] [:r 255 nil] [:r 256 nil] [:r 253 nil]]}
{:index 5 :type :ok :process 2 :f :txn :value [[:append 256 4] [:r 255 [2 3 4 5 8]] [:r 256 [1 2 4]] [:r 253 [1 3 4]]]}
{:index 6 :type :invoke :process 3 :f :txn :value [[:append 250 10] [:r 253 nil] [:r 255 nil] [:append 256 3]]}
{:index 7 :type :ok :process 3 :f :txn :value [[:append 250 10] [:r 253 [1 3 4]] [:r 255 [2 3 4 5]] [:append 256 3]]}
"#,
    );
    let a = analyse(&h, &["serializable"]);
    assert_eq!(a.verdict, Verdict::Invalid);
    assert_eq!(a.anomaly_types, ["G-single-item"]);
    assert_eq!(a.not, ["consistent-view", "repeatable-read"]);
    let cycle = &a.anomalies["G-single-item"][0];
    let steps: Vec<&str> = cycle["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["type"].as_str().unwrap())
        .collect();
    assert_eq!(steps.iter().filter(|&&s| s == "rw").count(), 1, "{steps:?}");
    // results.edn as Elle writes it: keywords for anomalies, models (sets), types and functions.
    let edn = history::edn::parse_value(&a.to_edn()).expect("valid EDN");
    assert_eq!(edn.get("valid?"), Some(&Value::Bool(false)));
    assert_eq!(
        edn.get("anomaly-types"),
        Some(&Value::Vector(vec![Value::Keyword("G-single-item".into())]))
    );
    let not = edn.get("not").expect(":not");
    assert!(
        matches!(not, Value::Set(models) if models.contains(&Value::Keyword("repeatable-read".into()))),
        "{not}"
    );
    let case = &edn
        .get("anomalies")
        .and_then(|m| m.get("G-single-item"))
        .and_then(Value::as_seq)
        .expect("cases")[0];
    assert_eq!(
        case.get("type"),
        Some(&Value::Keyword("G-single-item".into()))
    );
    let op = &case.get("cycle").and_then(Value::as_seq).expect("cycle")[0];
    assert_eq!(op.get("type"), Some(&Value::Keyword("ok".into())));
    let mop = &op.get("value").and_then(Value::as_seq).expect("mops")[0];
    assert_eq!(
        mop.as_seq().map(|m| &m[0]),
        Some(&Value::Keyword("append".into()))
    );
    let text = &a.explanations[0].text;
    assert_eq!(a.explanations[0].steps.len(), a.explanations[0].ops.len());
    assert_eq!(
        a.explanations[0]
            .steps
            .iter()
            .filter(|s| **s == "rw")
            .count(),
        1
    );
    assert!(text.contains("did not observe"), "{text}");
    assert!(text.ends_with("a contradiction!\n"), "{text}");
}

/// A history builder: transactions invoked and completed in the order given.
#[derive(Default)]
struct Txns {
    ops: Vec<Op>,
    next: u64,
}

/// A micro-op: `("append", key, value)` or `("r", key, [elements])`.
fn mop(f: &str, key: i64, value: &[i64]) -> Value {
    let v = match f {
        "append" => Value::Int(value[0]),
        _ => Value::Vector(value.iter().map(|&e| Value::Int(e)).collect()),
    };
    Value::Vector(vec![Value::Keyword(f.into()), Value::Int(key), v])
}

impl Txns {
    /// Adds a transaction that completes with `outcome`, concurrent with none.
    fn txn(&mut self, outcome: OpType, mops: Vec<Value>) -> &mut Self {
        let p = Process::Client(self.next);
        self.next += 1;
        let invoked: Vec<Value> = mops
            .iter()
            .map(|m| match m.as_seq() {
                Some([f, k, _]) if f.as_text() == Some("r") => {
                    Value::Vector(vec![f.clone(), k.clone(), Value::Nil])
                }
                _ => m.clone(),
            })
            .collect();
        let done = if outcome == OpType::Ok {
            mops
        } else {
            invoked.clone()
        };
        self.ops.push(Op::new(
            p.clone(),
            OpType::Invoke,
            "txn",
            Value::Vector(invoked),
        ));
        self.ops
            .push(Op::new(p, outcome, "txn", Value::Vector(done)));
        self
    }

    fn ok(&mut self, mops: Vec<Value>) -> &mut Self {
        self.txn(OpType::Ok, mops)
    }

    /// Concurrent: every invocation before every completion.
    fn concurrent(&self) -> History {
        let (invokes, completes): (Vec<_>, Vec<_>) = self
            .ops
            .iter()
            .cloned()
            .partition(|o| o.kind == OpType::Invoke);
        History::from_ops(invokes.into_iter().chain(completes))
    }
}

/// Elle's anomalies, each planted on its own: the types found, and the weakest models ruled out.
#[test]
fn each_planted_anomaly_is_found_and_named() {
    let a = |f| mop("append", 1, &[f]);
    let b = |f| mop("append", 2, &[f]);
    let ra = |v: &[i64]| mop("r", 1, v);
    let rb = |v: &[i64]| mop("r", 2, v);
    let cases: Vec<(&str, History, &[&str])> = vec![
        // Write cycle: T1 and T2's appends are ordered one way on 1 and the other on 2.
        (
            "G0",
            Txns::default()
                .ok(vec![a(1), b(1)])
                .ok(vec![a(2), b(2)])
                .ok(vec![ra(&[1, 2]), rb(&[2, 1])])
                .concurrent(),
            &["read-uncommitted"],
        ),
        (
            "G1a",
            Txns::default()
                .txn(OpType::Fail, vec![a(1)])
                .ok(vec![ra(&[1])])
                .concurrent(),
            &["read-committed"],
        ),
        (
            "G1b",
            Txns::default()
                .ok(vec![a(1), a(2)])
                .ok(vec![ra(&[1])])
                .concurrent(),
            &["read-committed"],
        ),
        // Each read the other's append.
        (
            "G1c",
            Txns::default()
                .ok(vec![a(1), rb(&[1])])
                .ok(vec![b(1), ra(&[1])])
                .concurrent(),
            &["read-committed"],
        ),
        // Read skew: T2 saw T1's append to 1 but not its append to 2.
        (
            "G-single-item",
            Txns::default()
                .ok(vec![a(1), b(1)])
                .ok(vec![ra(&[1]), rb(&[])])
                .ok(vec![rb(&[1])])
                .concurrent(),
            &["consistent-view", "repeatable-read"],
        ),
        // Write skew.
        (
            "G2-item",
            Txns::default()
                .ok(vec![ra(&[]), b(1)])
                .ok(vec![rb(&[]), a(1)])
                .ok(vec![ra(&[1]), rb(&[1])])
                .concurrent(),
            &["repeatable-read"],
        ),
        (
            "internal",
            Txns::default()
                .ok(vec![ra(&[]), a(1), ra(&[])])
                .concurrent(),
            &["read-atomic"],
        ),
        (
            "lost-update",
            Txns::default()
                .ok(vec![ra(&[]), a(1)])
                .ok(vec![ra(&[]), a(2)])
                .ok(vec![ra(&[1, 2])])
                .concurrent(),
            &[],
        ),
        (
            "incompatible-order",
            Txns::default()
                .ok(vec![a(1)])
                .ok(vec![a(2)])
                .ok(vec![ra(&[1, 2])])
                .ok(vec![ra(&[2, 1])])
                .concurrent(),
            &[],
        ),
        (
            "duplicate-elements",
            Txns::default()
                .ok(vec![a(1)])
                .ok(vec![ra(&[1, 1])])
                .concurrent(),
            &[],
        ),
        (
            "future-read",
            Txns::default().ok(vec![ra(&[1]), a(1)]).concurrent(),
            &[],
        ),
        (
            "dirty-update",
            Txns::default()
                .txn(OpType::Fail, vec![a(1)])
                .ok(vec![a(2)])
                .ok(vec![ra(&[1, 2])])
                .concurrent(),
            &[],
        ),
    ];
    for (anomaly, history, not) in cases {
        let analysis = analyse(&history, &["strict-serializable"]);
        assert_eq!(
            analysis.verdict,
            Verdict::Invalid,
            "{anomaly}: {analysis:?}"
        );
        assert!(
            analysis.anomaly_types.iter().any(|t| t == anomaly),
            "{anomaly} not among {:?}",
            analysis.anomaly_types
        );
        if !not.is_empty() {
            assert_eq!(
                analysis.not, not,
                "{anomaly}: found {:?}",
                analysis.anomaly_types
            );
        }
        assert!(
            analysis.also_not.contains(&"strong-serializable"),
            "{anomaly} rules out strict serializability"
        );
    }
}

/// An anomaly a weaker model allows is reported only when it is prohibited: write skew is
/// fine under snapshot isolation's neighbour read committed.
#[test]
fn what_the_models_allow_is_valid() {
    let ra = |v: &[i64]| mop("r", 1, v);
    let rb = |v: &[i64]| mop("r", 2, v);
    let skew = Txns::default()
        .ok(vec![ra(&[]), mop("append", 2, &[1])])
        .ok(vec![rb(&[]), mop("append", 1, &[1])])
        .ok(vec![ra(&[1]), rb(&[1])])
        .concurrent();
    assert_eq!(analyse(&skew, &["read-committed"]).verdict, Verdict::Valid);
    assert_eq!(analyse(&skew, &["serializable"]).verdict, Verdict::Invalid);
}

/// Real time: T2 begins after T1 committed, yet reads the state before T1's append. Serializable
/// (some order exists), not strict serializable.
#[test]
fn a_stale_read_is_a_realtime_cycle() {
    let mut t = Txns::default();
    t.ok(vec![mop("append", 1, &[1])])
        .ok(vec![mop("r", 1, &[])])
        .ok(vec![mop("r", 1, &[1])]);
    let sequential = History::from_ops(t.ops.clone());
    assert_eq!(
        analyse(&sequential, &["serializable"]).verdict,
        Verdict::Valid
    );
    let strict = analyse(&sequential, &["strict-serializable"]);
    assert_eq!(strict.verdict, Verdict::Invalid);
    assert_eq!(strict.anomaly_types, ["G-single-item-realtime"]);
    let text = &strict.explanations[0].text;
    assert!(strict.explanations[0].steps.contains(&"realtime"));
    assert!(text.contains("before the invocation of"), "{text}");
}

/// A serializable execution of the Elle paper's shape, small: few keys, so that
/// transactions contend.
fn serializable(seed: u64, processes: u64, count: usize) -> History {
    consistency::txn::generate::serializable(&consistency::txn::generate::Shape {
        transactions: count,
        processes,
        keys: 4,
        appends_per_key: 8,
        fail: 0.05,
        crash: 0.05,
        seed,
        ..Default::default()
    })
}

#[test]
fn serializable_executions_are_valid() {
    for seed in 0..40 {
        let h = serializable(seed, 1 + seed % 10, 300);
        let a = analyse(&h, &["strict-serializable"]);
        assert_eq!(
            a.verdict,
            Verdict::Valid,
            "seed {seed}: {:?}",
            a.anomaly_types
        );
        assert!(a.edges > 0);
    }
}

/// Planted into a larger serializable history (on keys of their own), anomalies are still
/// found and named.
#[test]
fn anomalies_planted_in_serializable_histories_are_found() {
    let base = serializable(99, 8, 500);
    let mut skew = Txns::default();
    let (x, y) = (1_000_000, 1_000_001);
    skew.ok(vec![mop("r", x, &[]), mop("append", y, &[1])])
        .ok(vec![mop("r", y, &[]), mop("append", x, &[1])])
        .ok(vec![mop("r", x, &[1]), mop("r", y, &[1])]);
    for op in &mut skew.ops {
        op.process = Process::Client(100 + op_process(op));
    }
    let planted = History::from_ops(
        base.ops()
            .iter()
            .cloned()
            .chain(skew.concurrent().ops().iter().cloned()),
    );
    let a = analyse(&planted, &["serializable"]);
    assert_eq!(a.verdict, Verdict::Invalid);
    assert_eq!(a.anomaly_types, ["G2-item"]);
}

fn op_process(op: &Op) -> u64 {
    op.process.client().unwrap_or(0)
}

#[test]
fn bad_input_names_the_event_and_the_micro_op() {
    let cases = [
        (r#"{:type :invoke :process 0 :f :txn :value [[:append 1]]}"#, "3-element list"),
        (r#"{:type :invoke :process 0 :f :txn :value [[:put 1 2]]}"#, "function `:put`"),
        (r#"{:type :invoke :process 0 :f :txn :value 5}"#, "list of micro-ops"),
        (
            "{:type :invoke :process 0 :f :txn :value [[:append 1 2]]}\n{:type :ok :process 0 :f :txn :value [[:append 1 2]]}\n{:type :invoke :process 1 :f :txn :value [[:append 1 2]]}",
            "needs every value written once per key",
        ),
        (
            "{:type :invoke :process 0 :f :txn :value [[:r 1 nil]]}\n{:type :ok :process 0 :f :txn :value [[:r 1 7]]}",
            "returns a list or nil",
        ),
    ];
    for (text, message) in cases {
        let err = check(&edn(text), Workload::ListAppend, &Options::default()).expect_err(text);
        let err = err.to_string();
        assert!(err.contains(message), "{err}");
        assert!(err.contains("line"), "names the line: {err}");
    }
}

#[test]
fn unknown_models_are_refused_with_the_choices() {
    let options = Options {
        consistency_models: vec!["serialisable".into()],
        ..Options::default()
    };
    let err = check(&History::new(), Workload::ListAppend, &options).expect_err("unknown model");
    assert!(err.to_string().contains("serialisable"), "{err}");
    assert!(err.to_string().contains("snapshot-isolation"), "{err}");
}

/// No dependency at all: Elle's `empty-transaction-graph`, verdict unknown.
#[test]
fn an_empty_graph_is_unknown() {
    let h = Txns::default()
        .ok(vec![mop("append", 1, &[1])])
        .concurrent();
    let a = analyse(&h, &["serializable"]);
    assert!(matches!(a.verdict, Verdict::Unknown(_)), "{:?}", a.verdict);
    assert_eq!(a.anomaly_types, ["empty-transaction-graph"]);
}
