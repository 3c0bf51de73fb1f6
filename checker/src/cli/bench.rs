//! `checker bench`: in-process timings of checks, for side-by-side comparisons.
//!
//! Prints a TSV table `file verdict ops min_ms median_ms`; parsing is not
//! timed, only the check of an already-read history, as the Porcupine
//! harness under `bench/` does.

use super::check::{read, setup};
use super::EXIT_BAD_INPUT;
use consistency::checker::Family;
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
    if setup.checker.family() != Family::Linearizability {
        eprintln!(
            "error: bench times linearizability checks; choose a model of: {}",
            checker::catalog::checker_names(Family::Linearizability)
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
            let analysis = match check_model(setup.checker.name(), &history, &setup.options) {
                Ok(a) => a,
                Err(e) => {
                    eprintln!("error: {}: {e}", path.display());
                    return Ok(EXIT_BAD_INPUT);
                }
            };
            times.push(started.elapsed().as_secs_f64() * 1e3);
            last = Some(analysis);
        }
        times.sort_by(f64::total_cmp);
        let (verdict, ops) = last.map_or((String::new(), 0), |a| {
            (a.verdict.to_string(), a.operations)
        });
        println!(
            "{}\t{verdict}\t{ops}\t{:.4}\t{:.4}",
            path.display(),
            times[0],
            times[times.len() / 2]
        );
    }
    Ok(0)
}
