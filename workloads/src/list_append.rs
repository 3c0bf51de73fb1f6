//! `list-append`: transactions of 1 to 5 micro-ops, each an append of a unique value to a
//! list or a read of a whole list, over a rotating set of keys (Jepsen's `elle` list-append
//! generator), judged by Elle's list-append analysis for the consistency models of the run
//! (strict serializable unless told otherwise).

use crate::generator::{from_fn, Invocation};
use crate::workload::{Data, Options, Workload, WorkloadKind};
use consistency::txn::ListAppend;
use history::Value;

/// The workload's row of [`crate::WORKLOADS`].
pub static LIST_APPEND: WorkloadKind = WorkloadKind {
    name: "list-append",
    about: "transactions of appends and whole-list reads over rotating keys, judged by Elle's cycle analysis",
    data: Data::Lists,
    build: workload,
};

/// Appends a key gets before it is retired for a fresh one: enough for reads to reveal long
/// version orders, few enough that reads stay short.
const APPENDS_PER_KEY: u64 = 32;

/// The workload: `options.keys` keys active at a time (at least 2).
pub fn workload(options: &Options) -> Workload {
    let slots = options.keys.clamp(2, 64) as usize;
    // Each active key and how many appends it has had; retired keys are never used again,
    // so every appended value is unique per key.
    let mut active: Vec<(i64, u64)> = (0..slots as i64).map(|k| (k, 0)).collect();
    let mut next_key = slots as i64;
    let ops = from_fn(move |ctx| {
        let n = ctx.rng.between(1, 5);
        let mut mops = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let slot = ctx.rng.below(slots as u64) as usize;
            if ctx.rng.chance(0.5) {
                if active[slot].1 >= APPENDS_PER_KEY {
                    active[slot] = (next_key, 0);
                    next_key += 1;
                }
                active[slot].1 += 1;
                let (key, count) = active[slot];
                mops.push(mop("append", key, Value::Int(count as i64)));
            } else {
                mops.push(mop("r", active[slot].0, Value::Nil));
            }
        }
        Invocation::new("txn", Value::Vector(mops))
    });
    Workload {
        generator: ops,
        initial: Vec::new(),
        final_reads: Vec::new(),
        checks: vec![Box::new(ListAppend)],
    }
}

fn mop(f: &str, key: i64, value: Value) -> Value {
    Value::Vector(vec![Value::Keyword(f.into()), Value::Int(key), value])
}
