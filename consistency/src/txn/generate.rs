//! Serializable list-append and rw-register histories, for tests and benchmarks: the
//! shape of the Elle paper's synthetic workload, run against a sequential store under
//! random concurrency.
//!
//! Each transaction has 1 to `max_mops` micro-ops, each a write (an append, or a register
//! write, of the key's next value) or a read, over `keys` active keys; a key that has had
//! `appends_per_key` writes is retired for a fresh one, as Elle's generator does. Every transaction takes
//! effect atomically at a random moment between its invocation and its completion, so
//! the history is strict serializable by construction. A few fail (and take no effect) or
//! crash (`info`, with or without effect).

use super::Workload;
use history::{History, Op, OpType, Process, Value};

/// The workload's shape.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Lists or registers.
    pub workload: Workload,
    /// How many transactions.
    pub transactions: usize,
    /// Client processes: the concurrency.
    pub processes: u64,
    /// Active keys at any time.
    pub keys: u64,
    /// Writes (appends) a key gets before it is retired.
    pub appends_per_key: u64,
    /// The most micro-ops in one transaction.
    pub max_mops: u64,
    /// The share of transactions that fail, and of those that crash.
    pub fail: f64,
    /// The share that crash (`info`).
    pub crash: f64,
    /// The random seed.
    pub seed: u64,
}

impl Default for Shape {
    /// The Elle paper's: list-append, 1-5 micro-ops over 100 keys, 100 appends per key,
    /// 10 processes.
    fn default() -> Shape {
        Shape {
            workload: Workload::ListAppend,
            transactions: 10_000,
            processes: 10,
            keys: 100,
            appends_per_key: 100,
            max_mops: 5,
            fail: 0.02,
            crash: 0.01,
            seed: 1,
        }
    }
}

/// A transaction in flight: its micro-ops as invoked, and once applied, as completed.
type InFlight = (Vec<Value>, Option<Vec<Value>>);

fn mop(f: &str, key: i64, value: Value) -> Value {
    Value::Vector(vec![Value::Keyword(f.into()), Value::Int(key), value])
}

/// A strict serializable history of `shape`, with `:time` and `:index` set.
///
/// ```
/// use consistency::txn::{check, generate, Options, Workload};
/// use consistency::Verdict;
///
/// let shape = generate::Shape { workload: Workload::RwRegister, transactions: 200, ..Default::default() };
/// let history = generate::serializable(&shape);
/// let analysis = check(&history, Workload::RwRegister, &Options::default()).unwrap();
/// assert_eq!(analysis.verdict, Verdict::Valid);
/// ```
pub fn serializable(shape: &Shape) -> History {
    let mut rng = rng::Rng::new(shape.seed, 11);
    let mut lists: Vec<Vec<i64>> = Vec::new();
    // The active keys (indices into `lists`).
    let mut active: Vec<usize> = Vec::new();
    for _ in 0..shape.keys.max(1) {
        active.push(lists.len());
        lists.push(Vec::new());
    }
    let mut appended: Vec<u64> = vec![0; lists.len()];
    let mut flight: Vec<Option<InFlight>> = vec![None; shape.processes.max(1) as usize];
    let mut history = History::new();
    history.reserve(shape.transactions * 2);
    let mut started = 0;
    let mut time = 0i64;
    while started < shape.transactions || flight.iter().any(Option::is_some) {
        let p = rng.below(flight.len() as u64) as usize;
        let process = Process::Client(p as u64);
        time += 1_000 + rng.below(10_000) as i64;
        match flight[p].take() {
            None if started < shape.transactions => {
                started += 1;
                let n = rng.between(1, shape.max_mops.max(1));
                let mut mops = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    let slot = rng.below(active.len() as u64) as usize;
                    if rng.chance(0.5) {
                        if appended[active[slot]] >= shape.appends_per_key {
                            // Retire the key for a fresh one.
                            active[slot] = lists.len();
                            lists.push(Vec::new());
                            appended.push(0);
                        }
                        let key = active[slot];
                        appended[key] += 1;
                        let f = match shape.workload {
                            Workload::ListAppend => "append",
                            Workload::RwRegister => "w",
                        };
                        mops.push(mop(f, key as i64, Value::Int(appended[key] as i64)));
                    } else {
                        mops.push(mop("r", active[slot] as i64, Value::Nil));
                    }
                }
                history.push(
                    Op::new(process, OpType::Invoke, "txn", Value::Vector(mops.clone())).at(time),
                );
                flight[p] = Some((mops, None));
            }
            None => {}
            Some((invoked, None)) => {
                if rng.chance(shape.fail) {
                    history.push(
                        Op::new(process, OpType::Fail, "txn", Value::Vector(invoked)).at(time),
                    );
                    continue;
                }
                let applied = invoked
                    .iter()
                    .map(|m| apply(m, &mut lists, shape.workload))
                    .collect();
                flight[p] = Some((invoked, Some(applied)));
            }
            Some((invoked, Some(applied))) => {
                let (kind, value) = if rng.chance(shape.crash) {
                    (OpType::Info, invoked)
                } else {
                    (OpType::Ok, applied)
                };
                history.push(Op::new(process, kind, "txn", Value::Vector(value)).at(time));
            }
        }
    }
    history
}

/// Applies one micro-op to the store (each key a list of the values written); a list read
/// returns the list, a register read its last value.
fn apply(m: &Value, lists: &mut [Vec<i64>], workload: Workload) -> Value {
    // The generator built every micro-op as [f key value] with an integer key.
    let (f, key, value) = match m.as_seq() {
        Some([f, k, v]) => (f.as_text(), k.as_int().unwrap_or(0) as usize, v),
        _ => return m.clone(),
    };
    match f {
        Some("append" | "w") => {
            lists[key].push(value.as_int().unwrap_or(0));
            m.clone()
        }
        Some("r") if workload == Workload::RwRegister => mop(
            "r",
            key as i64,
            lists[key].last().map_or(Value::Nil, |&v| Value::Int(v)),
        ),
        _ => mop(
            "r",
            key as i64,
            Value::Vector(lists[key].iter().map(|&e| Value::Int(e)).collect()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_has_the_shape_asked_for() {
        let shape = Shape {
            transactions: 500,
            processes: 5,
            keys: 3,
            appends_per_key: 4,
            ..Shape::default()
        };
        let h = serializable(&shape);
        let ops = history::operations(&h).expect("well-formed");
        assert_eq!(ops.len(), 500);
        let mut max_key = 0;
        for o in &ops {
            let mops = o.value().as_seq().expect("a list");
            assert!((1..=5).contains(&mops.len()));
            for m in mops {
                max_key = max_key.max(m.as_seq().unwrap()[1].as_int().unwrap());
            }
        }
        // Keys got retired: more keys than the three active at once.
        assert!(max_key > 3, "{max_key}");
    }
}
