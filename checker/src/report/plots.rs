//! Plots and tables of a run's history, after Jepsen's `checker/perf`:
//!
//! - [`latency_svg`]: Jepsen's `latency-raw.png`, a scatter of every client
//!   operation's latency against its invocation time, on a log scale;
//! - [`rate_svg`]: Jepsen's `rate.png`, completions per second per `:f` and
//!   outcome;
//!
//! Both plots shade the fault intervals ([`crate::stats::faults`]). They are standalone SVG documents
//! (with `xmlns`, their own `<style>`, nothing external) that can be written
//! to a `.svg` file or inlined in HTML. Everything taken from the history is
//! escaped. Histories without times (`time == -1`) give a plot that says so;
//! nothing here panics on odd histories (completions without invocations,
//! two invocations in flight on one process, times out of order).

use super::html::{clip, escape};
use crate::stats::faults::{faults, Fault};
use crate::stats::latency::{Ops, Outcome};
use history::History;
use std::collections::HashMap;
use std::fmt::Write as _;

// ---------------------------------------------------------------------------
// SVG plumbing

const W: f64 = 960.0;
const H: f64 = 440.0;
/// The plot area.
const LEFT: f64 = 70.0;
const RIGHT: f64 = W - 200.0;
const TOP: f64 = 46.0;
const BOTTOM: f64 = H - 52.0;
/// Where operations that never completed are drawn, above the plot area.
const PENDING_Y: f64 = TOP - 12.0;
/// Legend column.
const LEGEND_X: f64 = RIGHT + 24.0;

/// At most this many points in a latency plot before downsampling.
pub const MAX_POINTS: usize = 20_000;
/// Failed, indeterminate and pending points are all kept up to this many
/// (the SVG stays under 2 MB); beyond it they are sampled too.
pub const MAX_NON_OK_POINTS: usize = 30_000;
/// Ok points kept at least, however many failures there are.
const MIN_OK_POINTS: usize = 2_000;
/// Points get tooltips when there are at most this many.
const MAX_TOOLTIPS: usize = 2_000;
/// Smaller markers above this many points.
const DENSE_POINTS: usize = 5_000;
/// `:f`s listed in a legend.
const MAX_LEGEND_FS: usize = 12;
/// Series listed in the rate legend.
const MAX_LEGEND_SERIES: usize = 24;

pub(crate) const STYLE: &str = "svg.plot text{font:11px system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;fill:#1f2328}\
svg.plot .ttl{font-size:13px;font-weight:600}svg.plot .ax{fill:#656d76}svg.plot .cap{fill:#656d76}svg.plot .note{fill:#9a6700}\
svg.plot .grid{stroke:#eaeef2;stroke-width:1}svg.plot .grid2{stroke:#f3f5f7;stroke-width:1}svg.plot .axis{stroke:#8c959f;stroke-width:1;fill:none}\
svg.plot .pt{stroke:none;fill-opacity:.75}svg.plot .ok{fill:#3d7fe0;stroke:#3d7fe0}svg.plot .fail{fill:#e0266e;stroke:#e0266e}\
svg.plot .info{fill:#f08c00;stroke:#f08c00}svg.plot .pt.pend{fill-opacity:.9}svg.plot .shape{fill:#57606a}\
svg.plot .rl{fill:none;stroke-width:1.4;stroke-linejoin:round}\
svg.plot .fault{fill-opacity:.13;stroke:none}svg.plot .fl{font-size:10px;fill:#3d444d;paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}\
svg.plot .partition{fill:#6e7781}svg.plot .kill{fill:#cf222e}svg.plot .pause{fill:#8250df}svg.plot .clock{fill:#1b7c83}\
svg.plot .latency{fill:#bc4c00}svg.plot .other{fill:#116329}svg.plot .band{fill:#fff8c5}";

fn open_svg(out: &mut String, class: &str, height: f64, title: &str) {
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot {class}\" viewBox=\"0 0 {W} {height}\" \
         width=\"{W}\" height=\"{height}\" role=\"img\"><title>{}</title><style>{STYLE}</style>\
         <rect width=\"{W}\" height=\"{height}\" fill=\"#fff\"/>\
         <text class=\"ttl\" x=\"{LEFT}\" y=\"18\">{}</text>",
        escape(title),
        escape(title)
    );
}

/// A small plot that only says `message`.
fn message_svg(class: &str, title: &str, message: &str) -> String {
    let mut out = String::new();
    open_svg(&mut out, class, 64.0, title);
    let _ = write!(
        out,
        "<text class=\"cap msg\" x=\"{LEFT}\" y=\"44\">{}</text></svg>",
        escape(message)
    );
    out
}

const NO_TIMES: &str = "no timing information: the history's client operations have no times";

/// 1, 2 or 5 × 10^k, at least `v` when `up`, else at most `v` (`v > 0`).
pub(crate) fn nice(v: f64, up: bool) -> f64 {
    let mag = 10f64.powi(v.log10().floor() as i32);
    let steps = [1.0, 2.0, 5.0, 10.0];
    if up {
        steps
            .iter()
            .map(|s| s * mag)
            .find(|&s| s >= v * (1.0 - 1e-9))
            .unwrap_or(10.0 * mag)
    } else {
        steps
            .iter()
            .rev()
            .map(|s| s * mag)
            .find(|&s| s <= v * (1.0 + 1e-9))
            .unwrap_or(mag)
    }
}

/// Ticks from 0 to `hi` about `target` apart, and their step.
pub(crate) fn linear_ticks(hi: f64, target: usize) -> (Vec<f64>, f64) {
    let step = nice(hi / target as f64, true);
    let n = (hi / step + 1e-9).floor() as usize;
    ((0..=n).map(|i| i as f64 * step).collect(), step)
}

/// A tick value with as many decimals as its step needs.
pub(crate) fn tick_label(v: f64, step: f64) -> String {
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    format!("{v:.decimals$}")
}

/// The time axis: seconds `0..=span` onto `LEFT..=RIGHT`.
#[derive(Clone, Copy)]
struct TimeAxis {
    span: f64,
}

impl TimeAxis {
    fn x(&self, s: f64) -> f64 {
        LEFT + (s / self.span).clamp(0.0, 1.0) * (RIGHT - LEFT)
    }

    fn draw(&self, out: &mut String) {
        let (ticks, step) = linear_ticks(self.span, 10);
        for t in ticks {
            let x = self.x(t);
            let _ = write!(
                out,
                "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{BOTTOM}\"/>\
                 <text class=\"ax\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                BOTTOM + 15.0,
                tick_label(t, step)
            );
        }
        let _ = write!(
            out,
            "<text class=\"cap\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">time since the first event (s)</text>",
            (LEFT + RIGHT) / 2.0,
            BOTTOM + 32.0
        );
    }
}

/// The fault intervals as shaded rectangles over the plot area, each with a
/// tooltip.
fn draw_faults(out: &mut String, ops: &Ops, axis: TimeAxis, faults: &[Fault]) {
    for f in faults {
        let a = axis.x(ops.seconds(f.interval.start_ns));
        let b = axis.x(ops.seconds(f.interval.end_ns));
        let w = (b - a).max(1.5);
        let (s, e) = (
            ops.seconds(f.interval.start_ns),
            ops.seconds(f.interval.end_ns),
        );
        let _ = write!(
            out,
            "<rect class=\"fault {}\" x=\"{a:.1}\" y=\"{TOP}\" width=\"{w:.1}\" height=\"{:.1}\">\
             <title>{}: {s:.3} s – {e:.3} s</title></rect>",
            f.kind,
            BOTTOM - TOP,
            escape(&f.interval.label)
        );
    }
}

/// The fault intervals' labels, where there is room, drawn over the data
/// (with a white halo).
fn draw_fault_labels(out: &mut String, ops: &Ops, axis: TimeAxis, faults: &[Fault]) {
    for (i, f) in faults.iter().enumerate() {
        let a = axis.x(ops.seconds(f.interval.start_ns));
        let b = axis.x(ops.seconds(f.interval.end_ns));
        let room = ((b - a - 4.0) / 5.6).floor() as usize;
        if room >= 4 {
            let _ = write!(
                out,
                "<text class=\"fl\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                a + 2.0,
                TOP + 11.0 + (i % 3) as f64 * 11.0,
                escape(&clip(&f.interval.label, room))
            );
        }
    }
}

/// Legend entries for the fault kinds present, from `y`; returns the next `y`.
fn legend_faults(out: &mut String, faults: &[Fault], mut y: f64) -> f64 {
    let mut kinds: Vec<&str> = faults.iter().map(|f| f.kind).collect();
    kinds.sort_unstable();
    kinds.dedup();
    if kinds.is_empty() {
        return y;
    }
    let _ = write!(
        out,
        "<text class=\"cap\" x=\"{LEGEND_X}\" y=\"{y:.1}\">faults</text>"
    );
    y += 15.0;
    for k in kinds {
        let _ = write!(
            out,
            "<rect class=\"fault lg {k}\" x=\"{LEGEND_X}\" y=\"{:.1}\" width=\"14\" height=\"10\" style=\"fill-opacity:.3\"/>\
             <text x=\"{:.1}\" y=\"{y:.1}\">{k}</text>",
            y - 9.0,
            LEGEND_X + 20.0
        );
        y += 15.0;
    }
    y + 6.0
}

fn group(n: usize) -> String {
    let digits = n.to_string();
    let first = match digits.len() % 3 {
        0 => 3,
        r => r,
    };
    let mut out = digits[..first].to_string();
    for chunk in digits.as_bytes()[first..].chunks(3) {
        out.push(',');
        out.extend(chunk.iter().map(|&b| b as char));
    }
    out
}

// ---------------------------------------------------------------------------
// Latency scatter

/// One marker of `shape` (by `:f`) at `(x, y)`, of radius about `r`, with
/// class `class`.
fn marker(out: &mut String, shape: usize, class: &str, x: f64, y: f64, r: f64, tip: Option<&str>) {
    let h = r * 0.85; // half a square's side
    let t = r * 1.2; // a triangle's or diamond's half height
    let (open, close) = match shape % 5 {
        0 => (
            format!("<circle class=\"{class}\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{r:.1}\""),
            "circle",
        ),
        1 => (
            format!(
                "<path class=\"{class}\" d=\"M{:.1} {:.1}h{:.1}v{:.1}h-{:.1}z\"",
                x - h,
                y - h,
                2.0 * h,
                2.0 * h,
                2.0 * h
            ),
            "path",
        ),
        2 => (
            format!(
                "<path class=\"{class}\" d=\"M{x:.1} {:.1}l{:.1} {:.1}h-{:.1}z\"",
                y - t,
                t * 0.95,
                t * 1.75,
                t * 1.9
            ),
            "path",
        ),
        3 => (
            format!(
                "<path class=\"{class}\" d=\"M{x:.1} {:.1}l{t:.1} {t:.1}-{t:.1} {t:.1}-{t:.1}-{t:.1}z\"",
                y - t
            ),
            "path",
        ),
        _ => (
            format!(
                "<path class=\"{class}\" d=\"M{x:.1} {:.1}l{:.1}-{:.1}h-{:.1}z\"",
                y + t,
                t * 0.95,
                t * 1.75,
                t * 1.9
            ),
            "path",
        ),
    };
    out.push_str(&open);
    match tip {
        Some(t) => {
            let _ = write!(out, "><title>{}</title></{close}>", escape(t));
        }
        None => out.push_str("/>"),
    }
}

/// Which samples to draw: all when there are at most [`MAX_POINTS`];
/// otherwise every failed, indeterminate and pending one (up to
/// [`MAX_NON_OK_POINTS`]), and ok ones to fill the rest of [`MAX_POINTS`]
/// (at least 2,000): first the earliest ok point of every 3 × 3 pixel cell
/// that has any (so outliers stay), then an evenly spaced selection of the
/// others, in invocation order. Deterministic: the same history gives the
/// same plot. `at(i)` is sample `i`'s position in pixels.
fn downsample(points: &[usize], ops: &Ops, at: impl Fn(usize) -> (f64, f64)) -> Vec<usize> {
    if points.len() <= MAX_POINTS {
        return points.to_vec();
    }
    let (ok, non_ok): (Vec<usize>, Vec<usize>) = points
        .iter()
        .partition(|&&i| ops.samples[i].outcome == Outcome::Ok);
    let non_ok = evenly(&non_ok, MAX_NON_OK_POINTS);
    let budget = MAX_POINTS.saturating_sub(non_ok.len()).max(MIN_OK_POINTS);
    let mut cells = std::collections::HashSet::new();
    let (firsts, rest): (Vec<usize>, Vec<usize>) = ok.iter().partition(|&&i| {
        let (x, y) = at(i);
        cells.insert(((x / 3.0) as i32, (y / 3.0) as i32, ops.samples[i].f))
    });
    let mut kept = evenly(&firsts, budget);
    kept.extend(evenly(&rest, budget - kept.len()));
    kept.extend(non_ok);
    kept.sort_unstable();
    kept
}

/// At most `n` of `items`, evenly spaced, first one included.
fn evenly(items: &[usize], n: usize) -> Vec<usize> {
    if items.len() <= n {
        return items.to_vec();
    }
    (0..n).map(|k| items[k * items.len() / n]).collect()
}

/// Jepsen's `latency-raw` as an SVG document: one point per client
/// operation at its invocation time (seconds since the history's first
/// event) and latency (ms, log scale), coloured by outcome (ok blue, fail
/// pink, info orange), shaped by `:f` (circle, square, triangle, diamond,
/// inverted triangle, then again); operations that never completed are
/// drawn in orange on a band above the plot. Fault intervals are shaded and
/// labelled. Each marker has class `pt` and its outcome's class (`ok`,
/// `fail`, `info`, `info pend`). Above [`MAX_POINTS`] operations the plot is
/// downsampled (see the note it then carries), keeping every non-ok one.
pub fn latency_svg(h: &History) -> String {
    let ops = Ops::new(h);
    let title = "Latency of client operations";
    if ops.samples.is_empty() {
        return message_svg("lat-raw", title, "no client operations");
    }
    let timed: Vec<usize> = (0..ops.samples.len())
        .filter(|&i| {
            let s = &ops.samples[i];
            s.invoke_ns >= 0 && (s.outcome == Outcome::Pending || s.complete_ns >= 0)
        })
        .collect();
    if timed.is_empty() {
        return message_svg("lat-raw", title, NO_TIMES);
    }
    let faults = faults(h);
    let axis = TimeAxis { span: ops.span_s() };

    // The latency axis: whole decades around the data.
    let (mut lo, mut hi) = (f64::INFINITY, 0f64);
    for &i in &timed {
        if let Some(l) = ops.samples[i].latency_ms() {
            let l = l.max(1e-3);
            lo = lo.min(l);
            hi = hi.max(l);
        }
    }
    if !lo.is_finite() {
        (lo, hi) = (1.0, 1.0);
    }
    let lo_dec = lo.log10().floor() as i32;
    let mut hi_dec = hi.log10().ceil() as i32;
    if hi_dec <= lo_dec {
        hi_dec = lo_dec + 1;
    }
    let y = |ms: f64| {
        let d = (ms.max(1e-3).log10() - lo_dec as f64) / (hi_dec - lo_dec) as f64;
        BOTTOM - d.clamp(0.0, 1.0) * (BOTTOM - TOP)
    };

    let at = |i: usize| {
        let s = &ops.samples[i];
        let x = axis.x(ops.seconds(s.invoke_ns));
        (x, s.latency_ms().map_or(PENDING_Y, y))
    };
    let drawn = downsample(&timed, &ops, at);
    let mut out = String::with_capacity(drawn.len() * 56 + 8 * 1024);
    open_svg(&mut out, "lat-raw", H, title);

    // Grid and axes.
    for d in lo_dec..=hi_dec {
        let v = 10f64.powi(d);
        let yy = y(v);
        let decimals = (-d).max(0) as usize;
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{LEFT}\" y1=\"{yy:.1}\" x2=\"{RIGHT}\" y2=\"{yy:.1}\"/>\
             <text class=\"ax\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{v:.decimals$}</text>",
            LEFT - 6.0,
            yy + 4.0,
        );
        if d < hi_dec {
            for m in [2.0, 5.0] {
                let ym = y(v * m);
                let _ = write!(
                    out,
                    "<line class=\"grid2\" x1=\"{LEFT}\" y1=\"{ym:.1}\" x2=\"{RIGHT}\" y2=\"{ym:.1}\"/>"
                );
            }
        }
    }
    axis.draw(&mut out);
    let _ = write!(
        out,
        "<rect class=\"band\" x=\"{LEFT}\" y=\"{:.1}\" width=\"{:.1}\" height=\"12\"/>\
         <text class=\"ax\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">never</text>\
         <text class=\"cap\" transform=\"translate(16 {:.1}) rotate(-90)\" text-anchor=\"middle\">latency (ms, log scale)</text>",
        PENDING_Y - 6.0,
        RIGHT - LEFT,
        LEFT - 6.0,
        PENDING_Y + 4.0,
        (TOP + BOTTOM) / 2.0
    );
    draw_faults(&mut out, &ops, axis, &faults);
    let _ = write!(
        out,
        "<rect class=\"axis\" x=\"{LEFT}\" y=\"{TOP}\" width=\"{:.1}\" height=\"{:.1}\"/>",
        RIGHT - LEFT,
        BOTTOM - TOP
    );

    // Points: ok first, failures last (on top).
    let mut order = drawn.clone();
    order.sort_by_key(|&i| (ops.samples[i].outcome, i));
    let tips = drawn.len() <= MAX_TOOLTIPS;
    let radius = if drawn.len() <= DENSE_POINTS {
        2.6
    } else {
        1.7
    };
    out.push_str("<g class=\"points\">");
    for i in order {
        let s = &ops.samples[i];
        let (x, yy) = at(i);
        let class = match s.latency_ms() {
            Some(_) => s.outcome.class(),
            None => Outcome::Pending.class(),
        };
        let class = format!("pt {class}");
        let tip = tips.then(|| {
            let what = match s.latency_ms() {
                Some(l) => format!("{}, {l:.2} ms", s.outcome.name()),
                None => Outcome::Pending.name().to_string(),
            };
            format!(
                "p{} {}: {what}, invoked at {:.3} s",
                s.process,
                clip(ops.fs[s.f], 60),
                ops.seconds(s.invoke_ns)
            )
        });
        marker(&mut out, s.f, &class, x, yy, radius, tip.as_deref());
    }
    out.push_str("</g>");
    draw_fault_labels(&mut out, &ops, axis, &faults);

    // Legend.
    let mut ly = TOP + 4.0;
    let _ = write!(
        out,
        "<text class=\"cap\" x=\"{LEGEND_X}\" y=\"{ly:.1}\">outcome</text>"
    );
    ly += 15.0;
    for o in [Outcome::Ok, Outcome::Fail, Outcome::Info, Outcome::Pending] {
        let _ = write!(
            out,
            "<circle class=\"lg {}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\"/><text x=\"{:.1}\" y=\"{ly:.1}\">{}</text>",
            o.class(),
            LEGEND_X + 5.0,
            ly - 4.0,
            LEGEND_X + 16.0,
            o.name()
        );
        ly += 15.0;
    }
    ly += 6.0;
    let _ = write!(
        out,
        "<text class=\"cap\" x=\"{LEGEND_X}\" y=\"{ly:.1}\">operation (:f)</text>"
    );
    ly += 15.0;
    for (k, f) in ops.fs.iter().enumerate().take(MAX_LEGEND_FS) {
        let mut m = String::new();
        marker(&mut m, k, "lg shape", LEGEND_X + 5.0, ly - 4.0, 3.0, None);
        out.push_str(&m);
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{ly:.1}\">{}</text>",
            LEGEND_X + 16.0,
            escape(&clip(f, 24))
        );
        ly += 15.0;
    }
    if ops.fs.len() > MAX_LEGEND_FS {
        let _ = write!(
            out,
            "<text class=\"cap\" x=\"{LEGEND_X}\" y=\"{ly:.1}\">… {} more</text>",
            ops.fs.len() - MAX_LEGEND_FS
        );
        ly += 15.0;
    }
    ly += 6.0;
    legend_faults(&mut out, &faults, ly);

    let mut note = String::new();
    if drawn.len() < timed.len() {
        note = format!(
            "showing {} of {} operations: every failed, indeterminate and unfinished one{}, and a sample of the ok ones that keeps their outliers",
            group(drawn.len()),
            group(timed.len()),
            if drawn.iter().filter(|&&i| ops.samples[i].outcome != Outcome::Ok).count()
                < timed.iter().filter(|&&i| ops.samples[i].outcome != Outcome::Ok).count()
            {
                format!(" (up to {})", group(MAX_NON_OK_POINTS))
            } else {
                String::new()
            }
        );
    }
    let untimed = ops.samples.len() - timed.len();
    if untimed > 0 {
        if !note.is_empty() {
            note.push_str("; ");
        }
        let _ = write!(note, "{} without times not drawn", group(untimed));
    }
    if !note.is_empty() {
        let _ = write!(
            out,
            "<text class=\"note\" x=\"{LEFT}\" y=\"{:.1}\">{}</text>",
            H - 4.0,
            escape(&note)
        );
    }
    out.push_str("</svg>");
    out
}

// ---------------------------------------------------------------------------
// Rate

/// Fewest and most buckets in a rate plot.
const MIN_BUCKETS: f64 = 30.0;
const MAX_BUCKETS: f64 = 1000.0;

/// The bucket width for a run of `span` seconds: 1 s, unless that gives
/// fewer than 30 buckets (then the widest 1/2/5 × 10^k width that gives at
/// least 30) or more than 1,000 (then the narrowest that gives at most
/// 1,000).
pub fn rate_bucket_s(span: f64) -> f64 {
    if span.is_nan() || span <= 0.0 {
        return 1.0;
    }
    if span < MIN_BUCKETS {
        nice(span / MIN_BUCKETS, false)
    } else if span > MAX_BUCKETS {
        nice(span / MAX_BUCKETS, true)
    } else {
        1.0
    }
}

/// Dash patterns by `:f`.
const DASHES: [&str; 5] = ["", "7 3", "2 2", "9 3 2 3", "4 4"];

/// Jepsen's `rate.png` as an SVG document: client completions per second,
/// one line per `(:f, outcome)`, in buckets of [`rate_bucket_s`] by
/// completion time; colour by outcome, dash pattern by `:f`. Fault
/// intervals are shaded.
pub fn rate_svg(h: &History) -> String {
    let ops = Ops::new(h);
    let title = "Throughput: completions per second";
    if ops.completions.is_empty() {
        return message_svg("rate", title, "no completed client operations");
    }
    if !ops.completions.iter().any(|c| c.2 >= 0) {
        return message_svg("rate", title, NO_TIMES);
    }
    let faults = faults(h);
    let span = ops.span_s();
    let axis = TimeAxis { span };
    let bucket = rate_bucket_s(span);
    let n = ((span / bucket).ceil() as usize).max(1);
    let mut series: Vec<((usize, Outcome), Vec<u32>)> = Vec::new();
    let mut index: HashMap<(usize, Outcome), usize> = HashMap::new();
    let mut untimed = 0;
    for &(f, o, t) in &ops.completions {
        if t < 0 {
            untimed += 1;
            continue;
        }
        let s = *index.entry((f, o)).or_insert_with(|| {
            series.push(((f, o), vec![0; n]));
            series.len() - 1
        });
        let b = ((ops.seconds(t) / bucket) as usize).min(n - 1);
        series[s].1[b] += 1;
    }
    series.sort_by_key(|(k, _)| *k);
    let peak = series
        .iter()
        .flat_map(|(_, c)| c.iter())
        .copied()
        .max()
        .unwrap_or(0) as f64
        / bucket;
    let step = nice(peak.max(1.0) / 6.0, true);
    let ymax = (peak / step).ceil().max(1.0) * step;
    let ticks: Vec<f64> = (0..=((ymax / step).round() as usize))
        .map(|i| i as f64 * step)
        .collect();
    let y = |r: f64| BOTTOM - (r / ymax).clamp(0.0, 1.0) * (BOTTOM - TOP);

    let mut out = String::with_capacity(16 * 1024 + series.len() * n * 12);
    open_svg(&mut out, "rate", H, title);
    for t in &ticks {
        let yy = y(*t);
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{LEFT}\" y1=\"{yy:.1}\" x2=\"{RIGHT}\" y2=\"{yy:.1}\"/>\
             <text class=\"ax\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LEFT - 6.0,
            yy + 4.0,
            tick_label(*t, step)
        );
    }
    axis.draw(&mut out);
    let _ = write!(
        out,
        "<text class=\"cap\" transform=\"translate(16 {:.1}) rotate(-90)\" text-anchor=\"middle\">completions per second</text>",
        (TOP + BOTTOM) / 2.0
    );
    draw_faults(&mut out, &ops, axis, &faults);
    let _ = write!(
        out,
        "<rect class=\"axis\" x=\"{LEFT}\" y=\"{TOP}\" width=\"{:.1}\" height=\"{:.1}\"/>",
        RIGHT - LEFT,
        BOTTOM - TOP
    );
    for ((f, o), counts) in &series {
        let dash = DASHES[f % DASHES.len()];
        let _ = write!(out, "<polyline class=\"rl {}\"", o.class());
        if !dash.is_empty() {
            let _ = write!(out, " stroke-dasharray=\"{dash}\"");
        }
        out.push_str(" points=\"");
        for (b, &c) in counts.iter().enumerate() {
            let t = ((b as f64 + 0.5) * bucket).min(span);
            let _ = write!(out, "{:.1},{:.1} ", axis.x(t), y(c as f64 / bucket));
        }
        out.pop();
        let _ = write!(
            out,
            "\"><title>{} {}</title></polyline>",
            escape(ops.fs[*f]),
            o.name()
        );
    }
    draw_fault_labels(&mut out, &ops, axis, &faults);

    // Legend.
    let mut ly = TOP + 4.0;
    let _ = write!(
        out,
        "<text class=\"cap\" x=\"{LEGEND_X}\" y=\"{ly:.1}\">:f and outcome</text>"
    );
    ly += 15.0;
    for ((f, o), _) in series.iter().take(MAX_LEGEND_SERIES) {
        let dash = DASHES[f % DASHES.len()];
        let _ = write!(
            out,
            "<line class=\"rl {}\" x1=\"{LEGEND_X}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"{}/>\
             <text x=\"{:.1}\" y=\"{ly:.1}\">{} {}</text>",
            o.class(),
            ly - 4.0,
            LEGEND_X + 22.0,
            ly - 4.0,
            if dash.is_empty() {
                String::new()
            } else {
                format!(" stroke-dasharray=\"{dash}\"")
            },
            LEGEND_X + 28.0,
            escape(&clip(ops.fs[*f], 20)),
            o.name()
        );
        ly += 15.0;
    }
    if series.len() > MAX_LEGEND_SERIES {
        let _ = write!(
            out,
            "<text class=\"cap\" x=\"{LEGEND_X}\" y=\"{ly:.1}\">… {} more</text>",
            series.len() - MAX_LEGEND_SERIES
        );
        ly += 15.0;
    }
    ly += 6.0;
    legend_faults(&mut out, &faults, ly);
    let mut note = format!("buckets of {} s", tick_label(bucket, bucket));
    if untimed > 0 {
        let _ = write!(
            note,
            "; {} completions without times not counted",
            group(untimed)
        );
    }
    let _ = write!(
        out,
        "<text class=\"note\" x=\"{LEFT}\" y=\"{:.1}\">{}</text></svg>",
        H - 4.0,
        escape(&note)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_rounds_to_1_2_5() {
        assert_eq!(nice(0.7, true), 1.0);
        assert_eq!(nice(1.3, true), 2.0);
        assert_eq!(nice(3.0, true), 5.0);
        assert_eq!(nice(7.0, true), 10.0);
        assert_eq!(nice(0.7, false), 0.5);
        assert_eq!(nice(1.3, false), 1.0);
        assert_eq!(nice(3.0, false), 2.0);
        assert_eq!(nice(10.0, false), 10.0);
    }

    #[test]
    fn buckets() {
        assert_eq!(rate_bucket_s(60.0), 1.0);
        assert_eq!(rate_bucket_s(30.0), 1.0);
        assert_eq!(rate_bucket_s(10.0), 0.2);
        assert!(10.0 / rate_bucket_s(10.0) >= 30.0);
        assert_eq!(rate_bucket_s(3600.0), 5.0);
        assert_eq!(rate_bucket_s(0.0), 1.0);
    }

    #[test]
    fn ticks_cover_the_range() {
        let (t, step) = linear_ticks(10.0, 10);
        assert_eq!(step, 1.0);
        assert_eq!(t.len(), 11);
        assert_eq!(tick_label(0.5, 0.5), "0.5");
        assert_eq!(tick_label(20.0, 10.0), "20");
    }

    #[test]
    fn group_thousands() {
        assert_eq!(group(1), "1");
        assert_eq!(group(1000), "1,000");
        assert_eq!(group(1234567), "1,234,567");
    }

    #[test]
    fn evenly_spaced_selection() {
        let items: Vec<usize> = (0..10).collect();
        assert_eq!(evenly(&items, 5), vec![0, 2, 4, 6, 8]);
        assert_eq!(evenly(&items, 20), items);
    }
}
