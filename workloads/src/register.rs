//! `register`: reads, writes and compare-and-sets on many independent
//! registers (Jepsen's linearizable-register test). Judged for
//! linearizability as a `cas-register` per key, for stale reads and lost
//! writes, and for convergence of the final reads.

use crate::generator::{each_key, from_fn, Invocation};
use crate::workload::{reads, Data, Options, Workload, WorkloadKind};
use consistency::checker::{convergence::Convergence, register_stats::RegisterStats};
use consistency::linearizable::Linearizable;
use consistency::model::cas_register::CasRegister;
use history::Value;

/// The workload's row of [`crate::WORKLOADS`].
pub static REGISTER: WorkloadKind = WorkloadKind {
    name: "register",
    about: "reads, writes and compare-and-sets on independent registers (Jepsen's linearizable register)",
    data: Data::Registers,
    build: workload,
};

/// The workload.
pub fn workload(options: &Options) -> Workload {
    // Small values, as Jepsen uses (0–4): collisions make cas interesting.
    let ops = from_fn(|ctx| {
        let v = |ctx: &mut crate::generator::Context<'_>| Value::Int(ctx.rng.below(5) as i64);
        match ctx.rng.below(4) {
            0 | 1 => Invocation::new("read", Value::Nil),
            2 => Invocation::new("write", v(ctx)),
            _ => Invocation::new("cas", Value::Vector(vec![v(ctx), v(ctx)])),
        }
    });
    Workload {
        generator: each_key(options.keys, ops),
        initial: Vec::new(),
        final_reads: (0..options.keys as i64)
            .map(|k| Invocation::new("final-read", Value::Nil).on(Value::Int(k)))
            .collect(),
        checks: vec![
            reads(Linearizable(CasRegister)),
            reads(RegisterStats),
            Box::new(Convergence),
        ],
    }
}
