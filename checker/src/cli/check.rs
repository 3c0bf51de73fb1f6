//! `checker check`: verdicts for history files, as elle-cli prints them.

use super::EXIT_BAD_INPUT;
use anyhow::Context;
use consistency::checker::{Checker, Details, Report};
use consistency::linearizable::{Analysis, Options};
use consistency::{results, Verdict};
use history::Format;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(clap::Args)]
#[command(after_help = after_help())]
pub struct Args {
    /// History files (Jepsen EDN, JSON Lines, elle-cli JSON, or Jepsen log lines).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Model or checker (see the lists below).
    #[arg(long, short, default_value = "cas-register")]
    model: String,
    /// Input format: auto, jsonl, json, edn, jepsen-log.
    #[arg(long, default_value = "auto")]
    format: String,
    /// Give up after this many seconds with verdict `unknown`.
    #[arg(long, value_name = "SECS")]
    timeout: Option<f64>,
    /// Give up with `unknown` when the search needs more memory than this (MiB).
    #[arg(long, value_name = "MIB")]
    memory_limit: Option<usize>,
    /// After a partition fails, keep checking the others this many seconds to explain more failures.
    #[arg(long, value_name = "SECS", default_value = "1")]
    grace: f64,
    /// Worker threads; 0 means one per core.
    #[arg(long, default_value = "0")]
    threads: usize,
    /// Write results.json, results.edn and linearizability.html here
    /// (in a subfolder per file when several files are given); for
    /// list-append and rw-register also elle/<anomaly>.txt, each cycle explained.
    #[arg(long, value_name = "DIR", visible_alias = "directory")]
    out: Option<PathBuf>,
    #[command(flatten)]
    elle: super::elle::ElleArgs,
    /// Print only the verdict lines.
    #[arg(long, short)]
    quiet: bool,
    /// Also print each partition's verdict and search statistics.
    #[arg(long, short)]
    verbose: bool,
}

/// The examples and the lists of models and checkers (from the table).
fn after_help() -> String {
    let mut text = String::from(
        "Examples:
  checker check etcd_002.log                       # a Jepsen etcd log, cas-register
  checker check history.edn --model register
  checker check c50-bad.txt --model kv --out out/  # writes results.json, results.edn, linearizability.html
  checker check a.edn b.json --format auto --timeout 60
  checker check bank.edn --model bank              # Jepsen's bank checker, not linearizability
  checker check set.json --model set-full --out out/   # writes results.json, results.edn
  checker check append.edn --model list-append --consistency-models serializable --directory out/
  checker check wr.edn --model rw-register --wfr-keys --linearizable-keys

Prints one line per file, `FILE<TAB>true|false|unknown`, then a summary,
and for a failure the operation that cannot be linearized.
",
    );
    text.push_str(&checker::catalog::checkers_text());
    text.push_str(
        "\nExit codes: 0 valid, 1 invalid, 2 unknown, 254 bad arguments or input, 255 internal error.",
    );
    text
}

/// Validated options shared by `check` and `bench`.
pub struct Setup {
    pub checker: &'static dyn Checker,
    pub format: Format,
    pub options: Options,
}

/// Checks the model name and format, or explains what is allowed.
pub fn setup(model: &str, format: &str) -> Result<Setup, String> {
    let checker = consistency::checker::by_name(model).ok_or_else(|| {
        format!(
            "unknown model `{model}`; choose one of: {}",
            consistency::checker::names()
        )
    })?;
    let format = Format::parse(format).ok_or_else(|| {
        format!("unknown format `{format}`; choose one of: auto, jsonl, json, edn, jepsen-log")
    })?;
    Ok(Setup {
        checker,
        format,
        options: Options::default(),
    })
}

/// Reads a history file, naming the file in any error.
pub fn read(path: &Path, format: Format) -> Result<history::History, String> {
    history::format::read_file(path, format).map_err(|e| match e.line {
        0 => format!("{}: {}", path.display(), e.message),
        _ => format!("{}: {e}", path.display()),
    })
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let mut setup = match setup(&args.model, &args.format) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(EXIT_BAD_INPUT);
        }
    };
    if let Some(t) = args.timeout {
        if !(t > 0.0 && t.is_finite()) {
            eprintln!("error: --timeout must be a positive number of seconds, got {t}");
            return Ok(EXIT_BAD_INPUT);
        }
        setup.options.timeout = Some(Duration::from_secs_f64(t));
    }
    if let Some(mib) = args.memory_limit {
        setup.options.memory_limit = mib << 20;
    }
    if !(args.grace >= 0.0 && args.grace.is_finite()) {
        eprintln!(
            "error: --grace must be zero or a positive number of seconds, got {}",
            args.grace
        );
        return Ok(EXIT_BAD_INPUT);
    }
    setup.options.grace = Duration::from_secs_f64(args.grace);
    setup.options.threads = args.threads;
    let (transactions, plots) = match args
        .elle
        .options()
        .and_then(|o| Ok((o, args.elle.plots()?)))
    {
        Ok(both) => both,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(EXIT_BAD_INPUT);
        }
    };
    setup.options.transactions = transactions;
    let verbose = args.verbose;
    each_file(&args, &setup, |path, history| {
        let report = setup
            .checker
            .check(history, &setup.options)
            .map_err(|e| e.to_string())?;
        let verdict = report.verdict.clone();
        let source = path.to_path_buf();
        Ok(match report.details {
            Details::Linearizable(analysis) => {
                let mut text = summary(&analysis);
                if verbose {
                    text.push_str(&partitions(&analysis));
                }
                Checked {
                    verdict,
                    text,
                    write: Box::new(move |dir| {
                        write_outputs(dir, &source, &analysis)
                            .map(|()| dir.join("linearizability.html"))
                    }),
                }
            }
            Details::Txn(ref analysis) => {
                let mut text = format!("  {}: {}\n", report.checker, report.summary);
                for explained in analysis.explanations.iter().take(3) {
                    text.push_str(&format!("\n  {}:\n", explained.anomaly));
                    for line in explained.text.lines() {
                        text.push_str(&format!("    {line}\n"));
                    }
                }
                Checked {
                    verdict,
                    text,
                    write: Box::new(move |dir| {
                        write_report(dir, &report)?;
                        write_explanations(dir, &report)?;
                        write_plots(dir, &report, plots)?;
                        Ok(dir.join("results.edn"))
                    }),
                }
            }
            _ => Checked {
                verdict,
                text: format!("  {}: {}\n", report.checker, report.summary),
                write: Box::new(move |dir| {
                    write_report(dir, &report).map(|()| dir.join("results.edn"))
                }),
            },
        })
    })
}

/// Writes a check's outputs into a folder; returns the main file written.
type WriteOutputs = Box<dyn FnOnce(&Path) -> anyhow::Result<PathBuf>>;

/// What checking one file gave.
struct Checked {
    verdict: Verdict,
    /// Printed after the verdict line unless `--quiet`.
    text: String,
    /// Writes the outputs into a folder (for `--out`); returns the main file.
    write: WriteOutputs,
}

/// Reads and checks every file: prints `FILE<TAB>verdict` and the text,
/// writes outputs with `--out` (a subfolder per file when there are
/// several), and returns the exit code of the worst verdict, or 254 if any
/// file was bad input.
fn each_file(
    args: &Args,
    setup: &Setup,
    mut check: impl FnMut(&Path, &history::History) -> Result<Checked, String>,
) -> anyhow::Result<u8> {
    let mut overall: Option<Verdict> = None;
    let mut bad_input = false;
    for path in &args.files {
        let checked = read(path, setup.format).and_then(|history| {
            check(path, &history).map_err(|e| format!("{}: {e}", path.display()))
        });
        let checked = match checked {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                bad_input = true;
                continue;
            }
        };
        println!("{}\t{}", path.display(), checked.verdict);
        if !args.quiet {
            print!("{}", checked.text);
        }
        if let Some(out) = &args.out {
            let dir = if args.files.len() > 1 {
                out.join(stem(path))
            } else {
                out.clone()
            };
            let written = (checked.write)(&dir)
                .with_context(|| format!("cannot write results to {}", dir.display()))?;
            if !args.quiet {
                println!("  wrote {}", written.display());
            }
        }
        overall = Some(match overall {
            None => checked.verdict,
            Some(v) => v.and(checked.verdict),
        });
    }
    if bad_input {
        return Ok(EXIT_BAD_INPUT);
    }
    Ok(overall.map_or(0, |v| v.exit_code()))
}

/// elle-cli's `elle/<anomaly>.txt`: every cycle of each anomaly, explained.
/// Each explained cycle drawn to `elle/<anomaly>/<n>.svg`, as Elle plots them, within the
/// plots' time and size limits (what is skipped is said on stderr).
fn write_plots(dir: &Path, report: &Report, plots: super::elle::Plots) -> anyhow::Result<()> {
    let Details::Txn(analysis) = &report.details else {
        return Ok(());
    };
    let started = std::time::Instant::now();
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for (id, explained) in analysis.explanations.iter().enumerate() {
        if started.elapsed() > plots.timeout {
            eprintln!(
                "  plots: stopped after --plot-timeout {} ms; {} cycles not drawn",
                plots.timeout.as_millis(),
                analysis.explanations.len() - id
            );
            break;
        }
        let n = counts.entry(&explained.anomaly).or_default();
        let svg = checker::report::cycles::svg(explained, id);
        if svg.len() > plots.max_bytes {
            eprintln!(
                "  plots: {} cycle {n} not drawn: {} bytes > --max-plot-bytes {}",
                explained.anomaly,
                svg.len(),
                plots.max_bytes
            );
        } else {
            let folder = dir.join("elle").join(&explained.anomaly);
            std::fs::create_dir_all(&folder)?;
            std::fs::write(folder.join(format!("{n}.svg")), svg)?;
        }
        *n += 1;
    }
    Ok(())
}

fn write_explanations(dir: &Path, report: &Report) -> anyhow::Result<()> {
    let Details::Txn(analysis) = &report.details else {
        return Ok(());
    };
    let mut by_anomaly: std::collections::BTreeMap<&str, String> = Default::default();
    for explained in &analysis.explanations {
        let text = by_anomaly.entry(&explained.anomaly).or_default();
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(&explained.text);
    }
    if by_anomaly.is_empty() {
        return Ok(());
    }
    let elle = dir.join("elle");
    std::fs::create_dir_all(&elle)?;
    for (anomaly, text) in by_anomaly {
        std::fs::write(elle.join(format!("{anomaly}.txt")), text)?;
    }
    Ok(())
}

fn write_report(dir: &Path, report: &Report) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(&report.to_json())?;
    std::fs::write(dir.join("results.json"), json + "\n")?;
    std::fs::write(dir.join("results.edn"), report.to_edn())?;
    Ok(())
}

/// The one-line summary and the explanations of a linearizability check.
fn summary(analysis: &Analysis) -> String {
    use std::fmt::Write as _;
    let cause = match analysis.verdict {
        Verdict::Unknown(cause) => format!(" ({cause})"),
        _ => String::new(),
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "  {}{cause}: {} operations, {} partition{}, model {}, {:.1} ms",
        match analysis.verdict {
            Verdict::Valid => "linearizable",
            Verdict::Invalid => "NOT linearizable",
            Verdict::Unknown(_) => "unknown",
        },
        analysis.operations,
        analysis.partitions.len(),
        if analysis.partitions.len() == 1 {
            ""
        } else {
            "s"
        },
        analysis.model,
        analysis.elapsed.as_secs_f64() * 1e3,
    );
    for e in analysis.explanations() {
        for line in e.to_string().lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}

/// Each partition's verdict and search statistics (`--verbose`).
fn partitions(analysis: &Analysis) -> String {
    let mut out = String::from("  partition\tops\tverdict\tsteps\tconfigurations\n");
    for p in &analysis.partitions {
        let key = p
            .key
            .as_ref()
            .map_or_else(|| "-".to_string(), |k| k.to_string());
        out.push_str(&format!(
            "  {key}\t{}\t{:?}\t{}\t{}\n",
            p.ops, p.verdict, p.steps, p.configurations
        ));
    }
    out
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map_or_else(|| "history".into(), |s| s.to_string_lossy().into_owned())
}

pub fn write_outputs(dir: &Path, source: &Path, analysis: &Analysis) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(&results::to_json(analysis))?;
    std::fs::write(dir.join("results.json"), json + "\n")?;
    std::fs::write(dir.join("results.edn"), results::to_edn(analysis))?;
    let title = source.display().to_string();
    std::fs::write(
        dir.join("linearizability.html"),
        checker::report::counterexample::page(analysis, &title),
    )?;
    Ok(())
}
