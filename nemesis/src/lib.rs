//! Faults: the [`Nemesis`] trait, concrete [`Fault`]s, seeded
//! [`schedule`]s, the faults of the embedded target ([`sim`]), and the
//! faults over a real [`cluster::Cluster`] ([`local`]: [`iptables`]
//! partitions, kill -9, SIGSTOP, clock skew through libfaketime), the
//! faults over several clusters seen as one system ([`composite`]), with
//! [`local::heal_lab`] for `checker nemesis heal`.
//!
//! A nemesis starts and stops faults and can heal everything it did.
//! Healing is idempotent; the runner calls [`Nemesis::heal_all`] at the
//! end of every run, on Ctrl-C, and on error.

pub mod composite;
pub mod fault;
pub mod iptables;
pub mod local;
pub mod schedule;
pub mod sim;

pub use fault::{Fault, FaultKind, PartitionShape};
pub use schedule::{Plan, Schedule, Step, Surface};

use async_trait::async_trait;

/// Why a fault could not be started or stopped.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NemesisError(pub String);

impl From<cluster::ClusterError> for NemesisError {
    fn from(e: cluster::ClusterError) -> NemesisError {
        NemesisError(e.0)
    }
}

/// Injects and heals faults.
#[async_trait]
pub trait Nemesis: Send + Sync {
    /// Starts `fault`.
    async fn start(&self, fault: &Fault) -> Result<(), NemesisError>;
    /// Stops `fault`.
    async fn stop(&self, fault: &Fault) -> Result<(), NemesisError>;
    /// Undoes every fault this nemesis may have left. Idempotent.
    async fn heal_all(&self) -> Result<(), NemesisError>;
    /// The node that leads now, if the target can tell (for
    /// [`Fault::IsolateLeader`]); `None` by default.
    async fn leader(&self) -> Result<Option<usize>, NemesisError> {
        Ok(None)
    }
    /// Node `node`'s name in histories; Jepsen's `n1`, `n2`, … by default.
    fn node_name(&self, node: usize) -> String {
        fault::default_name(node)
    }
}
