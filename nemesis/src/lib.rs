//! Faults: the [`Nemesis`] trait, concrete [`Fault`]s, seeded
//! [`schedule`]s, the faults of the embedded target ([`sim`]), and real
//! clusters on one machine ([`cluster`]: one network namespace per node)
//! with their faults ([`local`]: iptables partitions, kill -9, SIGSTOP, clock
//! skew through [`faketime`]).
//!
//! A nemesis starts and stops faults and can heal everything it did.
//! Healing is idempotent; the runner calls [`Nemesis::heal_all`] at the
//! end of every run, on Ctrl-C, and on error.

pub mod cluster;
pub mod command;
pub mod faketime;
pub mod fault;
pub mod iptables;
pub mod local;
pub mod netns;
pub mod process;
pub mod schedule;
pub mod sim;

pub use fault::{Fault, FaultKind, PartitionShape};
pub use schedule::{Plan, Schedule, Step};

use async_trait::async_trait;

/// Why a fault could not be started or stopped.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NemesisError(pub String);

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
}
