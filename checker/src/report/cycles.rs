//! Transactional anomalies in the report: each cycle drawn (transactions as nodes around a
//! circle, each dependency an arrow labelled with its kind) beside Elle's explanation.

use super::html::escape;
use consistency::txn::{Analysis, Explained};
use std::fmt::Write;

/// How many cycles a section draws; the rest are in `results.json` and `elle/`.
const DRAWN: usize = 6;

/// The colour of a dependency kind.
fn colour(step: &str) -> &'static str {
    match step {
        "ww" => "#1f77b4",
        "wr" => "#2ca02c",
        "rw" => "#d62728",
        "process" => "#9467bd",
        _ => "#7f7f7f",
    }
}

/// One cycle as an SVG: T1 … Tn on a circle, arrows from each to the next. `id` tells its
/// arrowhead apart from other drawings' on the same page.
pub fn svg(cycle: &Explained, id: usize) -> String {
    let n = cycle.ops.len().max(1);
    let (size, radius) = (300.0_f64, 105.0_f64);
    let centre = size / 2.0;
    let at = |i: usize| {
        let angle = std::f64::consts::TAU * i as f64 / n as f64 - std::f64::consts::FRAC_PI_2;
        (centre + radius * angle.cos(), centre + radius * angle.sin())
    };
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{size}\" height=\"{size}\" \
         viewBox=\"0 0 {size} {size}\" role=\"img\" aria-label=\"{} cycle\">\
         <defs><marker id=\"head{id}\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" \
         markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\"/></marker></defs>",
        escape(&cycle.anomaly)
    );
    let node = 22.0;
    for (i, step) in cycle.steps.iter().enumerate() {
        let ((x1, y1), (x2, y2)) = (at(i), at((i + 1) % n));
        let (dx, dy) = (x2 - x1, y2 - y1);
        let length = (dx * dx + dy * dy).sqrt().max(1.0);
        let (ux, uy) = (dx / length, dy / length);
        // From the edge of one node's circle to the edge of the next.
        let (sx, sy, ex, ey) = (
            x1 + ux * node,
            y1 + uy * node,
            x2 - ux * node,
            y2 - uy * node,
        );
        let (mx, my) = ((sx + ex) / 2.0 - uy * 12.0, (sy + ey) / 2.0 + ux * 12.0);
        let _ = write!(
            svg,
            "<line x1=\"{sx:.1}\" y1=\"{sy:.1}\" x2=\"{ex:.1}\" y2=\"{ey:.1}\" stroke=\"{c}\" \
             stroke-width=\"2\" marker-end=\"url(#head{id})\"/>\
             <text x=\"{mx:.1}\" y=\"{my:.1}\" fill=\"{c}\" font-size=\"12\" text-anchor=\"middle\">{}</text>",
            escape(step),
            c = colour(step)
        );
    }
    for (i, index) in cycle.ops.iter().enumerate() {
        let (x, y) = at(i);
        let _ = write!(
            svg,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{node}\" fill=\"#fff\" stroke=\"#333\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"middle\">T{}</text>\
             <text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"9\" text-anchor=\"middle\">:index {index}</text>",
            y - 2.0,
            i + 1,
            y + 10.0
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The section's body: each drawn cycle with its explanation, then how many more there are.
pub fn fragment(analysis: &Analysis) -> String {
    let mut html = String::new();
    for (i, cycle) in analysis.explanations.iter().take(DRAWN).enumerate() {
        let _ = write!(
            html,
            "<h4>{}</h4><div style=\"display:flex;gap:1em;align-items:flex-start\">{}<pre>{}</pre></div>",
            escape(&cycle.anomaly),
            svg(cycle, i),
            escape(&cycle.text)
        );
    }
    if analysis.explanations.len() > DRAWN {
        let _ = write!(
            html,
            "<p>{} more cycles in results.json.</p>",
            analysis.explanations.len() - DRAWN
        );
    }
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cycle_draws_a_node_per_transaction_and_a_labelled_arrow_per_step() {
        let cycle = Explained {
            anomaly: "G2-item".into(),
            text: "Let: …".into(),
            ops: vec![2, 3, 7],
            steps: vec!["rw", "rw", "wr"],
        };
        let svg = svg(&cycle, 4);
        assert!(svg.contains("url(#head4)"));
        assert_eq!(svg.matches("<circle").count(), 3);
        assert_eq!(svg.matches("<line").count(), 3);
        assert_eq!(svg.matches(">rw</text>").count(), 2);
        assert!(svg.contains(":index 7"));
        assert!(svg.contains(colour("wr")));
    }
}
