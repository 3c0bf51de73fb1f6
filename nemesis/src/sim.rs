//! Faults of the embedded target: the sim cluster's own controls.

use crate::{Fault, Nemesis, NemesisError};
use async_trait::async_trait;
use std::sync::Arc;
use system::sim::SimCluster;

/// A nemesis over a [`SimCluster`].
pub struct SimNemesis {
    cluster: Arc<SimCluster>,
}

impl SimNemesis {
    /// A nemesis for `cluster`.
    pub fn new(cluster: Arc<SimCluster>) -> SimNemesis {
        SimNemesis { cluster }
    }
}

#[async_trait]
impl Nemesis for SimNemesis {
    async fn start(&self, fault: &Fault) -> Result<(), NemesisError> {
        match fault {
            Fault::Partition { groups, .. } => self.cluster.partition(groups),
            Fault::Ring { cut } => self.cluster.cut(cut),
            Fault::IsolateLeader { .. } => {
                return Err(NemesisError(
                    "isolate-leader reaches the nemesis only once resolved to a partition".into(),
                ))
            }
            Fault::Kill { node } => self.cluster.crash(*node),
            Fault::Pause { node } => self.cluster.pause(*node),
            Fault::ClockSkew { node, offset_ns } => self.cluster.skew_clock(*node, *offset_ns),
        }
        Ok(())
    }

    async fn stop(&self, fault: &Fault) -> Result<(), NemesisError> {
        match fault {
            Fault::Partition { .. } | Fault::Ring { .. } | Fault::IsolateLeader { .. } => {
                self.cluster.heal()
            }
            Fault::Kill { node } => self.cluster.restart(*node),
            Fault::Pause { node } => self.cluster.resume(*node),
            Fault::ClockSkew { node, .. } => self.cluster.skew_clock(*node, 0),
        }
        Ok(())
    }

    async fn heal_all(&self) -> Result<(), NemesisError> {
        self.cluster.heal_all();
        Ok(())
    }

    async fn leader(&self) -> Result<Option<usize>, NemesisError> {
        Ok(self.cluster.leader())
    }
}
