//! Jepsen's counter checker (`consistency::checker::counter`).

mod checks_support;

use checks_support::*;
use consistency::Verdict;
use serde_json::json;

#[test]
fn reads_within_bounds_are_valid_and_listed_as_lower_read_upper() {
    let r = run("counter", &fixture("counter-good.edn"));
    assert_eq!(r.checker, "counter");
    assert_eq!(r.verdict, Verdict::Valid);
    assert_eq!(
        r.to_json()["reads"],
        json!([[1, 1, 3], [3, 8, 8], [3, 3, 8]])
    );
    assert_eq!(r.to_json()["errors"], json!([]));
}

#[test]
fn reads_out_of_bounds_are_errors_and_failed_adds_do_not_count() {
    let r = run("counter", &fixture("counter-out-of-bounds.edn"));
    assert_eq!(r.verdict, Verdict::Invalid);
    assert_eq!(
        r.to_json()["reads"],
        json!([[1, 3, 1], [1, 0, 1], [1, 1, 1]])
    );
    assert_eq!(r.to_json()["errors"], json!([[1, 3, 1], [1, 0, 1]]));
    assert!(r.summary.contains("2 of 3 reads"), "{}", r.summary);
}

#[test]
fn the_lower_bound_is_taken_when_the_read_begins_and_the_upper_when_it_ends() {
    // The add completes during the read: the read may or may not see it.
    let h = H::new()
        .inv(1, "read", nil())
        .inv(0, "add", int(4))
        .ok(0, "add", int(4))
        .ok(1, "read", int(4))
        .inv(1, "read", nil())
        .ok(1, "read", int(0))
        .build();
    let r = run("counter", &h);
    assert_eq!(r.to_json()["reads"], json!([[0, 4, 4], [4, 0, 4]]));
    assert_eq!(r.to_json()["errors"], json!([[4, 0, 4]]));
    assert_eq!(r.verdict, Verdict::Invalid);
}

#[test]
fn unfinished_adds_raise_only_the_upper_bound() {
    let h = H::new()
        .inv(0, "add", int(10))
        .inv(1, "read", nil())
        .ok(1, "read", int(10))
        .inv(1, "read", nil())
        .ok(1, "read", int(0))
        .build();
    let r = run("counter", &h);
    assert_eq!(r.verdict, Verdict::Valid);
    assert_eq!(r.to_json()["reads"], json!([[0, 10, 10], [0, 0, 10]]));
}

#[test]
fn a_history_without_reads_is_valid_as_in_jepsen() {
    let h = H::new().inv(0, "add", int(1)).ok(0, "add", int(1)).build();
    let r = run("counter", &h);
    assert_eq!(r.verdict, Verdict::Valid);
    assert_eq!(r.to_json()["reads"], json!([]));
}

#[test]
fn a_negative_add_is_an_error_naming_the_op() {
    let h = H::new()
        .inv(0, "add", int(1))
        .ok(0, "add", int(1))
        .inv(0, "add", int(-2))
        .ok(0, "add", int(-2))
        .build();
    let e = run_err("counter", &h);
    assert!(e.contains("op index 2"), "{e}");
    assert!(e.contains("non-negative") && e.contains("-2"), "{e}");
}

#[test]
fn a_non_integer_add_or_read_is_an_error() {
    let h = H::new().inv(0, "add", history::Value::from("x")).build();
    let e = run_err("counter", &h);
    assert!(
        e.contains("op index 0") && e.contains("a string `\"x\"`"),
        "{e}"
    );

    let h = H::new()
        .inv(0, "read", nil())
        .ok(0, "read", ints(&[1]))
        .build();
    let e = run_err("counter", &h);
    assert!(
        e.contains("op index 1") && e.contains("must return an integer"),
        "{e}"
    );
}

#[test]
fn errors_from_files_name_the_line() {
    let text = b"{:type :invoke, :process 0, :f :add, :value 1}\n{:type :ok, :process 0, :f :add, :value :one}\n{:type :invoke, :process 0, :f :add, :value :two}\n";
    let h = history::format::read(text, history::Format::Edn).expect("parses");
    let e = run_err("counter", &h);
    assert!(e.contains("line 3"), "{e}");
}
