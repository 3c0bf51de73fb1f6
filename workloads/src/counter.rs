//! `counter`: increments of one counter and reads of it (Jepsen's counter
//! test): every read must lie between the acknowledged and the attempted sum.

use crate::generator::{from_fn, Invocation};
use crate::workload::{reads, Data, Options, Workload, WorkloadKind};
use consistency::checker::counter::Counter;
use history::Value;

/// The workload's row of [`crate::WORKLOADS`].
pub static COUNTER: WorkloadKind = WorkloadKind {
    name: "counter",
    about: "increments of one counter and reads of it (Jepsen's counter)",
    data: Data::Counter,
    build: workload,
};

/// The workload.
pub fn workload(_options: &Options) -> Workload {
    let ops = from_fn(|ctx| {
        if ctx.rng.chance(0.25) {
            Invocation::new("read", Value::Nil)
        } else {
            Invocation::new("add", Value::Int(ctx.rng.between(1, 5) as i64))
        }
    });
    Workload {
        generator: ops,
        initial: Vec::new(),
        final_reads: vec![Invocation::new("final-read", Value::Nil)],
        // (No convergence check: its `:add` is a set's, not a counter's.)
        checks: vec![reads(Counter)],
    }
}
