//! [`Spec`]: a test as data — workload, target, consistency, faults,
//! limits — and [`execute`], which runs it, judges it and writes its
//! folder. The command line, `checker compare` and the demo are thin
//! layers over this.

use super::judge::{judge, Judgement};
use super::output::{self, Summary};
use super::{run, RunConfig, Stop};
use crate::linearizable::Options;
use crate::report::RunInfo;
use nemesis::{FaultKind, Nemesis, Schedule};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use system::sim::{ConflictPolicy, Mode, SimCluster, SimConfig};
use workloads::sim::{Shape, SimTarget};
use workloads::Target;

/// The targets `--target` accepts.
pub const TARGETS: &[&str] = &["sim"];
/// The consistency modes `--consistency` accepts.
pub const CONSISTENCY: &[&str] = &["strong", "eventual"];

/// A test, as data.
#[derive(Debug, Clone)]
pub struct Spec {
    /// One of [`workloads::workload::NAMES`].
    pub workload: String,
    /// One of [`TARGETS`].
    pub target: String,
    /// One of [`CONSISTENCY`].
    pub consistency: String,
    /// Conflict resolution of the eventual mode.
    pub conflict: ConflictPolicy,
    /// Faults to cycle through (empty: none).
    pub nemesis: Vec<FaultKind>,
    /// Quiet time before each fault.
    pub fault_interval: Duration,
    /// Length of each fault.
    pub fault_duration: Duration,
    /// Replicas of the sim target.
    pub replicas: usize,
    /// The sim's per-message delay range on every link.
    pub link_delay: (Duration, Duration),
    /// The sim's probability of losing each message, 0 to 1.
    pub loss: f64,
    /// How the run goes.
    pub run: RunConfig,
    /// The command line that reproduces it, for the report.
    pub command: String,
}

/// What an executed spec produced.
pub struct Executed {
    /// The verdict of all checks.
    pub judgement: Judgement,
    /// The comparison figures.
    pub summary: Summary,
    /// The run's folder.
    pub dir: PathBuf,
    /// Whether it was stopped early.
    pub interrupted: bool,
}

/// Why a spec cannot run.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// A name that is not one of the choices.
    #[error("unknown {what} `{name}`; choose one of: {choices}")]
    Unknown {
        /// What kind of name.
        what: &'static str,
        /// The name given.
        name: String,
        /// The valid names.
        choices: String,
    },
    /// A limit that makes no sense.
    #[error("{0}")]
    Invalid(String),
}

impl Spec {
    /// Checks names and limits, so that nothing starts on a bad spec.
    pub fn validate(&self) -> Result<(), SpecError> {
        let unknown = |what, name: &str, choices: &[&str]| SpecError::Unknown {
            what,
            name: name.to_string(),
            choices: choices.join(", "),
        };
        if !workloads::workload::NAMES.contains(&self.workload.as_str()) {
            return Err(unknown(
                "workload",
                &self.workload,
                workloads::workload::NAMES,
            ));
        }
        if !TARGETS.contains(&self.target.as_str()) {
            return Err(unknown("target", &self.target, TARGETS));
        }
        if !CONSISTENCY.contains(&self.consistency.as_str()) {
            return Err(unknown("consistency", &self.consistency, CONSISTENCY));
        }
        if self.run.time_limit.is_zero() {
            return Err(SpecError::Invalid(
                "--time-limit must be more than 0 seconds".into(),
            ));
        }
        if self.run.concurrency == 0 {
            return Err(SpecError::Invalid(
                "--concurrency must be at least 1".into(),
            ));
        }
        if !(0.0..1.0).contains(&self.loss) {
            return Err(SpecError::Invalid(format!(
                "--loss must be at least 0 and below 1, got {}",
                self.loss
            )));
        }
        if self.link_delay.0 > self.link_delay.1 {
            return Err(SpecError::Invalid(
                "--link-delay-ms: the minimum exceeds the maximum".into(),
            ));
        }
        if self.replicas == 0 {
            return Err(SpecError::Invalid("--replicas must be at least 1".into()));
        }
        if !self.nemesis.is_empty() && self.fault_duration.is_zero() {
            return Err(SpecError::Invalid(
                "--fault-duration must be more than 0 seconds".into(),
            ));
        }
        Ok(())
    }

    /// `<workload>-<target>-<consistency>`, for folder names.
    pub fn name(&self) -> String {
        format!("{}-{}-{}", self.workload, self.target, self.consistency)
    }

    fn mode(&self) -> Mode {
        if self.consistency == "strong" {
            Mode::Strong
        } else {
            Mode::Eventual(self.conflict)
        }
    }

    /// The nemesis names, for reports.
    pub fn nemesis_name(&self) -> String {
        if self.nemesis.is_empty() {
            "none".into()
        } else {
            self.nemesis
                .iter()
                .map(|k| k.name())
                .collect::<Vec<_>>()
                .join(",")
        }
    }
}

/// Runs `spec`, judges the history, and writes the run's folder `dir`.
/// Must be called inside a tokio runtime.
pub async fn execute(spec: &Spec, dir: &Path, stop: Stop) -> anyhow::Result<Executed> {
    spec.validate()?;
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    let options = workloads::Options::default();
    let workload = workloads::by_name(&spec.workload, &options)
        .ok_or_else(|| anyhow::anyhow!("unknown workload"))?;
    let checks = workload.checks.clone();

    let mode = spec.mode();
    let mut sim = SimConfig::new(spec.replicas, mode);
    sim.seed = spec.run.seed;
    sim.link_delay = spec.link_delay;
    sim.loss = spec.loss;
    let cluster = Arc::new(SimCluster::start(sim));
    let shape = Shape::of(&spec.workload, options.accounts)
        .ok_or_else(|| anyhow::anyhow!("no sim shape"))?;
    let target: Arc<dyn Target> = Arc::new(SimTarget::new(
        Arc::clone(&cluster),
        mode,
        shape,
        spec.run.op_timeout,
    ));
    let nemesis = (!spec.nemesis.is_empty()).then(|| {
        let schedule = Schedule::every(
            spec.nemesis.clone(),
            spec.fault_interval,
            spec.fault_duration,
            spec.run.seed,
        );
        let plan = schedule.plan(target.nodes(), spec.run.time_limit);
        (
            Arc::new(nemesis::sim::SimNemesis::new(Arc::clone(&cluster))) as Arc<dyn Nemesis>,
            plan,
        )
    });

    let mut config = spec.run.clone();
    config.history_path = Some(dir.join("history.jsonl"));
    let started = crate::timestamp::now_compact();
    let begun = std::time::Instant::now();
    let recorded = run(target, workload, nemesis, &config, stop).await?;
    let seconds = begun.elapsed().as_secs_f64();

    let options = Options {
        timeout: Some(Duration::from_secs(120)),
        grace: Duration::from_secs(1),
        ..Options::default()
    };
    let judgement = judge(&checks, &recorded.history, &options);
    let info = RunInfo {
        title: format!(
            "{} on {} ({}), nemesis {}",
            spec.workload,
            spec.target,
            spec.consistency,
            spec.nemesis_name()
        ),
        workload: spec.workload.clone(),
        target: format!("{} ({} replicas)", spec.target, spec.replicas),
        consistency: match mode {
            Mode::Strong => "strong (majority-acknowledged leader)".into(),
            Mode::Eventual(ConflictPolicy::Lww) => {
                "eventual (last write wins on hybrid logical clocks)".into()
            }
            Mode::Eventual(ConflictPolicy::Siblings) => "eventual (vector-clock siblings)".into(),
        },
        nemesis: spec.nemesis_name(),
        seed: spec.run.seed,
        concurrency: spec.run.concurrency,
        duration_s: seconds,
        started,
        command: spec.command.clone(),
    };
    let summary = output::summarize(
        &judgement,
        &recorded.history,
        seconds,
        &dir.join("report.html"),
    );
    output::write(dir, &info, &judgement, &recorded.history, &summary)?;
    if let Ok(cluster) = Arc::try_unwrap(cluster) {
        cluster.shutdown().await;
    }
    Ok(Executed {
        judgement,
        summary,
        dir: dir.to_path_buf(),
        interrupted: recorded.interrupted,
    })
}
