//! `checker compare`: a matrix of runs (targets × consistency × nemesis)
//! and one summary table, in Markdown and HTML.

use super::run::{print_run, runtime_with_stop, writable, Common};
use super::EXIT_BAD_INPUT;
use checker::report::html::escape;
use checker::run::output::Summary;
use checker::run::spec::{execute, Spec};
use consistency::Verdict;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn after_help() -> String {
    format!(
        "Examples:
  checker compare                                   # register on sim, strong vs eventual, under partitions
  checker compare --consistency strong,eventual --nemesis partition,none,clock --time-limit 15
  checker compare --workload set --nemesis partition,kill
  checker cluster up all && checker compare --targets sim,etcd,etcd-serializable,postgres --nemesis partition,kill

{}
One cell per (target, consistency, nemesis); `a+b` in --nemesis injects both kinds in one cell.
Writes results/compare-<time>/summary.md and summary.html, with each run's folder beside them.",
        checker::catalog::runs_text()
    )
}

#[derive(clap::Args)]
#[command(after_help = after_help())]
pub struct Args {
    /// Workload (see the list below).
    #[arg(long, short, default_value = "register")]
    workload: String,
    /// Targets, comma-separated (see the list below).
    #[arg(long, default_value = "sim")]
    targets: String,
    /// Consistency modes, comma-separated.
    #[arg(long, short, default_value = "strong,eventual")]
    consistency: String,
    /// Nemesis cells, comma-separated; `+` combines kinds in one cell (`partition+clock`);
    /// `default`: each target's own (partition, or what it can take).
    #[arg(long, short, default_value = super::run::DEFAULT_NEMESIS)]
    nemesis: String,
    #[command(flatten)]
    common: Common,
}

/// One cell of the matrix.
pub struct Cell {
    /// Its spec.
    pub spec: Spec,
    /// Its figures, once run.
    pub summary: Summary,
    /// Whether one of its tasks panicked (the matrix stopped there).
    pub crashed: bool,
}

fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The specs of the matrix, validated.
pub fn specs(
    workload: &str,
    targets: &str,
    modes: &str,
    nemeses: &str,
    common: &Common,
) -> Result<Vec<Spec>, String> {
    let mut specs = Vec::new();
    for target in list(targets) {
        let modes = list(modes);
        // A real target has the consistency it has: one cell per nemesis.
        let modes = if targets::target(&target).is_some_and(|(system, _)| system.is_real()) {
            &modes[..modes.len().min(1)]
        } else {
            &modes[..]
        };
        for mode in modes {
            for nemesis in list(nemeses) {
                specs.push(common.spec(workload, &target, mode, &nemesis.replace('+', ","))?);
            }
        }
    }
    if specs.is_empty() {
        return Err(
            "the matrix is empty: give at least one target, consistency and nemesis".into(),
        );
    }
    Ok(specs)
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let specs = match specs(
        &args.workload,
        &args.targets,
        &args.consistency,
        &args.nemesis,
        &args.common,
    ) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(EXIT_BAD_INPUT);
        }
    };
    let dir = args.common.out.clone().unwrap_or_else(|| {
        PathBuf::from("results").join(format!("compare-{}", checker::timestamp::now_compact()))
    });
    if let Err(e) = writable(&dir) {
        eprintln!("error: {e}");
        return Ok(EXIT_BAD_INPUT);
    }
    let cells = matrix(specs, &dir)?;
    if args.common.out.is_none() {
        super::demo::link_latest(&dir);
    }
    println!("\n{}", table_text(&cells));
    println!("summary: {}", dir.join("summary.html").display());
    if cells.iter().any(|c| c.crashed) {
        return Ok(super::EXIT_INTERNAL);
    }
    Ok(cells
        .iter()
        .map(|c| c.summary.verdict.clone())
        .reduce(Verdict::and)
        .map_or(0, |v| v.exit_code()))
}

/// Runs every spec into `dir/<n>-<name>-<nemesis>/` and writes the summaries.
pub fn matrix(specs: Vec<Spec>, dir: &Path) -> anyhow::Result<Vec<Cell>> {
    let (rt, stop) = runtime_with_stop()?;
    let mut cells = Vec::with_capacity(specs.len());
    let total = specs.len();
    for (i, spec) in specs.into_iter().enumerate() {
        if stop.is_stopped() {
            break;
        }
        let cell_dir = dir.join(format!(
            "{:02}-{}-{}",
            i + 1,
            spec.name(),
            spec.nemesis_name().replace(',', "+")
        ));
        eprintln!(
            "[{}/{total}] {} on {}, nemesis {}, {:.0} s",
            i + 1,
            spec.workload.name,
            spec.title(),
            spec.nemesis_name(),
            spec.run.time_limit.as_secs_f64()
        );
        // A cell that cannot run (a cluster that is down, a setup that
        // fails) is reported in the table; the rest of the matrix runs.
        let mut crashed = false;
        let summary = match rt.block_on(execute(&spec, &cell_dir, stop.clone())) {
            Ok(executed) => {
                print_run(&executed);
                if !executed.crashed.is_empty() {
                    // Prints which task panicked; the matrix stops here.
                    super::run::exit_code(&executed);
                    crashed = true;
                }
                executed.summary
            }
            Err(e) => {
                eprintln!("  error: {e:#}");
                Summary {
                    verdict: Verdict::Unknown(consistency::Unknown::Error),
                    anomalies: vec![format!("did not run: {e}")],
                    stale_reads: None,
                    lost_writes: None,
                    convergence_ms: None,
                    p50_ms: 0.0,
                    p99_ms: 0.0,
                    ops_per_s: 0.0,
                    report: cell_dir.join("report.html"),
                }
            }
        };
        cells.push(Cell {
            spec,
            summary,
            crashed,
        });
        if crashed {
            break;
        }
    }
    std::fs::write(dir.join("summary.md"), table_markdown(&cells, dir))?;
    std::fs::write(dir.join("summary.html"), table_html(&cells, dir))?;
    Ok(cells)
}

const HEADER: [&str; 11] = [
    "target",
    "consistency",
    "nemesis",
    "verdict",
    "anomalies",
    "stale reads",
    "lost writes",
    "convergence",
    "p50",
    "p99",
    "ops/s",
];

fn row(c: &Cell) -> [String; 11] {
    let s = &c.summary;
    let opt = |v: Option<u64>| v.map_or_else(|| "–".to_string(), |n| n.to_string());
    [
        c.spec.target.name.to_string(),
        if c.spec.system.is_real() {
            "(its own)".into()
        } else {
            c.spec.consistency.clone()
        },
        c.spec.nemesis_name(),
        match s.verdict {
            Verdict::Valid => "valid".into(),
            Verdict::Invalid => "INVALID".into(),
            Verdict::Unknown(_) => "unknown".into(),
        },
        if s.anomalies.is_empty() {
            "–".into()
        } else {
            s.anomalies.join("; ")
        },
        opt(s.stale_reads),
        opt(s.lost_writes),
        s.convergence_ms
            .map_or_else(|| "–".to_string(), |ms| format!("{ms:.0} ms")),
        format!("{:.1} ms", s.p50_ms),
        format!("{:.1} ms", s.p99_ms),
        format!("{:.0}", s.ops_per_s),
    ]
}

/// The table as aligned text, for the terminal.
pub fn table_text(cells: &[Cell]) -> String {
    let rows: Vec<[String; 11]> = cells.iter().map(row).collect();
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .chain([HEADER[i].len()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..HEADER.len()).map(width).collect();
    let mut out = String::new();
    let line = |out: &mut String, cols: &[String]| {
        for (i, c) in cols.iter().enumerate() {
            let _ = write!(out, "{:<w$}  ", c, w = widths[i]);
        }
        out.push('\n');
    };
    line(&mut out, &HEADER.map(String::from));
    for r in &rows {
        line(&mut out, r);
    }
    out
}

fn relative(path: &Path, dir: &Path) -> String {
    path.strip_prefix(dir).unwrap_or(path).display().to_string()
}

fn table_markdown(cells: &[Cell], dir: &Path) -> String {
    let mut out = String::from("# Comparison\n\n");
    let _ = writeln!(out, "| {} | report |", HEADER.join(" | "));
    let _ = writeln!(out, "|{}---|", "---|".repeat(HEADER.len()));
    for c in cells {
        let _ = writeln!(
            out,
            "| {} | [report]({}) |",
            row(c).join(" | "),
            relative(&c.summary.report, dir)
        );
    }
    out
}

fn table_html(cells: &[Cell], dir: &Path) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Comparison</title><style>\
         body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}\
         td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}.bad{background:#fdd}.ok{background:#dfd}\
         </style></head><body><h1>Comparison</h1><table><tr>",
    );
    for h in HEADER {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("<th>report</th></tr>\n");
    for c in cells {
        let class = if c.summary.verdict == Verdict::Valid {
            "ok"
        } else {
            "bad"
        };
        let _ = write!(out, "<tr class=\"{class}\">");
        for cell in row(c) {
            let _ = write!(out, "<td>{}</td>", escape(&cell));
        }
        let _ = writeln!(
            out,
            "<td><a href=\"{}\">report</a></td></tr>",
            escape(&relative(&c.summary.report, dir))
        );
    }
    out.push_str("</table></body></html>\n");
    out
}
