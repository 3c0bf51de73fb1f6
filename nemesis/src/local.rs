//! Faults on a real [`Cluster`] on this machine: partitions as iptables
//! rules in the nodes' namespaces, crashes as SIGKILL and restart, pauses
//! as SIGSTOP and SIGCONT, clock skew through libfaketime.

use crate::cluster::{Cluster, Server};
use crate::{Fault, FaultKind, Nemesis, NemesisError};
use async_trait::async_trait;
use std::sync::{Arc, Mutex, Weak};

/// The clusters of the nemeses alive in this process, for [`heal_active`].
static ACTIVE: Mutex<Vec<Weak<Cluster>>> = Mutex::new(Vec::new());

/// Heals every cluster a live [`LocalNemesis`] of this process faults:
/// for a process about to exit without unwinding (a second Ctrl-C).
pub fn heal_active() {
    let clusters: Vec<Arc<Cluster>> = match ACTIVE.lock() {
        Ok(active) => active.iter().filter_map(Weak::upgrade).collect(),
        Err(poisoned) => poisoned
            .get_ref()
            .iter()
            .filter_map(Weak::upgrade)
            .collect(),
    };
    for cluster in clusters {
        if let Err(e) = cluster.heal_all() {
            eprintln!(
                "healing {} failed: {e}; run `checker nemesis heal`",
                cluster.name()
            );
        }
    }
}

/// A nemesis over a running [`Cluster`]. Dropping it heals the cluster,
/// so a panic that unwinds through a run leaves no fault behind.
pub struct LocalNemesis {
    cluster: Arc<Cluster>,
}

impl LocalNemesis {
    /// A nemesis for `cluster`.
    pub fn new(cluster: Arc<Cluster>) -> LocalNemesis {
        if let Ok(mut active) = ACTIVE.lock() {
            active.retain(|c| c.strong_count() > 0);
            active.push(Arc::downgrade(&cluster));
        }
        LocalNemesis { cluster }
    }

    /// Whether faults of `kind` can hit servers of `server`'s kind: clock
    /// skew needs libfaketime, which only moves programs that read the
    /// clock through libc (not Go binaries such as etcd).
    pub fn supports(server: &dyn Server, kind: FaultKind) -> bool {
        kind != FaultKind::Clock || server.fakes_clock()
    }

    /// Runs a blocking cluster operation off the async workers.
    async fn blocking(
        &self,
        f: impl FnOnce(&Cluster) -> Result<(), NemesisError> + Send + 'static,
    ) -> Result<(), NemesisError> {
        let cluster = Arc::clone(&self.cluster);
        tokio::task::spawn_blocking(move || f(&cluster))
            .await
            .map_err(|e| NemesisError(format!("nemesis task failed: {e}")))?
    }
}

impl Drop for LocalNemesis {
    fn drop(&mut self) {
        if let Err(e) = self.cluster.heal_all() {
            eprintln!(
                "healing {} failed: {e}; run `checker nemesis heal`",
                self.cluster.name()
            );
        }
    }
}

#[async_trait]
impl Nemesis for LocalNemesis {
    async fn start(&self, fault: &Fault) -> Result<(), NemesisError> {
        let fault = fault.clone();
        self.blocking(move |cluster| match &fault {
            Fault::Partition { groups, .. } => cluster.partition(groups),
            Fault::Ring { cut } => cluster.cut(cut),
            Fault::IsolateLeader { .. } => Err(NemesisError(
                "isolate-leader reaches the nemesis only once resolved to a partition".into(),
            )),
            Fault::Kill { node } => cluster.kill(*node),
            Fault::Pause { node } => cluster.pause(*node),
            Fault::ClockSkew { node, offset_ns } => cluster.skew_clock(*node, *offset_ns),
        })
        .await
    }

    async fn stop(&self, fault: &Fault) -> Result<(), NemesisError> {
        let fault = fault.clone();
        self.blocking(move |cluster| match &fault {
            Fault::Partition { .. } | Fault::Ring { .. } | Fault::IsolateLeader { .. } => {
                cluster.heal_network()
            }
            Fault::Kill { node } => cluster.restart(*node),
            Fault::Pause { node } => cluster.resume(*node),
            Fault::ClockSkew { node, .. } => cluster.skew_clock(*node, 0),
        })
        .await
    }

    async fn heal_all(&self) -> Result<(), NemesisError> {
        self.blocking(|cluster| cluster.heal_all()).await
    }

    async fn leader(&self) -> Result<Option<usize>, NemesisError> {
        let cluster = Arc::clone(&self.cluster);
        tokio::task::spawn_blocking(move || cluster.leader())
            .await
            .map_err(|e| NemesisError(format!("nemesis task failed: {e}")))
    }
}
