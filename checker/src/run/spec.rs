//! [`Spec`]: a test as data — workload, target, consistency, faults,
//! limits — and [`execute`], which runs it, judges it and writes its
//! folder. The command line, `checker compare` and the demo are thin
//! layers over this.

use super::judge::{judge, Judgement};
use super::output::{self, Summary};
use super::{run, RunConfig, Stop};
use consistency::linearizable::Options;
use crate::report::RunInfo;
use nemesis::cluster::{self, Cluster};
use nemesis::local::LocalNemesis;
use nemesis::netns::Net;
use nemesis::{FaultKind, Nemesis, Schedule};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use system::sim::{ConflictPolicy, Mode, SimCluster, SimConfig};
use workloads::sim::{Shape, SimTarget};
use workloads::Target;

/// The targets `--target` accepts: the embedded `sim`, and real clusters
/// brought up by `checker cluster up`.
pub const TARGETS: &[&str] = &[
    "sim",
    "etcd",
    "etcd-serializable",
    "postgres",
    "postgres-standby-reads",
    "kafka-acks-all",
    "kafka-acks-1",
    "cassandra-one",
    "cassandra-quorum",
    "cassandra-lwt",
];

/// Where the lab's real clusters live (`checker cluster up` puts them
/// there; runs against real targets find them there).
#[derive(Debug, Clone)]
pub struct Lab {
    /// The lab's network.
    pub net: Net,
    /// The lab's state folder.
    pub state: PathBuf,
}

impl Default for Lab {
    /// The defaults of `checker cluster`: `lab0`, 10.47.0.0/24, `.lab`.
    fn default() -> Lab {
        Lab {
            net: Net::default(),
            state: PathBuf::from(".lab"),
        }
    }
}

/// The cluster kind behind a real target name (`etcd-serializable` runs
/// on `etcd`), or `None` for the sim.
pub fn cluster_of(target: &str) -> Option<&'static str> {
    match target {
        "etcd" | "etcd-serializable" => Some("etcd"),
        "postgres" | "postgres-standby-reads" => Some("postgres"),
        "kafka-acks-all" | "kafka-acks-1" => Some("kafka"),
        "cassandra-one" | "cassandra-quorum" | "cassandra-lwt" => Some("cassandra"),
        _ => None,
    }
}
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
    /// Where real targets' clusters are.
    pub lab: Lab,
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
        if let Some(server) = cluster_of(&self.target).and_then(cluster::server) {
            if let Some(kind) = self
                .nemesis
                .iter()
                .find(|k| !LocalNemesis::supports(&*server, **k))
            {
                return Err(SpecError::Invalid(format!(
                    "--nemesis {} is not supported on {} (libfaketime cannot move a Go binary's clock); choose from partition, kill, pause",
                    kind.name(),
                    self.target
                )));
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
        if cluster_of(&self.target).is_some() {
            format!("{}-{}", self.workload, self.target)
        } else {
            format!("{}-{}-{}", self.workload, self.target, self.consistency)
        }
    }

    /// `etcd`, or `sim (strong)`: the target as titles name it.
    pub fn title(&self) -> String {
        if cluster_of(&self.target).is_some() {
            self.target.clone()
        } else {
            format!("{} ({})", self.target, self.consistency)
        }
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
    let mut workload = workloads::by_name(&spec.workload, &options)
        .ok_or_else(|| anyhow::anyhow!("unknown workload"))?;
    let checks = std::mem::take(&mut workload.checks);

    let system = open(spec, &options)?;
    let nemesis = (!spec.nemesis.is_empty()).then(|| {
        let schedule = Schedule::every(
            spec.nemesis.clone(),
            spec.fault_interval,
            spec.fault_duration,
            spec.run.seed,
        );
        let plan = schedule.plan(system.fault_nodes, spec.run.time_limit);
        (Arc::clone(&system.nemesis), plan)
    });
    let target = Arc::clone(&system.target);

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
            "{} on {}, nemesis {}",
            spec.workload,
            system.title,
            spec.nemesis_name()
        ),
        workload: spec.workload.clone(),
        target: system.description.clone(),
        consistency: system.consistency.clone(),
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
    if let Some(sim) = system.sim {
        if let Ok(sim) = Arc::try_unwrap(sim) {
            sim.shutdown().await;
        }
    }
    Ok(Executed {
        judgement,
        summary,
        dir: dir.to_path_buf(),
        interrupted: recorded.interrupted,
    })
}

/// The system under test of a spec, opened: the embedded sim (started
/// here) or a real cluster (which must be up already).
struct System {
    target: Arc<dyn Target>,
    nemesis: Arc<dyn Nemesis>,
    /// How many nodes faults choose from (a PostgreSQL target has one
    /// client endpoint, the primary, but faults hit all three nodes).
    fault_nodes: usize,
    /// The sim, to shut down after the run.
    sim: Option<Arc<SimCluster>>,
    /// `etcd`, `sim (strong)`: for titles.
    title: String,
    /// What it is, for reports.
    description: String,
    /// What consistency it promises, for reports.
    consistency: String,
}

fn open(spec: &Spec, options: &workloads::Options) -> anyhow::Result<System> {
    let Some(kind) = cluster_of(&spec.target) else {
        return open_sim(spec, options);
    };
    let server = cluster::server(kind).ok_or_else(|| anyhow::anyhow!("no server {kind}"))?;
    let cluster = Arc::new(Cluster::new(server, spec.lab.net.clone(), &spec.lab.state));
    if !cluster.is_up() {
        anyhow::bail!(
            "the {kind} cluster is not up (state in {}); start it with `checker cluster up {kind}`",
            spec.lab.state.display()
        );
    }
    if !spec.nemesis.is_empty() {
        nemesis::netns::require_root("injecting faults into a real cluster")?;
    }
    let nodes = cluster.nodes();
    let (target, description, consistency): (Arc<dyn Target>, String, String) = match spec
        .target
        .as_str()
    {
        "etcd" | "etcd-serializable" => {
            let serializable = spec.target == "etcd-serializable";
            let endpoints = (0..nodes)
                .map(|n| cluster::etcd::client_url(&cluster, n))
                .collect();
            (
                Arc::new(workloads::etcd::EtcdTarget::new(
                    endpoints,
                    serializable,
                    spec.run.op_timeout,
                )),
                format!("etcd ({nodes} members, one network namespace each)"),
                if serializable {
                    "serializable reads (answered by any member, possibly stale); writes through raft".into()
                } else {
                    "linearizable (reads and writes through raft)".into()
                },
            )
        }
        "kafka-acks-all" | "kafka-acks-1" => {
            let acks = if spec.target == "kafka-acks-all" {
                workloads::kafka::Acks::All
            } else {
                workloads::kafka::Acks::One
            };
            let brokers = (0..nodes)
                .map(|n| cluster::kafka::bootstrap(&cluster, n))
                .collect();
            (
                Arc::new(workloads::kafka::KafkaTarget::new(
                    brokers,
                    acks,
                    spec.run.op_timeout,
                )),
                format!(
                    "Kafka 4.4 KRaft ({nodes} brokers, each also a controller; a fresh topic of {} partitions, replication factor {}, min.insync.replicas 2)",
                    workloads::kafka::PARTITIONS,
                    workloads::kafka::REPLICATION
                ),
                match acks {
                    workloads::kafka::Acks::All => {
                        "acks=all, idempotent producer: acknowledged once every in-sync replica (at least 2) has the record".into()
                    }
                    workloads::kafka::Acks::One => {
                        "acks=1, no idempotence: acknowledged once the leader has the record (a new leader may truncate it; retries may duplicate it)".into()
                    }
                },
            )
        }
        "cassandra-one" | "cassandra-quorum" | "cassandra-lwt" => {
            use workloads::cassandra::{CassandraTarget, Mode};
            let mode = match spec.target.as_str() {
                "cassandra-one" => Mode::One,
                "cassandra-quorum" => Mode::Quorum,
                _ => Mode::Lwt,
            };
            let addresses = (0..nodes)
                .map(|n| cluster::cassandra::cql_address(&cluster, n))
                .collect();
            (
                Arc::new(CassandraTarget::new(addresses, mode, spec.run.op_timeout)),
                format!("Apache Cassandra 5.0 ({nodes} nodes, replication factor 3)"),
                match mode {
                    Mode::One => "reads and writes at ONE (one replica answers); cas as a lightweight transaction",
                    Mode::Quorum => "reads and writes at QUORUM (last write wins by timestamp); cas as a lightweight transaction",
                    Mode::Lwt => "writes and cas as lightweight transactions (Paxos), reads at SERIAL",
                }
                .into(),
            )
        }
        "postgres" => (
            Arc::new(workloads::postgres::PostgresTarget::new(
                &cluster::postgres::url(&cluster, 0),
            )),
            format!(
                "PostgreSQL 15 (primary and {} streaming standbys)",
                nodes - 1
            ),
            "SERIALIZABLE transactions on the primary; commits synchronous to one standby".into(),
        ),
        _ => (
            Arc::new(workloads::postgres::PostgresTarget::with_reads_from(
                &cluster::postgres::url(&cluster, 0),
                (0..nodes)
                    .map(|n| cluster::postgres::url(&cluster, n))
                    .collect(),
            )),
            format!(
                "PostgreSQL 15 (primary and {} streaming standbys)",
                nodes - 1
            ),
            "writes on the primary (synchronous to one standby's disk, not its replay); \
             reads spread over all three nodes"
                .into(),
        ),
    };
    Ok(System {
        target,
        nemesis: Arc::new(LocalNemesis::new(Arc::clone(&cluster))),
        fault_nodes: nodes,
        sim: None,
        title: spec.title(),
        description,
        consistency,
    })
}

fn open_sim(spec: &Spec, options: &workloads::Options) -> anyhow::Result<System> {
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
    Ok(System {
        fault_nodes: target.nodes(),
        target,
        nemesis: Arc::new(nemesis::sim::SimNemesis::new(Arc::clone(&cluster))),
        sim: Some(cluster),
        title: spec.title(),
        description: format!("{} ({} replicas)", spec.target, spec.replicas),
        consistency: match mode {
            Mode::Strong => "strong (majority-acknowledged leader)".into(),
            Mode::Eventual(ConflictPolicy::Lww) => {
                "eventual (last write wins on hybrid logical clocks)".into()
            }
            Mode::Eventual(ConflictPolicy::Siblings) => "eventual (vector-clock siblings)".into(),
        },
    })
}
