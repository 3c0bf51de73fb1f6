//! Convergence of an eventually consistent store: do the replicas agree
//! in the end, on everything that was acknowledged, and nothing else?
//!
//! After the faults are healed, a test reads every key from every replica:
//! ops with `:f :final-read`, the key in `:key` (or none, for a single
//! object), and the replica in the extra field `:node`. Writes are
//! `:add x` (set-valued keys: the final read returns a collection) or
//! `:write v` / `:cas [old new]` (register keys). For each key, taking
//! each node's last `ok` final read:
//!
//! - **diverged**: the nodes do not all return the same value (sets are
//!   compared as sets);
//! - **fabricated**: a node returns an element (sets) or a value
//!   (registers, other than the initial `nil`) that no non-failed add or
//!   write invoked before that read completed wrote;
//! - **lost** (sets): an add acknowledged before the read was invoked is
//!   missing;
//! - **lost-writes** (registers): writes (or `cas`) acknowledged before the
//!   read was invoked whose effect vanished: every write that could have
//!   produced the node's final value had completed before the lost write
//!   was invoked, so the final value is older than an acknowledged write.
//!   The initial `nil` counts as written before everything.
//!
//! Valid iff none of these; `:unknown` if there is no `ok` final read.
//!
//! **`convergence-ms`** measures how long the replicas took to agree: from
//! the *heal* (the last event of `:process :nemesis` whose `:f` is
//! `stop-partition`, `heal`, `restart`, `resume` or `stop-clock-skew`, or,
//! without one, the invocation of the first final read) to the first
//! final-read completion, at or after the heal, at which every node's
//! latest final read of every key agreed. `null` when they never agreed or
//! the history has no times.
//!
//! The report's [`Details::Convergence`] holds the result typed, as
//! [`Agreement`].
//!
//! ```
//! use history::{History, Op, OpType, Process, Value};
//! use consistency::checker::convergence::check;
//! use consistency::checker::Details;
//! use consistency::Verdict;
//!
//! let node = |op: Op, n: &str| { let mut op = op; op.extra.push(("node".into(), Value::from(n))); op };
//! let (p0, p1, p2) = (Process::Client(0), Process::Client(1), Process::Client(2));
//! let set = |xs: &[i64]| Value::Vector(xs.iter().map(|&x| Value::Int(x)).collect());
//! let h = History::from_ops([
//!     Op::new(p0.clone(), OpType::Invoke, "add", Value::Int(1)).with_key(Value::from("k")),
//!     Op::new(p0.clone(), OpType::Ok, "add", Value::Int(1)).with_key(Value::from("k")),
//!     node(Op::new(p1.clone(), OpType::Invoke, "final-read", Value::Nil).with_key(Value::from("k")), "n1"),
//!     node(Op::new(p1.clone(), OpType::Ok, "final-read", set(&[1])).with_key(Value::from("k")), "n1"),
//!     node(Op::new(p2.clone(), OpType::Invoke, "final-read", Value::Nil).with_key(Value::from("k")), "n2"),
//!     node(Op::new(p2.clone(), OpType::Ok, "final-read", set(&[])).with_key(Value::from("k")), "n2"),
//! ]);
//! let report = check(&h).unwrap();
//! assert_eq!(report.verdict, Verdict::Invalid);
//! assert_eq!(report.to_json()["diverged-count"], 1);
//! assert_eq!(report.to_json()["lost"][0]["elements"], serde_json::json!([1]));
//! let Details::Convergence(agreement) = &report.details else { panic!("a convergence report") };
//! assert_eq!((agreement.diverged_count, agreement.lost_count), (1, 1));
//! assert_eq!(agreement.lost[0].elements, [Value::Int(1)]);
//! ```

use super::{bad_operation, op_json, ser, CheckError, Checker, Details, Report, INCONCLUSIVE};
use crate::Verdict;
use history::{operations, History, Operation, Outcome, Process, Value};
use serde::Serialize;
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};

/// The checker's name (`checker check --model convergence`), in its reports too.
const NAME: &str = "convergence";

/// What the convergence check found. Keys are `None` for a single object
/// (serialized as `null`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Agreement {
    /// Keys with an `ok` final read (the keys judged).
    pub key_count: u64,
    /// The nodes that final-read, sorted.
    #[serde(serialize_with = "ser::values")]
    pub nodes: Vec<Value>,
    /// `ok` final reads.
    pub final_read_count: u64,
    /// Keys on which the nodes disagree.
    pub diverged_count: u64,
    /// Those keys, with each node's final value.
    pub diverged: Vec<Divergence>,
    /// Distinct fabricated elements or values, summed over keys.
    pub fabricated_count: u64,
    /// Per key and node, what it returned that nobody wrote.
    pub fabricated: Vec<Fabrication>,
    /// Distinct lost elements (sets), summed over keys.
    pub lost_count: u64,
    /// Per key and node, the acknowledged elements missing.
    pub lost: Vec<Loss>,
    /// Distinct lost writes (registers), summed over keys.
    pub lost_write_count: u64,
    /// Per key and node, the acknowledged writes whose effect vanished.
    pub lost_writes: Vec<LostWrites>,
    /// From the heal to the moment every node agreed on every key, in
    /// milliseconds; `None` if they never did or the history has no times.
    pub convergence_ms: Option<f64>,
    /// Why the verdict is unknown (no `ok` final read); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A key on which the nodes' final reads disagree.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Divergence {
    /// The key.
    #[serde(serialize_with = "ser::key")]
    pub key: Option<Value>,
    /// Each node's last final read of it (serialized as a map).
    #[serde(serialize_with = "ser::value_map")]
    pub values: BTreeMap<Value, Value>,
}

/// What a node returned that no non-failed write invoked before the read
/// completed wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Fabrication {
    /// Elements of a set key.
    Set {
        /// The key.
        #[serde(serialize_with = "ser::key")]
        key: Option<Value>,
        /// The node.
        #[serde(serialize_with = "ser::value")]
        node: Value,
        /// The elements nobody added, in the order read.
        #[serde(serialize_with = "ser::values")]
        elements: Vec<Value>,
    },
    /// The value of a register key.
    Register {
        /// The key.
        #[serde(serialize_with = "ser::key")]
        key: Option<Value>,
        /// The node.
        #[serde(serialize_with = "ser::value")]
        node: Value,
        /// The value nobody wrote.
        #[serde(serialize_with = "ser::value")]
        value: Value,
    },
}

/// Acknowledged elements missing from a node's final read of a set key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Loss {
    /// The key.
    #[serde(serialize_with = "ser::key")]
    pub key: Option<Value>,
    /// The node.
    #[serde(serialize_with = "ser::value")]
    pub node: Value,
    /// The missing elements, sorted.
    #[serde(serialize_with = "ser::values")]
    pub elements: Vec<Value>,
}

/// Acknowledged writes of a register key whose effect vanished from a
/// node's final read.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct LostWrites {
    /// The key.
    #[serde(serialize_with = "ser::key")]
    pub key: Option<Value>,
    /// The node.
    #[serde(serialize_with = "ser::value")]
    pub node: Value,
    /// The node's final value.
    #[serde(serialize_with = "ser::value")]
    pub final_value: Value,
    /// The lost writes' completions, as Jepsen prints ops.
    pub writes: Vec<Json>,
}

/// The nemesis `:f`s that end a fault.
pub const HEALS: &[&str] = &[
    "stop-partition",
    "heal",
    "restart",
    "resume",
    "stop-clock-skew",
];

/// What a key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Set,
    Register,
}

/// A write to a key: its operation and the value (register) or element (set).
struct Write<'o, 'h> {
    op: &'o Operation<'h>,
    value: &'h Value,
}

/// A final read: which operation, on which node.
struct FinalRead<'o, 'h> {
    op: &'o Operation<'h>,
    node: &'h Value,
}

/// A node's final state of a key, comparable across nodes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum State<'h> {
    Set(BTreeSet<&'h Value>),
    Register(&'h Value),
}

#[derive(Default)]
struct KeyData<'o, 'h> {
    adds: Vec<Write<'o, 'h>>,
    writes: Vec<Write<'o, 'h>>,
    finals: Vec<FinalRead<'o, 'h>>,
}

/// The position at which an operation is known to be over; `usize::MAX`
/// when it may still take effect (info, unfinished).
fn done_at(o: &Operation<'_>) -> usize {
    match o.outcome {
        Outcome::Ok | Outcome::Fail => o.complete_at.unwrap_or(usize::MAX),
        Outcome::Info | Outcome::Pending => usize::MAX,
    }
}

/// The node of a final read, from its completion or its invocation.
fn node_of<'h>(history: &History, o: &Operation<'h>) -> Result<&'h Value, CheckError> {
    let find = |op: &'h history::Op| {
        op.extra
            .iter()
            .find(|(name, _)| name == "node")
            .map(|(_, v)| v)
    };
    o.completion
        .and_then(find)
        .or_else(|| find(o.invoke))
        .ok_or_else(|| {
            bad_operation(
                history,
                o,
                true,
                "a :final-read must name the replica it read in a :node field".into(),
            )
        })
}

/// The convergence check as a [`Checker`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Convergence;

impl Checker for Convergence {
    fn name(&self) -> &'static str {
        NAME
    }

    fn about(&self) -> &'static str {
        "replicas' :final-read (with :node) agree, lose nothing, invent nothing"
    }

    fn check(
        &self,
        history: &History,
        _options: &crate::linearizable::Options,
    ) -> Result<Report, CheckError> {
        check(history)
    }
}

/// Checks convergence; see the [module docs](self).
pub fn check(history: &History) -> Result<Report, CheckError> {
    let ops = operations(history)?;
    let mut keys: BTreeMap<Option<&Value>, KeyData<'_, '_>> = BTreeMap::new();
    for o in &ops {
        let key = o.key();
        match o.f() {
            "final-read" if o.outcome == Outcome::Ok => {
                let node = node_of(history, o)?;
                keys.entry(key)
                    .or_default()
                    .finals
                    .push(FinalRead { op: o, node });
            }
            "add" if o.outcome != Outcome::Fail => {
                keys.entry(key).or_default().adds.push(Write {
                    op: o,
                    value: &o.invoke.value,
                });
            }
            "write" | "cas" => {
                if let Some(value) = super::written_value(history, o)? {
                    keys.entry(key)
                        .or_default()
                        .writes
                        .push(Write { op: o, value });
                }
            }
            _ => {}
        }
    }
    // Keys nobody read at the end are not judged.
    keys.retain(|_, k| !k.finals.is_empty());

    let mut diverged = Vec::new();
    let mut fabricated = Vec::new();
    let mut fabricated_count = 0usize;
    let mut lost = Vec::new();
    let mut lost_count = 0usize;
    let mut lost_writes = Vec::new();
    let mut lost_write_count = 0usize;
    let mut nodes_seen: BTreeSet<&Value> = BTreeSet::new();
    let mut kinds: BTreeMap<Option<&Value>, Kind> = BTreeMap::new();
    let mut final_read_count = 0usize;

    for (key, data) in &keys {
        if let (Some(a), Some(w)) = (data.adds.first(), data.writes.first()) {
            let later = if a.op.invoke_at > w.op.invoke_at {
                a
            } else {
                w
            };
            return Err(bad_operation(
                history,
                later.op,
                false,
                format!(
                    "key {} has both :add (set) and :write/:cas (register) operations; a key must be one or the other",
                    key.map_or_else(|| "nil".to_string(), |k| k.to_string())
                ),
            ));
        }
        let kind = if !data.adds.is_empty() {
            Kind::Set
        } else if !data.writes.is_empty() {
            Kind::Register
        } else if data
            .finals
            .iter()
            .all(|r| r.op.value().as_seq().is_some() || r.op.value().is_nil())
            && data.finals.iter().any(|r| r.op.value().as_seq().is_some())
        {
            Kind::Set
        } else {
            Kind::Register
        };
        kinds.insert(*key, kind);
        final_read_count += data.finals.len();

        // Each node's last final read (by completion).
        let mut last: BTreeMap<&Value, &FinalRead<'_, '_>> = BTreeMap::new();
        for r in &data.finals {
            nodes_seen.insert(r.node);
            let replace = match last.get(r.node) {
                Some(prev) => prev.op.complete_at < r.op.complete_at,
                None => true,
            };
            if replace {
                last.insert(r.node, r);
            }
        }
        let mut states: BTreeMap<&Value, State<'_>> = BTreeMap::new();
        for (&node, r) in &last {
            states.insert(node, state_of(history, kind, r.op)?);
        }

        let distinct: BTreeSet<&State<'_>> = states.values().collect();
        if distinct.len() > 1 {
            diverged.push(Divergence {
                key: key.cloned(),
                values: last
                    .iter()
                    .map(|(&n, r)| (n.clone(), r.op.value().clone()))
                    .collect(),
            });
        }
        match kind {
            Kind::Set => {
                let mut fabricated_here: BTreeSet<&Value> = BTreeSet::new();
                let mut lost_here: BTreeSet<&Value> = BTreeSet::new();
                for (&node, r) in &last {
                    let Some(State::Set(read)) = states.get(node) else {
                        continue;
                    };
                    let done = r.op.complete_at.unwrap_or(usize::MAX);
                    let written: BTreeSet<&Value> = data
                        .adds
                        .iter()
                        .filter(|a| a.op.invoke_at < done)
                        .map(|a| a.value)
                        .collect();
                    let invented: Vec<&Value> = read
                        .iter()
                        .copied()
                        .filter(|e| !written.contains(e))
                        .collect();
                    if !invented.is_empty() {
                        fabricated_here.extend(invented.iter().copied());
                        fabricated.push(Fabrication::Set {
                            key: key.cloned(),
                            node: node.clone(),
                            elements: invented.iter().map(|&e| e.clone()).collect(),
                        });
                    }
                    let missing: BTreeSet<&Value> = data
                        .adds
                        .iter()
                        .filter(|a| a.op.outcome == Outcome::Ok && done_at(a.op) < r.op.invoke_at)
                        .map(|a| a.value)
                        .filter(|e| !read.contains(e))
                        .collect();
                    if !missing.is_empty() {
                        lost_here.extend(missing.iter().copied());
                        lost.push(Loss {
                            key: key.cloned(),
                            node: node.clone(),
                            elements: missing.iter().map(|&e| e.clone()).collect(),
                        });
                    }
                }
                fabricated_count += fabricated_here.len();
                lost_count += lost_here.len();
            }
            Kind::Register => {
                let mut fabricated_here: BTreeSet<&Value> = BTreeSet::new();
                let mut lost_here: BTreeSet<usize> = BTreeSet::new();
                for (&node, r) in &last {
                    let v = r.op.value();
                    let done = r.op.complete_at.unwrap_or(usize::MAX);
                    let writers: Vec<&Write<'_, '_>> = data
                        .writes
                        .iter()
                        .filter(|w| w.op.invoke_at < done && w.value == v)
                        .collect();
                    if writers.is_empty() && !v.is_nil() {
                        fabricated_here.insert(v);
                        fabricated.push(Fabrication::Register {
                            key: key.cloned(),
                            node: node.clone(),
                            value: v.clone(),
                        });
                        continue;
                    }
                    // The latest any writer of v may have taken effect
                    // (the initial nil "completed" before everything).
                    let newest = writers
                        .iter()
                        .map(|w| done_at(w.op) as i128)
                        .max()
                        .unwrap_or(-1);
                    let vanished: Vec<&Write<'_, '_>> = data
                        .writes
                        .iter()
                        .filter(|w| {
                            w.op.outcome == Outcome::Ok
                                && done_at(w.op) < r.op.invoke_at
                                && newest < w.op.invoke_at as i128
                        })
                        .collect();
                    if !vanished.is_empty() {
                        lost_here.extend(vanished.iter().map(|w| w.op.invoke_at));
                        lost_writes.push(LostWrites {
                            key: key.cloned(),
                            node: node.clone(),
                            final_value: v.clone(),
                            writes: vanished
                                .iter()
                                .map(|w| op_json(w.op.completion.unwrap_or(w.op.invoke)))
                                .collect(),
                        });
                    }
                }
                fabricated_count += fabricated_here.len();
                lost_write_count += lost_here.len();
            }
        }
    }

    let convergence_ms = convergence_ms(history, &keys, &kinds)?;

    let verdict = if final_read_count == 0 {
        INCONCLUSIVE
    } else if diverged.is_empty()
        && fabricated.is_empty()
        && lost.is_empty()
        && lost_writes.is_empty()
    {
        Verdict::Valid
    } else {
        Verdict::Invalid
    };
    let summary = if final_read_count == 0 {
        "no ok :final-read: nothing to judge convergence on".to_string()
    } else {
        format!(
            "{} keys on {} nodes: {} diverged, {} fabricated, {} lost, {} lost writes; converged {}",
            keys.len(),
            nodes_seen.len(),
            diverged.len(),
            fabricated_count,
            lost_count,
            lost_write_count,
            convergence_ms.map_or_else(
                || "never (or no times)".to_string(),
                |ms| format!("{ms:.1} ms after the heal")
            )
        )
    };
    Ok(Report {
        checker: NAME,
        verdict,
        summary,
        details: Details::Convergence(Agreement {
            key_count: keys.len() as u64,
            nodes: nodes_seen.iter().map(|&n| n.clone()).collect(),
            final_read_count: final_read_count as u64,
            diverged_count: diverged.len() as u64,
            diverged,
            fabricated_count: fabricated_count as u64,
            fabricated,
            lost_count: lost_count as u64,
            lost,
            lost_write_count: lost_write_count as u64,
            lost_writes,
            convergence_ms,
            error: (final_read_count == 0).then(|| "no ok :final-read".to_string()),
        }),
    })
}

/// A final read's value as a comparable state.
fn state_of<'h>(history: &History, kind: Kind, o: &Operation<'h>) -> Result<State<'h>, CheckError> {
    let v = o.value();
    match kind {
        Kind::Register => Ok(State::Register(v)),
        Kind::Set => match v {
            Value::Nil => Ok(State::Set(BTreeSet::new())),
            v => v
                .as_seq()
                .map(|items| State::Set(items.iter().collect()))
                .ok_or_else(|| {
                    bad_operation(
                        history,
                        o,
                        true,
                        format!(
                            "a :final-read of a set must return a collection (a vector or a set), found {} `{}`",
                            v.kind(),
                            v
                        ),
                    )
                }),
        },
    }
}

/// The time from the heal to the first moment every node's latest final
/// read of every key agreed, in milliseconds.
fn convergence_ms(
    history: &History,
    keys: &BTreeMap<Option<&Value>, KeyData<'_, '_>>,
    kinds: &BTreeMap<Option<&Value>, Kind>,
) -> Result<Option<f64>, CheckError> {
    let events = history.ops();
    let heal = events.iter().rev().find(|op| {
        matches!(&op.process, Process::Named(n) if n == "nemesis") && HEALS.contains(&op.f.as_str())
    });
    // Final-read completions in history order: (position, key, node, op).
    let mut reads: Vec<(usize, Option<&Value>, &Value, &Operation<'_>)> = keys
        .iter()
        .flat_map(|(k, d)| {
            d.finals
                .iter()
                .filter_map(move |r| r.op.complete_at.map(|at| (at, *k, r.node, r.op)))
        })
        .collect();
    reads.sort_by_key(|r| r.0);
    let start = match heal {
        Some(op) => op.time,
        None => match reads.iter().map(|r| r.3).min_by_key(|o| o.invoke_at) {
            Some(first) => first.invoke.time,
            None => return Ok(None),
        },
    };
    if start < 0 {
        return Ok(None);
    }
    // Every node that ever final-reads a key must agree on it.
    let nodes: BTreeMap<Option<&Value>, BTreeSet<&Value>> = keys
        .iter()
        .map(|(k, d)| (*k, d.finals.iter().map(|r| r.node).collect()))
        .collect();
    let mut latest: BTreeMap<Option<&Value>, BTreeMap<&Value, State<'_>>> = BTreeMap::new();
    let mut agreed: BTreeSet<Option<&Value>> = BTreeSet::new();
    for (at, key, node, op) in reads {
        let kind = kinds.get(&key).copied().unwrap_or(Kind::Register);
        let states = latest.entry(key).or_default();
        states.insert(node, state_of(history, kind, op)?);
        let all_read = nodes.get(&key).map_or(0, BTreeSet::len) == states.len();
        let first = states.values().next();
        if all_read && states.values().all(|s| Some(s) == first) {
            agreed.insert(key);
        } else {
            agreed.remove(&key);
        }
        let time = history.ops().get(at).map_or(-1, |o| o.time);
        if agreed.len() == keys.len() && time >= start {
            return Ok(Some((time - start) as f64 / 1e6));
        }
    }
    Ok(None)
}
