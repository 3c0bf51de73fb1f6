//! Load beside a run (`checker run --load locust`): Locust drives the hybrid workload through
//! NGINX while the checker's clients and the nemesis do their work, and Prometheus watches.
//! The run's report then shows, beside the verdicts, what the load did ([`LoadReport`]):
//!
//! ```text
//! start ── Locust (locust) ──▶ load/locust.json, load/locust_stats_history.csv
//!   │                                   │
//!   └ Prometheus counts before ─┐       ▼
//! finish ── counts after, resets, panels, resources per step (observed) ──▶ LoadReport
//! ```
//!
//! - [`locust`]: the child process and its statistics;
//! - [`steps`]: the load's steps and where throughput stops growing;
//! - [`observed`]: what Prometheus saw.

pub mod locust;
pub mod observed;
pub mod steps;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use targets::observability::query::Client;

/// Why the load could not run or be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Locust would not start, or failed.
    #[error("{0}")]
    Locust(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file Locust wrote is not what the lab reads.
    #[error("{path}: {problem}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        problem: String,
    },
}

impl LoadError {
    fn io(path: &Path, source: std::io::Error) -> LoadError {
        LoadError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Seconds since the epoch, now.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// One load step with the machine's resources during it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObservedStep {
    /// Locust's figures.
    #[serde(flatten)]
    pub step: steps::Step,
    /// Prometheus's, when it answered.
    pub resources: Option<observed::Resources>,
}

/// What a run's load did, for its report (kept in `run.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    /// The locustfile's user class.
    pub class: String,
    /// The users, in words.
    pub users: String,
    /// The window, seconds since the epoch: when Locust started and ended.
    pub start: f64,
    /// When the run's history begins (its time 0), seconds since the epoch: where the faults
    /// go on the panels.
    pub origin: f64,
    /// Its end.
    pub end: f64,
    /// Every operation over the whole run.
    pub operations: Vec<locust::Operation>,
    /// The load's steps (one for a constant load).
    pub steps: Vec<ObservedStep>,
    /// The step where throughput stopped growing.
    pub saturation: Option<usize>,
    /// The three counts of the api's requests.
    pub agreement: Option<observed::Agreement>,
    /// The overview dashboard's panels over the window.
    pub panels: Vec<observed::PanelData>,
    /// What could not be measured, and why (Prometheus not up, say).
    pub gaps: Vec<String>,
}

impl LoadReport {
    /// Locust's requests (its async-visibility timings left out).
    pub fn requests(&self) -> u64 {
        self.operations
            .iter()
            .filter(|o| o.is_request())
            .map(|o| o.requests)
            .sum()
    }

    /// Of which failed.
    pub fn failures(&self) -> u64 {
        self.operations
            .iter()
            .filter(|o| o.is_request())
            .map(|o| o.failures)
            .sum()
    }

    /// The resource that saturated at the saturation step (or at the last step, when the load
    /// never stopped growing but a resource ran out).
    pub fn saturated_resource(&self) -> Option<String> {
        let at = self.saturation.unwrap_or(self.steps.len().checked_sub(1)?);
        self.steps.get(at)?.resources.as_ref()?.saturated()
    }

    /// One line for the report's table of checks.
    pub fn summary(&self) -> String {
        let requests = self.requests();
        let failures = self.failures();
        let mut line = format!(
            "{}, {}: {requests} requests, {failures} failed ({:.2} %)",
            self.class,
            self.users,
            100.0 * failures as f64 / requests.max(1) as f64
        );
        if let Some(a) = &self.agreement {
            match a.agrees() {
                Some(true) => line.push_str("; Prometheus's counts agree"),
                Some(false) => line.push_str("; Prometheus's counts disagree"),
                None => line.push_str("; no count could be checked"),
            }
        }
        line
    }
}

/// A load under way.
pub struct Load {
    plan: locust::Plan,
    dir: PathBuf,
    running: locust::Running,
    start: f64,
    prometheus: Option<Client>,
    before: BTreeMap<(String, String), f64>,
    nginx_before: Option<f64>,
    gaps: Vec<String>,
}

impl Load {
    /// Starts Locust on `plan`, writing into `run_dir/load/`, and notes Prometheus's counts.
    pub fn start(
        plan: locust::Plan,
        run_dir: &Path,
        lab: &cluster::Lab,
    ) -> Result<Load, LoadError> {
        let mut gaps = Vec::new();
        let prometheus = match observed::connect(lab) {
            Ok(client) => Some(client),
            Err(e) => {
                gaps.push(format!(
                    "no Prometheus panels or counts: {e} (start it with `checker cluster up observability`)"
                ));
                None
            }
        };
        let start = now();
        let before = match &prometheus {
            Some(client) => observed::scraped_after(client, start)
                .and_then(|()| observed::api_requests(client))
                .unwrap_or_else(|e| {
                    gaps.push(format!("no counts before the load: {e}"));
                    BTreeMap::new()
                }),
            None => BTreeMap::new(),
        };
        let nginx_before = prometheus
            .as_ref()
            .and_then(|client| observed::nginx_requests(client).ok().flatten());
        let dir = locust::folder(run_dir);
        let running = locust::start(&plan, &dir)?;
        Ok(Load {
            plan,
            dir,
            running,
            start,
            prometheus,
            before,
            nginx_before,
            gaps,
        })
    }

    /// Waits for Locust (at most `limit` past its planned end), then gathers its figures and
    /// Prometheus's; `checker` holds the run's own operations: (answered, timed out).
    pub fn finish(mut self, checker: (u64, u64), limit: Duration) -> Result<LoadReport, LoadError> {
        self.running.finish(limit)?;
        let end = now();
        let operations = locust::read_stats(&self.dir.join("locust.json"))?;
        let found = steps::read(&self.dir.join("locust_stats_history.csv")).unwrap_or_else(|e| {
            self.gaps.push(format!("no load steps: {e}"));
            Vec::new()
        });
        let mut report = LoadReport {
            class: self.plan.class.clone(),
            users: self.plan.users.describe(),
            start: self.start,
            origin: self.start,
            end,
            operations,
            steps: Vec::new(),
            saturation: steps::saturation(&found),
            agreement: None,
            panels: Vec::new(),
            gaps: Vec::new(),
        };
        report.steps = found
            .into_iter()
            .map(|step| ObservedStep {
                resources: self
                    .prometheus
                    .as_ref()
                    .and_then(|client| observed::resources(client, step.start, step.end).ok()),
                step,
            })
            .collect();
        if let Some(client) = &self.prometheus {
            match self.agreement(client, &report, checker) {
                Ok(agreement) => report.agreement = Some(agreement),
                Err(e) => self.gaps.push(format!("no counts after the load: {e}")),
            }
            report.panels = observed::panels(client, self.start, end);
        }
        report.gaps = self.gaps;
        Ok(report)
    }

    /// The api's and NGINX's counts since the load began, against Locust's and the checker's.
    fn agreement(
        &self,
        client: &Client,
        report: &LoadReport,
        checker: (u64, u64),
    ) -> Result<observed::Agreement, targets::observability::query::QueryError> {
        observed::scraped_after(client, report.end)?;
        let after = observed::api_requests(client)?;
        let counted: f64 = after
            .iter()
            .map(|(k, v)| v - self.before.get(k).copied().unwrap_or(0.0))
            .sum();
        let nginx = match (self.nginx_before, observed::nginx_requests(client)?) {
            (Some(before), Some(after)) => {
                Some(after - before - observed::nginx_scrapes(client, self.start, now())?)
            }
            _ => None,
        };
        Ok(observed::Agreement {
            prometheus: counted,
            locust: report.requests(),
            checker_ok: checker.0,
            checker_uncertain: checker.1,
            resets: observed::resets(client, self.start, now())?,
            nginx,
        })
    }
}
