//! `set`: unique elements added to one set, with reads of the whole set
//! during the run (Jepsen's set-full test) and from every node at the end.

use crate::generator::{from_fn, Invocation};
use crate::workload::{reads, Data, Options, Workload, WorkloadKind};
use consistency::checker::{convergence::Convergence, set_full::SetFull};
use history::Value;

/// The workload's row of [`crate::WORKLOADS`].
pub static SET: WorkloadKind = WorkloadKind {
    name: "set",
    about: "unique adds to one set, with reads during the run and from every node at the end (Jepsen's set-full)",
    data: Data::Set,
    build: workload,
};

/// The workload.
pub fn workload(_options: &Options) -> Workload {
    let mut next = 0i64;
    let ops = from_fn(move |ctx| {
        if ctx.rng.chance(0.1) {
            Invocation::new("read", Value::Nil)
        } else {
            next += 1;
            Invocation::new("add", Value::Int(next))
        }
    });
    Workload {
        generator: ops,
        initial: Vec::new(),
        final_reads: vec![Invocation::new("final-read", Value::Nil)],
        checks: vec![reads(SetFull::DEFAULT), Box::new(Convergence)],
    }
}
