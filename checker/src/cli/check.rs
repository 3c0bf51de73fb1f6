//! `checker check`: verdicts for history files, as elle-cli prints them.

use super::EXIT_BAD_INPUT;
use anyhow::Context;
use checker::checks::{self, Report};
use checker::linearizable::{check_named, Analysis, Options};
use checker::model::NAMES;
use checker::{results, Verdict};
use history::Format;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(clap::Args)]
#[command(after_help = "Examples:
  checker check etcd_002.log                       # a Jepsen etcd log, cas-register
  checker check history.edn --model register
  checker check c50-bad.txt --model kv --out out/  # writes results.json, results.edn, linearizability.html
  checker check a.edn b.json --format auto --timeout 60
  checker check bank.edn --model bank              # Jepsen's bank checker, not linearizability
  checker check set.json --model set-full --out out/   # writes results.json, results.edn

Prints one line per file, `FILE<TAB>true|false|unknown`, then a summary,
and for a failure the operation that cannot be linearized.

Linearizability models: register, cas-register, mutex, kv, fifo-queue.
Jepsen workload checkers (one pass, Jepsen's output fields):
  set-full        repeated reads of a set: lost, stale, never-read, duplicated elements
  set             one final read of a set: lost and unexpected elements
  counter         every read within [ok adds, attempted adds]
  bank            every read sums to the total (the first read's), no negative balance
  convergence     replicas' :final-read (with :node) agree, lose nothing, invent nothing
  register-stats  stale reads and lost writes of registers, per key
Exit codes: 0 valid, 1 invalid, 2 unknown, 254 bad arguments or input, 255 internal error.")]
pub struct Args {
    /// History files (Jepsen EDN, JSON Lines, elle-cli JSON, or Jepsen log lines).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Model or checker: register, cas-register, mutex, kv, fifo-queue (linearizability);
    /// set-full, set, counter, bank, convergence, register-stats (Jepsen's workload checkers).
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
    /// Worker threads (default: one per core).
    #[arg(long, default_value = "0")]
    threads: usize,
    /// Write results.json, results.edn and linearizability.html here
    /// (in a subfolder per file when several files are given).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Print only the verdict lines.
    #[arg(long, short)]
    quiet: bool,
    /// Also print each partition's verdict and search statistics.
    #[arg(long, short)]
    verbose: bool,
}

/// Validated options shared by `check` and `bench`.
pub struct Setup {
    pub model: String,
    pub format: Format,
    pub options: Options,
}

/// Checks the model name and format, or explains what is allowed.
pub fn setup(model: &str, format: &str) -> Result<Setup, String> {
    if !NAMES.contains(&model) && !checks::NAMES.contains(&model) {
        let mut names: Vec<&str> = NAMES
            .iter()
            .copied()
            .filter(|n| !checks::NAMES.contains(n))
            .collect();
        names.extend(checks::NAMES);
        return Err(format!(
            "unknown model `{model}`; choose one of: {}",
            names.join(", ")
        ));
    }
    let format = Format::parse(format).ok_or_else(|| {
        format!("unknown format `{format}`; choose one of: auto, jsonl, json, edn, jepsen-log")
    })?;
    Ok(Setup {
        model: model.to_string(),
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
    if checks::NAMES.contains(&setup.model.as_str()) {
        return run_checks(&args, &setup);
    }

    let mut overall: Option<Verdict> = None;
    let mut bad_input = false;
    for path in &args.files {
        let history = match read(path, setup.format) {
            Ok(h) => h,
            Err(e) => {
                eprintln!("error: {e}");
                bad_input = true;
                continue;
            }
        };
        let analysis = match check_named(&setup.model, &history, &setup.options) {
            Ok(a) => a,
            Err(e) => {
                eprintln!("error: {}: {e}", path.display());
                bad_input = true;
                continue;
            }
        };
        println!("{}\t{}", path.display(), analysis.verdict);
        if !args.quiet {
            print_summary(&analysis);
        }
        if args.verbose {
            print_partitions(&analysis);
        }
        if let Some(out) = &args.out {
            let dir = if args.files.len() > 1 {
                out.join(stem(path))
            } else {
                out.clone()
            };
            write_outputs(&dir, path, &analysis)
                .with_context(|| format!("cannot write results to {}", dir.display()))?;
            if !args.quiet {
                println!("  wrote {}", dir.join("linearizability.html").display());
            }
        }
        overall = Some(match overall {
            None => analysis.verdict,
            Some(v) => v.and(analysis.verdict),
        });
    }
    if bad_input {
        return Ok(EXIT_BAD_INPUT);
    }
    Ok(overall.map_or(0, |v| v.exit_code()))
}

/// `check --model NAME` for the workload checkers of [`checks`]: the same
/// verdict line, the report's summary, and `results.json` / `results.edn`.
fn run_checks(args: &Args, setup: &Setup) -> anyhow::Result<u8> {
    let mut overall: Option<Verdict> = None;
    let mut bad_input = false;
    for path in &args.files {
        let history = match read(path, setup.format) {
            Ok(h) => h,
            Err(e) => {
                eprintln!("error: {e}");
                bad_input = true;
                continue;
            }
        };
        let report = match checks::check_named(&setup.model, &history) {
            Some(Ok(r)) => r,
            Some(Err(e)) => {
                eprintln!("error: {}: {e}", path.display());
                bad_input = true;
                continue;
            }
            None => anyhow::bail!("no checker named `{}`", setup.model),
        };
        println!("{}\t{}", path.display(), report.verdict);
        if !args.quiet {
            println!("  {}: {}", report.checker, report.summary);
        }
        if let Some(out) = &args.out {
            let dir = if args.files.len() > 1 {
                out.join(stem(path))
            } else {
                out.clone()
            };
            write_report(&dir, &report)
                .with_context(|| format!("cannot write results to {}", dir.display()))?;
            if !args.quiet {
                println!("  wrote {}", dir.join("results.edn").display());
            }
        }
        overall = Some(match overall {
            None => report.verdict,
            Some(v) => v.and(report.verdict),
        });
    }
    if bad_input {
        return Ok(EXIT_BAD_INPUT);
    }
    Ok(overall.map_or(0, |v| v.exit_code()))
}

fn write_report(dir: &Path, report: &Report) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(&report.to_json())?;
    std::fs::write(dir.join("results.json"), json + "\n")?;
    std::fs::write(dir.join("results.edn"), report.to_edn())?;
    Ok(())
}

fn print_summary(analysis: &Analysis) {
    let cause = match analysis.verdict {
        Verdict::Unknown(cause) => format!(" ({cause})"),
        _ => String::new(),
    };
    println!(
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
            println!("  {line}");
        }
    }
}

fn print_partitions(analysis: &Analysis) {
    println!("  partition\tops\tverdict\tsteps\tconfigurations");
    for p in &analysis.partitions {
        let key = p
            .key
            .as_ref()
            .map_or_else(|| "-".to_string(), |k| k.to_string());
        println!(
            "  {key}\t{}\t{:?}\t{}\t{}",
            p.ops, p.verdict, p.steps, p.configurations
        );
    }
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
        checker::html::linearizability_page(analysis, &title),
    )?;
    Ok(())
}
