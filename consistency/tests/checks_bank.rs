//! Jepsen's bank checker (`consistency::checker::bank`).

mod checks_support;

use checks_support::*;
use consistency::checker::bank::{check, Options};
use consistency::Verdict;
use serde_json::json;

fn read(h: H, p: u64, balances: &[(i64, Option<i64>)]) -> H {
    h.inv(p, "read", nil()).ok(p, "read", accounts(balances))
}

#[test]
fn reads_that_all_sum_to_the_total_are_valid() {
    let r = run("bank", &fixture("bank-good.edn"));
    assert_eq!(r.checker, "bank");
    assert_eq!(r.verdict, Verdict::Valid);
    assert_eq!(r.to_json()["read-count"], 4);
    assert_eq!(r.to_json()["error-count"], 0);
    assert_eq!(r.to_json()["first-error"], json!(null));
    assert_eq!(r.to_json()["errors"], json!({}));
}

#[test]
fn wrong_totals_and_negative_balances_are_reported_as_jepsen_does() {
    let r = run("bank", &fixture("bank-wrong-total.edn"));
    assert_eq!(r.verdict, Verdict::Invalid);
    let d = &r.to_json();
    assert_eq!(d["read-count"], 5);
    assert_eq!(d["error-count"], 3);
    assert_eq!(d["first-error"]["type"], "wrong-total");
    assert_eq!(d["first-error"]["op"]["index"], 5);

    let wrong = &d["errors"]["wrong-total"];
    assert_eq!(wrong["count"], 2);
    assert_eq!(wrong["first"]["total"], 95);
    assert_eq!(wrong["last"]["total"], 104);
    // |95 - 100| / 100 is worse than |104 - 100| / 100.
    assert_eq!(wrong["worst"]["total"], 95);
    assert_eq!(wrong["lowest"]["total"], 95);
    assert_eq!(wrong["highest"]["total"], 104);
    assert_eq!(
        wrong["highest"]["op"]["value"],
        json!({"0": 20, "1": 30, "2": 21, "3": 33})
    );

    let negative = &d["errors"]["negative-value"];
    assert_eq!(negative["count"], 1);
    assert_eq!(negative["first"]["negative"], json!([-4]));
    assert_eq!(negative["first"]["op"]["index"], 11);
    assert!(negative.get("lowest").is_none());
    assert!(r.summary.contains("3 of 5 reads"), "{}", r.summary);

    let edn = r.to_edn();
    assert!(edn.starts_with("{:valid? false,\n :read-count 5,"), "{edn}");
    assert!(
        edn.contains(":wrong-total {:count 2, :first {:type \"wrong-total\", :total 95,"),
        "{edn}"
    );
    assert!(edn.contains(":value {0 20, 1 25, 2 25, 3 25}"), "{edn}");
}

#[test]
fn ties_go_to_the_earliest_error_as_jepsens_max_by() {
    let h = read(H::new(), 0, &[(0, Some(50)), (1, Some(50))]);
    let h = read(h, 1, &[(0, Some(45)), (1, Some(50))]); // 95: 5% off
    let h = read(h, 2, &[(0, Some(55)), (1, Some(50))]); // 105: 5% off
    let h = read(h, 3, &[(0, Some(45)), (1, Some(50))]); // 95 again
    let h = read(h, 4, &[(0, Some(55)), (1, Some(50))]).build(); // 105 again
    let r = run("bank", &h);
    let wrong = &r.to_json()["errors"]["wrong-total"];
    assert_eq!(wrong["count"], 4);
    assert_eq!(wrong["worst"]["op"]["process"], 1);
    assert_eq!(wrong["lowest"]["op"]["process"], 1);
    assert_eq!(wrong["highest"]["op"]["process"], 2);
    assert_eq!(wrong["last"]["op"]["process"], 4);
}

#[test]
fn an_explicit_total_overrides_the_first_read() {
    let h = read(
        read(H::new(), 0, &[(0, Some(40)), (1, Some(50))]),
        0,
        &[(0, Some(45)), (1, Some(45))],
    )
    .build();
    assert_eq!(run("bank", &h).verdict, Verdict::Valid);
    let r = check(
        &h,
        &Options {
            total: Some(100),
            ..Options::default()
        },
    )
    .expect("checks");
    assert_eq!(r.verdict, Verdict::Invalid);
    assert_eq!(r.to_json()["errors"]["wrong-total"]["count"], 2);
}

#[test]
fn negative_balances_can_be_allowed() {
    let h = read(
        read(H::new(), 0, &[(0, Some(5)), (1, Some(5))]),
        1,
        &[(0, Some(-1)), (1, Some(11))],
    )
    .build();
    assert_eq!(
        run("bank", &h).to_json()["errors"]["negative-value"]["count"],
        1
    );
    let r = check(
        &h,
        &Options {
            negative_balances_allowed: true,
            ..Options::default()
        },
    )
    .expect("checks");
    assert_eq!(r.verdict, Verdict::Valid);
}

#[test]
fn unknown_accounts_and_nil_balances_come_before_totals() {
    let h = read(H::new(), 0, &[(0, Some(5)), (1, Some(5))]);
    let h = read(h, 0, &[(0, Some(5)), (1, Some(5)), (7, Some(0))]);
    let h = read(h, 0, &[(0, None), (1, Some(99))]).build();
    let r = run("bank", &h);
    let e = &r.to_json()["errors"];
    assert_eq!(e["unexpected-key"]["count"], 1);
    assert_eq!(e["unexpected-key"]["first"]["unexpected"], json!([7]));
    assert_eq!(e["nil-balance"]["count"], 1);
    assert_eq!(e["nil-balance"]["first"]["nils"], json!({"0": null}));
    assert!(e.get("wrong-total").is_none());
    assert_eq!(r.verdict, Verdict::Invalid);

    let r = check(
        &h,
        &Options {
            accounts: Some(vec![int(0), int(1), int(7)]),
            ..Options::default()
        },
    )
    .expect("checks");
    assert!(r.to_json()["errors"].get("unexpected-key").is_none());
}

#[test]
fn only_ok_reads_count() {
    let h = read(H::new(), 0, &[(0, Some(5))])
        .inv(1, "read", nil())
        .info(1, "read", accounts(&[(0, Some(1))]))
        .inv(2, "read", nil())
        .fail(2, "read", nil())
        .inv(3, "transfer", nil())
        .build();
    let r = run("bank", &h);
    assert_eq!(r.verdict, Verdict::Valid);
    assert_eq!(r.to_json()["read-count"], 1);
}

#[test]
fn a_read_that_is_not_a_map_is_an_error_naming_the_op() {
    let h = H::new()
        .inv(0, "read", nil())
        .ok(0, "read", ints(&[1, 2]))
        .build();
    let e = run_err("bank", &h);
    assert!(e.contains("op index 1"), "{e}");
    assert!(
        e.contains("must return a map of account to balance, found a vector `[1 2]`"),
        "{e}"
    );

    let h = H::new()
        .inv(0, "read", nil())
        .ok(
            0,
            "read",
            history::Value::Map(vec![(int(0), history::Value::from("ten"))]),
        )
        .build();
    let e = run_err("bank", &h);
    assert!(
        e.contains("integer or nil") && e.contains("account 0"),
        "{e}"
    );
}
