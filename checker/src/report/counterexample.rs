//! A self-contained HTML report of a linearizability check.
//!
//! [`page`] renders an [`Analysis`] as one HTML page with
//! inline CSS, inline SVG and a few lines of vanilla JavaScript (hover
//! highlighting only): it loads nothing from the network.
//! [`fragment`] is the same report without the page around
//! it, with [`styles`] and [`script`] to inline once, for embedding in a
//! run's report ([`super::run_page`]).
//!
//! The page has a header (verdict badge, model, counts, elapsed time), a
//! table of partitions, and for each partition found non-linearizable a
//! timeline in the spirit of Porcupine's visualizer and Knossos'
//! `linear.svg`: one lane per process, one bar per operation from its
//! invocation to its completion (indeterminate operations run dashed to the
//! right edge), the longest linearizable prefix numbered and joined by its
//! linearization points, the blocked operation in red and the operations
//! pending at that point in orange. Tables below the diagram spell out the
//! same facts, and every bar has a tooltip.
//!
//! The x axis is the real-time order of the partition's own invocations and
//! completions (ranks, not history positions), so operations of other
//! partitions take no room. Long partitions are drawn only around the
//! failure, and every list is capped, so the page stays small.

use super::html::{badge, clip, duration, e, escape, num, plural};
use consistency::linearizable::{
    Analysis, ExplainedOp, Explanation, PartitionReport, PartitionVerdict,
};
use consistency::verdict::{Unknown, Verdict};
use std::fmt::Write as _;

/// More partitions than this: non-valid ones first, the rest collapsed.
const MANY_PARTITIONS: usize = 20;
/// Rows per partition table.
const MAX_PARTITION_ROWS: usize = 1000;
/// Explanations drawn in full; later ones get their text form only.
const MAX_DIAGRAMS: usize = 10;
/// Partitions with more operations are drawn around the failure only.
const WINDOW_THRESHOLD: usize = 300;
/// The window starts at the earliest invocation among this many last steps.
const WINDOW_STEPS: usize = 30;
/// Operations invoked after the blocked one returned, drawn for context.
const TAIL: usize = 10;
/// At most this many operations in one diagram.
const MAX_DRAWN: usize = 600;
/// Steps of the prefix shown before the collapsed rest.
const VISIBLE_STEPS: usize = 30;
/// Earlier steps listed in the collapsed part.
const MAX_EARLIER_STEPS: usize = 500;
/// Rows of the pending-operations table.
const MAX_CANDIDATE_ROWS: usize = 200;
/// Characters of a state or description in a table row.
const CLIP: usize = 200;
/// Characters of a state or description in a tooltip.
const CLIP_TIP: usize = 120;
/// Characters of the state in the blocked operation's paragraph.
const CLIP_LONG: usize = 2000;

// Diagram geometry, in pixels.
const LEFT: f64 = 64.0;
const TOP: f64 = 34.0;
const ROW_H: f64 = 26.0;
const BAR_H: f64 = 18.0;
const CHAR_W: f64 = 6.7;
/// Narrowest and widest base width of the gap between two events.
const MIN_GAP: f64 = 14.0;
const MAX_GAP: f64 = 56.0;
/// Bars widen to fit labels of up to this many characters.
const FIT_CHARS: usize = 22;
/// The blocked operation's bar fits longer labels.
const FIT_CHARS_BLOCKED: usize = 48;
/// The caption of the x axis.
const AXIS: &str = "time → (this partition's invocations and completions, in real-time order)";
/// Longest description on a bar (the tooltip has more).
const LABEL_CHARS: usize = 60;

fn unknown_reason(u: Unknown) -> &'static str {
    match u {
        Unknown::Timeout => "the time limit ran out",
        Unknown::OutOfMemory => "the memory budget for the search ran out",
        Unknown::Error => "the checker could not run on this input",
    }
}

/// `line 12` or `index 34`.
fn at(op: &ExplainedOp) -> String {
    match op.line {
        Some(l) => format!("line {l}"),
        None => format!("index {}", op.index),
    }
}

/// `p3 read → 1 [ok, line 12]`, unescaped.
fn name(op: &ExplainedOp) -> String {
    format!(
        "p{} {} [{}, {}]",
        op.process,
        clip(&op.description, CLIP),
        op.outcome,
        at(op)
    )
}

/// Renders `analysis` as one self-contained HTML page titled `title`.
///
/// The page is the [`fragment`] under a header with the
/// title, with [`styles`] and [`script`] inlined once.
pub fn page(analysis: &Analysis, title: &str) -> String {
    let mut out = String::with_capacity(16 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(out, "<title>{}</title>", escape(title));
    out.push_str("<style>");
    out.push_str(CSS);
    out.push_str("</style>\n</head>\n<body>\n");
    let _ = writeln!(out, "<header>\n<h1>{}</h1>\n</header>", escape(title));
    out.push_str(&fragment(analysis));
    out.push_str("<script>");
    out.push_str(JS);
    out.push_str("</script>\n</body>\n</html>\n");
    out
}

/// The body of the linearizability report without `<html>`, `<head>`,
/// styles or script, to embed in another page (such as a run's report,
/// [`crate::report::run_page`]): the verdict and counts, the partitions
/// table and an explanation per failing partition.
///
/// The embedding page must include [`styles`] (CSS) once, and [`script`]
/// once for hover highlighting. Element ids are `partitions` and `x<N>`
/// (one per explained partition), so embed one analysis per page.
pub fn fragment(analysis: &Analysis) -> String {
    let mut out = String::with_capacity(16 * 1024);
    out.push_str("<div class=\"linearizability\">\n");
    summary(&mut out, analysis);
    partitions(&mut out, analysis);
    let failing = analysis
        .partitions
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.explanation.as_ref().map(|x| (i, x)));
    for (n, (i, x)) in failing.enumerate() {
        explanation(&mut out, i, n, x, n < MAX_DIAGRAMS);
    }
    out.push_str("</div>\n");
    out
}

/// The CSS of [`fragment`] (and of the page's common
/// elements: body, headings, tables, badges, pills), to inline once in a
/// `<style>` element.
pub fn styles() -> &'static str {
    CSS
}

/// The vanilla JavaScript of [`fragment`] (hover
/// highlighting of an operation across the diagram and the tables), to
/// inline once in a `<script>` element at the end of the body.
pub fn script() -> &'static str {
    JS
}

fn summary(out: &mut String, a: &Analysis) {
    let count =
        |f: fn(&PartitionVerdict) -> bool| a.partitions.iter().filter(|p| f(&p.verdict)).count();
    let invalid = count(|v| *v == PartitionVerdict::Invalid);
    let unknown = count(|v| matches!(v, PartitionVerdict::Unknown(_)));
    let skipped = count(|v| *v == PartitionVerdict::Skipped);
    let total = a.partitions.len();
    let _ = write!(out, "<p class=\"verdict\">{} ", badge(&a.verdict));
    match &a.verdict {
        Verdict::Valid => {
            let _ = write!(
                out,
                "linearizable: every partition has a linearization ({}).",
                plural(total, "partition", "partitions")
            );
        }
        Verdict::Invalid => {
            let _ = write!(
                out,
                "not linearizable: {} of {} {} no linearization.",
                num(invalid as u64),
                plural(total, "partition", "partitions"),
                if invalid == 1 { "has" } else { "have" }
            );
        }
        Verdict::Unknown(u) => {
            let _ = write!(
                out,
                "could not decide: {}; {} of {} undecided.",
                unknown_reason(*u),
                num(unknown as u64),
                plural(total, "partition", "partitions")
            );
        }
    }
    if skipped > 0 {
        let _ = write!(
            out,
            " {} not finished: the check stops once a partition fails.",
            plural(skipped, "partition was", "partitions were")
        );
    }
    out.push_str("</p>\n<dl class=\"meta\">");
    let steps: u64 = a.partitions.iter().map(|p| p.steps).sum();
    let configs: u64 = a.partitions.iter().map(|p| p.configurations as u64).sum();
    for (k, v) in [
        ("model", escape(a.model)),
        ("operations", num(a.operations as u64)),
        ("partitions", num(total as u64)),
        ("elapsed", duration(a.elapsed)),
        ("search steps", num(steps)),
        ("configurations", num(configs)),
    ] {
        let _ = write!(out, "<div><dt>{k}</dt><dd>{v}</dd></div>");
    }
    out.push_str("</dl>\n");
}

fn verdict_pill(v: &PartitionVerdict) -> String {
    match v {
        PartitionVerdict::Valid => "<span class=\"pill valid\">valid</span>".into(),
        PartitionVerdict::Invalid => "<span class=\"pill invalid\">invalid</span>".into(),
        PartitionVerdict::Unknown(u) => format!("<span class=\"pill unknown\">unknown: {u}</span>"),
        PartitionVerdict::Skipped => {
            "<span class=\"pill skipped\" title=\"not finished: another partition failed first\">skipped</span>".into()
        }
    }
}

fn partition_table(out: &mut String, rows: &[(usize, &PartitionReport)]) {
    out.push_str(
        "<table class=\"parts\"><thead><tr><th class=\"num\">#</th><th>key</th><th class=\"num\">ops</th>\
         <th>verdict</th><th class=\"num\">steps</th><th class=\"num\">configurations</th><th></th></tr></thead><tbody>\n",
    );
    for (i, p) in rows.iter().take(MAX_PARTITION_ROWS) {
        let key = p.key.as_ref().map_or_else(
            || "<i>whole history</i>".to_string(),
            |k| e(&k.to_string(), CLIP),
        );
        let link = if p.explanation.is_some() {
            format!("<a href=\"#x{i}\">explanation ↓</a>")
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "<tr><td class=\"num\">{i}</td><td class=\"mono\">{key}</td><td class=\"num\">{}</td><td>{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td>{link}</td></tr>",
            num(p.ops as u64),
            verdict_pill(&p.verdict),
            num(p.steps),
            num(p.configurations as u64)
        );
    }
    if rows.len() > MAX_PARTITION_ROWS {
        let _ = writeln!(
            out,
            "<tr><td colspan=\"7\" class=\"muted\">… and {} more</td></tr>",
            plural(rows.len() - MAX_PARTITION_ROWS, "partition", "partitions")
        );
    }
    out.push_str("</tbody></table>\n");
}

fn partitions(out: &mut String, a: &Analysis) {
    out.push_str("<section id=\"partitions\">\n<h2>Partitions</h2>\n");
    let all: Vec<(usize, &PartitionReport)> = a.partitions.iter().enumerate().collect();
    if all.is_empty() {
        out.push_str(
            "<p class=\"muted\">The history has no operations to check.</p>\n</section>\n",
        );
        return;
    }
    if all.len() <= MANY_PARTITIONS {
        partition_table(out, &all);
        out.push_str("</section>\n");
        return;
    }
    let pick = |f: &dyn Fn(&PartitionVerdict) -> bool| -> Vec<(usize, &PartitionReport)> {
        all.iter().copied().filter(|(_, p)| f(&p.verdict)).collect()
    };
    let mut failing = pick(&|v| *v == PartitionVerdict::Invalid);
    failing.extend(pick(&|v| matches!(v, PartitionVerdict::Unknown(_))));
    let skipped = pick(&|v| *v == PartitionVerdict::Skipped);
    let valid = pick(&|v| *v == PartitionVerdict::Valid);
    if failing.is_empty() {
        let _ = writeln!(out, "<p>No partition is invalid or undecided.</p>");
    } else {
        let _ = writeln!(
            out,
            "<p>Invalid and undecided partitions ({}):</p>",
            num(failing.len() as u64)
        );
        partition_table(out, &failing);
    }
    for (group, what) in [
        (
            &skipped,
            plural(skipped.len(), "partition", "partitions")
                + " not finished (another partition failed first)",
        ),
        (
            &valid,
            plural(valid.len(), "valid partition", "valid partitions"),
        ),
    ] {
        if group.is_empty() {
            continue;
        }
        let _ = writeln!(out, "<details><summary>{what}</summary>");
        partition_table(out, group);
        out.push_str("</details>\n");
    }
    out.push_str("</section>\n");
}

/// What an operation is in an explanation.
#[derive(Clone, Copy, PartialEq)]
enum Role {
    /// The `k`th step (0-based) of the prefix.
    Step(usize),
    Blocked,
    /// Index into `candidates`.
    Candidate(usize),
    /// Invoked after the blocked operation returned.
    Other,
}

fn roles(x: &Explanation) -> Vec<Role> {
    let mut roles = vec![Role::Other; x.ops.len()];
    for (c, cand) in x.candidates.iter().enumerate() {
        if let Some(r) = roles.get_mut(cand.op) {
            *r = Role::Candidate(c);
        }
    }
    for (k, s) in x.linearized.iter().enumerate() {
        if let Some(r) = roles.get_mut(s.op) {
            *r = Role::Step(k);
        }
    }
    if let Some(r) = roles.get_mut(x.blocked) {
        *r = Role::Blocked;
    }
    roles
}

/// The operations to draw, in invocation order, and whether that is a
/// window of the partition rather than all of it.
fn window(x: &Explanation) -> (Vec<usize>, bool) {
    let n = x.ops.len();
    let blocked = &x.ops[x.blocked];
    let hi = blocked.ret.unwrap_or(usize::MAX);
    if n <= WINDOW_THRESHOLD {
        // Everything up to the failure, and the start of what follows.
        let shown = (0..n)
            .filter(|&i| x.ops[i].call < hi)
            .chain((0..n).filter(|&i| x.ops[i].call > hi).take(TAIL));
        let mut shown: Vec<usize> = shown.collect();
        shown.sort_unstable();
        return (shown, false);
    }
    let recent = &x.linearized[x.linearized.len().saturating_sub(WINDOW_STEPS)..];
    let lo = recent
        .iter()
        .map(|s| x.ops[s.op].call)
        .min()
        .unwrap_or(blocked.call)
        .min(blocked.call);
    let in_window = |op: &ExplainedOp| op.call <= hi && !matches!(op.ret, Some(r) if r < lo);
    let mut keep = vec![false; n];
    let mut kept = 0;
    let mut add = |i: usize, keep: &mut Vec<bool>| {
        if kept < MAX_DRAWN && !keep[i] {
            keep[i] = true;
            kept += 1;
        }
    };
    // Most telling first, in case the window is too crowded to draw whole.
    add(x.blocked, &mut keep);
    for s in recent.iter().rev() {
        add(s.op, &mut keep);
    }
    let mut cands: Vec<usize> = x.candidates.iter().map(|c| c.op).collect();
    cands.sort_unstable_by(|a, b| b.cmp(a));
    for c in cands {
        add(c, &mut keep);
    }
    for i in (0..n).rev() {
        if in_window(&x.ops[i]) {
            add(i, &mut keep);
        }
    }
    ((0..n).filter(|&i| keep[i]).collect(), true)
}

/// Linearization points of the steps whose operations are drawn, as
/// `(step, op, x)` with `x` in rank units, strictly increasing and each
/// inside its operation's interval (`span(op)` = call and return ranks,
/// `None` for an open end).
///
/// Greedy: step `k` goes in the gap after the latest invocation among steps
/// `..=k`, which lies before its return because the search only linearizes
/// an operation when nothing unlinearized returned before its invocation;
/// steps sharing a gap are spread evenly inside it.
fn linearization_points(
    steps: &[usize],
    span: impl Fn(usize) -> Option<(usize, Option<usize>)>,
) -> Vec<(usize, usize, f64)> {
    let mut gaps: Vec<(usize, usize, usize)> = Vec::new();
    let mut latest = 0;
    for (k, &op) in steps.iter().enumerate() {
        let Some((call, ret)) = span(op) else {
            continue;
        };
        latest = latest.max(call);
        let gap = match ret {
            Some(r) if latest >= r => r.saturating_sub(1).max(call), // a model broke the rules; stay inside
            _ => latest,
        };
        gaps.push((k, op, gap));
    }
    let mut points = Vec::with_capacity(gaps.len());
    let mut i = 0;
    while i < gaps.len() {
        let mut j = i;
        while j < gaps.len() && gaps[j].2 == gaps[i].2 {
            j += 1;
        }
        let m = (j - i) as f64;
        for (t, &(k, op, gap)) in gaps[i..j].iter().enumerate() {
            points.push((k, op, gap as f64 + (t as f64 + 1.0) / (m + 1.0)));
        }
        i = j;
    }
    points
}

/// The diagram's tooltip for one operation.
fn tooltip(x: &Explanation, role: Role, op: &ExplainedOp) -> String {
    let mut t = format!(
        "p{} {}\noutcome: {}, {}",
        op.process,
        clip(&op.description, CLIP_TIP),
        op.outcome,
        at(op)
    );
    match role {
        Role::Step(k) => {
            let _ = write!(
                t,
                "\nlinearized #{} ⇒ state {}",
                k + 1,
                clip(&x.linearized[k].state, CLIP_TIP)
            );
        }
        Role::Blocked => {
            let _ = write!(
                t,
                "\nBLOCKED: cannot be linearized in state {}",
                clip(&x.state, CLIP_TIP)
            );
        }
        Role::Candidate(c) => match &x.candidates[c].leads_to {
            None => {
                let _ = write!(
                    t,
                    "\npending: cannot happen in state {}",
                    clip(&x.state, CLIP_TIP)
                );
            }
            Some(s) => {
                let _ = write!(
                    t,
                    "\npending: could go next (⇒ {}), but no linearization continues from there",
                    clip(s, CLIP_TIP)
                );
            }
        },
        Role::Other => t.push_str("\nnot reached: invoked after the blocked operation returned"),
    }
    t
}

/// The text on an operation's bar (before fitting it to the bar).
fn bar_label(op: &ExplainedOp, role: Role) -> String {
    let mut label = match role {
        Role::Step(k) => format!("#{} {}", k + 1, clip(&op.description, LABEL_CHARS)),
        _ => clip(&op.description, LABEL_CHARS),
    };
    if op.ret.is_none() {
        let _ = write!(label, " ({})", op.outcome);
    }
    label
}

/// The x axis: rank `r` (1..=n events, n + 1 the right edge) to pixels.
///
/// Each gap between consecutive ranks starts at a base width, and gaps
/// widen where an operation's label needs room, shortest operations first,
/// so that sequential operations get readable bars without making
/// concurrent ones huge.
struct Scale {
    /// Left edge of each gap `g` (between ranks `g` and `g + 1`), for `g` in `0..=n + 1`.
    starts: Vec<f64>,
}

impl Scale {
    /// `spans`: `(call rank, return rank, label characters to fit)` of each bar.
    fn new(n: usize, spans: impl Iterator<Item = (usize, usize, usize)>) -> Scale {
        let base = (1000.0 / (n as f64 + 2.0)).clamp(MIN_GAP, MAX_GAP);
        let mut gaps = vec![base; n + 1];
        gaps[0] = base.min(MIN_GAP);
        let mut spans: Vec<(usize, usize, usize)> =
            spans.filter(|&(c, r, _)| c < r && r <= n + 1).collect();
        spans.sort_by_key(|&(c, r, _)| r - c);
        for (c, r, chars) in spans {
            let need = chars as f64 * CHAR_W + 12.0;
            let have: f64 = gaps[c..r].iter().sum();
            if have < need {
                let more = (need - have) / (r - c) as f64;
                gaps[c..r].iter_mut().for_each(|g| *g += more);
            }
        }
        let mut starts = Vec::with_capacity(n + 2);
        let mut x = LEFT;
        for g in &gaps {
            starts.push(x);
            x += g;
        }
        starts.push(x);
        Scale { starts }
    }

    fn x(&self, r: f64) -> f64 {
        let last = self.starts.len() - 1;
        let g = (r.max(0.0).floor() as usize).min(last);
        if g == last {
            return self.starts[last];
        }
        self.starts[g] + (r - g as f64) * (self.starts[g + 1] - self.starts[g])
    }
}

fn svg(out: &mut String, xi: usize, x: &Explanation, shown: &[usize], roles: &[Role]) {
    // Ranks: the real-time order of the drawn operations' events.
    let mut positions: Vec<usize> = Vec::with_capacity(shown.len() * 2);
    for &i in shown {
        positions.push(x.ops[i].call);
        positions.extend(x.ops[i].ret);
    }
    positions.sort_unstable();
    positions.dedup();
    let rank = |p: usize| positions.binary_search(&p).map_or(0, |r| r + 1);
    let nr = positions.len();
    // Rank nr + 1 is the right edge, where open operations end.
    let open_end = nr + 1;
    struct Bar {
        op: usize,
        call: usize,
        ret: usize,
        label: String,
    }
    let bars: Vec<Bar> = shown
        .iter()
        .map(|&i| {
            let op = &x.ops[i];
            Bar {
                op: i,
                call: rank(op.call),
                ret: op.ret.map_or(open_end, rank),
                label: bar_label(op, roles[i]),
            }
        })
        .collect();
    let scale = Scale::new(
        nr,
        bars.iter().map(|b| {
            let fit = if b.op == x.blocked {
                FIT_CHARS_BLOCKED
            } else {
                FIT_CHARS
            };
            (b.call, b.ret, b.label.chars().count().min(fit))
        }),
    );
    let px = |r: f64| scale.x(r);

    // Lanes: one per process, with extra rows where a crashed operation
    // overlaps the process's later ones.
    let mut procs: Vec<u64> = shown.iter().map(|&i| x.ops[i].process).collect();
    procs.sort_unstable();
    procs.dedup();
    let mut rows_end: Vec<Vec<usize>> = vec![Vec::new(); procs.len()];
    let mut placed: Vec<(usize, usize)> = vec![(0, 0); x.ops.len()];
    for b in &bars {
        let lane = procs.binary_search(&x.ops[b.op].process).unwrap_or(0);
        let rows = &mut rows_end[lane];
        let row = match rows.iter().position(|&end| end < b.call) {
            Some(r) => {
                rows[r] = b.ret;
                r
            }
            None => {
                rows.push(b.ret);
                rows.len() - 1
            }
        };
        placed[b.op] = (lane, row);
    }
    let mut lane_top = Vec::with_capacity(procs.len());
    let mut total_rows = 0;
    for rows in &rows_end {
        lane_top.push(total_rows);
        total_rows += rows.len().max(1);
    }
    let y_of = |i: usize| {
        let (lane, row) = placed[i];
        TOP + (lane_top[lane] + row) as f64 * ROW_H
    };
    let width =
        (px(open_end as f64) + 16.0).max(LEFT + AXIS.chars().count() as f64 * CHAR_W + 16.0);
    let height = TOP + total_rows as f64 * ROW_H + 10.0;

    let _ = writeln!(
        out,
        "<div class=\"scroll\"><svg class=\"tl\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" \
         role=\"img\" aria-label=\"timeline of the operations\">"
    );
    // Lanes.
    for (lane, rows) in rows_end.iter().enumerate() {
        let y = TOP + lane_top[lane] as f64 * ROW_H;
        let h = rows.len().max(1) as f64 * ROW_H;
        if lane % 2 == 1 {
            let _ = writeln!(out, "<rect class=\"lane\" x=\"0\" y=\"{y:.0}\" width=\"{width:.0}\" height=\"{h:.0}\"/>");
        }
        let _ = writeln!(
            out,
            "<text class=\"pl\" x=\"6\" y=\"{:.0}\">p{}</text>",
            y + ROW_H / 2.0 + 4.0,
            procs[lane]
        );
    }
    let _ = writeln!(
        out,
        "<text class=\"ax\" x=\"{LEFT:.0}\" y=\"12\">{}</text>",
        escape(AXIS)
    );
    // Where the blocked operation returned: nothing invoked later matters.
    if let Some(ret) = x.ops[x.blocked].ret {
        let bx = px(rank(ret) as f64);
        let _ = writeln!(
            out,
            "<line class=\"bl\" x1=\"{bx:.0}\" y1=\"{:.0}\" x2=\"{bx:.0}\" y2=\"{height:.0}\"/>\
             <text class=\"blt\" x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"end\">blocked operation returns</text>",
            TOP - 12.0,
            bx - 3.0,
            TOP - 4.0
        );
    }
    // The prefix: linearization points in order, joined by a line drawn
    // behind the bars, with a dot on each bar's lower edge.
    let mut drawn = vec![false; x.ops.len()];
    for &i in shown {
        drawn[i] = true;
    }
    let steps: Vec<usize> = x.linearized.iter().map(|s| s.op).collect();
    let points = linearization_points(&steps, |op| {
        let o = x.ops.get(op)?;
        drawn[op].then(|| (rank(o.call), o.ret.map(rank)))
    });
    if points.len() > 1 {
        out.push_str("<polyline class=\"lp\" points=\"");
        for (n, &(_, op, r)) in points.iter().enumerate() {
            let _ = write!(
                out,
                "{}{:.0},{:.0}",
                if n > 0 { " " } else { "" },
                px(r),
                y_of(op) + (ROW_H + BAR_H) / 2.0
            );
        }
        out.push_str("\"/>\n");
    }
    // Bars.
    for b in &bars {
        let op = &x.ops[b.op];
        let role = roles[b.op];
        let x0 = px(b.call as f64) + 1.0;
        let x1 = px(b.ret as f64) - if op.ret.is_some() { 1.0 } else { 0.0 };
        let w = (x1 - x0).max(2.0);
        let y = y_of(b.op) + (ROW_H - BAR_H) / 2.0;
        let class = match role {
            Role::Step(_) => "lin",
            Role::Blocked => "blk",
            Role::Candidate(_) => "cand",
            Role::Other => "oth",
        };
        let open = if op.ret.is_none() { " open" } else { "" };
        let fits = ((w - 8.0) / CHAR_W).floor().max(0.0) as usize;
        let label = if b.label.chars().count() <= fits {
            escape(&b.label)
        } else if fits >= 3 {
            e(&b.label, fits - 1)
        } else {
            String::new()
        };
        let _ = write!(
            out,
            "<g class=\"op {class}{open}\" data-ref=\"e{xi}o{}\"><title>{}</title>\
             <rect x=\"{x0:.0}\" y=\"{y:.0}\" width=\"{w:.0}\" height=\"{BAR_H}\" rx=\"3\"/>",
            b.op,
            escape(&tooltip(x, role, op))
        );
        if !label.is_empty() {
            let _ = write!(
                out,
                "<text x=\"{:.0}\" y=\"{:.0}\">{label}</text>",
                x0 + 4.0,
                y + BAR_H - 5.0
            );
        }
        out.push_str("</g>\n");
    }
    for &(k, op, r) in &points {
        let o = &x.ops[op];
        let _ = writeln!(
            out,
            "<circle class=\"lpd\" data-ref=\"e{xi}o{op}\" cx=\"{:.0}\" cy=\"{:.0}\" r=\"3.5\"><title>#{} p{} {}</title></circle>",
            px(r),
            y_of(op) + (ROW_H + BAR_H) / 2.0,
            k + 1,
            o.process,
            e(&o.description, CLIP_TIP)
        );
    }
    out.push_str("</svg></div>\n");
}

fn op_cells(out: &mut String, op: &ExplainedOp) {
    let _ = write!(
        out,
        "<td>p{}</td><td class=\"mono\">{}</td><td>{}</td><td class=\"muted\">{}</td>",
        op.process,
        e(&op.description, CLIP),
        op.outcome,
        at(op)
    );
}

fn step_rows(out: &mut String, xi: usize, x: &Explanation, range: std::ops::Range<usize>) {
    for k in range {
        let s = &x.linearized[k];
        let Some(op) = x.ops.get(s.op) else { continue };
        let _ = write!(
            out,
            "<tr data-ref=\"e{xi}o{}\"><td class=\"num\">{}</td>",
            s.op,
            k + 1
        );
        op_cells(out, op);
        let _ = writeln!(out, "<td class=\"mono\">{}</td></tr>", e(&s.state, CLIP));
    }
}

const STEP_HEAD: &str =
    "<thead><tr><th class=\"num\">#</th><th>process</th><th>operation</th><th>outcome</th>\
                         <th>at</th><th>state after</th></tr></thead>";

fn explanation(out: &mut String, pi: usize, xi: usize, x: &Explanation, draw: bool) {
    let title = match &x.key {
        Some(k) => format!("Key {}: not linearizable", e(k, CLIP)),
        None => "Not linearizable".to_string(),
    };
    let _ = writeln!(
        out,
        "<section class=\"expl\" id=\"x{pi}\">\n<h2>{title}</h2>"
    );
    let Some(blocked) = x.ops.get(x.blocked) else {
        let _ = writeln!(out, "<pre>{}</pre>\n</section>", escape(&x.to_string()));
        return;
    };
    let n = x.linearized.len();
    let _ = writeln!(
        out,
        "<p class=\"summary\">{} in this partition (model <code>{}</code>). The longest linearizable prefix has {}, \
         from the initial state <code>{}</code>. Then <b class=\"mono\">{}</b>, which must take effect before \
         it returns, cannot happen in state <code>{}</code>. The search tried every order; none gets further.</p>",
        plural(x.ops.len(), "operation", "operations"),
        escape(x.model),
        plural(n, "operation", "operations"),
        e(&x.initial_state, CLIP),
        escape(&name(blocked)),
        e(&x.state, CLIP)
    );
    if !draw {
        let _ = writeln!(
            out,
            "<p class=\"muted\">Only the first {MAX_DIAGRAMS} failing partitions are drawn; this is the text form.</p>\
             <pre>{}</pre>\n</section>",
            escape(&x.to_string())
        );
        return;
    }
    let roles = roles(x);
    let (shown, windowed) = window(x);
    out.push_str(LEGEND);
    if windowed {
        let drawn_steps: Vec<usize> = (0..n)
            .filter(|&k| shown.binary_search(&x.linearized[k].op).is_ok())
            .collect();
        let steps = match (drawn_steps.first(), drawn_steps.last()) {
            (Some(a), Some(b)) => format!(
                " It includes steps #{}–#{} of the prefix; the tables below list",
                a + 1,
                b + 1
            ),
            _ => " The tables below list".to_string(),
        };
        let _ = writeln!(
            out,
            "<p class=\"note\">This partition has {} operations, so the diagram shows only the {} around the failure: \
             those whose interval overlaps the span from the invocation of the earliest of the last {WINDOW_STEPS} \
             linearized operations to the return of the blocked operation.{steps} the rest.</p>",
            num(x.ops.len() as u64),
            num(shown.len() as u64)
        );
    } else if shown.len() < x.ops.len() {
        let _ = writeln!(
            out,
            "<p class=\"note\">{} invoked after the blocked operation returned {} not drawn (only the first {TAIL} are): \
             no linearization of the prefix reaches them.</p>",
            plural(x.ops.len() - shown.len(), "more operation", "more operations"),
            if x.ops.len() - shown.len() == 1 { "is" } else { "are" }
        );
    }
    svg(out, xi, x, &shown, &roles);

    // The prefix.
    let _ = writeln!(
        out,
        "<h3>Longest linearizable prefix ({})</h3>",
        plural(n, "step", "steps")
    );
    let visible = n.saturating_sub(VISIBLE_STEPS);
    if visible > 0 {
        let earlier = visible.saturating_sub(MAX_EARLIER_STEPS);
        let _ = writeln!(
            out,
            "<details><summary>{} earlier</summary><table class=\"steps\">{STEP_HEAD}<tbody>",
            plural(visible, "step", "steps")
        );
        if earlier > 0 {
            let _ = writeln!(
                out,
                "<tr><td colspan=\"6\" class=\"muted\">… {} before these are not listed</td></tr>",
                plural(earlier, "step", "steps")
            );
        } else {
            let _ = writeln!(
                out,
                "<tr><td class=\"num\">0</td><td colspan=\"4\" class=\"muted\">initial state</td><td class=\"mono\">{}</td></tr>",
                e(&x.initial_state, CLIP)
            );
        }
        step_rows(out, xi, x, earlier..visible);
        out.push_str("</tbody></table></details>\n");
    }
    let _ = writeln!(out, "<table class=\"steps\">{STEP_HEAD}<tbody>");
    if visible == 0 {
        let _ = writeln!(
            out,
            "<tr><td class=\"num\">0</td><td colspan=\"4\" class=\"muted\">initial state</td><td class=\"mono\">{}</td></tr>",
            e(&x.initial_state, CLIP)
        );
    }
    step_rows(out, xi, x, visible..n);
    out.push_str("</tbody></table>\n");

    // The blocked operation.
    let _ = writeln!(
        out,
        "<h3>Blocked operation</h3>\n<p class=\"blocked\" data-ref=\"e{xi}o{}\"><b class=\"mono\">{}</b> \
         cannot be linearized in state <code>{}</code> (the state after the prefix).</p>",
        x.blocked,
        escape(&name(blocked)),
        e(&x.state, CLIP_LONG)
    );

    // What else could have gone next.
    candidates(out, xi, x);
    let _ = writeln!(
        out,
        "<details><summary>Text form</summary><pre>{}</pre></details>\n</section>",
        escape(&x.to_string())
    );
}

/// The operations pending when the search got stuck, and what the model
/// says about running each next.
fn candidates(out: &mut String, xi: usize, x: &Explanation) {
    if x.candidates.is_empty() {
        out.push_str(
            "<h3>Operations pending at that point</h3>\n<p>None: every operation invoked before the blocked one \
             returned is in the prefix.</p>\n",
        );
        return;
    }
    let _ = writeln!(
        out,
        "<h3>Operations pending at that point ({})</h3>\n<table class=\"cands\"><thead><tr><th>process</th>\
         <th>operation</th><th>outcome</th><th>at</th><th>what the model says</th></tr></thead><tbody>",
        num(x.candidates.len() as u64)
    );
    // The blocked operation first, should it be listed.
    let mut order: Vec<usize> = (0..x.candidates.len()).collect();
    order.sort_by_key(|&c| x.candidates[c].op != x.blocked);
    for &c in order.iter().take(MAX_CANDIDATE_ROWS) {
        let cand = &x.candidates[c];
        let Some(op) = x.ops.get(cand.op) else {
            continue;
        };
        let is_blocked = cand.op == x.blocked;
        let class = if is_blocked { "blk" } else { "cand" };
        let _ = write!(out, "<tr class=\"{class}\" data-ref=\"e{xi}o{}\">", cand.op);
        op_cells(out, op);
        let says = match &cand.leads_to {
            None => format!("cannot happen in state <code>{}</code>", e(&x.state, CLIP)),
            Some(s) => format!(
                "could go next (⇒ <code>{}</code>), but no linearization continues from there",
                e(s, CLIP)
            ),
        };
        let _ = writeln!(
            out,
            "<td>{}{says}</td></tr>",
            if is_blocked { "<b>blocked:</b> " } else { "" }
        );
    }
    if order.len() > MAX_CANDIDATE_ROWS {
        let _ = writeln!(
            out,
            "<tr><td colspan=\"5\" class=\"muted\">… and {} more</td></tr>",
            plural(order.len() - MAX_CANDIDATE_ROWS, "operation", "operations")
        );
    }
    out.push_str("</tbody></table>\n");
}

const LEGEND: &str = "<p class=\"legend\"><span class=\"sw lin\"></span>linearized (numbered in order; dots and line: \
linearization points)<span class=\"sw blk\"></span>blocked<span class=\"sw cand\"></span>pending at the failure\
<span class=\"sw oth\"></span>not reached<span class=\"sw open\"></span>indeterminate (info / pending: may take \
effect any time after its invocation, or never). Hover a bar for details.</p>\n";

const CSS: &str = r#"
:root{--ok:#1a7f37;--bad:#cf222e;--unk:#9a6700;--fg:#1f2328;--muted:#656d76;--line:#d0d7de}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--fg);margin:0 auto;max-width:1280px;padding:16px 24px}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
code{background:#f6f8fa;padding:0 3px;border-radius:3px}
pre{background:#f6f8fa;padding:8px;overflow-x:auto}
h1{font-size:22px;margin:0 0 8px}h2{font-size:18px;margin:28px 0 6px;border-bottom:1px solid var(--line);padding-bottom:4px}h3{font-size:15px;margin:16px 0 4px}
.badge,.pill{display:inline-block;border-radius:12px;font-weight:600}
.badge{padding:2px 12px;color:#fff;font-size:15px;margin-right:6px}
.badge.valid{background:var(--ok)}.badge.invalid{background:var(--bad)}.badge.unknown{background:var(--unk)}
.pill{padding:0 8px;font-size:12px;border:1px solid}
.pill.valid{color:var(--ok)}.pill.invalid{color:#fff;background:var(--bad);border-color:var(--bad)}.pill.unknown{color:var(--unk)}.pill.skipped{color:var(--muted)}
.crashed{border:2px solid var(--bad);border-radius:6px;padding:.2em 1em;margin:.5em 0}
dl.meta{display:flex;flex-wrap:wrap;gap:4px 28px;margin:8px 0 0}dt{color:var(--muted);font-size:12px}dd{margin:0;font-weight:600}
table{border-collapse:collapse;margin:6px 0 12px}th,td{padding:3px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{font-size:12px;color:var(--muted);font-weight:600}.num{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:var(--muted)}.note{color:var(--muted);font-size:13px}
tr.blk td{background:#fff0ee}tr.hl td,p.hl{background:#fff3bf}
p.blocked{border-left:4px solid var(--bad);padding:4px 10px;background:#fff0ee}
details summary{cursor:pointer;color:#0969da}
.scroll{overflow-x:auto;border:1px solid var(--line);border-radius:6px}
svg.tl{display:block}svg.tl text{font:11px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
svg.tl .lane{fill:#f6f8fa}svg.tl .pl{fill:var(--muted);font-weight:600}svg.tl .ax{fill:var(--muted)}
.op rect{stroke-width:1.2}.op text{fill:#1f2328;pointer-events:none}
.lin rect,.sw.lin{fill:#ddf4ff;background:#ddf4ff;stroke:#0969da;border-color:#0969da}
.blk rect,.sw.blk{fill:#ffd8d3;background:#ffd8d3;stroke:#cf222e;border-color:#cf222e}.blk rect{stroke-width:2.5}
.cand rect,.sw.cand{fill:#ffe7c2;background:#ffe7c2;stroke:#d4760a;border-color:#d4760a}
.oth rect,.sw.oth{fill:#eef0f2;background:#eef0f2;stroke:#8c959f;border-color:#8c959f}
.open rect{stroke-dasharray:5 3;fill-opacity:.45}.sw.open{border-style:dashed;border-color:#8c959f}
.op.hl rect{stroke:#000;stroke-width:3}
.lp{fill:none;stroke:#0969da;stroke-width:1.5;stroke-opacity:.6;pointer-events:none}
.lpd{fill:#0969da;stroke:#fff;stroke-width:1}.lpd.hl{fill:#000}
.bl{stroke:#cf222e;stroke-dasharray:4 3}.blt{fill:#cf222e}
.legend{font-size:13px}.sw{display:inline-block;width:16px;height:10px;border:1.5px solid;vertical-align:middle;margin:0 4px 0 14px}.sw:first-child{margin-left:0}
"#;

const JS: &str = "(function(){function f(e,on){var t=e.target.closest&&e.target.closest('[data-ref]');if(!t)return;\
document.querySelectorAll('[data-ref=\"'+t.getAttribute('data-ref')+'\"]').forEach(function(n){n.classList.toggle('hl',on)})}\
document.addEventListener('mouseover',function(e){f(e,true)});document.addEventListener('mouseout',function(e){f(e,false)});\
document.querySelectorAll('.scroll').forEach(function(d){var b=d.querySelector('.bl');\
if(b&&d.scrollWidth>d.clientWidth)d.scrollLeft=Math.max(0,b.x1.baseVal.value-d.clientWidth*0.7)})})();";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_handles_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(escape("read → 1"), "read → 1");
    }

    #[test]
    fn clip_counts_characters() {
        assert_eq!(clip("→→→→", 2), "→→…");
        assert_eq!(clip("abc", 3), "abc");
    }

    #[test]
    fn num_groups_thousands() {
        assert_eq!(num(0), "0");
        assert_eq!(num(999), "999");
        assert_eq!(num(1000), "1,000");
        assert_eq!(num(1234567), "1,234,567");
    }

    /// Points increase strictly and each lies inside its operation's interval.
    #[test]
    fn linearization_points_are_ordered_and_inside_intervals() {
        // (call, ret) ranks; steps in a valid linearization order.
        let spans: Vec<(usize, Option<usize>)> = vec![
            (1, Some(6)),
            (2, Some(3)),
            (4, Some(9)),
            (5, None),
            (7, Some(8)),
            (10, Some(11)),
        ];
        let steps = [1, 0, 3, 2, 4, 5];
        let points = linearization_points(&steps, |op| Some(spans[op]));
        assert_eq!(points.len(), steps.len());
        let mut last = f64::NEG_INFINITY;
        for (k, (step, op, x)) in points.iter().enumerate() {
            assert_eq!(*step, k);
            assert_eq!(*op, steps[k]);
            let (c, r) = spans[*op];
            assert!(
                *x > c as f64 && !matches!(r, Some(r) if *x >= r as f64),
                "point {x} outside {c}..{r:?}"
            );
            assert!(*x > last);
            last = *x;
        }
    }

    #[test]
    fn linearization_points_skip_undrawn_operations() {
        let spans = [Some((1, Some(2))), None, Some((3, Some(4)))];
        let points = linearization_points(&[0, 1, 2], |op| spans[op]);
        assert_eq!(
            points.iter().map(|p| (p.0, p.1)).collect::<Vec<_>>(),
            vec![(0, 0), (2, 2)]
        );
    }
}
