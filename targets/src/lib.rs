//! The systems the lab tests, one module each, and the targets they offer.
//!
//! A module pairs what Jepsen keeps in a test's `db` and `client`: how the
//! system's servers run on this machine (a [`cluster::Server`]; none for the
//! in-process [`sim`]), its clients (a [`workloads::Target`]), and the
//! targets it offers (`etcd`, `etcd-serializable`), each with the workloads
//! it supports and how to open it. [`SYSTEMS`] lists the modules; every
//! target name, every `--target` validation and help text, and the
//! README's list come from it. Adding a system means one module and one
//! row of [`SYSTEMS`].
//!
//! | module | system | targets |
//! |---|---|---|
//! | [`sim`] | the embedded replicated store (`system::sim`) | `sim` (strong or eventual) |
//! | [`etcd`] | etcd 3.4, 3 members | `etcd`, `etcd-serializable` |
//! | [`postgres`] | PostgreSQL 15, primary and 2 standbys | `postgres`, `postgres-standby-reads` |
//! | [`cassandra`] | Apache Cassandra 5.0, 3 nodes | `cassandra-one`, `cassandra-quorum`, `cassandra-lwt` |
//! | [`kafka`] | Apache Kafka 4.4 KRaft, 3 brokers | `kafka-acks-all`, `kafka-acks-1` |
//! | [`galera`] | MariaDB Galera 10.11, 3 nodes | `galera`, `galera-causal` |
//! | [`service`] | the service system (api replicas over the four above) | `system-strong`, `system-eventual`, `system-async` |
//! | [`observability`] | Prometheus and exporters watching the rest | none: it is watched with, not tested |
//! | [`kube`] | Kubernetes v1.34, a control plane and three nodes | none yet |

#![warn(missing_docs)]

pub mod cassandra;
pub mod etcd;
pub mod galera;
pub mod kafka;
pub mod kube;
pub mod maven;
pub mod observability;
pub mod postgres;
pub mod service;
pub mod sim;

use cluster::{Cluster, Lab, Server};
use nemesis::local::LocalNemesis;
use nemesis::{FaultKind, Nemesis, Surface};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use workloads::{Target, TargetError, WorkloadKind};

/// Every system, in the order help texts list them.
pub static SYSTEMS: &[&System] = &[
    &sim::SYSTEM,
    &etcd::SYSTEM,
    &postgres::SYSTEM,
    &cassandra::SYSTEM,
    &kafka::SYSTEM,
    &galera::SYSTEM,
    &service::SYSTEM,
    &observability::SYSTEM,
    &kube::SYSTEM,
];

/// A system the lab can test: a row of [`SYSTEMS`].
pub struct System {
    /// Its name (`checker cluster up etcd`).
    pub name: &'static str,
    /// What it is, in one line.
    pub about: &'static str,
    /// The kinds of server it runs itself, in the order they start; none
    /// for a system that runs inside the checker (the sim). Its targets'
    /// faults hit the first.
    pub servers: &'static [&'static dyn Server],
    /// The systems it runs on, brought up before it and down with it (the
    /// service system's stores).
    pub needs: &'static [&'static System],
    /// The targets it offers.
    pub targets: &'static [TargetKind],
}

impl std::fmt::Debug for System {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl std::fmt::Debug for TargetKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl System {
    /// Whether it is a real cluster (brought up by `checker cluster up`).
    pub fn is_real(&self) -> bool {
        !self.servers.is_empty()
    }

    /// Every server kind it needs, those of the systems it runs on first,
    /// in the order they start.
    pub fn all_servers(&self) -> Vec<&'static dyn Server> {
        let mut all: Vec<&'static dyn Server> = Vec::new();
        for needed in self.needs {
            for server in needed.all_servers() {
                if !all.iter().any(|s| s.name() == server.name()) {
                    all.push(server);
                }
            }
        }
        all.extend(self.servers.iter().copied());
        all
    }

    /// Whether faults of `kind` can hit it: clock skew needs libfaketime,
    /// which only moves programs that read the clock through libc (not Go
    /// binaries such as etcd); partitions need nodes whose traffic is their
    /// own (not Kubernetes nodes').
    pub fn supports_fault(&self, kind: FaultKind) -> bool {
        self.why_not(kind).is_none()
    }

    /// The faults a run injects when none are named: partitions where they can hit it, else
    /// the first kind that can (kills, on Kubernetes nodes), else none.
    pub fn default_faults(&self) -> Vec<FaultKind> {
        std::iter::once(FaultKind::Partition)
            .chain(FaultKind::ALL.iter().copied())
            .find(|k| self.supports_fault(*k))
            .into_iter()
            .collect()
    }

    /// Why faults of `kind` cannot hit it, if they cannot (its targets' faults hit its first
    /// server kind).
    pub fn why_not(&self, kind: FaultKind) -> Option<&'static str> {
        self.servers
            .first()
            .and_then(|server| LocalNemesis::why_not(*server, kind))
    }
}

/// A way to test a system (`etcd-serializable`: etcd with reads served by
/// any member): the workloads it runs and how to open it.
pub struct TargetKind {
    /// Its name on the command line (`--target`).
    pub name: &'static str,
    /// What it is, in one line, for `--help`.
    pub about: &'static str,
    /// The workloads it can run; any other is refused before a run starts.
    pub workloads: &'static [&'static WorkloadKind],
    /// Opens it for one run.
    pub open: fn(&Setup) -> Result<Opened, OpenError>,
}

impl TargetKind {
    /// Whether it runs `workload`.
    pub fn supports(&self, workload: &WorkloadKind) -> bool {
        self.workloads.contains(&workload)
    }

    /// The names of the workloads it runs, comma-separated.
    pub fn workload_names(&self) -> String {
        self.workloads
            .iter()
            .map(|w| w.name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Every target with its system, in table order.
pub fn targets() -> impl Iterator<Item = (&'static System, &'static TargetKind)> {
    SYSTEMS
        .iter()
        .flat_map(|s| s.targets.iter().map(move |t| (*s, t)))
}

/// The target named `name`, with its system.
pub fn target(name: &str) -> Option<(&'static System, &'static TargetKind)> {
    targets().find(|(_, t)| t.name == name)
}

/// Every target's name, comma-separated.
pub fn target_names() -> String {
    targets()
        .map(|(_, t)| t.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The real system named `name` (`etcd`), for `checker cluster`.
pub fn real_system(name: &str) -> Option<&'static System> {
    SYSTEMS
        .iter()
        .copied()
        .find(|s| s.is_real() && s.name == name)
}

/// The server kinds of every real system (`checker cluster … all`,
/// `checker nemesis heal`).
pub fn servers() -> Vec<&'static dyn Server> {
    SYSTEMS
        .iter()
        .flat_map(|s| s.servers.iter().copied())
        .collect()
}

/// The settings of the embedded sim (ignored by real targets).
#[derive(Debug, Clone)]
pub struct SimSettings {
    /// Strong or eventual, and the conflict policy.
    pub mode: system::sim::Mode,
    /// Replicas.
    pub replicas: usize,
    /// Per-message delay range on every link.
    pub link_delay: (Duration, Duration),
    /// Probability of losing each message, 0 to 1.
    pub loss: f64,
}

/// What opening a target needs.
pub struct Setup<'a> {
    /// The workload it will run.
    pub workload: &'static WorkloadKind,
    /// The workload's sizes.
    pub options: &'a workloads::Options,
    /// An operation not completed in this time is `info`.
    pub op_timeout: Duration,
    /// Seeds the sim's network.
    pub seed: u64,
    /// Where real clusters are.
    pub lab: &'a Lab,
    /// Whether faults will be injected (real clusters then need root).
    pub faults: bool,
    /// The sim's settings.
    pub sim: &'a SimSettings,
    /// How clients reach the service system (REST or gRPC; others ignore it).
    pub via: service::client::Via,
}

/// Work to do once a run is over (stopping the sim's tasks).
pub type Shutdown = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A target opened for one run.
pub struct Opened {
    /// The clients' side.
    pub target: Arc<dyn Target>,
    /// The faults' side.
    pub nemesis: Arc<dyn Nemesis>,
    /// The nodes faults choose from (a PostgreSQL target has one client
    /// endpoint, the primary, but faults hit all three nodes; the service
    /// system's hit its replicas and the stores they use).
    pub fault_surface: Surface,
    /// What it is, for reports.
    pub description: String,
    /// What consistency it promises, for reports.
    pub consistency: String,
    /// To await after the run, once `target` and `nemesis` are dropped.
    pub shutdown: Option<Shutdown>,
}

/// Why a target cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Its cluster is not running.
    #[error("the {system} cluster is not up (state in {state}); start it with `checker cluster up {system}`")]
    NotUp {
        /// The system's name.
        system: &'static str,
        /// The lab's state folder.
        state: String,
    },
    /// The lab's machinery refused (not root, say).
    #[error(transparent)]
    Cluster(#[from] cluster::ClusterError),
    /// The target refused.
    #[error(transparent)]
    Target(#[from] TargetError),
}

/// The running cluster of `server` for a run, with the nemesis over it.
fn running(server: &'static dyn Server, setup: &Setup) -> Result<Arc<Cluster>, OpenError> {
    let cluster = Arc::new(Cluster::new(
        server,
        setup.lab.net.clone(),
        &setup.lab.state,
    ));
    // Nodes that run may need a moment to answer (a run that just healed
    // a partition leaves a cluster electing its leader).
    if !cluster.wait_up(server.ready_timeout()) {
        return Err(OpenError::NotUp {
            system: server.name(),
            state: setup.lab.state.display().to_string(),
        });
    }
    if setup.faults {
        cluster::netns::require_root("injecting faults into a real cluster")?;
    }
    Ok(cluster)
}

impl Opened {
    /// A real cluster's target, faulted by a [`LocalNemesis`].
    fn real(
        cluster: Arc<Cluster>,
        target: Arc<dyn Target>,
        description: String,
        consistency: &str,
    ) -> Opened {
        Opened {
            target,
            fault_surface: Surface::uniform(cluster.nodes()),
            nemesis: Arc::new(LocalNemesis::new(cluster)),
            description,
            consistency: consistency.to_string(),
            shutdown: None,
        }
    }
}
