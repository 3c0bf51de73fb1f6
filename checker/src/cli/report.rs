//! `checker report DIR`: rebuilds a run's report from its recorded history.

use super::EXIT_BAD_INPUT;
use checker::run::judge::judge;
use checker::run::output::{self, RunFile};
use consistency::linearizable::Options;
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  checker report results/latest\n\nReads DIR/run.json and DIR/history.jsonl (or history.edn), checks the history again,\nand rewrites results.json, results.edn, history.edn, report.html, latency.svg and rate.svg."
)]
pub struct Args {
    /// A run's folder, as `checker run` writes it.
    dir: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let dir = &args.dir;
    let run_file = dir.join("run.json");
    let run: RunFile = match std::fs::read(&run_file)
        .map_err(|e| e.to_string())
        .and_then(|b| {
            serde_json::from_slice(&b).map_err(|e| format!("not a run.json of checker run: {e}"))
        }) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {}: {e}", run_file.display());
            return Ok(EXIT_BAD_INPUT);
        }
    };
    let history_file = ["history.jsonl", "history.edn"]
        .into_iter()
        .map(|f| dir.join(f))
        .find(|p| p.exists());
    let Some(history_file) = history_file else {
        eprintln!("error: {}: no history.jsonl or history.edn", dir.display());
        return Ok(EXIT_BAD_INPUT);
    };
    let history = match super::check::read(&history_file, history::Format::Auto) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(EXIT_BAD_INPUT);
        }
    };
    let Some(workload) = workloads::workload::by_name(&run.info.workload) else {
        eprintln!(
            "error: {}: unknown workload `{}`",
            run_file.display(),
            run.info.workload
        );
        return Ok(EXIT_BAD_INPUT);
    };
    let options = Options {
        timeout: Some(Duration::from_secs(120)),
        grace: Duration::from_secs(1),
        ..Options::default()
    };
    let checks = (workload.build)(&workloads::Options::default()).checks;
    let mut judgement = judge(&checks, &history, &options);
    if let Some(load) = &run.load {
        judgement.loaded(load, &history);
    }
    let summary = output::summarize(
        &judgement,
        &history,
        run.info.duration_s,
        &dir.join("report.html"),
    );
    output::write(
        dir,
        &run.info,
        &judgement,
        &history,
        &summary,
        run.load.as_ref(),
    )?;
    println!("{}\t{}", dir.display(), judgement.verdict);
    println!("  report: {}", dir.join("report.html").display());
    Ok(judgement.verdict.exit_code())
}
