//! The load's part of a run's report: what Locust did at each step, where throughput stopped
//! growing and which resource ran out, whether Prometheus counted what Locust and the checker
//! sent, and the overview dashboard's panels for the run's window with the faults shaded.

use super::html::{escape, ms, num};
use super::panels::{panel_svg, Shade};
use super::plots::{linear_ticks, tick_label, STYLE};
use crate::load::{observed::Agreement, LoadReport, ObservedStep};
use history::History;
use std::fmt::Write as _;

/// The load's section body.
pub fn fragment(load: &LoadReport, history: &History) -> String {
    let mut out = String::new();
    let seconds = load.end - load.start;
    let _ = writeln!(
        out,
        "<p>Locust's <code>{}</code>, {}, for {seconds:.0} s through NGINX, beside the checker's \
         clients and the nemesis: {} requests, {} failed. Its own files are in <code>load/</code> \
         (<a href=\"load/locust.html\">Locust's report</a>, CSV, JSON, log).</p>",
        escape(&load.class),
        escape(&load.users),
        num(load.requests()),
        num(load.failures())
    );
    for gap in &load.gaps {
        let _ = writeln!(out, "<p class=\"note\">{}</p>", escape(gap));
    }
    if let Some(a) = &load.agreement {
        agreement(&mut out, a);
    }
    operations(&mut out, load);
    steps(&mut out, load);
    if load.steps.len() >= 2 {
        out.push_str("<div class=\"plotbox\">");
        out.push_str(&curve_svg(&load.steps, load.saturation));
        out.push_str("</div>\n");
    }
    panels(&mut out, load, history);
    out
}

fn agreement(out: &mut String, a: &Agreement) {
    let verdict = |agrees: Option<bool>, count: f64| match agrees {
        Some(true) if a.resets > 0 => "is at least the range's lower end, as it must be \
            (after restarts only that is checked)"
            .to_string(),
        Some(true) => format!("agrees (within {:.2} %)", a.gap_of(count) * 100.0),
        Some(false) => format!(
            "<b>disagrees</b>: {:.2} % outside it",
            a.gap_of(count) * 100.0
        ),
        None => format!(
            "cannot agree: {} counter {} in the window (an instance restarted and lost what it \
             counted since its last scrape)",
            a.resets,
            if a.resets == 1 { "reset" } else { "resets" }
        ),
    };
    let _ = writeln!(
        out,
        "<p>Locust sent {} requests and the checker {} that an instance answered and {} that \
         timed out (which may not have reached one): between {:.0} and {:.0}. The api's count \
         (Prometheus, <code>service_requests_total</code>, probes left out), <b>{}</b>, {}.",
        num(a.locust),
        num(a.checker_ok),
        num(a.checker_uncertain),
        a.low(),
        a.high(),
        if a.resets == 0 {
            format!("{:.0}", a.prometheus)
        } else {
            "–".into()
        },
        verdict(a.api_agrees(), a.prometheus)
    );
    if let Some(nginx) = a.nginx {
        let _ = write!(
            out,
            " NGINX's (<code>nginx_http_requests_total</code>, its exporter's scrapes left out), \
             <b>{nginx:.0}</b>, {}.",
            verdict(a.nginx_agrees(), nginx)
        );
    }
    out.push_str("</p>\n");
}

fn operations(out: &mut String, load: &LoadReport) {
    out.push_str(
        "<table class=\"lat\"><thead><tr><th>operation</th><th>requests</th><th>failed</th>\
         <th>per s</th><th>p50</th><th>p95</th><th>p99</th></tr></thead><tbody>\n",
    );
    for op in &load.operations {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&op.name),
            num(op.requests),
            num(op.failures),
            op.per_second,
            ms(op.p50_ms),
            ms(op.p95_ms),
            ms(op.p99_ms)
        );
    }
    out.push_str("</tbody></table>\n");
}

fn steps(out: &mut String, load: &LoadReport) {
    if load.steps.is_empty() {
        return;
    }
    out.push_str(
        "<table class=\"lat\"><thead><tr><th>users</th><th>requests/s</th><th>failed</th>\
         <th>p50</th><th>p95</th><th>p99</th><th>machine CPU</th><th>memory</th>\
         <th>busiest services (cores)</th></tr></thead><tbody>\n",
    );
    for (i, s) in load.steps.iter().enumerate() {
        let mark = if load.saturation == Some(i) {
            " class=\"saturated\""
        } else {
            ""
        };
        let (cpu, memory, cores) = match &s.resources {
            Some(r) => (
                format!("{:.0} %", r.cpu_busy * 100.0),
                format!("{:.0} %", r.memory_used * 100.0),
                r.cores
                    .iter()
                    .take(3)
                    .map(|(job, c)| format!("{} {c:.2}", escape(job)))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            None => ("–".into(), "–".into(), "–".into()),
        };
        let _ = writeln!(
            out,
            "<tr{mark}><td>{}</td><td>{:.1}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{cpu}</td><td>{memory}</td><td>{cores}</td></tr>",
            s.step.users,
            s.step.all.per_second,
            num(s.step.all.failures),
            ms(s.step.all.p50_ms),
            ms(s.step.all.p95_ms),
            ms(s.step.all.p99_ms)
        );
    }
    out.push_str("</tbody></table>\n");
    per_operation(out, &load.steps);
    let growth = crate::load::steps::SATURATION_GROWTH * 100.0;
    let sentence = match (load.saturation, load.saturated_resource()) {
        (Some(i), Some(resource)) => format!(
            "Throughput stopped growing (less than {growth:.0} % more) at {} users; {resource} had run out.",
            load.steps[i].step.users
        ),
        (Some(i), None) => format!(
            "Throughput stopped growing (less than {growth:.0} % more) at {} users, with no \
             resource Prometheus sees above {:.0} %: the limit is elsewhere (the stores' JVMs are \
             not scraped, or the load is latency-bound).",
            load.steps[i].step.users,
            crate::load::observed::SATURATED * 100.0
        ),
        (None, Some(resource)) => format!(
            "Throughput still grew at every step, though {resource} was near its end at the last."
        ),
        (None, None) if load.steps.len() >= 2 => {
            "Throughput still grew at every step: the load did not saturate the system.".into()
        }
        (None, None) => return,
    };
    let _ = writeln!(out, "<p>{}</p>", escape(&sentence));
}

/// Each operation at each step: requests per second, failures, p50 and p99.
fn per_operation(out: &mut String, steps: &[ObservedStep]) {
    let mut names: Vec<&str> = steps
        .iter()
        .flat_map(|s| s.step.operations.iter().map(|o| o.name.as_str()))
        .collect();
    names.sort_unstable();
    names.dedup();
    if names.is_empty() {
        return;
    }
    out.push_str(
        "<details><summary>Each operation at each step (requests/s, failed, p50 / p99)</summary>\
         <table class=\"lat\"><thead><tr><th>operation</th>",
    );
    for s in steps {
        let _ = write!(out, "<th>{} users</th>", s.step.users);
    }
    out.push_str("</tr></thead><tbody>\n");
    for name in names {
        let _ = write!(out, "<tr><td>{}</td>", escape(name));
        for s in steps {
            match s.step.operations.iter().find(|o| o.name == name) {
                Some(o) => {
                    let _ = write!(
                        out,
                        "<td>{:.1}/s, {}, {} / {}</td>",
                        o.per_second,
                        num(o.failures),
                        ms(o.p50_ms),
                        ms(o.p99_ms)
                    );
                }
                None => out.push_str("<td>–</td>"),
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></details>\n");
}

/// p50 and p99 latency against throughput, one point per step, the saturation step marked.
fn curve_svg(steps: &[ObservedStep], saturation: Option<usize>) -> String {
    const W: f64 = 640.0;
    const H: f64 = 300.0;
    const LEFT: f64 = 64.0;
    const RIGHT: f64 = W - 20.0;
    const TOP: f64 = 34.0;
    const BOTTOM: f64 = H - 44.0;
    let x_hi = steps
        .iter()
        .map(|s| s.step.all.per_second)
        .fold(1.0, f64::max)
        * 1.05;
    let y_hi = steps
        .iter()
        .map(|s| s.step.all.p99_ms)
        .filter(|v| v.is_finite())
        .fold(1.0, f64::max)
        * 1.05;
    let (xt, xs) = linear_ticks(x_hi, 6);
    let (yt, ys) = linear_ticks(y_hi, 5);
    let (x_hi, y_hi) = (
        xt.last()
            .copied()
            .filter(|&v| v > 0.0)
            .unwrap_or(x_hi)
            .max(x_hi),
        yt.last()
            .copied()
            .filter(|&v| v > 0.0)
            .unwrap_or(y_hi)
            .max(y_hi),
    );
    let x = |v: f64| LEFT + (v / x_hi).clamp(0.0, 1.0) * (RIGHT - LEFT);
    let y = |v: f64| BOTTOM - (v / y_hi).clamp(0.0, 1.0) * (BOTTOM - TOP);
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot curve\" viewBox=\"0 0 {W} {H}\" \
         width=\"{W}\" height=\"{H}\" role=\"img\"><title>Latency against throughput</title>\
         <style>{STYLE}</style><rect width=\"{W}\" height=\"{H}\" fill=\"#fff\"/>\
         <text class=\"ttl\" x=\"{LEFT}\" y=\"18\">Latency against throughput, one point per step</text>"
    );
    for t in xt {
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{xx:.1}\" y1=\"{TOP}\" x2=\"{xx:.1}\" y2=\"{BOTTOM}\"/>\
             <text class=\"ax\" x=\"{xx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            BOTTOM + 14.0,
            tick_label(t, xs),
            xx = x(t)
        );
    }
    for t in yt {
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{LEFT}\" y1=\"{yy:.1}\" x2=\"{RIGHT}\" y2=\"{yy:.1}\"/>\
             <text class=\"ax\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{} ms</text>",
            LEFT - 4.0,
            y(t) + 4.0,
            tick_label(t, ys),
            yy = y(t)
        );
    }
    let _ = write!(
        out,
        "<text class=\"cap\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">requests per second</text>",
        (LEFT + RIGHT) / 2.0,
        BOTTOM + 32.0
    );
    for (colour, label, pick) in [("#3d7fe0", "p50", 0usize), ("#e0266e", "p99", 1usize)] {
        let value = |s: &ObservedStep| {
            if pick == 0 {
                s.step.all.p50_ms
            } else {
                s.step.all.p99_ms
            }
        };
        let points: Vec<String> = steps
            .iter()
            .filter(|s| value(s).is_finite())
            .map(|s| format!("{:.1},{:.1}", x(s.step.all.per_second), y(value(s))))
            .collect();
        let _ = write!(
            out,
            "<polyline class=\"rl\" stroke=\"{colour}\" points=\"{}\"/>",
            points.join(" ")
        );
        for s in steps.iter().filter(|s| value(s).is_finite()) {
            let _ = write!(
                out,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{colour}\"><title>{} users: {:.1}/s, {label} {:.1} ms</title></circle>",
                x(s.step.all.per_second),
                y(value(s)),
                s.step.users,
                s.step.all.per_second,
                value(s)
            );
        }
        let _ = write!(
            out,
            "<text class=\"ax\" x=\"{:.1}\" y=\"{:.1}\" fill=\"{colour}\">{label}</text>",
            RIGHT - 30.0,
            TOP + if pick == 0 { 12.0 } else { 26.0 }
        );
    }
    if let Some(s) = saturation.and_then(|i| steps.get(i)) {
        let xx = x(s.step.all.per_second);
        let _ = write!(
            out,
            "<line class=\"axis\" stroke-dasharray=\"4 3\" x1=\"{xx:.1}\" y1=\"{TOP}\" x2=\"{xx:.1}\" y2=\"{BOTTOM}\"/>\
             <text class=\"note\" x=\"{:.1}\" y=\"{:.1}\">saturation ({} users)</text>",
            xx + 4.0,
            TOP + 12.0,
            s.step.users
        );
    }
    out.push_str("</svg>");
    out
}

fn panels(out: &mut String, load: &LoadReport, history: &History) {
    if load.panels.is_empty() {
        return;
    }
    // History times are nanoseconds since `origin`; the panels' since `start`.
    let offset = load.origin - load.start;
    let shades: Vec<Shade> = crate::stats::faults::faults(history)
        .into_iter()
        .map(|f| Shade {
            start: offset + f.interval.start_ns as f64 / 1e9,
            end: offset + f.interval.end_ns as f64 / 1e9,
            kind: f.kind,
            label: f.interval.label,
        })
        .collect();
    let _ = writeln!(
        out,
        "<h3>The system during the run</h3>\n<p>The overview dashboard's panels \
         (<code>observability/grafana/dashboards/overview.json</code>), from Prometheus for the \
         load's window, the faults shaded.</p>\n<div class=\"panels\">"
    );
    let span = load.end - load.start;
    for panel in &load.panels {
        out.push_str(&panel_svg(panel, span, &shades));
    }
    out.push_str("</div>\n");
}

#[cfg(test)]
mod tests {
    use super::fragment;
    use crate::load::locust::Operation;
    use crate::load::observed::{Agreement, PanelData, Resources, SeriesData};
    use crate::load::steps::{Figures, Step};
    use crate::load::{LoadReport, ObservedStep};
    use history::{History, Op, OpType, Process, Value};

    fn figures(name: &str, per_second: f64) -> Figures {
        Figures {
            name: name.into(),
            requests: (per_second * 10.0) as u64,
            failures: 0,
            per_second,
            p50_ms: 5.0,
            p95_ms: 9.0,
            p99_ms: 12.0,
        }
    }

    fn step(users: u64, start: f64, per_second: f64, cpu: f64) -> ObservedStep {
        ObservedStep {
            step: Step {
                users,
                start,
                end: start + 10.0,
                all: figures("Aggregated", per_second),
                operations: vec![figures("GET /kv/{key} strong", per_second)],
            },
            resources: Some(Resources {
                cpu_busy: cpu,
                memory_used: 0.3,
                cores: vec![("api".into(), 0.05)],
            }),
        }
    }

    /// The section says where throughput stopped, what ran out, whether the counts agree, and
    /// draws the curve and the panels with the run's faults.
    #[test]
    fn the_section_explains_the_load_and_draws_the_system() {
        let load = LoadReport {
            class: "MixedUser".into(),
            users: "10 → 20 users".into(),
            start: 1000.0,
            origin: 1001.0,
            end: 1021.0,
            operations: vec![Operation {
                kind: "GET".into(),
                name: "GET /kv/{key} strong".into(),
                requests: 2000,
                failures: 3,
                p50_ms: 5.0,
                p95_ms: 9.0,
                p99_ms: 12.0,
                per_second: 100.0,
            }],
            steps: vec![step(10, 1000.0, 100.0, 0.6), step(20, 1010.0, 104.0, 0.97)],
            saturation: Some(1),
            agreement: Some(Agreement {
                prometheus: 2500.0,
                locust: 2000,
                checker_ok: 500,
                checker_uncertain: 0,
                resets: 0,
                nginx: Some(2500.0),
            }),
            panels: vec![PanelData {
                title: "Request rate".into(),
                unit: "reqps".into(),
                series: vec![SeriesData {
                    legend: "api".into(),
                    points: vec![(0.0, 90.0), (20.0, 110.0)],
                }],
            }],
            gaps: vec![],
        };
        let mut history = History::default();
        for (kind, f, t) in [
            (OpType::Invoke, "start-partition", 2),
            (OpType::Info, "start-partition", 2),
            (OpType::Invoke, "stop-partition", 6),
            (OpType::Info, "stop-partition", 6),
        ] {
            let mut op = Op::new(Process::Named("nemesis".into()), kind, f, Value::Nil);
            op.time = t * 1_000_000_000;
            history.push(op);
        }
        let html = fragment(&load, &history);
        assert!(
            html.contains("at 20 users; the machine&#39;s CPU (97 % busy) had run out")
                || html.contains("at 20 users; the machine's CPU (97 % busy) had run out"),
            "{html}"
        );
        assert!(html.contains("agrees (within 0.00 %)"), "the counts agree");
        assert!(html.contains("Each operation at each step"));
        assert!(html.contains("Latency against throughput"));
        assert!(html.contains("class=\"plot panel\""));
        assert_eq!(
            html.matches("class=\"fault partition\"").count(),
            1,
            "{html}"
        );
    }
}
