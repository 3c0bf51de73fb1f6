//! The HTML report: content, escaping, self-containment and size.

use checker::report::counterexample::page as linearizability_page;
use consistency::linearizable::{check, Analysis, Options};
use consistency::model::cas_register::CasRegister;
use consistency::model::kv::Kv;
use consistency::Verdict;
use history::{History, Op, OpType, Process, Value};

fn ev(process: u64, kind: OpType, f: &str, value: Value) -> Op {
    Op::new(Process::Client(process), kind, f, value)
}

fn int(i: i64) -> Value {
    Value::Int(i)
}

/// Sequential operations, each an invoke/ok pair: `(process, f, invoke value, ok value)`.
fn sequential(ops: &[(u64, &str, Value, Value)]) -> History {
    History::from_ops(ops.iter().flat_map(|(p, f, inv, ok)| {
        [
            ev(*p, OpType::Invoke, f, inv.clone()),
            ev(*p, OpType::Ok, f, ok.clone()),
        ]
    }))
}

/// Renders the page, and writes it to `$HTML_DUMP_DIR/<name>.html` when
/// that is set, for looking at in a browser.
fn page(a: &Analysis, name: &str) -> String {
    let page = linearizability_page(a, name);
    if let Some(dir) = std::env::var_os("HTML_DUMP_DIR") {
        std::fs::write(
            std::path::Path::new(&dir).join(format!("{name}.html")),
            &page,
        )
        .unwrap();
    }
    page
}

fn cas(h: &History) -> Analysis {
    check(&CasRegister, h, &Options::default()).unwrap()
}

/// No network references: no URLs, no external scripts, styles or fonts.
fn assert_self_contained(page: &str) {
    for bad in ["http://", "https://", "src=", "<link", "@import", "url("] {
        assert!(!page.contains(bad), "page contains {bad:?}");
    }
}

/// Every `<` that opens a tag names an element we write; no stray markup.
fn assert_balanced(page: &str, tag: &str) {
    let open = page.matches(&format!("<{tag}")).count();
    let close = page.matches(&format!("</{tag}>")).count();
    assert_eq!(open, close, "unbalanced <{tag}>");
}

fn stale_read() -> History {
    sequential(&[
        (0, "write", int(1), int(1)),
        (0, "write", int(2), int(2)),
        (1, "read", Value::Nil, int(1)),
    ])
}

#[test]
fn valid_history_page() {
    let h = sequential(&[
        (0, "write", int(1), int(1)),
        (1, "read", Value::Nil, int(1)),
    ]);
    let a = cas(&h);
    assert_eq!(a.verdict, Verdict::Valid);
    let page = page(&a, "a valid register");
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("<span class=\"badge valid\">valid</span>"));
    assert!(page.contains("linearizable: every partition has a linearization"));
    assert!(page.contains("cas-register"));
    assert!(page.contains("<h1>a valid register</h1>"));
    assert!(
        !page.contains("<svg"),
        "nothing to draw for a valid history"
    );
    assert_self_contained(&page);
    assert_balanced(&page, "table");
}

#[test]
fn stale_read_page_shows_blocked_operation() {
    let a = cas(&stale_read());
    assert_eq!(a.verdict, Verdict::Invalid);
    let page = page(&a, "stale read");
    assert!(page.contains("<span class=\"badge invalid\">invalid</span>"));
    assert!(page.contains("not linearizable"));
    // The blocked read, in the summary, the diagram and the tables.
    assert!(page.contains("read → 1"));
    assert!(page.contains("p1 read → 1 [ok, index 4]"), "{page}");
    assert!(page.contains("cannot be linearized in state <code>2</code>"));
    assert!(page.contains("<svg"));
    assert!(page.contains("class=\"op blk\""));
    assert!(page.contains("BLOCKED: cannot be linearized in state 2"));
    // The prefix: both writes, numbered, with their linearization points.
    assert!(page.contains("#1 write 1"));
    assert!(page.contains("#2 write 2"));
    assert!(page.contains("<polyline class=\"lp\""));
    assert_eq!(page.matches("<circle class=\"lpd\"").count(), 2);
    assert_self_contained(&page);
    for tag in ["svg", "table", "section", "g", "details", "title", "script"] {
        assert_balanced(&page, tag);
    }
}

#[test]
fn candidates_are_explained() {
    // After write 1, write 2: p1's read of 1 returns first and is blocked;
    // p2's concurrent read of 7 was pending and cannot happen either.
    let h = History::from_ops([
        ev(0, OpType::Invoke, "write", int(1)),
        ev(0, OpType::Ok, "write", int(1)),
        ev(0, OpType::Invoke, "write", int(2)),
        ev(0, OpType::Ok, "write", int(2)),
        ev(1, OpType::Invoke, "read", Value::Nil),
        ev(2, OpType::Invoke, "read", Value::Nil),
        ev(1, OpType::Ok, "read", int(1)),
        ev(2, OpType::Ok, "read", int(7)),
    ]);
    let mut a = cas(&h);
    assert_eq!(a.verdict, Verdict::Invalid);
    let x = a.partitions[0].explanation.as_mut().unwrap();
    assert_eq!(x.ops[x.blocked].description, "read → 1");
    assert!(x
        .candidates
        .iter()
        .any(|c| x.ops[c.op].description == "read → 7" && c.leads_to.is_none()));
    // The "could go next" wording, on a copy that could.
    let mut could = x.candidates[0].clone();
    could.leads_to = Some("<3>".into());
    x.candidates.push(could);
    let page = page(&a, "candidates");
    assert!(page.contains("class=\"op cand\""), "{page}");
    assert!(page.contains("read → 7"));
    assert!(page.contains("cannot happen in state <code>2</code>"));
    assert!(page.contains(
        "could go next (⇒ <code>&lt;3&gt;</code>), but no linearization continues from there"
    ));
    assert_self_contained(&page);
}

#[test]
fn indeterminate_operations_run_to_the_right_edge() {
    let h = History::from_ops([
        ev(0, OpType::Invoke, "write", int(1)),
        ev(0, OpType::Ok, "write", int(1)),
        ev(2, OpType::Invoke, "write", int(5)),
        ev(2, OpType::Info, "write", int(5)),
        ev(0, OpType::Invoke, "write", int(2)),
        ev(0, OpType::Ok, "write", int(2)),
        ev(1, OpType::Invoke, "read", Value::Nil),
        ev(1, OpType::Ok, "read", int(1)),
    ]);
    let a = cas(&h);
    assert_eq!(a.verdict, Verdict::Invalid);
    let page = page(&a, "info");
    assert!(page.contains(" open\""), "indeterminate bar is drawn open");
    assert!(page.contains("write 5 (info)"));
    assert!(page.contains("outcome: info"));
}

#[test]
fn text_from_the_history_is_escaped() {
    let evil = Value::Str("<script>alert('x')</script> & \"q\"".into());
    let h = sequential(&[
        (0, "write", evil.clone(), evil.clone()),
        (0, "write", int(2), int(2)),
        (1, "read", Value::Nil, evil),
    ]);
    let a = cas(&h);
    assert_eq!(a.verdict, Verdict::Invalid);
    let page = linearizability_page(&a, "<b>title</b> & \"quotes\"");
    assert!(!page.contains("<script>alert"), "raw markup from a value");
    assert!(!page.contains("<b>title</b>"));
    assert!(page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert!(page.contains("<title>&lt;b&gt;title&lt;/b&gt; &amp; &quot;quotes&quot;</title>"));
    // Our own script is the only one.
    assert_eq!(page.matches("<script").count(), 1);
    assert_self_contained(&page);
}

/// A long single-register partition that fails at the end: drawn only
/// around the failure, and small.
#[test]
fn long_partition_is_windowed_and_light() {
    let mut events = Vec::new();
    // 200 rounds of: two concurrent writers and a reader that reads the latest value.
    for i in 0..200i64 {
        let (a, b) = (2 * i + 1, 2 * i + 2);
        events.push(ev(0, OpType::Invoke, "write", int(a)));
        events.push(ev(1, OpType::Invoke, "write", int(b)));
        events.push(ev(0, OpType::Ok, "write", int(a)));
        events.push(ev(1, OpType::Ok, "write", int(b)));
        events.push(ev(2, OpType::Invoke, "read", Value::Nil));
        events.push(ev(2, OpType::Ok, "read", int(b)));
    }
    events.push(ev(3, OpType::Invoke, "read", Value::Nil));
    events.push(ev(3, OpType::Ok, "read", int(1)));
    let a = cas(&History::from_ops(events));
    assert_eq!(a.verdict, Verdict::Invalid);
    let page = page(&a, "long");
    assert!(
        page.contains("so the diagram shows only the"),
        "window note"
    );
    let bars = page.matches("<g class=\"op ").count();
    assert!(bars < 200, "{bars} bars drawn for a 601-op partition");
    assert!(page.contains("p3 read → 1"));
    assert!(page.len() < 300_000, "page is {} bytes", page.len());
    assert_self_contained(&page);
    assert_balanced(&page, "table");
    assert_balanced(&page, "details");
}

/// With many partitions the failing one comes first and the valid ones are
/// collapsed.
#[test]
fn many_partitions_put_failures_first() {
    let mut events = Vec::new();
    for k in 0..1000i64 {
        let key = Value::Int(k);
        let s = Value::Str(format!("v{k}"));
        let read = if k % 80 == 17 {
            Value::Str("stale".into())
        } else {
            s.clone()
        };
        for (kind, f, v) in [
            (OpType::Invoke, "put", s.clone()),
            (OpType::Ok, "put", s.clone()),
            (OpType::Invoke, "get", Value::Nil),
            (OpType::Ok, "get", read),
        ] {
            events.push(ev(0, kind, f, v).with_key(key.clone()));
        }
    }
    // Keep checking after the first failure, to explain all 13.
    let options = Options {
        grace: std::time::Duration::from_secs(10),
        ..Options::default()
    };
    let a = check(&Kv, &History::from_ops(events), &options).unwrap();
    assert_eq!(a.verdict, Verdict::Invalid);
    assert_eq!(a.explanations().count(), 13);
    let page = page(&a, "kv");
    // The first ten are drawn, the rest get their text form.
    assert_eq!(page.matches("<svg").count(), 10);
    assert_eq!(page.matches("<section class=\"expl\"").count(), 13);
    assert!(page.contains("Only the first 10 failing partitions are drawn"));
    let invalid_row = page
        .find("<span class=\"pill invalid\">")
        .expect("an invalid row");
    let details = page
        .find("<details><summary>")
        .expect("collapsed partitions");
    assert!(invalid_row < details, "failing partitions come first");
    assert!(page.contains("Key 977: not linearizable"));
    assert!(page.contains("href=\"#x977\""));
    assert!(page.len() < 400_000, "page is {} bytes", page.len());
    assert_self_contained(&page);
    assert_balanced(&page, "details");
}

fn porcupine(path: &str) -> Option<History> {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../consistency/tests/data/porcupine")
        .join(path);
    let bytes = std::fs::read(file).ok()?;
    Some(history::format::read(&bytes, history::Format::Auto).unwrap())
}

/// Porcupine's bad kv histories, checked past the first failure so that
/// several partitions are explained: the page stays a few hundred KB.
#[test]
fn porcupine_kv_bad_pages_are_light() {
    for name in ["c01-bad", "c10-bad", "c50-bad"] {
        let Some(h) = porcupine(&format!("kv/{name}.txt")) else {
            continue;
        };
        let options = Options {
            grace: std::time::Duration::from_secs(2),
            ..Options::default()
        };
        let a = check(&Kv, &h, &options).unwrap();
        assert_eq!(a.verdict, Verdict::Invalid, "{name}");
        let page = page(&a, name);
        let explained = a.explanations().count();
        assert!(page.matches("<svg").count() == explained.min(10), "{name}");
        assert!(
            page.len() < 600_000,
            "{name}: {} bytes for {explained} explanations",
            page.len()
        );
        assert_self_contained(&page);
        for tag in ["svg", "table", "section", "details"] {
            assert_balanced(&page, tag);
        }
    }
}

/// Porcupine's etcd logs: every page renders and is self-contained.
#[test]
fn porcupine_etcd_pages_render() {
    for i in 0..103 {
        let name = format!("etcd_{i:03}");
        let Some(h) = porcupine(&format!("jepsen/{name}.log")) else {
            continue;
        };
        let a = cas(&h);
        let page = page(&a, &name);
        assert_eq!(
            page.contains("badge invalid"),
            a.verdict == Verdict::Invalid,
            "{name}"
        );
        assert!(page.len() < 300_000, "{name}: {} bytes", page.len());
        assert_self_contained(&page);
        for tag in ["svg", "table", "section", "details"] {
            assert_balanced(&page, tag);
        }
    }
}

/// An undecided check says why, and lists the undecided partition.
#[test]
fn unknown_verdict_shows_reason() {
    use consistency::linearizable::{PartitionReport, PartitionVerdict};
    use consistency::Unknown;
    let report = |key: i64, verdict| PartitionReport {
        key: Some(Value::Int(key)),
        ops: 12,
        verdict,
        steps: 1_234_567,
        configurations: 89,
        explanation: None,
    };
    let a = Analysis {
        verdict: Verdict::Unknown(Unknown::Timeout),
        model: "cas-register",
        operations: 24,
        partitions: vec![
            report(1, PartitionVerdict::Valid),
            report(2, PartitionVerdict::Unknown(Unknown::Timeout)),
        ],
        elapsed: std::time::Duration::from_millis(1500),
    };
    let page = page(&a, "unknown");
    assert!(page.contains("<span class=\"badge unknown\">unknown: timeout</span>"));
    assert!(page.contains("the time limit ran out"));
    assert!(page.contains("<span class=\"pill unknown\">unknown: timeout</span>"));
    assert!(page.contains("1,234,567"));
    assert!(page.contains("1.50 s"));
    assert!(!page.contains("<svg"));
    assert_self_contained(&page);
}
