//! `long-fork`: Jepsen's long-fork workload. Each process writes a fresh key (`[[:w k 1]]`),
//! then reads that key's whole group (`group_size` consecutive keys, in random order); half
//! of the other times it reads another process's latest group instead of writing. Two reads of
//! one group that each saw a write the other did not are a long fork, which snapshot
//! isolation forbids and parallel snapshot isolation allows (replicas that apply concurrent
//! writes in different orders). Judged by [`consistency::checker::long_fork`].

use crate::generator::{from_fn, Invocation};
use crate::workload::{Data, Options, Workload, WorkloadKind};
use consistency::checker::long_fork::LongFork;
use history::Value;
use std::collections::HashMap;

/// The workload's row of [`crate::WORKLOADS`].
pub static LONG_FORK: WorkloadKind = WorkloadKind {
    name: "long-fork",
    about: "single writes of fresh keys and reads of their groups: readers must agree on the order of writes",
    data: Data::TxnRegisters,
    build: workload,
};

/// Keys per group: each read reads this many.
pub const GROUP_SIZE: i64 = 3;

/// The workload.
pub fn workload(_: &Options) -> Workload {
    let mut next_key: i64 = 0;
    // Each process's last written key, until it has read its group.
    let mut written: HashMap<u64, i64> = HashMap::new();
    let generator = from_fn(move |ctx| {
        if let Some(key) = written.remove(&ctx.process) {
            return read_group(key, ctx.rng);
        }
        if ctx.rng.chance(0.5) && !written.is_empty() {
            // Another process's group, while its write may still be in flight.
            let mut keys: Vec<i64> = written.values().copied().collect();
            keys.sort_unstable();
            let key = keys[ctx.rng.below(keys.len() as u64) as usize];
            return read_group(key, ctx.rng);
        }
        let key = next_key;
        next_key += 1;
        written.insert(ctx.process, key);
        Invocation::new("txn", Value::Vector(vec![mop("w", key, Value::Int(1))]))
    });
    Workload {
        generator,
        initial: Vec::new(),
        final_reads: Vec::new(),
        checks: vec![Box::new(LongFork)],
    }
}

/// A read of every key of `key`'s group, in random order.
fn read_group(key: i64, rng: &mut rng::Rng) -> Invocation {
    let first = key - key.rem_euclid(GROUP_SIZE);
    let mut keys: Vec<i64> = (first..first + GROUP_SIZE).collect();
    for i in (1..keys.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        keys.swap(i, j);
    }
    let mops = keys.into_iter().map(|k| mop("r", k, Value::Nil)).collect();
    Invocation::new("txn", Value::Vector(mops))
}

fn mop(f: &str, key: i64, value: Value) -> Value {
    Value::Vector(vec![Value::Keyword(f.into()), Value::Int(key), value])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::{Context, Next};

    #[test]
    fn a_write_is_followed_by_a_read_of_its_group() {
        let mut workload = workload(&Options::default());
        let mut rng = rng::Rng::new(1, 1);
        let mut ctx = Context {
            now: 0,
            process: 0,
            rng: &mut rng,
        };
        let mut reads = 0;
        let mut last_write = None;
        for _ in 0..50 {
            let Next::Op(op) = workload.generator.next(&mut ctx) else {
                panic!("always an op")
            };
            let mops = op.value.as_seq().expect("micro-ops").to_vec();
            if mops.len() == 1 {
                let key = mops[0].as_seq().expect("mop")[1].as_int().expect("key");
                last_write = Some(key);
            } else {
                reads += 1;
                assert_eq!(mops.len(), GROUP_SIZE as usize);
                let mut keys: Vec<i64> = mops
                    .iter()
                    .map(|m| m.as_seq().expect("mop")[1].as_int().expect("key"))
                    .collect();
                keys.sort_unstable();
                let written = last_write
                    .take()
                    .expect("one process reads after its write");
                assert!(keys.contains(&written), "{keys:?} holds {written}");
                assert_eq!(keys[0] % GROUP_SIZE, 0);
            }
        }
        assert_eq!(reads, 25, "one process alternates write, read");
    }
}
