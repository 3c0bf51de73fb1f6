//! Jepsen's `set-full` and `set` checkers (`consistency::checker::set_full`).

mod checks_support;

use checks_support::*;
use consistency::checker::set_full::{check, check_set, Options};
use consistency::Verdict;
use serde_json::json;

#[test]
fn a_lost_element_is_invalid_with_its_lost_latency() {
    let r = run("set-full", &fixture("set-full-lost.edn"));
    assert_eq!(r.checker, "set-full");
    assert_eq!(r.verdict, Verdict::Invalid);
    let d = &r.to_json();
    assert_eq!(d["attempt-count"], 3);
    assert_eq!(d["stable-count"], 1);
    assert_eq!(d["lost-count"], 1);
    assert_eq!(d["lost"], json!([0]));
    // The crashed add of 2 was never read afterwards.
    assert_eq!(d["never-read-count"], 1);
    assert_eq!(d["never-read"], json!([2]));
    assert_eq!(d["stale-count"], 0);
    // Known at 1 ms, last seen by a read invoked at 4 ms.
    assert_eq!(
        d["lost-latencies"],
        json!({"0": 3, "0.5": 3, "0.95": 3, "0.99": 3, "1": 3})
    );
    assert_eq!(
        d["stable-latencies"],
        json!({"0": 0, "0.5": 0, "0.95": 0, "0.99": 0, "1": 0})
    );
    assert_eq!(d["duplicated-count"], 0);
    assert!(r.summary.contains("1 lost"), "{}", r.summary);
}

#[test]
fn a_stale_element_is_valid_unless_the_set_must_be_linearizable() {
    let h = fixture("set-full-stale.edn");
    let r = run("set-full", &h);
    assert_eq!(r.verdict, Verdict::Valid);
    let d = &r.to_json();
    assert_eq!(d["stable-count"], 2);
    assert_eq!(d["stale-count"], 1);
    assert_eq!(d["stale"], json!([0]));
    assert_eq!(d["worst-stale"][0]["element"], 0);
    assert_eq!(d["worst-stale"][0]["stable-latency"], 1);
    assert_eq!(d["worst-stale"][0]["known"]["index"], 1);
    assert_eq!(d["worst-stale"][0]["last-absent"]["index"], 2);
    assert_eq!(
        d["stable-latencies"],
        json!({"0": 0, "0.5": 1, "0.95": 1, "0.99": 1, "1": 1})
    );
    assert!(d.get("lost-latencies").is_none());

    let strict = check(&h, &Options { linearizable: true }).expect("checks");
    assert_eq!(strict.verdict, Verdict::Invalid);
}

#[test]
fn staleness_is_found_without_times_and_below_a_millisecond() {
    // Jepsen's code would need a stable latency of at least 1 ms.
    let h = H::new()
        .inv(0, "add", int(7))
        .at(0)
        .ok(0, "add", int(7))
        .at(10)
        .inv(1, "read", nil())
        .at(20)
        .ok(1, "read", ints(&[]))
        .at(30)
        .inv(1, "read", nil())
        .at(40)
        .ok(1, "read", ints(&[7]))
        .at(50)
        .build();
    let r = check(&h, &Options { linearizable: true }).expect("checks");
    assert_eq!(r.to_json()["stale"], json!([7]));
    assert_eq!(r.to_json()["worst-stale"][0]["stable-latency"], 0);
    assert_eq!(r.verdict, Verdict::Invalid);
}

#[test]
fn a_duplicated_element_is_invalid() {
    let r = run("set-full", &fixture("set-full-duplicate.edn"));
    assert_eq!(r.verdict, Verdict::Invalid);
    assert_eq!(r.to_json()["duplicated-count"], 1);
    assert_eq!(r.to_json()["duplicated"], json!({"1": 2}));
    assert_eq!(r.to_json()["lost-count"], 0);
    assert_eq!(r.to_json()["stable-count"], 2);
}

#[test]
fn a_read_concurrent_with_the_add_that_misses_it_makes_it_never_read_not_lost() {
    let h = H::new()
        .inv(1, "read", nil())
        .inv(0, "add", int(1))
        .ok(1, "read", ints(&[]))
        .ok(0, "add", int(1))
        .build();
    let r = run("set-full", &h);
    assert_eq!(r.to_json()["never-read"], json!([1]));
    assert_eq!(r.to_json()["lost-count"], 0);
    // Nothing is stable: Jepsen's :unknown.
    assert!(matches!(r.verdict, Verdict::Unknown(_)), "{:?}", r.verdict);
    assert!(r.to_json()["error"].is_string());
    assert_eq!(r.to_json()["valid?"], "unknown");
    assert!(
        r.to_edn().starts_with("{:valid? :unknown,\n"),
        "{}",
        r.to_edn()
    );
}

#[test]
fn a_crashed_add_that_was_read_is_known_and_can_be_lost() {
    let h = H::new()
        .inv(0, "add", int(1))
        .info(0, "add", int(1))
        .inv(1, "read", nil())
        .ok(1, "read", ints(&[1]))
        .inv(1, "read", nil())
        .ok(1, "read", ints(&[]))
        .build();
    let r = run("set-full", &h);
    assert_eq!(r.to_json()["lost"], json!([1]));
    assert_eq!(r.verdict, Verdict::Invalid);
}

#[test]
fn an_element_that_reappears_is_stable_not_lost() {
    let h = H::new()
        .inv(0, "add", int(1))
        .ok(0, "add", int(1))
        .inv(1, "read", nil())
        .ok(1, "read", ints(&[1]))
        .inv(1, "read", nil())
        .ok(1, "read", ints(&[]))
        .inv(1, "read", nil())
        .ok(1, "read", ints(&[1]))
        .build();
    let r = run("set-full", &h);
    assert_eq!(r.verdict, Verdict::Valid);
    assert_eq!(r.to_json()["stable-count"], 1);
    assert_eq!(r.to_json()["stale"], json!([1]));
}

#[test]
fn failed_and_unfinished_reads_are_ignored() {
    let h = H::new()
        .inv(0, "add", int(1))
        .ok(0, "add", int(1))
        .inv(1, "read", nil())
        .fail(1, "read", nil())
        .inv(2, "read", nil())
        .info(2, "read", nil())
        .inv(3, "read", nil())
        .ok(3, "read", ints(&[1]))
        .inv(4, "read", nil())
        .build();
    let r = run("set-full", &h);
    assert_eq!(r.verdict, Verdict::Valid);
    assert_eq!(r.to_json()["stale-count"], 0);
}

#[test]
fn keywords_and_strings_are_different_elements() {
    let h = H::new()
        .inv(0, "add", history::Value::Keyword("a".into()))
        .ok(0, "add", history::Value::Keyword("a".into()))
        .inv(1, "read", nil())
        .ok(
            1,
            "read",
            history::Value::Vector(vec![history::Value::from("a")]),
        )
        .build();
    let r = run("set-full", &h);
    assert_eq!(r.to_json()["lost"], json!(["a"]));
    assert_eq!(r.verdict, Verdict::Invalid);
}

#[test]
fn a_read_that_is_not_a_collection_is_an_error_naming_the_op() {
    let h = H::new()
        .inv(0, "add", int(1))
        .ok(0, "add", int(1))
        .inv(1, "read", nil())
        .ok(1, "read", int(1))
        .build();
    let e = run_err("set-full", &h);
    assert!(e.contains("op index 3"), "{e}");
    assert!(e.contains("collection"), "{e}");
    assert!(e.contains("an integer `1`"), "{e}");
}

#[test]
fn an_add_of_nil_is_an_error() {
    let h = H::new().inv(0, "add", nil()).ok(0, "add", nil()).build();
    let e = run_err("set-full", &h);
    assert!(e.contains("op index 0") && e.contains(":add"), "{e}");
}

#[test]
fn a_completion_without_invocation_is_an_error() {
    let h = H::new().ok(0, "add", int(1)).build();
    let e = run_err("set-full", &h);
    assert!(e.contains("no invocation in flight"), "{e}");
}

#[test]
fn the_set_checker_reports_ok_lost_unexpected_and_recovered() {
    let mut h = H::new();
    for x in 1..=5 {
        h = h.inv(0, "add", int(x)).ok(0, "add", int(x));
    }
    let h = h
        .inv(1, "add", int(6))
        .info(1, "add", int(6))
        .inv(2, "add", int(7))
        .fail(2, "add", int(7))
        .inv(3, "read", nil())
        .ok(3, "read", ints(&[1, 2, 4, 5, 6, 9]))
        .build();
    let r = check_set(&h).expect("checks");
    assert_eq!(r.checker, "set");
    assert_eq!(r.verdict, Verdict::Invalid);
    let d = &r.to_json();
    assert_eq!(d["attempt-count"], 7);
    assert_eq!(d["acknowledged-count"], 5);
    assert_eq!(d["ok-count"], 5);
    assert_eq!(d["ok"], "#{1..2 4..6}");
    assert_eq!(d["lost"], "#{3}");
    assert_eq!(d["lost-count"], 1);
    assert_eq!(d["unexpected"], "#{9}");
    assert_eq!(d["recovered"], "#{6}");
    assert_eq!(d["recovered-count"], 1);
}

#[test]
fn the_set_checker_uses_the_last_read_and_is_unknown_without_one() {
    let adds = || H::new().inv(0, "add", int(1)).ok(0, "add", int(1));
    let good = adds()
        .inv(1, "read", nil())
        .ok(1, "read", ints(&[]))
        .inv(1, "read", nil())
        .ok(1, "read", ints(&[1]))
        .build();
    let r = run("set", &good);
    assert_eq!(r.verdict, Verdict::Valid);
    assert_eq!(r.to_json()["lost"], "#{}");

    let unread = adds().inv(1, "read", nil()).fail(1, "read", nil()).build();
    let r = run("set", &unread);
    assert!(matches!(r.verdict, Verdict::Unknown(_)));
    assert_eq!(r.to_json()["error"], "Set was never read");
}
