//! The folder a run writes: `history.jsonl` (streamed while running),
//! `history.edn`, `results.json`, `results.edn`, `report.html`,
//! `latency.svg`, `rate.svg`, and `run.json` (what `checker report`
//! needs to rebuild the page, the load's figures among it); with `--load locust`, `load/`
//! holds Locust's own files.

use super::judge::Judgement;
use crate::report::{self, RunInfo};
use consistency::Verdict;
use history::History;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The figures of a run that a comparison table shows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    /// Valid, invalid or unknown (`true`, `false` or `unknown` in `run.json`).
    #[serde(with = "verdict_text")]
    pub verdict: Verdict,
    /// The checks that found the run invalid.
    pub anomalies: Vec<String>,
    /// Reads of superseded values (register workloads).
    pub stale_reads: Option<u64>,
    /// Acknowledged writes whose effect vanished.
    pub lost_writes: Option<u64>,
    /// From healing until every node's final reads agreed.
    pub convergence_ms: Option<f64>,
    /// Latency percentiles of completed client operations.
    pub p50_ms: f64,
    /// 99th percentile latency.
    pub p99_ms: f64,
    /// Completed client operations per second of the run.
    pub ops_per_s: f64,
    /// Where the run's report is.
    pub report: PathBuf,
}

/// A verdict as elle-cli prints it (`true`, `false`, `unknown`), the way
/// `run.json` has always written it.
mod verdict_text {
    use consistency::{Unknown, Verdict};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Verdict, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Verdict, D::Error> {
        Ok(match String::deserialize(d)?.as_str() {
            "true" => Verdict::Valid,
            "false" => Verdict::Invalid,
            // The cause is not kept in `run.json`.
            _ => Verdict::Unknown(Unknown::Error),
        })
    }
}

/// What `run.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunFile {
    /// The run's parameters.
    pub info: RunInfo,
    /// Its figures.
    pub summary: Summary,
    /// What Locust's load beside it did (`--load locust`), and what Prometheus saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<crate::load::LoadReport>,
}

/// Computes the figures of a judged run.
pub fn summarize(judgement: &Judgement, history: &History, seconds: f64, report: &Path) -> Summary {
    use consistency::checker::{convergence::Agreement, register_stats::Stats, Details};
    // The last report of each kind counts, as the last one written under
    // its name in `results` would.
    let (mut stats, mut agreement): (Option<&Stats>, Option<&Agreement>) = (None, None);
    for r in &judgement.reports {
        match &r.details {
            Details::RegisterStats(s) => stats = Some(s),
            Details::Convergence(c) => agreement = Some(c),
            _ => {}
        }
    }
    // Lost writes as either check counts them: the larger count.
    let lost_writes = match (
        stats.map(|s| s.lost_write_count),
        agreement.map(|c| c.lost_write_count),
    ) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0).max(b.unwrap_or(0))),
    };
    let all = crate::stats::latency_table(history).into_iter().next();
    Summary {
        verdict: judgement.verdict.clone(),
        anomalies: judgement
            .sections
            .iter()
            .filter(|s| s.verdict == Verdict::Invalid)
            .map(|s| s.title.clone())
            .collect(),
        stale_reads: stats.map(|s| s.stale_read_count),
        lost_writes,
        // Non-finite figures were `null` in the JSON.
        convergence_ms: agreement
            .and_then(|c| c.convergence_ms)
            .filter(|ms| ms.is_finite()),
        p50_ms: all.as_ref().map_or(f64::NAN, |a| a.p50_ms),
        p99_ms: all.as_ref().map_or(f64::NAN, |a| a.p99_ms),
        ops_per_s: all.map_or(0.0, |a| a.count as f64 / seconds.max(1e-9)),
        report: report.to_path_buf(),
    }
}

/// Writes everything but `history.jsonl` (which the recorder streamed).
pub fn write(
    dir: &Path,
    info: &RunInfo,
    judgement: &Judgement,
    history: &History,
    summary: &Summary,
    load: Option<&crate::load::LoadReport>,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut edn = Vec::with_capacity(history.len() * 100);
    history::edn::write(history, &mut edn)?;
    std::fs::write(dir.join("history.edn"), edn)?;
    let results =
        serde_json::to_string_pretty(&judgement.results).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("results.json"), results + "\n")?;
    std::fs::write(
        dir.join("results.edn"),
        consistency::results::edn_of_json(&judgement.results),
    )?;
    std::fs::write(
        dir.join("report.html"),
        report::run_page(info, &judgement.sections, history),
    )?;
    std::fs::write(dir.join("latency.svg"), report::plots::latency_svg(history))?;
    std::fs::write(dir.join("rate.svg"), report::plots::rate_svg(history))?;
    let run = RunFile {
        info: info.clone(),
        summary: summary.clone(),
        load: load.cloned(),
    };
    std::fs::write(
        dir.join("run.json"),
        serde_json::to_string_pretty(&run).map_err(std::io::Error::other)? + "\n",
    )?;
    Ok(())
}
