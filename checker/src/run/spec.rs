//! [`Spec`]: a test as data — workload, target, consistency, faults,
//! limits — and [`execute`], which runs it, judges it and writes its
//! folder. The command line, `checker compare` and the demo are thin
//! layers over this.

use super::judge::{judge, Judgement};
use super::output::{self, Summary};
use super::{run, RunConfig, Stop};
use crate::report::RunInfo;
pub use cluster::Lab;
use consistency::linearizable::Options;
use nemesis::{FaultKind, Schedule};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use system::sim::{ConflictPolicy, Mode};
use targets::{SimSettings, System, TargetKind};
use workloads::WorkloadKind;

/// The consistency modes `--consistency` accepts (the sim's; a real
/// target has the consistency it has).
pub const CONSISTENCY: &[&str] = &["strong", "eventual"];

/// A test, as data.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The workload, a row of [`workloads::WORKLOADS`].
    pub workload: &'static WorkloadKind,
    /// The system under test, a row of [`targets::SYSTEMS`].
    pub system: &'static System,
    /// One of its targets.
    pub target: &'static TargetKind,
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
    /// How clients reach the service system (`--via`).
    pub via: targets::service::client::Via,
    /// How the run goes.
    pub run: RunConfig,
    /// Where real targets' clusters are.
    pub lab: Lab,
    /// What Elle's checkers look for (`--consistency-models`, `--wfr-keys`, …).
    pub transactions: consistency::txn::Options,
    /// The command line that reproduces it, for the report.
    pub command: String,
    /// Locust's load beside the run (`--load locust`), on the service system only.
    pub load: Option<LoadSpec>,
}

/// Locust's part of a run: which of the locustfile's users, how many.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadSpec {
    /// One of [`crate::load::locust::CLASSES`].
    pub class: String,
    /// How many users, and how that changes.
    pub users: crate::load::locust::Users,
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
    /// The run's tasks that panicked (the run ended early).
    pub crashed: Vec<super::Crash>,
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
    /// A target that does not run the workload.
    #[error("target `{target}` does not run the {workload} workload; it runs: {supported}")]
    Unsupported {
        /// The target.
        target: &'static str,
        /// The workload asked for.
        workload: &'static str,
        /// The workloads it runs.
        supported: String,
    },
    /// A limit that makes no sense.
    #[error("{0}")]
    Invalid(String),
}

/// The workload and the target named so, with the target's system, if
/// both exist and the target runs the workload.
pub fn resolve(
    workload: &str,
    target: &str,
) -> Result<(&'static WorkloadKind, &'static System, &'static TargetKind), SpecError> {
    let workload_kind =
        workloads::workload::by_name(workload).ok_or_else(|| SpecError::Unknown {
            what: "workload",
            name: workload.to_string(),
            choices: workloads::workload::names(),
        })?;
    let (system, target_kind) = targets::target(target).ok_or_else(|| SpecError::Unknown {
        what: "target",
        name: target.to_string(),
        choices: targets::target_names(),
    })?;
    if !target_kind.supports(workload_kind) {
        return Err(SpecError::Unsupported {
            target: target_kind.name,
            workload: workload_kind.name,
            supported: target_kind.workload_names(),
        });
    }
    Ok((workload_kind, system, target_kind))
}

impl Spec {
    /// Checks names and limits, so that nothing starts on a bad spec.
    pub fn validate(&self) -> Result<(), SpecError> {
        if !self.target.supports(self.workload) {
            return Err(SpecError::Unsupported {
                target: self.target.name,
                workload: self.workload.name,
                supported: self.target.workload_names(),
            });
        }
        if !CONSISTENCY.contains(&self.consistency.as_str()) {
            return Err(SpecError::Unknown {
                what: "consistency",
                name: self.consistency.clone(),
                choices: CONSISTENCY.join(", "),
            });
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
        if let Some((kind, why)) = self
            .nemesis
            .iter()
            .find_map(|k| Some((k, self.system.why_not(*k)?)))
        {
            let choices: Vec<&str> = FaultKind::ALL
                .iter()
                .filter(|k| self.system.supports_fault(**k))
                .map(|k| k.name())
                .collect();
            return Err(SpecError::Invalid(format!(
                "--nemesis {} is not supported on {} ({why}); choose from {}",
                kind.name(),
                self.target.name,
                choices.join(", ")
            )));
        }
        if let Some(load) = &self.load {
            if !std::ptr::eq(self.system, &targets::service::SYSTEM) {
                return Err(SpecError::Invalid(format!(
                    "--load locust drives the service system through NGINX: choose a system-* \
                     target, not {}",
                    self.target.name
                )));
            }
            if !crate::load::locust::CLASSES.contains(&load.class.as_str()) {
                return Err(SpecError::Unknown {
                    what: "--load-class",
                    name: load.class.clone(),
                    choices: crate::load::locust::CLASSES.join(", "),
                });
            }
        }
        if !self.nemesis.is_empty() && self.fault_duration.is_zero() {
            return Err(SpecError::Invalid(
                "--fault-duration must be more than 0 seconds".into(),
            ));
        }
        Ok(())
    }

    /// `<workload>-<target>-<consistency>` (`<workload>-<target>` for real
    /// targets, whose consistency is the target's own), for folder names.
    pub fn name(&self) -> String {
        if self.system.is_real() {
            format!("{}-{}", self.workload.name, self.target.name)
        } else {
            format!(
                "{}-{}-{}",
                self.workload.name, self.target.name, self.consistency
            )
        }
    }

    /// `etcd`, or `sim (strong)`: the target as titles name it.
    pub fn title(&self) -> String {
        if self.system.is_real() {
            self.target.name.to_string()
        } else {
            format!("{} ({})", self.target.name, self.consistency)
        }
    }

    fn mode(&self) -> Mode {
        if self.consistency == "strong" {
            Mode::Strong
        } else {
            Mode::Eventual(self.conflict)
        }
    }

    /// `register on sim (strong), nemesis partition, 20 s, 8 processes,
    /// seed 1`: what runs, for people.
    pub fn describe(&self) -> String {
        let load = self.load.as_ref().map_or(String::new(), |l| {
            format!(", with Locust's {} ({})", l.class, l.users.describe())
        });
        format!(
            "{} on {}, nemesis {}, {:.0} s, {} processes, seed {}{load}",
            self.workload.name,
            self.title(),
            self.nemesis_name(),
            self.run.time_limit.as_secs_f64(),
            self.run.concurrency,
            self.run.seed
        )
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

/// Opens the spec's target through its row of the table.
fn open(spec: &Spec, options: &workloads::Options) -> Result<targets::Opened, targets::OpenError> {
    let sim = SimSettings {
        mode: spec.mode(),
        replicas: spec.replicas,
        link_delay: spec.link_delay,
        loss: spec.loss,
    };
    let setup = targets::Setup {
        workload: spec.workload,
        options,
        op_timeout: spec.run.op_timeout,
        seed: spec.run.seed,
        lab: &spec.lab,
        faults: !spec.nemesis.is_empty(),
        sim: &sim,
        via: spec.via,
    };
    // Opening a real cluster may wait for it to answer: on a multi-threaded
    // runtime, let the other tasks run meanwhile (`block_in_place` is not
    // allowed on a current-thread one, where nothing else runs anyway).
    match tokio::runtime::Handle::current().runtime_flavor() {
        tokio::runtime::RuntimeFlavor::CurrentThread => (spec.target.open)(&setup),
        _ => tokio::task::block_in_place(|| (spec.target.open)(&setup)),
    }
}

/// Starts Locust against the lab's NGINX, for the run's main phase.
fn start_load(spec: &Spec, load: &LoadSpec, dir: &Path) -> anyhow::Result<crate::load::Load> {
    let nginx = cluster::Cluster::new(
        &targets::service::balancer::Nginx,
        spec.lab.net.clone(),
        &spec.lab.state,
    );
    let plan = crate::load::locust::Plan {
        class: load.class.clone(),
        users: load.users,
        host: targets::service::balancer::http_url(&nginx),
        seconds: spec.run.time_limit.as_secs().max(1),
    };
    Ok(crate::load::Load::start(plan, dir, &spec.lab)?)
}

/// Waits for Locust and gathers what it and Prometheus saw; the run's own operations, each one
/// request to the api, are counted beside Locust's: one completed, or failed with the api's
/// answer, was served; one that timed out may have been; one that could not connect was not.
async fn finish_load(
    load: crate::load::Load,
    history: &history::History,
    interrupted: bool,
    origin: f64,
    spec: &Spec,
) -> anyhow::Result<crate::load::LoadReport> {
    let (mut served, mut uncertain) = (0, 0);
    for op in history.ops() {
        if op.kind == history::OpType::Invoke || crate::stats::is_nemesis(op) {
            continue;
        }
        let error = op.error.as_ref().map(|e| e.to_string()).unwrap_or_default();
        match op.kind {
            history::OpType::Ok => served += 1,
            history::OpType::Fail if error.contains("connect") => {}
            history::OpType::Fail => served += 1,
            _ => uncertain += 1,
        }
    }
    // Stopped early (Ctrl-C): Locust is interrupted at once and still writes its statistics.
    let limit = if interrupted {
        Duration::ZERO
    } else {
        spec.run.time_limit + Duration::from_secs(30)
    };
    let mut report = tokio::task::spawn_blocking(move || load.finish((served, uncertain), limit))
        .await
        .map_err(|e| anyhow::anyhow!("the load's task failed: {e}"))??;
    report.origin = origin;
    Ok(report)
}

/// Runs `spec`, judges the history, and writes the run's folder `dir`.
/// Must be called inside a tokio runtime.
pub async fn execute(spec: &Spec, dir: &Path, stop: Stop) -> anyhow::Result<Executed> {
    spec.validate()?;
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    let options = workloads::Options::default();
    let mut workload = (spec.workload.build)(&options);
    let checks = std::mem::take(&mut workload.checks);
    let opened = open(spec, &options)?;
    let nemesis = (!spec.nemesis.is_empty()).then(|| {
        let schedule = Schedule::every(
            spec.nemesis.clone(),
            spec.fault_interval,
            spec.fault_duration,
            spec.run.seed,
        );
        let plan = schedule.plan(&opened.fault_surface, spec.run.time_limit);
        (Arc::clone(&opened.nemesis), plan)
    });
    let target = Arc::clone(&opened.target);

    let mut config = spec.run.clone();
    config.history_path = Some(dir.join("history.jsonl"));
    let started = crate::timestamp::now_compact();
    let load = match &spec.load {
        Some(load) => Some(start_load(spec, load, dir)?),
        None => None,
    };
    let origin = crate::load::now();
    let begun = std::time::Instant::now();
    let recorded = run(target, workload, nemesis, &config, stop).await;
    let seconds = begun.elapsed().as_secs_f64();
    // Locust is stopped however the run ended (dropping `load` kills it).
    let recorded = recorded?;
    let load = match load {
        Some(load) => {
            Some(finish_load(load, &recorded.history, recorded.interrupted, origin, spec).await?)
        }
        None => None,
    };

    let options = Options {
        timeout: Some(Duration::from_secs(120)),
        grace: Duration::from_secs(1),
        transactions: spec.transactions.clone(),
        ..Options::default()
    };
    let mut judgement = judge(&checks, &recorded.history, &options);
    judgement.audited(&recorded.audits);
    judgement.crashed(&recorded.crashed);
    if let Some(load) = &load {
        judgement.loaded(load, &recorded.history);
    }
    let info = RunInfo {
        title: format!(
            "{} on {}, nemesis {}",
            spec.workload.name,
            spec.title(),
            spec.nemesis_name()
        ),
        workload: spec.workload.name.to_string(),
        target: opened.description.clone(),
        consistency: opened.consistency.clone(),
        nemesis: spec.nemesis_name(),
        seed: spec.run.seed,
        concurrency: spec.run.concurrency,
        duration_s: seconds,
        started,
        command: spec.command.clone(),
        crashed: recorded.crashed.iter().map(|c| c.to_string()).collect(),
    };
    let summary = output::summarize(
        &judgement,
        &recorded.history,
        seconds,
        &dir.join("report.html"),
    );
    output::write(
        dir,
        &info,
        &judgement,
        &recorded.history,
        &summary,
        load.as_ref(),
    )?;
    let targets::Opened {
        target,
        nemesis,
        shutdown,
        ..
    } = opened;
    drop((target, nemesis));
    if let Some(shutdown) = shutdown {
        shutdown.await;
    }
    Ok(Executed {
        judgement,
        summary,
        dir: dir.to_path_buf(),
        interrupted: recorded.interrupted,
        crashed: recorded.crashed,
    })
}
