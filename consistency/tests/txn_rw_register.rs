//! Elle's rw-register analysis: its own small examples written down here (in the notation
//! of Elle's tests: `wx1` writes 1 to x, `rx_` reads nil), each anomaly on its own with
//! the models it rules out, the version-order assumptions, generated serializable
//! histories that must pass, and bad input that must be refused, never a panic.

use consistency::txn::rw_register::Assumptions;
use consistency::txn::{check, generate, Analysis, Options, Workload};
use consistency::Verdict;
use history::{History, Op, OpType, Process, Value};
use proptest::prelude::*;

/// A transaction in Elle's test notation: `wx1rx_ry2` is `[[:w :x 1] [:r :x nil] [:r :y 2]]`.
fn txn(text: &str) -> Value {
    let chars: Vec<char> = text.chars().collect();
    let mops = chars
        .chunks(3)
        .map(|m| {
            let f = if m[0] == 'w' { "w" } else { "r" };
            let value = match m[2] {
                '_' => Value::Nil,
                d => Value::Int(d.to_digit(10).expect("a digit") as i64),
            };
            Value::Vector(vec![
                Value::Keyword(f.into()),
                Value::Keyword(m[1].to_string()),
                value,
            ])
        })
        .collect();
    Value::Vector(mops)
}

/// The invocation of a completed transaction: its reads ask, they do not know.
fn invocation(value: &Value) -> Value {
    let mops = value.as_seq().unwrap_or_default();
    Value::Vector(
        mops.iter()
            .map(|m| match m.as_seq() {
                Some([f, k, _]) if f.as_text() == Some("r") => {
                    Value::Vector(vec![f.clone(), k.clone(), Value::Nil])
                }
                _ => m.clone(),
            })
            .collect(),
    )
}

/// A history of `(process, outcome, transaction)`s, each invoked after the one before
/// completed.
fn sequential(txns: &[(u64, OpType, &str)]) -> History {
    let mut ops = Vec::new();
    for &(p, kind, text) in txns {
        let value = txn(text);
        ops.push(Op::new(
            Process::Client(p),
            OpType::Invoke,
            "txn",
            invocation(&value),
        ));
        ops.push(Op::new(Process::Client(p), kind, "txn", value));
    }
    History::from_ops(ops)
}

/// Concurrent transactions: in rounds, each process's next transaction invoked with the
/// others' before any of them completes (a process runs its transactions in order).
fn concurrent(txns: &[(u64, OpType, &str)]) -> History {
    let mut rounds: Vec<Vec<(u64, OpType, &str)>> = Vec::new();
    let mut seen: std::collections::HashMap<u64, usize> = Default::default();
    for &t in txns {
        let round = seen.entry(t.0).or_default();
        if rounds.len() <= *round {
            rounds.push(Vec::new());
        }
        rounds[*round].push(t);
        *round += 1;
    }
    let mut ops = Vec::new();
    for round in rounds {
        for &(p, _, text) in &round {
            ops.push(Op::new(
                Process::Client(p),
                OpType::Invoke,
                "txn",
                invocation(&txn(text)),
            ));
        }
        for &(p, kind, text) in &round {
            ops.push(Op::new(Process::Client(p), kind, "txn", txn(text)));
        }
    }
    History::from_ops(ops)
}

fn analyse(history: &History, models: &[&str], assume: Assumptions) -> Analysis {
    let options = Options {
        consistency_models: models.iter().map(|m| m.to_string()).collect(),
        assume,
        ..Options::default()
    };
    check(history, Workload::RwRegister, &options).expect("checks")
}

const NONE: Assumptions = Assumptions {
    wfr_keys: false,
    sequential_keys: false,
    linearizable_keys: false,
};

use OpType::{Fail, Ok as Done};

#[test]
fn internal_reads_must_agree_with_the_transaction_itself() {
    let good = analyse(
        &concurrent(&[(0, Done, "ry2wx2rx2wx1rx1"), (1, Done, "wy2")]),
        &["serializable"],
        NONE,
    );
    assert!(!good.anomaly_types.contains(&"internal".to_string()));
    // A read that does not see the transaction's own write; a nil read then a value.
    for (text, other, expected) in [
        ("rx1wx2rx1", "wx1", Value::Int(2)),
        ("rx_rx2", "wx2", Value::Nil),
    ] {
        let a = analyse(
            &concurrent(&[(0, Done, text), (1, Done, other)]),
            &["serializable"],
            NONE,
        );
        assert_eq!(a.verdict, Verdict::Invalid, "{text}");
        let case = &a.anomalies["internal"][0];
        assert_eq!(
            case["expected"],
            history::json::value_to_json(&expected),
            "{text}"
        );
        assert_eq!(case["mop"][0], "r");
    }
}

#[test]
fn aborted_and_intermediate_reads() {
    let g1a = analyse(
        &sequential(&[(0, Fail, "wx2"), (1, Done, "rx2")]),
        &["read-committed"],
        NONE,
    );
    // Nothing else to relate: the graph is empty too, which alone would be unknown.
    assert_eq!(g1a.verdict, Verdict::Invalid);
    assert_eq!(g1a.anomaly_types, ["G1a", "empty-transaction-graph"]);
    assert_eq!(g1a.anomalies["G1a"][0]["writer"]["type"], "fail");
    assert!(g1a.not.contains(&"read-committed"), "{:?}", g1a.not);

    let g1b = analyse(
        &sequential(&[(0, Done, "wx2wx1"), (1, Done, "rx2")]),
        &["read-committed"],
        NONE,
    );
    assert_eq!(g1b.anomaly_types, ["G1b", "empty-transaction-graph"]);
    assert!(g1b.not.contains(&"read-committed"));

    // A transaction's own intermediate write, read by itself, is no anomaly.
    let own = analyse(
        &sequential(&[(0, Done, "wx1rx1wx2"), (1, Done, "rx2")]),
        &["read-committed"],
        NONE,
    );
    assert_eq!(own.verdict, Verdict::Valid, "{:?}", own.anomaly_types);
}

#[test]
fn circular_information_flow_is_g1c() {
    // Each transaction read the other's write.
    let a = analyse(
        &concurrent(&[(0, Done, "wx1ry1"), (1, Done, "wy1rx1")]),
        &["read-committed"],
        NONE,
    );
    assert_eq!(a.anomaly_types, ["G1c"]);
    assert_eq!(a.not, ["read-committed"]);
    let text = &a.explanations[0].text;
    assert!(text.contains("wrote :y = 1, which was read by"), "{text}");
}

#[test]
fn read_skew_from_the_initial_state_is_g_single() {
    // T2 saw T1's write of y but not its write of x: x's nil precedes 1.
    let a = analyse(
        &concurrent(&[(0, Done, "wx1wy1"), (1, Done, "rx_ry1")]),
        &["serializable"],
        NONE,
    );
    assert_eq!(a.anomaly_types, ["G-single-item"]);
    assert!(a.not.contains(&"consistent-view"), "{:?}", a.not);
    let text = &a.explanations[0].text;
    assert!(
        text.contains("read key :x = nil, and T")
            && text.contains("set it to 1, which came later in the version order"),
        "{text}"
    );
}

#[test]
fn write_skew_is_g2_item_and_lost_update_is_its_own() {
    let skew = analyse(
        &concurrent(&[(0, Done, "rx_wy1"), (1, Done, "ry_wx1")]),
        &["serializable"],
        NONE,
    );
    assert_eq!(skew.anomaly_types, ["G2-item"]);
    assert_eq!(skew.not, ["repeatable-read"]);
    // Snapshot isolation allows write skew.
    let si = analyse(
        &concurrent(&[(0, Done, "rx_wy1"), (1, Done, "ry_wx1")]),
        &["snapshot-isolation"],
        NONE,
    );
    assert_eq!(si.verdict, Verdict::Valid, "{:?}", si.anomaly_types);

    let lost = analyse(
        &concurrent(&[(0, Done, "rx_wx1"), (1, Done, "rx_wx2")]),
        &["serializable"],
        NONE,
    );
    assert!(lost.anomaly_types.contains(&"lost-update".to_string()));
    let case = &lost.anomalies["lost-update"][0];
    assert_eq!(case["key"], "x");
    assert_eq!(case["value"], serde_json::Value::Null);
    assert_eq!(case["txns"].as_array().map(Vec::len), Some(2));
}

#[test]
fn sequential_keys_order_versions_by_process_and_find_g0() {
    // Process 2 saw x go 1 → 2, process 3 saw y go 1 → 2: T1 wrote x1 and y2, T2 x2 and y1,
    // so each overwrote the other: a write cycle, which only the assumption reveals.
    let txns = [
        (0, Done, "wx1wy2"),
        (1, Done, "wx2wy1"),
        (2, Done, "rx1"),
        (2, Done, "rx2"),
        (3, Done, "ry1"),
        (3, Done, "ry2"),
    ];
    let history = concurrent(&txns);
    let without = analyse(&history, &["read-uncommitted"], NONE);
    assert_eq!(
        without.verdict,
        Verdict::Valid,
        "{:?}",
        without.anomaly_types
    );
    let assume = Assumptions {
        sequential_keys: true,
        ..NONE
    };
    let with = analyse(&history, &["read-uncommitted"], assume);
    assert_eq!(with.anomaly_types, ["G0"]);
    assert_eq!(with.not, ["read-uncommitted"]);
    assert!(with.explanations[0].text.contains("set key :x to 1, and T"));
}

#[test]
fn versions_that_contradict_each_other_are_cyclic_versions() {
    // Process 0 saw x go 1 → 2, process 1 saw it go 2 → 1.
    let history = concurrent(&[
        (2, Done, "wx1"),
        (3, Done, "wx2"),
        (0, Done, "rx1"),
        (1, Done, "rx2"),
        (0, Done, "rx2"),
        (1, Done, "rx1"),
    ]);
    let assume = Assumptions {
        sequential_keys: true,
        ..NONE
    };
    let a = analyse(&history, &["read-uncommitted"], assume);
    assert_eq!(a.anomaly_types, ["cyclic-versions"]);
    let case = &a.anomalies["cyclic-versions"][0];
    assert_eq!(case["key"], "x");
    assert_eq!(case["scc"], serde_json::json!([1, 2]));
    assert_eq!(
        case["sources"],
        serde_json::json!(["initial-state", "sequential-keys"])
    );
}

#[test]
fn writes_follow_reads_orders_a_transactions_read_before_its_write() {
    // T1 read x = 1 and wrote x = 2; T3 read 2 and wrote y = 1, which T4 read with x = 1:
    // with wfr, 1 < 2 and T4 read the older x after T3's write (read skew, G-single).
    let history = concurrent(&[
        (0, Done, "wx1"),
        (1, Done, "rx1wx2"),
        (2, Done, "rx2wy1"),
        (3, Done, "ry1rx1"),
    ]);
    let without = analyse(&history, &["serializable"], NONE);
    assert_eq!(
        without.verdict,
        Verdict::Valid,
        "{:?}",
        without.anomaly_types
    );
    let with = analyse(
        &history,
        &["serializable"],
        Assumptions {
            wfr_keys: true,
            ..NONE
        },
    );
    assert_eq!(
        with.anomaly_types,
        ["G-single-item"],
        "{:?}",
        with.anomalies
    );
}

#[test]
fn real_time_stale_reads() {
    // T2 began after T1 committed x = 1 and read nil.
    let history = sequential(&[(0, Done, "wx1"), (1, Done, "rx_")]);
    let serializable = analyse(&history, &["serializable"], NONE);
    assert_eq!(serializable.verdict, Verdict::Valid);
    let strict = analyse(&history, &["strict-serializable"], NONE);
    assert_eq!(strict.verdict, Verdict::Invalid);
    assert!(
        strict
            .anomaly_types
            .iter()
            .all(|t| t.ends_with("-realtime")),
        "{:?}",
        strict.anomaly_types
    );
    assert!(
        strict.not.contains(&"strong-snapshot-isolation"),
        "{:?}",
        strict.not
    );
    // Linearizable keys: x went 1 → 2 in real time, then a read saw 1 again.
    let stale = sequential(&[(0, Done, "wx1"), (1, Done, "wx2"), (2, Done, "rx1")]);
    let a = analyse(
        &stale,
        &["serializable"],
        Assumptions {
            linearizable_keys: true,
            ..NONE
        },
    );
    assert_eq!(a.anomaly_types, ["cyclic-versions"]);
    assert_eq!(
        a.anomalies["cyclic-versions"][0]["sources"],
        serde_json::json!(["initial-state", "linearizable-keys"])
    );
}

#[test]
fn linearizable_keys_link_only_transactions_with_none_between() {
    // Concurrent writes of 1 and 2, then a read of 2, then a write of 3 and a read of 3:
    // every version edge is inferred, none contradicts, and the history is valid.
    let ops = vec![
        Op::new(Process::Client(0), OpType::Invoke, "txn", txn("wx1")),
        Op::new(Process::Client(1), OpType::Invoke, "txn", txn("wx2")),
        Op::new(Process::Client(0), OpType::Ok, "txn", txn("wx1")),
        Op::new(Process::Client(1), OpType::Ok, "txn", txn("wx2")),
        Op::new(Process::Client(2), OpType::Invoke, "txn", txn("rx_")),
        Op::new(Process::Client(2), OpType::Ok, "txn", txn("rx2")),
        Op::new(Process::Client(3), OpType::Invoke, "txn", txn("wx3")),
        Op::new(Process::Client(3), OpType::Ok, "txn", txn("wx3")),
        Op::new(Process::Client(4), OpType::Invoke, "txn", txn("rx_")),
        Op::new(Process::Client(4), OpType::Ok, "txn", txn("rx3")),
    ];
    let assume = Assumptions {
        linearizable_keys: true,
        ..NONE
    };
    let a = analyse(&History::from_ops(ops), &["strict-serializable"], assume);
    assert_eq!(a.verdict, Verdict::Valid, "{:?}", a.anomalies);
    // T1 → T2 are unordered; both precede the read of 2 and the write of 3.
    assert!(a.edges >= 4, "{}", a.edges);
}

fn generated(seed: u64, processes: u64, transactions: usize) -> History {
    generate::serializable(&generate::Shape {
        workload: Workload::RwRegister,
        transactions,
        processes,
        keys: 5,
        appends_per_key: 8,
        seed,
        ..generate::Shape::default()
    })
}

const ALL: Assumptions = Assumptions {
    wfr_keys: true,
    sequential_keys: true,
    linearizable_keys: true,
};

#[test]
fn serializable_executions_are_valid_under_every_assumption() {
    for seed in 0..30 {
        let history = generated(seed, 1 + seed % 8, 300);
        let a = analyse(&history, &["strict-serializable"], ALL);
        assert_eq!(a.verdict, Verdict::Valid, "seed {seed}: {:?}", a.anomalies);
        assert!(a.edges > 0);
    }
}

#[test]
fn write_skew_planted_in_a_serializable_history_is_found() {
    let mut ops: Vec<Op> = generated(7, 5, 400).ops().to_vec();
    // Two transactions on keys the generator never uses, concurrent with each other.
    let skew = concurrent(&[(90, Done, "rp_wq1"), (91, Done, "rq_wp1")]);
    let middle = ops.len() / 2;
    ops.splice(middle..middle, skew.ops().iter().cloned());
    let a = analyse(&History::from_ops(ops), &["serializable"], ALL);
    assert_eq!(a.anomaly_types, ["G2-item"], "{:?}", a.anomalies);
}

#[test]
fn bad_input_names_the_event_and_the_micro_op() {
    let edn = |text: &str| history::edn::read(text.as_bytes()).expect("valid EDN");
    let cases = [
        (
            "{:type :invoke :process 0 :f :txn :value [[:append :x 1]]}",
            "function `:append`; rw-register takes :w and :r",
        ),
        (
            "{:type :invoke :process 0 :f :txn :value [[:w :x]]}",
            "3-element list",
        ),
        (
            "{:type :invoke :process 0 :f :txn :value [[:w :x 1]]}\n{:type :ok :process 0 :f :txn :value [[:w :x 1]]}\n{:type :invoke :process 1 :f :txn :value [[:w :x 1]]}",
            "needs every value written once per key",
        ),
    ];
    for (text, message) in cases {
        let err = check(&edn(text), Workload::RwRegister, &Options::default()).expect_err(text);
        let err = err.to_string();
        assert!(err.contains(message), "{err}");
        assert!(err.contains("line"), "names the line: {err}");
    }
}

fn arbitrary_mop() -> impl Strategy<Value = Value> {
    let f = prop_oneof![Just("w"), Just("r"), Just("append"), Just("x")];
    let v = prop_oneof![
        Just(Value::Nil),
        (0i64..4).prop_map(Value::Int),
        Just(Value::Vector(vec![Value::Int(1)])),
    ];
    // 1 to 4 parts: too short, right, or too long.
    (f, 0i64..3, v, 1usize..5).prop_map(|(f, k, v, arity)| {
        let mut parts = vec![Value::Keyword(f.into()), Value::Int(k), v, Value::Int(9)];
        parts.truncate(arity);
        Value::Vector(parts)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Any micro-op lists, any outcomes: an analysis or an error, never a panic.
    #[test]
    fn arbitrary_micro_ops_never_panic(
        txns in proptest::collection::vec(
            (0u64..3, 0u8..3, proptest::collection::vec(arbitrary_mop(), 0..4)),
            0..8,
        )
    ) {
        let mut ops = Vec::new();
        for (p, outcome, mops) in txns {
            let value = Value::Vector(mops);
            ops.push(Op::new(Process::Client(p), OpType::Invoke, "txn", value.clone()));
            let kind = [OpType::Ok, OpType::Fail, OpType::Info][outcome as usize];
            ops.push(Op::new(Process::Client(p), kind, "txn", value));
        }
        let history = History::from_ops(ops);
        for workload in [Workload::RwRegister, Workload::ListAppend] {
            let options = Options { assume: ALL, ..Options::default() };
            let _ = check(&history, workload, &options);
        }
    }
}

/// A search that runs out of time never guesses: over a ring of 6,000 write skews with no
/// time to search, the verdict under serializability is still `false` (the cycle found, or
/// failing that a cycle proven to exist), and under snapshot isolation, which allows such
/// cycles, unknown.
#[test]
fn a_timed_out_search_never_guesses() {
    let n = 6000i64;
    let mop =
        |f: &str, k: i64, v: Value| Value::Vector(vec![Value::Keyword(f.into()), Value::Int(k), v]);
    let ring = |i: i64| {
        Value::Vector(vec![
            mop("r", i, Value::Nil),
            mop("w", (i + 1) % n, Value::Int(1)),
        ])
    };
    let process = |i: i64| Process::Client(i as u64);
    let invocations = (0..n).map(|i| Op::new(process(i), OpType::Invoke, "txn", ring(i)));
    let completions = (0..n).map(|i| Op::new(process(i), OpType::Ok, "txn", ring(i)));
    let skews = History::from_ops(invocations.chain(completions).collect::<Vec<_>>());
    let analyse_in = |model: &str| {
        let options = Options {
            consistency_models: vec![model.into()],
            cycle_search_timeout: std::time::Duration::ZERO,
            ..Options::default()
        };
        check(&skews, Workload::RwRegister, &options).expect("checks")
    };
    let serializable = analyse_in("serializable");
    assert_eq!(serializable.verdict, Verdict::Invalid);
    assert!(serializable
        .anomaly_types
        .contains(&"cycle-search-timeout".to_string()));
    let si = analyse_in("snapshot-isolation");
    assert!(
        matches!(si.verdict, Verdict::Unknown(_)),
        "{:?}",
        si.verdict
    );
    assert_eq!(si.anomaly_types, ["cycle-search-timeout"]);
}
