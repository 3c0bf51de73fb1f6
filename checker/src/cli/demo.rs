//! `checker` with no arguments: the first look at what the lab is for.
//!
//! The same `register` workload runs against the embedded replicated store
//! twice, in its strong mode and in its eventual mode, under the same
//! network partitions (same seed), 12 s each; the strong mode must be
//! linearizable and the eventual mode is not, yet converges after the heal.
//! Prints the comparison table and where the reports are.

use super::compare::{matrix, specs, table_text};
use super::run::Common;
use clap::Parser;
use std::path::{Path, PathBuf};

/// The demo's settings, as `checker compare` would parse them.
#[derive(Parser)]
struct Demo {
    #[command(flatten)]
    common: Common,
}

pub fn run() -> anyhow::Result<u8> {
    let demo = Demo::parse_from([
        "checker",
        "--time-limit",
        "12",
        "--fault-interval",
        "2",
        "--fault-duration",
        "4",
    ]);
    let specs = specs(
        "register",
        "sim",
        "strong,eventual",
        "partition",
        &demo.common,
    )
    .map_err(anyhow::Error::msg)?;
    let dir = PathBuf::from("results").join(format!("{}-demo", checker::timestamp::now_compact()));
    std::fs::create_dir_all(&dir)?;
    println!("The consistency lab: one register workload, two replication modes, the same network partitions.\n");
    println!("  strong:   a leader that needs a majority to acknowledge every read and write");
    println!("  eventual: every replica answers at once, replicates later, last write wins\n");
    let cells = matrix(specs, &dir)?;
    link_latest(&dir);
    println!("\n{}", table_text(&cells));
    println!("Reports: {}", dir.join("summary.html").display());
    for c in &cells {
        println!("  {:<9} {}", c.spec.consistency, c.summary.report.display());
    }
    println!("\nNext: checker run --help, checker compare --help, checker check --help");
    if cells.iter().any(|c| c.crashed) {
        return Ok(super::EXIT_INTERNAL);
    }
    let strong_valid = cells.iter().any(|c| {
        c.spec.consistency == "strong" && c.summary.verdict == consistency::Verdict::Valid
    });
    let eventual_invalid = cells.iter().any(|c| {
        c.spec.consistency == "eventual" && c.summary.verdict == consistency::Verdict::Invalid
    });
    Ok(if strong_valid && eventual_invalid {
        0
    } else {
        1
    })
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
