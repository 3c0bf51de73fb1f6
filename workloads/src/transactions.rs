//! Transactions over a rotating set of keys, as Jepsen's `elle` generators make them: 1 to
//! 5 micro-ops each, half writes of the key's next value and half reads, each key retired
//! for a fresh one after a fixed number of writes, so every value written is unique per
//! key. [`crate::list_append`] writes by appending, [`crate::rw_register`] by overwriting.

use crate::generator::{from_fn, BoxGen, Invocation};
use crate::workload::Options;
use history::Value;

/// Writes a key gets before it is retired for a fresh one: enough for reads to reveal long
/// version orders, few enough that list reads stay short.
const WRITES_PER_KEY: u64 = 32;

/// Transactions writing with micro-op `write` (`append` or `w`), over `options.keys` keys
/// active at a time (at least 2).
pub fn generator(options: &Options, write: &'static str) -> BoxGen {
    let slots = options.keys.clamp(2, 64) as usize;
    // Each active key and how many writes it has had; retired keys are never used again.
    let mut active: Vec<(i64, u64)> = (0..slots as i64).map(|k| (k, 0)).collect();
    let mut next_key = slots as i64;
    from_fn(move |ctx| {
        let n = ctx.rng.between(1, 5);
        let mut mops = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let slot = ctx.rng.below(slots as u64) as usize;
            if ctx.rng.chance(0.5) {
                if active[slot].1 >= WRITES_PER_KEY {
                    active[slot] = (next_key, 0);
                    next_key += 1;
                }
                active[slot].1 += 1;
                let (key, count) = active[slot];
                mops.push(mop(write, key, Value::Int(count as i64)));
            } else {
                mops.push(mop("r", active[slot].0, Value::Nil));
            }
        }
        Invocation::new("txn", Value::Vector(mops))
    })
}

fn mop(f: &str, key: i64, value: Value) -> Value {
    Value::Vector(vec![Value::Keyword(f.into()), Value::Int(key), value])
}
