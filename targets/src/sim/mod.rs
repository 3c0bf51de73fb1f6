//! The embedded replicated store (`system::sim`): three replicas on a
//! simulated network inside the checker, strong or eventual.

pub mod client;

use crate::{OpenError, Opened, Setup, System, TargetKind};
use client::{Shape, SimTarget};
use nemesis::sim::SimNemesis;
use std::sync::Arc;
use system::sim::{ConflictPolicy, Mode, SimCluster, SimConfig};
use workloads::{bank::BANK, counter::COUNTER, register::REGISTER, set::SET};

/// The sim's row of [`crate::SYSTEMS`].
pub static SYSTEM: System = System {
    name: "sim",
    about: "the embedded replicated store, on a simulated network inside the checker",
    servers: &[],
    needs: &[],
    targets: &[TargetKind {
        name: "sim",
        about: "strong (a majority-acknowledged leader) or eventual (LWW or siblings), by --consistency",
        workloads: &[&REGISTER, &SET, &COUNTER, &BANK],
        open,
    }],
};

fn open(setup: &Setup) -> Result<Opened, OpenError> {
    let mode = setup.sim.mode;
    let mut sim = SimConfig::new(setup.sim.replicas, mode);
    sim.seed = setup.seed;
    sim.link_delay = setup.sim.link_delay;
    sim.loss = setup.sim.loss;
    let cluster = Arc::new(SimCluster::start(sim));
    let shape = Shape::of(setup.workload.data, setup.options.accounts);
    let target = Arc::new(SimTarget::new(
        Arc::clone(&cluster),
        mode,
        shape,
        setup.op_timeout,
    ));
    let nemesis = Arc::new(SimNemesis::new(Arc::clone(&cluster)));
    Ok(Opened {
        fault_surface: nemesis::Surface::uniform(cluster.nodes()),
        target,
        nemesis,
        description: format!("sim ({} replicas)", setup.sim.replicas),
        consistency: match mode {
            Mode::Strong => "strong (majority-acknowledged leader)",
            Mode::Eventual(ConflictPolicy::Lww) => {
                "eventual (last write wins on hybrid logical clocks)"
            }
            Mode::Eventual(ConflictPolicy::Siblings) => "eventual (vector-clock siblings)",
        }
        .to_string(),
        // Once the run has dropped the target and the nemesis, this is the
        // last reference: the replicas' tasks stop.
        shutdown: Some(Box::pin(async move {
            if let Ok(cluster) = Arc::try_unwrap(cluster) {
                cluster.shutdown().await;
            }
        })),
    })
}
