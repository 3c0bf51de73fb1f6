//! Dashboard panels drawn from Prometheus's data for a run's window, the faults shaded: what a
//! Grafana user would see on the overview dashboard, for a reader without Grafana.

use super::html::escape;
use super::plots::{linear_ticks, tick_label, STYLE};
use crate::load::observed::PanelData;
use std::fmt::Write as _;

const W: f64 = 470.0;
const H: f64 = 230.0;
const LEFT: f64 = 58.0;
const RIGHT: f64 = W - 12.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 160.0;
const LEGEND_Y: f64 = 192.0;
/// Legend entries past this many are summarised.
const MAX_LEGEND: usize = 6;
const COLOURS: [&str; 8] = [
    "#3d7fe0", "#e0266e", "#f08c00", "#1b7c83", "#8250df", "#116329", "#bc4c00", "#57606a",
];

/// A fault on the panels' time axis: seconds since the window's start, and its kind (for its
/// colour) and label.
#[derive(Debug, Clone)]
pub struct Shade {
    /// Its start.
    pub start: f64,
    /// Its end.
    pub end: f64,
    /// `partition`, `kill`, … (a class of the plots' style).
    pub kind: &'static str,
    /// What it was.
    pub label: String,
}

/// One panel as an SVG document: its series over `[0, span]` seconds, the shades behind them.
pub fn panel_svg(panel: &PanelData, span: f64, shades: &[Shade]) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot panel\" viewBox=\"0 0 {W} {H}\" \
         width=\"{W}\" height=\"{H}\" role=\"img\"><title>{t}</title><style>{STYLE}</style>\
         <rect width=\"{W}\" height=\"{H}\" fill=\"#fff\"/><text class=\"ttl\" x=\"{LEFT}\" y=\"18\">{t}</text>",
        t = escape(&panel.title)
    );
    let span = span.max(1.0);
    let x = |s: f64| LEFT + (s / span).clamp(0.0, 1.0) * (RIGHT - LEFT);
    for shade in shades {
        let (a, b) = (x(shade.start), x(shade.end));
        let _ = write!(
            out,
            "<rect class=\"fault {}\" x=\"{a:.1}\" y=\"{TOP}\" width=\"{:.1}\" height=\"{:.1}\"><title>{}</title></rect>",
            shade.kind,
            (b - a).max(1.5),
            BOTTOM - TOP,
            escape(&shade.label)
        );
    }
    let top = panel
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|&(_, v)| v))
        .fold(0.0_f64, f64::max);
    if panel.series.is_empty() {
        let _ = write!(
            out,
            "<text class=\"cap\" x=\"{LEFT}\" y=\"{:.1}\">no data in this window</text></svg>",
            (TOP + BOTTOM) / 2.0
        );
        return out;
    }
    let hi = if top > 0.0 { top * 1.05 } else { 1.0 };
    let (ticks, step) = linear_ticks(hi, 4);
    let hi = ticks.last().copied().filter(|&t| t >= top).unwrap_or(hi);
    let y = |v: f64| BOTTOM - (v / hi).clamp(0.0, 1.0) * (BOTTOM - TOP);
    for t in &ticks {
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{LEFT}\" y1=\"{yy:.1}\" x2=\"{RIGHT}\" y2=\"{yy:.1}\"/>\
             <text class=\"ax\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LEFT - 4.0,
            y(*t) + 4.0,
            escape(&value_label(*t, step, &panel.unit)),
            yy = y(*t)
        );
    }
    let (time_ticks, time_step) = linear_ticks(span, 6);
    for t in time_ticks {
        let _ = write!(
            out,
            "<text class=\"ax\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            x(t),
            BOTTOM + 14.0,
            tick_label(t, time_step)
        );
    }
    let _ = write!(
        out,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{BOTTOM}\" x2=\"{RIGHT}\" y2=\"{BOTTOM}\"/>\
         <text class=\"cap\" x=\"{RIGHT}\" y=\"{:.1}\" text-anchor=\"end\">seconds since the load began</text>",
        BOTTOM + 26.0
    );
    for (i, series) in panel.series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let path: Vec<String> = series
            .points
            .iter()
            .map(|&(t, v)| format!("{:.1},{:.1}", x(t), y(v)))
            .collect();
        let _ = write!(
            out,
            "<polyline class=\"rl\" stroke=\"{colour}\" points=\"{}\"><title>{}</title></polyline>",
            path.join(" "),
            escape(&series.legend)
        );
    }
    legend(&mut out, panel);
    out.push_str("</svg>");
    out
}

fn legend(out: &mut String, panel: &PanelData) {
    let mut at = LEFT;
    let mut row = 0.0;
    for (i, series) in panel.series.iter().take(MAX_LEGEND).enumerate() {
        let text = super::html::clip(&series.legend, 28);
        let width = 18.0 + text.chars().count() as f64 * 6.2;
        if at + width > RIGHT && at > LEFT {
            at = LEFT;
            row += 14.0;
        }
        let _ = write!(
            out,
            "<rect x=\"{at:.1}\" y=\"{:.1}\" width=\"10\" height=\"3\" fill=\"{}\"/>\
             <text class=\"ax\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            LEGEND_Y + row - 4.0,
            COLOURS[i % COLOURS.len()],
            at + 14.0,
            LEGEND_Y + row,
            escape(&text)
        );
        at += width + 10.0;
    }
    if panel.series.len() > MAX_LEGEND {
        let _ = write!(
            out,
            "<text class=\"cap\" x=\"{LEFT}\" y=\"{:.1}\">and {} more</text>",
            LEGEND_Y + row + 14.0,
            panel.series.len() - MAX_LEGEND
        );
    }
}

/// A value in Grafana's unit: `percentunit` as %, `s` as ms below a second, `bytes` in MiB.
fn value_label(v: f64, step: f64, unit: &str) -> String {
    match unit {
        "percentunit" => format!("{} %", tick_label(v * 100.0, step * 100.0)),
        "s" if step < 1.0 => format!("{} ms", tick_label(v * 1e3, step * 1e3)),
        "s" => format!("{} s", tick_label(v, step)),
        "bytes" => format!(
            "{} MiB",
            tick_label(v / 1048576.0, (step / 1048576.0).max(1e-3))
        ),
        "reqps" => format!("{}/s", tick_label(v, step)),
        _ => tick_label(v, step),
    }
}

#[cfg(test)]
mod tests {
    use super::{panel_svg, value_label, Shade};
    use crate::load::observed::{PanelData, SeriesData};

    #[test]
    fn a_panel_draws_each_series_and_each_fault() {
        let panel = PanelData {
            title: "Request rate <api>".into(),
            unit: "reqps".into(),
            series: vec![
                SeriesData {
                    legend: "api".into(),
                    points: vec![(0.0, 10.0), (5.0, 40.0), (10.0, 30.0)],
                },
                SeriesData {
                    legend: "worker".into(),
                    points: vec![(0.0, 1.0), (10.0, 2.0)],
                },
            ],
        };
        let shade = Shade {
            start: 2.0,
            end: 6.0,
            kind: "kill",
            label: "kill n1".into(),
        };
        let svg = panel_svg(&panel, 10.0, &[shade]);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("class=\"fault kill\"").count(), 1);
        assert!(
            svg.contains("Request rate &lt;api&gt;"),
            "titles are escaped"
        );
        let empty = PanelData {
            series: vec![],
            ..panel
        };
        assert!(panel_svg(&empty, 10.0, &[]).contains("no data"));
    }

    #[test]
    fn values_read_in_their_unit() {
        assert_eq!(value_label(0.5, 0.1, "percentunit"), "50 %");
        assert_eq!(value_label(0.002, 0.001, "s"), "2 ms");
        assert_eq!(value_label(20.0, 10.0, "reqps"), "20/s");
    }
}
