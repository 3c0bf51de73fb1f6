//! The report of a run: fault intervals, latency percentiles, the plots and
//! the page.

use checker::report::counterexample::{
    fragment as linearizability_fragment, page as linearizability_page,
};
use checker::report::plots::{latency_svg, rate_svg, MAX_POINTS};
use checker::report::{overall_verdict, run_page, RunInfo, Section};
use checker::stats::{fault_intervals, latency_table, percentile, FaultInterval};
use consistency::linearizable::{check, Options};
use consistency::model::cas_register::CasRegister;
use consistency::{Unknown, Verdict};
use history::{History, Op, OpType, Process, Value};

const MS: i64 = 1_000_000;
const S: i64 = 1_000_000_000;

fn client(p: u64, kind: OpType, f: &str, value: Value, at_ns: i64) -> Op {
    Op::new(Process::Client(p), kind, f, value).at(at_ns)
}

/// A nemesis event, `:info` as Jepsen records both invocations and completions.
fn nemesis(f: &str, value: Value, at_ns: i64) -> Op {
    Op::new(Process::Named("nemesis".into()), OpType::Info, f, value).at(at_ns)
}

/// A nemesis op: its invocation (value `nil`) at `at_ns` and its completion
/// with `value` 50 ms later.
fn nemesis_op(f: &str, value: &str, at_ns: i64) -> [Op; 2] {
    let v = if value.is_empty() {
        Value::Nil
    } else {
        Value::Str(value.into())
    };
    [
        nemesis(f, Value::Nil, at_ns),
        nemesis(f, v, at_ns + 50 * MS),
    ]
}

/// An operation: invocation at `at_ns`, completion `latency_ns` later.
fn op(p: u64, f: &str, kind: OpType, at_ns: i64, latency_ns: i64) -> [Op; 2] {
    [
        client(p, OpType::Invoke, f, Value::Int(1), at_ns),
        client(p, kind, f, Value::Int(1), at_ns + latency_ns),
    ]
}

/// The events in time order (stable), as a history.
fn history(mut events: Vec<Op>) -> History {
    events.sort_by_key(|o| o.time);
    History::from_ops(events)
}

fn interval(start_ns: i64, end_ns: i64, label: &str) -> FaultInterval {
    FaultInterval {
        start_ns,
        end_ns,
        label: label.into(),
    }
}

/// Ticks: one client op per second from 0 to `seconds - 1`, 10 ms each.
fn ticking(seconds: i64) -> Vec<Op> {
    (0..seconds)
        .flat_map(|k| op((k % 3) as u64, "read", OpType::Ok, k * S, 10 * MS))
        .collect()
}

/// No network references: no URLs (but the SVG namespace), no external
/// scripts, styles or fonts.
fn assert_self_contained(page: &str) {
    let page = page.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    for bad in ["http://", "https://", "src=", "<link", "@import", "url("] {
        assert!(!page.contains(bad), "page contains {bad:?}");
    }
}

fn assert_balanced(page: &str, tag: &str) {
    let open =
        page.matches(&format!("<{tag} ")).count() + page.matches(&format!("<{tag}>")).count();
    let close = page.matches(&format!("</{tag}>")).count();
    assert_eq!(open, close, "unbalanced <{tag}>");
}

fn markers(svg: &str, class: &str) -> usize {
    svg.matches(&format!("class=\"pt {class}")).count()
}

// ---------------------------------------------------------------------------
// Fault intervals

#[test]
fn fault_intervals_pair_starts_with_stops_heal_and_the_end() {
    let mut events = ticking(10);
    events.extend(nemesis_op("start-partition", "[n1] [n2 n3]", S));
    events.extend(nemesis_op("stop-partition", "fully connected", 3 * S));
    events.extend(nemesis_op("kill", "n1", 4 * S));
    events.extend(nemesis_op("pause", "n2", 5 * S));
    events.extend(nemesis_op("heal", "", 6 * S));
    events.extend(nemesis_op("start-partition", "[n3] [n1 n2]", 7 * S));
    let h = history(events);
    let end = 9 * S + 10 * MS; // the last client completion
    assert_eq!(
        fault_intervals(&h),
        vec![
            interval(S + 50 * MS, 3 * S + 50 * MS, "start-partition [n1] [n2 n3]"),
            interval(4 * S + 50 * MS, 6 * S + 50 * MS, "kill n1"),
            interval(5 * S + 50 * MS, 6 * S + 50 * MS, "pause n2"),
            interval(7 * S + 50 * MS, end, "start-partition [n3] [n1 n2]"),
        ]
    );
}

#[test]
fn a_stop_with_a_value_ends_only_the_matching_fault() {
    let mut events = ticking(10);
    events.extend(nemesis_op("kill", "n1", S));
    events.extend(nemesis_op("kill", "n2", 2 * S));
    events.extend(nemesis_op("restart", "n1", 3 * S));
    events.extend(nemesis_op("start-clock-skew", "{n1 200}", 4 * S));
    events.extend(nemesis_op("start-latency", "", 5 * S));
    events.extend(nemesis_op("stop-latency", "", 6 * S));
    events.extend(nemesis_op("stop-clock-skew", "", 7 * S));
    // A generic stop ends every open fault of its kind: the kill of n2.
    events.extend(nemesis_op("restart", "", 8 * S));
    let h = history(events);
    let d = 50 * MS;
    assert_eq!(
        fault_intervals(&h),
        vec![
            interval(S + d, 3 * S + d, "kill n1"),
            interval(2 * S + d, 8 * S + d, "kill n2"),
            interval(4 * S + d, 7 * S + d, "start-clock-skew {n1 200}"),
            interval(5 * S + d, 6 * S + d, "start-latency"),
        ]
    );
}

#[test]
fn lone_and_jepsen_style_nemesis_events() {
    // Jepsen's older nemeses: `start`/`stop`, one `:info` event each; a map
    // value as EDN; a failed start starts nothing; a long value is shortened.
    let grudge = Value::Map(vec![(
        Value::Str("n1".into()),
        Value::Set(vec![Value::Str("n2".into())]),
    )]);
    let long = "x".repeat(200);
    let mut events = ticking(10);
    events.push(nemesis("start", grudge, S));
    events.push(nemesis("stop", Value::Nil, 2 * S));
    events.push(nemesis("pause", Value::Str("n3".into()), 3 * S));
    events.push(
        Op::new(
            Process::Named("nemesis".into()),
            OpType::Fail,
            "pause",
            Value::Str("n3".into()),
        )
        .at(3 * S + MS),
    );
    events.push(nemesis("start-partition", Value::Str(long), 4 * S));
    let h = history(events);
    let faults = fault_intervals(&h);
    assert_eq!(faults.len(), 2, "{faults:?}");
    assert_eq!(faults[0], interval(S, 2 * S, "start {\"n1\" #{\"n2\"}}"));
    assert_eq!(faults[1].start_ns, 4 * S);
    assert_eq!(faults[1].end_ns, 9 * S + 10 * MS);
    assert!(faults[1].label.starts_with("start-partition xxx"));
    assert!(faults[1].label.ends_with('…'));
    assert!(faults[1].label.chars().count() < 80);
}

// ---------------------------------------------------------------------------
// Latency table

#[test]
fn percentiles_are_nearest_rank() {
    let v: Vec<f64> = (1..=100).map(f64::from).collect();
    assert_eq!(percentile(&v, 50.0), 50.0);
    assert_eq!(percentile(&v, 95.0), 95.0);
    assert_eq!(percentile(&v, 99.0), 99.0);
    assert_eq!(percentile(&v, 100.0), 100.0);
    assert_eq!(percentile(&v, 0.0), 1.0);
    assert_eq!(percentile(&[7.0], 99.0), 7.0);
    assert_eq!(percentile(&[1.0, 2.0, 3.0], 50.0), 2.0);
    assert!(percentile(&[], 50.0).is_nan());
}

#[test]
fn latency_table_on_known_latencies() {
    let mut events = Vec::new();
    // 100 reads with latencies 1..=100 ms, in a scrambled order.
    for k in 0..100i64 {
        let latency = ((k * 37) % 100 + 1) * MS;
        events.extend(op(k as u64, "read", OpType::Ok, k * 200 * MS, latency));
    }
    // 2 failed writes of 1000 ms, 1 info write of 5000 ms, one never completed.
    events.extend(op(200, "write", OpType::Fail, 0, 1000 * MS));
    events.extend(op(201, "write", OpType::Fail, S, 1000 * MS));
    events.extend(op(202, "write", OpType::Info, 2 * S, 5000 * MS));
    events.push(client(203, OpType::Invoke, "write", Value::Int(9), 3 * S));
    let rows = latency_table(&history(events));
    assert_eq!(
        rows.iter().map(|r| r.f.as_str()).collect::<Vec<_>>(),
        ["all", "read", "write"]
    );
    let read = &rows[1];
    assert_eq!(
        (read.count, read.ok, read.fail, read.info),
        (100, 100, 0, 0)
    );
    assert_eq!(read.p50_ms, 50.0);
    assert_eq!(read.p95_ms, 95.0);
    assert_eq!(read.p99_ms, 99.0);
    assert_eq!(read.max_ms, 100.0);
    let write = &rows[2];
    assert_eq!(
        (write.count, write.ok, write.fail, write.info),
        (3, 0, 2, 1)
    );
    assert_eq!(write.p50_ms, 1000.0);
    assert_eq!(write.max_ms, 5000.0);
    let all = &rows[0];
    assert_eq!((all.count, all.ok, all.fail, all.info), (103, 100, 2, 1));
    // 103 latencies: rank ceil(51.5) = 52 → 52 ms; rank ceil(101.97) = 102 → 1000 ms.
    assert_eq!(all.p50_ms, 52.0);
    assert_eq!(all.p99_ms, 1000.0);
    assert_eq!(all.max_ms, 5000.0);
}

#[test]
fn latency_table_of_an_empty_history_has_the_all_row() {
    let rows = latency_table(&History::new());
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].f, "all");
    assert_eq!(rows[0].count, 0);
    assert!(rows[0].p50_ms.is_nan());
}

// ---------------------------------------------------------------------------
// Plots

/// 10 ok reads, 3 failed writes, 2 info cas, 1 read never completed, a partition.
fn small_run() -> History {
    let mut events = Vec::new();
    for k in 0..10 {
        events.extend(op(
            k % 3,
            "read",
            OpType::Ok,
            k as i64 * S,
            (k as i64 + 1) * MS,
        ));
    }
    for k in 0..3 {
        events.extend(op(
            10 + k,
            "write",
            OpType::Fail,
            k as i64 * S + 300 * MS,
            2 * MS,
        ));
    }
    for k in 0..2 {
        events.extend(op(
            20 + k,
            "cas",
            OpType::Info,
            k as i64 * S + 600 * MS,
            900 * MS,
        ));
    }
    events.push(client(30, OpType::Invoke, "read", Value::Nil, 5 * S));
    events.extend(nemesis_op("start-partition", "[<n1>] [n2 n3]", 2 * S));
    events.extend(nemesis_op("stop-partition", "", 6 * S));
    history(events)
}

#[test]
fn latency_svg_draws_one_marker_per_operation_and_the_fault() {
    let svg = latency_svg(&small_run());
    assert!(svg.starts_with("<svg"));
    assert!(svg.ends_with("</svg>"));
    assert_eq!(markers(&svg, ""), 16, "one marker per operation");
    assert_eq!(markers(&svg, "ok"), 10);
    assert_eq!(markers(&svg, "fail"), 3);
    assert_eq!(markers(&svg, "info"), 3, "2 info and the pending one");
    assert_eq!(markers(&svg, "info pend"), 1);
    // One shape per :f: circles for cas (first by name), squares for read,
    // triangles for write.
    assert_eq!(svg.matches("<circle class=\"pt ").count(), 2);
    // The partition, shaded, with its value escaped.
    assert_eq!(svg.matches("<rect class=\"fault partition\"").count(), 1);
    assert!(svg.contains("start-partition [&lt;n1&gt;] [n2 n3]"));
    assert!(!svg.contains("<n1>"));
    // Axes and legend.
    assert!(svg.contains("latency (ms, log scale)"));
    assert!(svg.contains("time since the first event (s)"));
    assert!(svg.contains(">never completed</text>"));
    for f in ["cas", "read", "write"] {
        assert!(svg.contains(&format!(">{f}</text>")), "legend entry {f}");
    }
    assert!(svg.contains(">partition</text>"));
    // Small plots have tooltips.
    assert!(svg.contains("<title>p0 read: ok, 1.00 ms, invoked at 0.000 s</title>"));
    assert_self_contained(&svg);
    for tag in ["svg", "g", "title", "style"] {
        assert_balanced(&svg, tag);
    }
}

#[test]
fn latency_svg_escapes_function_names() {
    let h = history(op(0, "<b>f</b>", OpType::Ok, 0, MS).into());
    let svg = latency_svg(&h);
    assert!(!svg.contains("<b>"));
    assert!(svg.contains("&lt;b&gt;f&lt;/b&gt;"));
    let svg = rate_svg(&h);
    assert!(!svg.contains("<b>"));
    assert!(svg.contains("&lt;b&gt;f&lt;/b&gt;"));
}

#[test]
fn downsampling_keeps_every_failure_and_stays_small() {
    let mut events = Vec::new();
    for (p, k) in (0..40_000i64).enumerate() {
        let kind = match k % 100 {
            7 => OpType::Fail,
            42 if k % 200 == 42 => OpType::Info,
            _ => OpType::Ok,
        };
        events.extend(op(p as u64, "write", kind, k * MS, (k % 97 + 1) * MS));
    }
    let h = history(events);
    let (fails, infos) = (400, 200);
    let svg = latency_svg(&h);
    assert_eq!(markers(&svg, "fail"), fails, "every failure is drawn");
    assert_eq!(markers(&svg, "info"), infos, "every info is drawn");
    let total = markers(&svg, "");
    assert!(total <= MAX_POINTS, "{total} markers");
    assert!(total >= MAX_POINTS - 10, "{total} markers");
    assert!(svg.contains("showing 20,000 of 40,000 operations"));
    assert!(svg.len() < 2_000_000, "{} bytes", svg.len());
    assert!(!svg.contains("<title>p0"), "no tooltips on large plots");
    // Deterministic.
    assert_eq!(svg, latency_svg(&h));
}

#[test]
fn rate_svg_has_a_line_per_series_and_one_second_buckets() {
    let mut events = ticking(60);
    events.extend(op(100, "write", OpType::Fail, 10 * S, 5 * MS));
    events.extend(nemesis_op("start-partition", "[n1] [n2 n3]", 20 * S));
    events.extend(nemesis_op("stop-partition", "", 30 * S));
    let h = history(events);
    let svg = rate_svg(&h);
    assert!(svg.contains("buckets of 1 s"), "{svg}");
    assert_eq!(svg.matches("<polyline class=\"rl ok\"").count(), 1);
    assert_eq!(svg.matches("<polyline class=\"rl fail\"").count(), 1);
    assert_eq!(svg.matches("<rect class=\"fault partition\"").count(), 1);
    // One point per bucket, and one op per second: a flat line.
    let start = svg.find("<polyline class=\"rl ok\"").unwrap();
    let points = &svg[start..];
    let points = &points[points.find("points=\"").unwrap() + 8..];
    let points = &points[..points.find('"').unwrap()];
    let ys: Vec<&str> = points
        .split(' ')
        .map(|xy| xy.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(ys.len(), 60);
    assert!(ys.iter().all(|y| *y == ys[0]), "{points}");
    assert!(svg.contains(">read ok</text>"));
    assert!(svg.contains(">write fail</text>"));
    assert_self_contained(&svg);
    for tag in ["svg", "polyline", "title"] {
        assert_balanced(&svg, tag);
    }
}

#[test]
fn rate_svg_of_a_short_run_uses_smaller_buckets() {
    // Three seconds: at least 30 buckets.
    let h = history(
        (0..30)
            .flat_map(|k| op(k as u64 % 2, "read", OpType::Ok, k * 100 * MS, MS))
            .collect(),
    );
    let svg = rate_svg(&h);
    assert!(svg.contains("buckets of 0.05 s"), "{svg}");
}

#[test]
fn untimed_history_renders_and_says_so() {
    let mut events = Vec::new();
    for k in 0..5u64 {
        events.push(Op::new(
            Process::Client(k),
            OpType::Invoke,
            "read",
            Value::Nil,
        ));
        events.push(Op::new(
            Process::Client(k),
            OpType::Ok,
            "read",
            Value::Int(1),
        ));
    }
    events.push(Op::new(
        Process::Named("nemesis".into()),
        OpType::Info,
        "start-partition",
        Value::Str("[n1] [n2 n3]".into()),
    ));
    let h = History::from_ops(events);
    assert!(latency_svg(&h).contains("no timing information"));
    assert!(rate_svg(&h).contains("no timing information"));
    let rows = latency_table(&h);
    assert_eq!(rows[0].count, 5);
    assert!(rows[0].p99_ms.is_nan());
    let faults = fault_intervals(&h);
    assert_eq!(faults.len(), 1);
    assert_eq!(faults[0].label, "start-partition [n1] [n2 n3]");
    let page = run_page(&info("untimed"), &[], &h);
    assert!(page.contains("no timing information"));
    assert!(page.contains("no times"));
    assert!(page.contains("<td class=\"num\">—</td>"));
}

#[test]
fn odd_histories_do_not_panic() {
    let h = History::from_ops([
        client(0, OpType::Ok, "read", Value::Nil, 5 * MS), // completion without invocation
        client(1, OpType::Invoke, "read", Value::Nil, 10 * MS),
        client(1, OpType::Invoke, "write", Value::Int(1), 20 * MS), // second invocation in flight
        client(1, OpType::Ok, "write", Value::Int(1), 15 * MS),     // time goes back
        client(2, OpType::Invoke, "read", Value::Nil, -1),
        client(2, OpType::Ok, "read", Value::Nil, 30 * MS),
        nemesis("stop-partition", Value::Nil, 31 * MS), // a stop without a start
        nemesis("heal", Value::Nil, 32 * MS),
    ]);
    for svg in [latency_svg(&h), rate_svg(&h)] {
        assert!(svg.ends_with("</svg>"));
    }
    assert!(fault_intervals(&h).is_empty());
    let rows = latency_table(&h);
    assert_eq!(rows[0].count, 2);
    for h in [History::new(), History::from_ops(ticking(1))] {
        let page = run_page(&info("odd"), &[], &h);
        assert!(page.ends_with("</html>\n"));
        let _ = (latency_svg(&h), rate_svg(&h), fault_intervals(&h));
    }
    assert!(latency_svg(&History::new()).contains("no client operations"));
}

// ---------------------------------------------------------------------------
// The page

fn info(title: &str) -> RunInfo {
    RunInfo {
        title: title.into(),
        workload: "register".into(),
        target: "embedded <store>".into(),
        consistency: "linearizable".into(),
        nemesis: "partition".into(),
        seed: 42,
        concurrency: 5,
        duration_s: 10.0,
        started: "20261126T101500".into(),
        command: "lab run --workload register --seed 42 --time-limit 10 'a&b'".into(),
        crashed: Vec::new(),
    }
}

fn section(title: &str, verdict: Verdict, summary: &str, body: &str) -> Section {
    Section {
        title: title.into(),
        verdict,
        summary: summary.into(),
        body_html: body.into(),
    }
}

#[test]
fn overall_verdict_composes_like_jepsen() {
    let s = |v| section("x", v, "", "");
    assert_eq!(overall_verdict(&[]), None);
    assert_eq!(overall_verdict(&[s(Verdict::Valid)]), Some(Verdict::Valid));
    assert_eq!(
        overall_verdict(&[s(Verdict::Valid), s(Verdict::Unknown(Unknown::Timeout))]),
        Some(Verdict::Unknown(Unknown::Timeout))
    );
    assert_eq!(
        overall_verdict(&[
            s(Verdict::Unknown(Unknown::Timeout)),
            s(Verdict::Invalid),
            s(Verdict::Valid)
        ]),
        Some(Verdict::Invalid)
    );
}

#[test]
fn run_page_has_everything_escaped_and_self_contained() {
    // A stale read under a partition, checked for real.
    let mut events = Vec::new();
    events.extend(op(0, "write", OpType::Ok, 0, 5 * MS));
    events.extend(nemesis_op("start-partition", "[n1] [n2 n3]", 100 * MS));
    events.push(client(0, OpType::Invoke, "write", Value::Int(2), 200 * MS));
    events.push(client(0, OpType::Ok, "write", Value::Int(2), 210 * MS));
    events.push(client(1, OpType::Invoke, "read", Value::Nil, 300 * MS));
    events.push(client(1, OpType::Ok, "read", Value::Int(1), 320 * MS));
    // The register model knows no such :f: checked without it, drawn with it.
    let checked = history(events.clone());
    events.extend(op(2, "<b>f</b>", OpType::Fail, 330 * MS, MS));
    let h = history(events);
    let analysis = check(&CasRegister, &checked, &Options::default()).unwrap();
    assert_eq!(analysis.verdict, Verdict::Invalid);
    let fragment = linearizability_fragment(&analysis);
    let sections = [
        section(
            "linearizability",
            analysis.verdict.clone(),
            "not linearizable: read → 1 after write 2",
            &fragment,
        ),
        section(
            "convergence & <friends>",
            Verdict::Valid,
            "all replicas agree on <script>alert(1)</script>",
            "<p>3 replicas, 1 key.</p>",
        ),
    ];
    let page = run_page(&info("register <on> store"), &sections, &h);
    if let Some(dir) = std::env::var_os("HTML_DUMP_DIR") {
        std::fs::write(std::path::Path::new(&dir).join("run.html"), &page).unwrap();
    }
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("<title>register &lt;on&gt; store</title>"));
    assert!(page.contains("<h1>register &lt;on&gt; store</h1>"));
    assert!(page.contains("<span class=\"badge invalid\">invalid</span>"));
    assert!(page.contains("2 checkers: 1 invalid, 1 valid."));
    // Parameters.
    assert!(page.contains("embedded &lt;store&gt;"));
    assert!(page.contains("--seed 42 --time-limit 10 &#39;a&amp;b&#39;"));
    assert!(page.contains("20261126T101500"));
    // The summary table and the sections, escaped.
    assert!(page.contains("<a href=\"#check-0\">linearizability</a>"));
    assert!(page.contains("convergence &amp; &lt;friends&gt;"));
    assert!(page.contains("all replicas agree on &lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!page.contains("<script>alert"));
    assert!(!page.contains("<friends>"));
    assert!(page.contains("<section class=\"check invalid\" id=\"check-0\">"));
    assert!(page.contains("<section class=\"check valid\" id=\"check-1\">"));
    assert!(
        page.contains(&fragment),
        "the linearizability fragment, as is"
    );
    assert!(page.contains("<p>3 replicas, 1 key.</p>"));
    // History text, escaped.
    assert!(!page.contains("<b>f</b>"));
    assert!(page.contains("&lt;b&gt;f&lt;/b&gt;"));
    // Plots, tables, faults, in order.
    let at = |needle: &str| page.find(needle).unwrap_or_else(|| panic!("no {needle}"));
    let order = [
        "id=\"run-parameters\"",
        "id=\"run-checks\"",
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot lat-raw\"",
        "<table class=\"latency\">",
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot rate\"",
        "id=\"run-faults\"",
        "id=\"check-0\"",
        "id=\"check-1\"",
    ];
    for w in order.windows(2) {
        assert!(at(w[0]) < at(w[1]), "{} before {}", w[0], w[1]);
    }
    assert!(page.contains("<td class=\"mono\">start-partition [n1] [n2 n3]</td>"));
    // One stylesheet and one script, ours; nothing external.
    assert_eq!(page.matches("<script").count(), 1);
    assert_eq!(page.matches("<html").count(), 1);
    assert_self_contained(&page);
    for tag in ["svg", "table", "section", "details", "script", "g"] {
        assert_balanced(&page, tag);
    }
}

#[test]
fn run_page_without_sections_is_not_checked() {
    let page = run_page(&info("nothing"), &[], &History::from_ops(ticking(3)));
    assert!(page.contains("<span class=\"badge unknown\">not checked</span>"));
    assert!(page.contains("No checker judged this run."));
    assert!(page.contains("The nemesis injected no fault we know of."));
    let page = run_page(
        &info("unknown"),
        &[section(
            "bank",
            Verdict::Unknown(Unknown::OutOfMemory),
            "",
            "",
        )],
        &History::new(),
    );
    assert!(page.contains("<span class=\"badge unknown\">unknown: out-of-memory</span>"));
}

#[test]
fn linearizability_page_is_the_fragment_in_a_page() {
    let h = history(
        [
            op(0, "write", OpType::Ok, 0, MS),
            [
                client(1, OpType::Invoke, "read", Value::Nil, 5 * MS),
                client(1, OpType::Ok, "read", Value::Int(3), 6 * MS),
            ],
        ]
        .concat(),
    );
    let a = check(&CasRegister, &h, &Options::default()).unwrap();
    let fragment = linearizability_fragment(&a);
    for absent in ["<html", "<head", "<style", "<script", "<h1"] {
        assert!(!fragment.contains(absent), "fragment has {absent}");
    }
    assert!(fragment.contains("<span class=\"badge invalid\">invalid</span>"));
    let page = linearizability_page(&a, "t");
    assert!(page.contains(&fragment));
    assert!(page.contains("<h1>t</h1>"));
    assert!(page.contains(checker::report::counterexample::styles()));
    assert!(page.contains(checker::report::counterexample::script()));
}
