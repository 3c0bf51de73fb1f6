//! Stale reads and lost writes of registers (`consistency::checker::register_stats`).

mod checks_support;

use checks_support::*;
use consistency::Verdict;
use serde_json::json;

fn write(h: H, p: u64, v: i64) -> H {
    h.inv(p, "write", int(v)).ok(p, "write", int(v))
}

fn read(h: H, p: u64, v: history::Value) -> H {
    h.inv(p, "read", nil()).ok(p, "read", v)
}

#[test]
fn a_linearizable_history_has_no_anomaly() {
    let h = write(H::new(), 0, 1);
    let h = read(h, 1, int(1));
    let h = write(h, 0, 2);
    let h = read(h, 1, int(2)).build();
    let r = run("register-stats", &h);
    assert_eq!(r.checker, "register-stats");
    assert_eq!(r.verdict, Verdict::Valid);
    assert_eq!(r.to_json()["stale-read-count"], 0);
    assert_eq!(r.to_json()["lost-write-count"], 0);
    assert_eq!(r.to_json()["read-count"], 2);
    assert_eq!(r.to_json()["write-count"], 2);
}

#[test]
fn a_read_of_a_superseded_value_is_stale() {
    let h = write(H::new(), 0, 1);
    let h = write(h, 0, 2);
    let h = read(h, 1, int(1));
    let h = read(h, 1, int(2)).build();
    let r = run("register-stats", &h);
    assert_eq!(r.verdict, Verdict::Invalid);
    assert_eq!(r.to_json()["stale-read-count"], 1);
    let s = &r.to_json()["stale-reads"][0];
    assert_eq!(s["value"], 1);
    assert_eq!(s["read"]["index"], 5);
    assert_eq!(s["superseded-by"]["index"], 3);
    // 2 was seen afterwards: not lost.
    assert_eq!(r.to_json()["lost-write-count"], 0);
}

#[test]
fn an_acknowledged_write_never_seen_again_is_lost() {
    let h = write(H::new(), 0, 1);
    let h = write(h, 0, 2);
    let h = read(h, 1, int(1));
    let h = read(h, 1, int(1)).build();
    let r = run("register-stats", &h);
    assert_eq!(r.to_json()["lost-write-count"], 1);
    let l = &r.to_json()["lost-writes"][0];
    assert_eq!(l["write"]["value"], 2);
    assert_eq!(l["read"]["index"], 5);
    assert_eq!(l["read-value"], 1);
    assert_eq!(r.to_json()["stale-read-count"], 2);
}

#[test]
fn a_read_concurrent_with_the_newer_write_is_not_stale() {
    let h = write(H::new(), 0, 1)
        .inv(0, "write", int(2))
        .inv(1, "read", nil())
        .ok(0, "write", int(2))
        .ok(1, "read", int(1))
        .build();
    let r = run("register-stats", &h);
    assert_eq!(r.verdict, Verdict::Valid, "{}", r.to_json());
}

#[test]
fn a_value_whose_write_crashed_is_never_stale() {
    // The info write of 1 may take effect at any later time.
    let h = H::new().inv(0, "write", int(1)).info(0, "write", int(1));
    let h = write(h, 2, 2);
    let h = read(h, 1, int(1)).build();
    let r = run("register-stats", &h);
    assert_eq!(r.verdict, Verdict::Valid, "{}", r.to_json());
}

#[test]
fn a_repeated_value_is_attributed_to_its_latest_writer() {
    // 1 is written twice; the read may come from the second write.
    let h = write(H::new(), 0, 1);
    let h = write(h, 0, 2);
    let h = write(h, 0, 1);
    let h = read(h, 1, int(1)).build();
    let r = run("register-stats", &h);
    assert_eq!(r.verdict, Verdict::Valid, "{}", r.to_json());
}

#[test]
fn a_later_write_of_the_same_value_does_not_excuse_an_earlier_stale_read() {
    let h = write(H::new(), 0, 1);
    let h = write(h, 0, 2);
    let h = read(h, 1, int(1));
    let h = write(h, 0, 1).build();
    let r = run("register-stats", &h);
    assert_eq!(r.to_json()["stale-read-count"], 1, "{}", r.to_json());
}

#[test]
fn reading_nil_after_a_write_is_stale_and_loses_it() {
    let h = write(H::new(), 0, 1);
    let h = read(h, 1, nil()).build();
    let r = run("register-stats", &h);
    assert_eq!(r.to_json()["stale-read-count"], 1);
    assert_eq!(r.to_json()["lost-write-count"], 1);
}

#[test]
fn a_successful_cas_supersedes_and_a_failed_one_does_not() {
    let h = write(H::new(), 0, 1)
        .inv(0, "cas", ints(&[1, 3]))
        .fail(0, "cas", ints(&[1, 3]));
    let h = read(h, 1, int(1)).build();
    assert_eq!(run("register-stats", &h).verdict, Verdict::Valid);

    let h = write(H::new(), 0, 1)
        .inv(0, "cas", ints(&[1, 3]))
        .ok(0, "cas", ints(&[1, 3]));
    let h = read(h, 1, int(1)).build();
    let r = run("register-stats", &h);
    assert_eq!(r.to_json()["stale-read-count"], 1);
    assert_eq!(r.to_json()["stale-reads"][0]["superseded-by"]["f"], "cas");
}

#[test]
fn keys_are_independent() {
    let h = H::new()
        .inv(0, "write", int(1))
        .key("a")
        .ok(0, "write", int(1))
        .key("a")
        .inv(0, "write", int(2))
        .key("b")
        .ok(0, "write", int(2))
        .key("b")
        .inv(1, "read", nil())
        .key("a")
        .ok(1, "read", int(1))
        .key("a")
        .inv(1, "read", nil())
        .key("b")
        .ok(1, "read", nil())
        .key("b")
        .build();
    let r = run("register-stats", &h);
    assert_eq!(r.to_json()["key-count"], 2);
    assert_eq!(r.to_json()["stale-read-count"], 1);
    assert_eq!(r.to_json()["stale-reads"][0]["key"], "b");
    assert_eq!(r.to_json()["lost-writes"][0]["key"], "b");
}

#[test]
fn a_read_of_a_value_never_written_is_reported() {
    let h = write(H::new(), 0, 1);
    let h = read(h, 1, int(7)).build();
    let r = run("register-stats", &h);
    assert_eq!(r.verdict, Verdict::Invalid);
    assert_eq!(r.to_json()["unwritten-read-count"], 1);
    assert_eq!(r.to_json()["unwritten-reads"][0]["value"], json!(7));
    assert_eq!(r.to_json()["stale-read-count"], 0);
}

#[test]
fn a_malformed_cas_is_an_error() {
    let h = H::new().inv(0, "cas", int(1)).build();
    let e = run_err("register-stats", &h);
    assert!(e.contains("op index 0") && e.contains("[old new]"), "{e}");
}
