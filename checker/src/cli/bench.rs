//! `checker bench`: in-process timings of checks, for side-by-side comparisons.
//!
//! Prints a TSV table `file verdict ops min_ms median_ms` (ops: operations,
//! or transactions for a transactional model); parsing is not timed, only the check of an already-read history, as the Porcupine
//! harness under `bench/` does.

use super::check::{read, setup};
use super::EXIT_BAD_INPUT;
use consistency::checker::{Details, Family};
use consistency::linearizable::check_model;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  checker bench --model cas-register --rounds 5 consistency/tests/data/porcupine/jepsen/*.log"
)]
pub struct Args {
    /// History files.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Model to check against.
    #[arg(long, short, default_value = "cas-register")]
    model: String,
    /// Input format.
    #[arg(long, default_value = "auto")]
    format: String,
    /// Times to check each file; min and median are reported.
    #[arg(long, default_value = "5")]
    rounds: usize,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let mut setup = match setup(&args.model, &args.format) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(EXIT_BAD_INPUT);
        }
    };
    if setup.checker.family() == Family::Workload {
        eprintln!(
            "error: bench times linearizability and transactional checks; choose a model of: {}, {}",
            checker::catalog::checker_names(Family::Linearizability),
            checker::catalog::checker_names(Family::Transactional)
        );
        return Ok(EXIT_BAD_INPUT);
    }
    // The verdict alone, as Porcupine's non-verbose check computes it.
    setup.options.explain = false;
    let rounds = args.rounds.max(1);
    println!("file\tverdict\tops\tmin_ms\tmedian_ms");
    for path in &args.files {
        let history = match read(path, setup.format) {
            Ok(h) => h,
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(EXIT_BAD_INPUT);
            }
        };
        let mut times = Vec::with_capacity(rounds);
        let mut last = None;
        for _ in 0..rounds {
            let started = Instant::now();
            let checked = if setup.checker.family() == Family::Transactional {
                setup.checker.check(&history, &setup.options).map(|report| {
                    let count = match &report.details {
                        Details::Txn(analysis) => analysis.transactions,
                        _ => 0,
                    };
                    (report.verdict, count)
                })
            } else {
                check_model(setup.checker.name(), &history, &setup.options)
                    .map(|a| (a.verdict, a.operations))
            };
            let result = match checked {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("error: {}: {e}", path.display());
                    return Ok(EXIT_BAD_INPUT);
                }
            };
            times.push(started.elapsed().as_secs_f64() * 1e3);
            last = Some(result);
        }
        times.sort_by(f64::total_cmp);
        let (verdict, ops) = last.map_or((String::new(), 0), |(v, n)| (v.to_string(), n));
        println!(
            "{}\t{verdict}\t{ops}\t{:.4}\t{:.4}",
            path.display(),
            times[0],
            times[times.len() / 2]
        );
    }
    Ok(0)
}
