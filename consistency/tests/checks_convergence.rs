//! Convergence of replicas' final reads (`consistency::checker::convergence`).

mod checks_support;

use checks_support::*;
use consistency::Verdict;
use serde_json::json;

/// A final read of `key` on `node` by process `p`, returning `v`.
fn final_read(h: H, p: u64, key: &str, node: &str, v: history::Value) -> H {
    h.inv(p, "final-read", nil())
        .key(key)
        .node(node)
        .ok(p, "final-read", v)
        .key(key)
        .node(node)
}

#[test]
fn replicas_that_disagree_have_diverged_and_the_one_behind_lost_an_add() {
    let r = run("convergence", &fixture("convergence-diverged.json"));
    assert_eq!(r.checker, "convergence");
    assert_eq!(r.verdict, Verdict::Invalid);
    let d = &r.to_json();
    assert_eq!(d["key-count"], 1);
    assert_eq!(d["nodes"], json!(["n1", "n2", "n3"]));
    assert_eq!(d["diverged-count"], 1);
    assert_eq!(
        d["diverged"][0],
        json!({"key": "k1", "values": {"n1": [1, 2, 3], "n2": [1, 2], "n3": [1, 2, 3]}})
    );
    assert_eq!(d["lost-count"], 1);
    assert_eq!(
        d["lost"],
        json!([{"key": "k1", "node": "n2", "elements": [3]}])
    );
    assert_eq!(d["fabricated-count"], 0);
    assert_eq!(d["convergence-ms"], json!(null));
}

#[test]
fn replicas_that_catch_up_converge_and_the_time_is_measured_from_the_heal() {
    let r = run("convergence", &fixture("convergence-converged.json"));
    assert_eq!(r.verdict, Verdict::Valid, "{}", r.summary);
    // stop-partition at 10 ms; n2's second final read agrees at 32.5 ms.
    assert_eq!(r.to_json()["convergence-ms"], json!(22.5));
    assert_eq!(r.to_json()["diverged-count"], 0);
    assert_eq!(r.to_json()["final-read-count"], 3);
    assert!(
        r.summary.contains("22.5 ms after the heal"),
        "{}",
        r.summary
    );
}

#[test]
fn without_a_heal_convergence_is_measured_from_the_first_final_read() {
    let h = H::new()
        .inv(0, "add", int(1))
        .key("k")
        .ok(0, "add", int(1))
        .key("k");
    let h = final_read(h, 1, "k", "n1", ints(&[1])); // invoked at 2 ms
    let h = final_read(h, 2, "k", "n2", ints(&[1])).build(); // completes at 5 ms
    let r = run("convergence", &h);
    assert_eq!(r.verdict, Verdict::Valid);
    assert_eq!(r.to_json()["convergence-ms"], json!(3.0));
}

#[test]
fn elements_nobody_added_are_fabricated() {
    let h = H::new()
        .inv(0, "add", int(1))
        .key("k")
        .ok(0, "add", int(1))
        .key("k")
        .inv(0, "add", int(2))
        .key("k")
        .fail(0, "add", int(2))
        .key("k");
    let h = final_read(h, 1, "k", "n1", ints(&[1, 2, 3])).build();
    let r = run("convergence", &h);
    assert_eq!(r.verdict, Verdict::Invalid);
    assert_eq!(r.to_json()["fabricated-count"], 2);
    assert_eq!(
        r.to_json()["fabricated"],
        json!([{"key": "k", "node": "n1", "elements": [2, 3]}])
    );
}

#[test]
fn crashed_adds_may_or_may_not_appear() {
    let h = H::new()
        .inv(0, "add", int(1))
        .key("k")
        .info(0, "add", int(1))
        .key("k")
        .inv(3, "add", int(2))
        .key("k");
    let h = final_read(h, 1, "k", "n1", ints(&[1]));
    let h = final_read(h, 2, "k", "n2", ints(&[1])).build();
    let r = run("convergence", &h);
    assert_eq!(r.verdict, Verdict::Valid, "{}", r.to_json());
}

#[test]
fn registers_that_end_older_than_an_acknowledged_write_lost_it() {
    let h = H::new()
        .inv(0, "write", int(1))
        .key("x")
        .ok(0, "write", int(1))
        .key("x")
        .inv(0, "write", int(2))
        .key("x")
        .ok(0, "write", int(2))
        .key("x");
    let h = final_read(h, 1, "x", "n1", int(1));
    let h = final_read(h, 2, "x", "n2", int(1)).build();
    let r = run("convergence", &h);
    assert_eq!(r.verdict, Verdict::Invalid);
    let d = &r.to_json();
    assert_eq!(d["diverged-count"], 0);
    assert_eq!(d["lost-write-count"], 1);
    assert_eq!(d["lost-writes"][0]["key"], "x");
    assert_eq!(d["lost-writes"][0]["final-value"], 1);
    assert_eq!(d["lost-writes"][0]["writes"][0]["value"], 2);
    assert_eq!(d["lost-writes"][0]["writes"][0]["index"], 3);
}

#[test]
fn concurrent_register_writes_may_end_either_way() {
    let h = H::new()
        .inv(0, "write", int(1))
        .key("x")
        .inv(3, "write", int(2))
        .key("x")
        .ok(0, "write", int(1))
        .key("x")
        .ok(3, "write", int(2))
        .key("x");
    let h = final_read(h, 1, "x", "n1", int(1));
    let h = final_read(h, 2, "x", "n2", int(1)).build();
    let r = run("convergence", &h);
    assert_eq!(r.verdict, Verdict::Valid, "{}", r.to_json());
}

#[test]
fn a_register_left_at_nil_lost_every_acknowledged_write_and_values_can_be_fabricated() {
    let h = H::new()
        .inv(0, "write", int(1))
        .key("x")
        .ok(0, "write", int(1))
        .key("x")
        .inv(0, "cas", ints(&[1, 5]))
        .key("x")
        .ok(0, "cas", ints(&[1, 5]))
        .key("x");
    let h = final_read(h, 1, "x", "n1", nil());
    let h = final_read(h, 2, "x", "n2", int(9)).build();
    let r = run("convergence", &h);
    let d = &r.to_json();
    assert_eq!(d["lost-write-count"], 2);
    assert_eq!(
        d["fabricated"],
        json!([{"key": "x", "node": "n2", "value": 9}])
    );
    assert_eq!(d["diverged-count"], 1);
    assert_eq!(r.verdict, Verdict::Invalid);
}

#[test]
fn only_each_nodes_last_final_read_counts() {
    let h = H::new()
        .inv(0, "add", int(1))
        .key("k")
        .ok(0, "add", int(1))
        .key("k");
    let h = final_read(h, 1, "k", "n1", ints(&[]));
    let h = final_read(h, 1, "k", "n1", ints(&[1])).build();
    assert_eq!(run("convergence", &h).verdict, Verdict::Valid);
}

#[test]
fn nemesis_heals_are_recognised() {
    for heal in [
        "heal",
        "restart",
        "resume",
        "stop-clock-skew",
        "stop-partition",
    ] {
        let h = H::new()
            .inv(0, "add", int(1))
            .key("k")
            .ok(0, "add", int(1))
            .key("k")
            .nemesis(heal);
        let h = final_read(h, 1, "k", "n1", ints(&[1])).build(); // completes at 4 ms
        let r = run("convergence", &h);
        assert_eq!(r.to_json()["convergence-ms"], json!(2.0), "{heal}");
    }
}

#[test]
fn a_final_read_without_a_node_is_an_error() {
    let h = H::new()
        .inv(0, "final-read", nil())
        .key("k")
        .ok(0, "final-read", ints(&[]))
        .key("k")
        .build();
    let e = run_err("convergence", &h);
    assert!(e.contains("op index 1") && e.contains(":node"), "{e}");
}

#[test]
fn no_final_read_is_unknown() {
    let h = H::new().inv(0, "add", int(1)).ok(0, "add", int(1)).build();
    let r = run("convergence", &h);
    assert!(matches!(r.verdict, Verdict::Unknown(_)));
    assert_eq!(r.to_json()["valid?"], "unknown");
}

#[test]
fn a_key_with_both_adds_and_writes_is_an_error() {
    let h = H::new()
        .inv(0, "add", int(1))
        .key("k")
        .ok(0, "add", int(1))
        .key("k")
        .inv(0, "write", int(1))
        .key("k")
        .ok(0, "write", int(1))
        .key("k");
    let h = final_read(h, 1, "k", "n1", ints(&[1])).build();
    let e = run_err("convergence", &h);
    assert!(e.contains("op index 2") && e.contains("both :add"), "{e}");
}
