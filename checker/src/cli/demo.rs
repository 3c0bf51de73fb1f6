//! `checker` with no arguments: a first look at what the lab does.
//!
//! Checks three bundled histories from Porcupine's test suite (a
//! linearizable etcd run, a non-linearizable one, and a key-value history
//! with stale reads), prints a table, and writes a report for each under
//! `results/<timestamp>-check-demo/`.

use super::check::write_outputs;
use checker::linearizable::{check_named, Options};
use checker::Verdict;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// (name, model, expected verdict, contents).
const HISTORIES: &[(&str, &str, Verdict, &[u8])] = &[
    (
        "etcd_002.log",
        "cas-register",
        Verdict::Valid,
        include_bytes!("../../tests/data/porcupine/jepsen/etcd_002.log"),
    ),
    (
        "etcd_000.log",
        "cas-register",
        Verdict::Invalid,
        include_bytes!("../../tests/data/porcupine/jepsen/etcd_000.log"),
    ),
    (
        "c50-bad.txt",
        "kv",
        Verdict::Invalid,
        include_bytes!("../../tests/data/porcupine/kv/c50-bad.txt"),
    ),
];

pub fn run() -> anyhow::Result<u8> {
    let folder =
        PathBuf::from("results").join(format!("{}-check-demo", checker::timestamp::now_compact()));
    println!("Checking three Jepsen histories for linearizability (Porcupine's test data):\n");
    println!(
        "{:<14} {:<13} {:>6}  {:<8} {:>9}  report",
        "history", "model", "ops", "verdict", "time"
    );
    let options = Options {
        grace: Duration::from_secs(1),
        ..Options::default()
    };
    let mut as_expected = true;
    for (name, model, expected, bytes) in HISTORIES {
        let history = history::format::read(bytes, history::Format::Auto)?;
        let analysis = check_named(model, &history, &options)?;
        let dir = folder.join(Path::new(name).file_stem().unwrap_or_default());
        write_outputs(&dir, Path::new(name), &analysis)?;
        println!(
            "{:<14} {:<13} {:>6}  {:<8} {:>7.1}ms  {}",
            name,
            model,
            analysis.operations,
            analysis.verdict.to_string(),
            analysis.elapsed.as_secs_f64() * 1e3,
            dir.join("linearizability.html").display()
        );
        as_expected &= analysis.verdict == *expected;
    }
    link_latest(&folder);
    println!("\nWhy etcd_000 is not linearizable:\n");
    let history = history::format::read(HISTORIES[1].3, history::Format::Auto)?;
    let analysis = check_named(HISTORIES[1].1, &history, &options)?;
    for e in analysis.explanations() {
        print!("{e}");
    }
    println!(
        "\nCheck your own history: cargo run -p checker -- check FILE --model MODEL (see --help)."
    );
    Ok(if as_expected { 0 } else { 1 })
}

/// Points `results/latest` at the newest run (best effort: a missing link is not an error).
pub fn link_latest(folder: &Path) {
    let (Some(parent), Some(name)) = (folder.parent(), folder.file_name()) else {
        return;
    };
    let latest = parent.join("latest");
    let _ = std::fs::remove_file(&latest);
    #[cfg(unix)]
    let _ = std::os::unix::fs::symlink(name, &latest);
}
