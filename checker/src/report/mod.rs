//! The report of a test run: a workload executed against a target while a
//! nemesis injected faults, judged by one or more checkers.
//!
//! [`run_page`] renders one self-contained HTML page (inline CSS and SVG, a
//! few lines of vanilla JavaScript, nothing loaded from the network): the
//! run's parameters and overall verdict, a summary of every checker's
//! verdict, Jepsen's performance plots ([`plots::latency_svg`],
//! [`plots::rate_svg`]) with the fault intervals shaded, the latency
//! percentiles, the faults, and then each checker's own section (for
//! linearizability, [`counterexample::fragment`]; for list-append and rw-register,
//! [`cycles::fragment`]).
//!
//! Drawing lives here, measuring in [`crate::stats`]:
//! - [`html`]: the HTML helpers every page uses, written once;
//! - [`counterexample`]: a linearizability check's page and fragment;
//! - [`cycles`]: transactional anomalies' cycles, drawn and explained;
//! - [`plots`]: the latency and rate plots;
//! - [`load`]: the load's section (`--load locust`), its curve and [`panels`]: the
//!   overview dashboard's panels drawn from Prometheus's data.

pub mod counterexample;
pub mod cycles;
pub mod html;
pub mod load;
pub mod panels;
pub mod plots;

use crate::stats::{is_nemesis, LatencyRow};
use consistency::verdict::Verdict;
use history::History;
use html::{clip, escape, ms, pill, verdict_class};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// What was run: the parameters shown at the top of the report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    /// The page's title, e.g. `register / etcd / partitions`.
    pub title: String,
    /// The workload, e.g. `register`, `bank`, `set`.
    pub workload: String,
    /// The system under test, e.g. `etcd 3.5 (3 nodes)`.
    pub target: String,
    /// The consistency level asked of the target, e.g. `linearizable`.
    pub consistency: String,
    /// The faults, e.g. `partition, kill`.
    pub nemesis: String,
    pub seed: u64,
    /// Client processes.
    pub concurrency: usize,
    /// The planned (or measured) length of the run in seconds.
    pub duration_s: f64,
    /// When it started, e.g. `20261126T101500`.
    pub started: String,
    /// The command line that reproduces it.
    pub command: String,
    /// The run's tasks that panicked (`process 3 (worker 3, node n1)
    /// panicked: …`): it ended early and its verdicts cover only what was
    /// recorded before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub crashed: Vec<String>,
}

/// One checker's judgement of the run.
#[derive(Debug, Clone)]
pub struct Section {
    /// The checker, e.g. `linearizability`, `convergence`, `set-full`, `bank`.
    pub title: String,
    pub verdict: Verdict,
    /// One line of plain text (escaped on the page).
    pub summary: String,
    /// The checker's details as an HTML fragment, embedded as is: the caller
    /// produces it and escapes what it takes from the history.
    pub body_html: String,
}

/// The verdicts of all sections combined as Jepsen composes checkers
/// (invalid beats unknown beats valid), or `None` when there is none.
pub fn overall_verdict(sections: &[Section]) -> Option<Verdict> {
    sections
        .iter()
        .map(|s| s.verdict.clone())
        .reduce(Verdict::and)
}

/// Renders the report of a run as one self-contained HTML page.
///
/// In order: a header with the title and the overall verdict (the
/// sections' verdicts combined with [`Verdict::and`]); the run's
/// parameters; a table of the sections (verdict and summary, linked to
/// their details); the latency scatter and the throughput chart (inline
/// SVG, fault intervals shaded); the latency percentiles per `:f`; the
/// fault intervals; then each section's body under its title. Text from
/// `info`, the sections' titles and summaries, and everything taken from
/// the history are escaped; the sections' bodies are embedded as given.
pub fn run_page(info: &RunInfo, sections: &[Section], history: &History) -> String {
    let mut out = String::with_capacity(64 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(out, "<title>{}</title>", escape(&info.title));
    out.push_str("<style>");
    out.push_str(counterexample::styles());
    out.push_str(CSS);
    out.push_str("</style>\n</head>\n<body>\n");

    header(&mut out, info, sections);
    parameters(&mut out, info, history);
    checks(&mut out, sections);

    out.push_str("<section id=\"run-latency\">\n<h2>Latency</h2>\n<div class=\"plotbox\">");
    out.push_str(&plots::latency_svg(history));
    out.push_str("</div>\n");
    latency_rows(&mut out, &crate::stats::latency_table(history));
    out.push_str("</section>\n");

    out.push_str("<section id=\"run-rate\">\n<h2>Throughput</h2>\n<div class=\"plotbox\">");
    out.push_str(&plots::rate_svg(history));
    out.push_str("</div>\n</section>\n");

    faults(&mut out, history);

    for (i, s) in sections.iter().enumerate() {
        let _ = writeln!(
            out,
            "<section class=\"check {}\" id=\"check-{i}\">\n<h2>{} {}</h2>\n<p class=\"summary\">{}</p>",
            verdict_class(&s.verdict),
            escape(&s.title),
            pill(&s.verdict),
            escape(&s.summary)
        );
        out.push_str("<div class=\"check-body\">\n");
        out.push_str(&s.body_html);
        out.push_str("\n</div>\n</section>\n");
    }

    out.push_str("<script>");
    out.push_str(counterexample::script());
    out.push_str("</script>\n</body>\n</html>\n");
    out
}

fn header(out: &mut String, info: &RunInfo, sections: &[Section]) {
    let overall = overall_verdict(sections);
    let _ = writeln!(out, "<header>\n<h1>{}</h1>", escape(&info.title));
    let badge = match &overall {
        None => "<span class=\"badge unknown\">not checked</span>".to_string(),
        Some(v) => html::badge(v),
    };
    let _ = write!(out, "<p class=\"verdict\">{badge} ");
    if sections.is_empty() {
        out.push_str("no checker judged this run.");
    } else {
        let count = |c: &str| {
            sections
                .iter()
                .filter(|s| verdict_class(&s.verdict) == c)
                .count()
        };
        let mut parts = Vec::new();
        for c in ["invalid", "unknown", "valid"] {
            let n = count(c);
            if n > 0 {
                parts.push(format!("{n} {c}"));
            }
        }
        let _ = write!(
            out,
            "{} {}: {}.",
            sections.len(),
            if sections.len() == 1 {
                "checker"
            } else {
                "checkers"
            },
            parts.join(", ")
        );
    }
    out.push_str("</p>\n");
    if !info.crashed.is_empty() {
        out.push_str("<div class=\"crashed\"><p><b>The run ended early:</b> a task panicked; every fault was healed, and the verdicts cover only what was recorded before.</p><ul>\n");
        for crash in &info.crashed {
            let _ = writeln!(out, "<li>{}</li>", escape(crash));
        }
        out.push_str("</ul></div>\n");
    }
    out.push_str("</header>\n");
}

/// Counts of the history, for the parameters table.
#[derive(Default)]
struct Counts {
    events: usize,
    invocations: usize,
    ok: usize,
    fail: usize,
    info: usize,
    nemesis: usize,
    t0: Option<i64>,
    t1: Option<i64>,
}

fn counts(h: &History) -> Counts {
    let mut c = Counts {
        events: h.len(),
        ..Counts::default()
    };
    for op in h.ops() {
        if op.time >= 0 {
            c.t0 = Some(c.t0.map_or(op.time, |t| t.min(op.time)));
            c.t1 = Some(c.t1.map_or(op.time, |t| t.max(op.time)));
        }
        if is_nemesis(op) {
            c.nemesis += 1;
        }
        if op.process.client().is_none() {
            continue;
        }
        match op.kind {
            history::OpType::Invoke => c.invocations += 1,
            history::OpType::Ok => c.ok += 1,
            history::OpType::Fail => c.fail += 1,
            history::OpType::Info => c.info += 1,
        }
    }
    c
}

fn parameters(out: &mut String, info: &RunInfo, h: &History) {
    let c = counts(h);
    out.push_str(
        "<section id=\"run-parameters\">\n<h2>Run</h2>\n<table class=\"params\"><tbody>\n",
    );
    let mut row = |k: &str, v: String| {
        let _ = writeln!(out, "<tr><th>{k}</th><td>{v}</td></tr>");
    };
    row("workload", escape(&info.workload));
    row("target", escape(&info.target));
    row("consistency", escape(&info.consistency));
    row("nemesis", escape(&info.nemesis));
    row("seed", info.seed.to_string());
    row("concurrency", info.concurrency.to_string());
    row("duration", format!("{:.1} s", info.duration_s));
    row("started", escape(&info.started));
    row("command", format!("<code>{}</code>", escape(&info.command)));
    let pending = c.invocations.saturating_sub(c.ok + c.fail + c.info);
    row(
        "history",
        format!(
            "{} events: {} client operations ({} ok, {} fail, {} info, {} never completed), {} nemesis events{}",
            c.events,
            c.invocations,
            c.ok,
            c.fail,
            c.info,
            pending,
            c.nemesis,
            match (c.t0, c.t1) {
                (Some(a), Some(b)) => format!(", {:.3} s from first to last", (b - a) as f64 / 1e9),
                _ => ", no times".to_string(),
            }
        ),
    );
    out.push_str("</tbody></table>\n</section>\n");
}

fn checks(out: &mut String, sections: &[Section]) {
    out.push_str("<section id=\"run-checks\">\n<h2>Checks</h2>\n");
    if sections.is_empty() {
        out.push_str("<p class=\"muted\">No checker judged this run.</p>\n</section>\n");
        return;
    }
    out.push_str(
        "<table class=\"checks\"><thead><tr><th>checker</th><th>verdict</th><th>summary</th></tr></thead><tbody>\n",
    );
    for (i, s) in sections.iter().enumerate() {
        let _ = writeln!(
            out,
            "<tr><td><a href=\"#check-{i}\">{}</a></td><td>{}</td><td>{}</td></tr>",
            escape(&s.title),
            pill(&s.verdict),
            escape(&s.summary)
        );
    }
    out.push_str("</tbody></table>\n</section>\n");
}

fn latency_rows(out: &mut String, rows: &[LatencyRow]) {
    out.push_str(
        "<table class=\"latency\"><thead><tr><th>:f</th><th class=\"num\">completed</th><th class=\"num\">ok</th>\
         <th class=\"num\">fail</th><th class=\"num\">info</th><th class=\"num\">p50 (ms)</th><th class=\"num\">p95 (ms)</th>\
         <th class=\"num\">p99 (ms)</th><th class=\"num\">max (ms)</th></tr></thead><tbody>\n",
    );
    for (i, r) in rows.iter().enumerate() {
        let f = if i == 0 {
            "<b>all</b>".to_string()
        } else {
            format!("<span class=\"mono\">{}</span>", escape(&clip(&r.f, 60)))
        };
        let _ = writeln!(
            out,
            "<tr><td>{f}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td></tr>",
            r.count,
            r.ok,
            r.fail,
            r.info,
            ms(r.p50_ms),
            ms(r.p95_ms),
            ms(r.p99_ms),
            ms(r.max_ms)
        );
    }
    out.push_str(
        "</tbody></table>\n<p class=\"note\">Latency of completed operations, from invocation to completion; \
         percentiles by nearest rank. Operations that never completed are not counted here.</p>\n",
    );
}

/// Most fault rows listed.
const MAX_FAULT_ROWS: usize = 500;

fn faults(out: &mut String, h: &History) {
    let faults = crate::stats::faults::faults(h);
    out.push_str("<section id=\"run-faults\">\n<h2>Faults</h2>\n");
    if faults.is_empty() {
        out.push_str(
            "<p class=\"muted\">The nemesis injected no fault we know of.</p>\n</section>\n",
        );
        return;
    }
    let t0 = h.ops().iter().map(|op| op.time).filter(|&t| t >= 0).min();
    let s = |ns: i64| match t0 {
        Some(t0) if ns >= 0 => format!("{:.3}", (ns - t0) as f64 / 1e9),
        _ => "—".into(),
    };
    out.push_str(
        "<table class=\"faults\"><thead><tr><th class=\"num\">#</th><th>kind</th><th>fault</th><th class=\"num\">start (s)</th>\
         <th class=\"num\">end (s)</th><th class=\"num\">duration (s)</th></tr></thead><tbody>\n",
    );
    for (i, f) in faults.iter().take(MAX_FAULT_ROWS).enumerate() {
        let iv = &f.interval;
        let duration = if t0.is_some() && iv.start_ns >= 0 {
            format!("{:.3}", (iv.end_ns - iv.start_ns) as f64 / 1e9)
        } else {
            "—".into()
        };
        let _ = writeln!(
            out,
            "<tr><td class=\"num\">{}</td><td>{}</td><td class=\"mono\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{duration}</td></tr>",
            i + 1,
            f.kind,
            escape(&iv.label),
            s(iv.start_ns),
            s(iv.end_ns)
        );
    }
    if faults.len() > MAX_FAULT_ROWS {
        let _ = writeln!(
            out,
            "<tr><td colspan=\"6\" class=\"muted\">… and {} more</td></tr>",
            faults.len() - MAX_FAULT_ROWS
        );
    }
    out.push_str(
        "</tbody></table>\n<p class=\"note\">Times in seconds since the history's first event. A fault lasts from the \
         completion of the nemesis operation that started it to the completion of the one that ended it (or \
         <code>heal</code>), or to the end of the history.</p>\n</section>\n",
    );
}

const CSS: &str = r#"
.plotbox{overflow-x:auto;border:1px solid var(--line);border-radius:6px;margin:6px 0 8px}
.plotbox svg{display:block}
.panels{display:flex;flex-wrap:wrap;gap:8px;margin:6px 0 8px}.panels svg{border:1px solid var(--line);border-radius:6px}
tr.saturated td{background:#fff8c5}
table.params th{text-align:left;font-size:13px;color:var(--muted);width:120px}
table.params code{white-space:pre-wrap;word-break:break-all}
section.check{border-top:3px solid var(--line);margin-top:36px}
section.check.invalid{border-top-color:var(--bad)}section.check.unknown{border-top-color:var(--unk)}
section.check>h2{border-bottom:none;font-size:20px}
.check-body h2{font-size:16px}
p.summary{margin:4px 0 10px}
"#;
