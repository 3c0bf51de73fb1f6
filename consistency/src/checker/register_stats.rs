//! Stale reads and lost writes in register histories, counted per key.
//!
//! Operations, on the key in `:key` (or a single register without one):
//! `:write v`, `:read` → `v`, and `:cas [old new]` (which writes `new`
//! when it succeeds). The register starts as `nil`. Where several writes
//! wrote the same value, a read of it is attributed to whichever of them
//! makes the read *least* suspicious, so every reported anomaly is certain:
//!
//! - a **stale read** is an `ok` read returning `v` where every write that
//!   could have produced `v` (non-failed, invoked before the read completed;
//!   or the initial `nil`) is superseded in real time: some `ok` write or
//!   `ok` cas `w2` was invoked after it completed, and completed before the
//!   read was invoked. An `info` or unfinished writer of `v` may take effect
//!   at any later time, so its value is never stale.
//! - a **lost write** is an `ok` write (or `ok` cas) `w` whose effect
//!   vanished: some `ok` read invoked after `w` completed returned a value
//!   whose every possible writer completed before `w` was invoked, and no
//!   `ok` read invoked after `w` completed returned `w`'s value or a value
//!   that may have been written after `w` was invoked.
//! - an **unwritten read** is an `ok` read returning a value (other than the
//!   initial `nil`) that no non-failed write invoked before it completed
//!   wrote.
//!
//! Valid iff all three counts are zero. These are certain violations of
//! linearizability found in one pass; a history without them may still not
//! be linearizable (use `checker check --model cas-register` for that).
//!
//! The report's [`Details::RegisterStats`] holds the result typed, as
//! [`Stats`].
//!
//! A stale read: the read began after the write of 2 had completed, yet
//! returned 1.
//!
//! ```
//! use history::{History, Op, OpType, Process, Value};
//! use consistency::checker::register_stats::check;
//! use consistency::checker::Details;
//! use consistency::Verdict;
//!
//! let (p0, p1) = (Process::Client(0), Process::Client(1));
//! let h = History::from_ops([
//!     Op::new(p0.clone(), OpType::Invoke, "write", Value::Int(1)),
//!     Op::new(p0.clone(), OpType::Ok, "write", Value::Int(1)),
//!     Op::new(p0.clone(), OpType::Invoke, "write", Value::Int(2)),
//!     Op::new(p0.clone(), OpType::Ok, "write", Value::Int(2)),
//!     Op::new(p1.clone(), OpType::Invoke, "read", Value::Nil),
//!     Op::new(p1.clone(), OpType::Ok, "read", Value::Int(1)),
//!     Op::new(p1.clone(), OpType::Invoke, "read", Value::Nil),
//!     Op::new(p1.clone(), OpType::Ok, "read", Value::Int(2)),
//! ]);
//! let report = check(&h).unwrap();
//! assert_eq!(report.verdict, Verdict::Invalid);
//! assert_eq!(report.to_json()["stale-read-count"], 1);
//! assert_eq!(report.to_json()["lost-write-count"], 0); // a later read saw 2
//! let Details::RegisterStats(stats) = &report.details else { panic!("register stats") };
//! assert_eq!((stats.stale_read_count, stats.lost_write_count), (1, 0));
//! assert_eq!(stats.stale_reads[0].value, Value::Int(1));
//! ```
//!
//! A lost write: 2 was acknowledged, but every read after it returned the
//! older 1, and nothing newer.
//!
//! ```
//! use history::{History, Op, OpType, Process, Value};
//! use consistency::checker::register_stats::check;
//!
//! let (p0, p1) = (Process::Client(0), Process::Client(1));
//! let k = Value::from("x");
//! let h = History::from_ops([
//!     Op::new(p0.clone(), OpType::Invoke, "write", Value::Int(1)).with_key(k.clone()),
//!     Op::new(p0.clone(), OpType::Ok, "write", Value::Int(1)).with_key(k.clone()),
//!     Op::new(p0.clone(), OpType::Invoke, "write", Value::Int(2)).with_key(k.clone()),
//!     Op::new(p0.clone(), OpType::Ok, "write", Value::Int(2)).with_key(k.clone()),
//!     Op::new(p1.clone(), OpType::Invoke, "read", Value::Nil).with_key(k.clone()),
//!     Op::new(p1.clone(), OpType::Ok, "read", Value::Int(1)).with_key(k.clone()),
//! ]);
//! let report = check(&h).unwrap();
//! assert_eq!(report.to_json()["lost-write-count"], 1);
//! assert_eq!(report.to_json()["lost-writes"][0]["write"]["value"], 2);
//! assert_eq!(report.to_json()["stale-read-count"], 1); // the same read is stale
//! ```

use super::{op_json, ser, CheckError, Checker, Details, Report};
use crate::Verdict;
use history::{operations, History, Operation, Outcome, Value};
use serde::Serialize;
use serde_json::Value as Json;
use std::collections::{BTreeMap, HashMap};

/// The checker's name (`checker check --model register-stats`), in its reports too.
const NAME: &str = "register-stats";

/// What the register statistics found. Keys are `None` for a single
/// register (serialized as `null`); ops are as Jepsen prints them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Stats {
    /// Keys with a read or a write.
    pub key_count: u64,
    /// `ok` reads.
    pub read_count: u64,
    /// Non-failed writes and cas.
    pub write_count: u64,
    /// Reads of superseded values.
    pub stale_read_count: u64,
    /// Those reads, by key, then by invocation.
    pub stale_reads: Vec<StaleRead>,
    /// Acknowledged writes whose effect vanished.
    pub lost_write_count: u64,
    /// Those writes, by key, then by invocation.
    pub lost_writes: Vec<LostWrite>,
    /// Reads of values nobody wrote.
    pub unwritten_read_count: u64,
    /// Those reads, by key, then by invocation.
    pub unwritten_reads: Vec<UnwrittenRead>,
}

/// A read of a superseded value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct StaleRead {
    /// The key.
    #[serde(serialize_with = "ser::key")]
    pub key: Option<Value>,
    /// The value read.
    #[serde(serialize_with = "ser::value")]
    pub value: Value,
    /// The read's completion.
    pub read: Json,
    /// The completion of the `ok` write that superseded every possible
    /// writer of the value before the read began.
    pub superseded_by: Json,
}

/// An acknowledged write whose effect vanished.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct LostWrite {
    /// The key.
    #[serde(serialize_with = "ser::key")]
    pub key: Option<Value>,
    /// The write's completion.
    pub write: Json,
    /// The completion of a later read that returned an older value.
    pub read: Json,
    /// The value that read returned.
    #[serde(serialize_with = "ser::value")]
    pub read_value: Value,
}

/// A read of a value nobody wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct UnwrittenRead {
    /// The key.
    #[serde(serialize_with = "ser::key")]
    pub key: Option<Value>,
    /// The value read.
    #[serde(serialize_with = "ser::value")]
    pub value: Value,
    /// The read's completion.
    pub read: Json,
}

/// "Before everything": when the initial `nil` was written.
const INITIAL: i64 = -1;
/// "Maybe never over": when an info or unfinished write may take effect.
const OPEN: i64 = i64::MAX;

/// A non-failed write or cas.
struct Write<'o, 'h> {
    op: &'o Operation<'h>,
    value: &'h Value,
    invoke: i64,
    /// Completion position if ok, [`OPEN`] if indeterminate.
    done: i64,
}

/// An ok read.
struct Read<'o, 'h> {
    op: &'o Operation<'h>,
    value: &'h Value,
    invoke: i64,
    complete: i64,
    /// The latest completion of any write that may have produced `value`;
    /// `None` if nothing wrote it.
    source: Option<i64>,
}

#[derive(Default)]
struct KeyData<'o, 'h> {
    writes: Vec<Write<'o, 'h>>,
    reads: Vec<Read<'o, 'h>>,
}

/// The register statistics as a [`Checker`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RegisterStats;

impl Checker for RegisterStats {
    fn name(&self) -> &'static str {
        NAME
    }

    fn about(&self) -> &'static str {
        "stale reads and lost writes of registers, per key"
    }

    fn check(
        &self,
        history: &History,
        _options: &crate::linearizable::Options,
    ) -> Result<Report, CheckError> {
        check(history)
    }
}

/// Counts stale reads, lost writes and unwritten reads; see the [module docs](self).
pub fn check(history: &History) -> Result<Report, CheckError> {
    let ops = operations(history)?;
    let mut keys: BTreeMap<Option<&Value>, KeyData<'_, '_>> = BTreeMap::new();
    for o in &ops {
        let invoke = o.invoke_at as i64;
        let done = match (o.outcome, o.complete_at) {
            (Outcome::Ok, Some(at)) => at as i64,
            _ => OPEN,
        };
        match o.f() {
            "read" if o.outcome == Outcome::Ok => {
                keys.entry(o.key()).or_default().reads.push(Read {
                    op: o,
                    value: o.value(),
                    invoke,
                    complete: done,
                    source: None,
                });
            }
            "write" | "cas" => {
                if let Some(value) = super::written_value(history, o)? {
                    keys.entry(o.key()).or_default().writes.push(Write {
                        op: o,
                        value,
                        invoke,
                        done,
                    });
                }
            }
            _ => {}
        }
    }

    let mut stale = Vec::new();
    let mut lost = Vec::new();
    let mut unwritten = Vec::new();
    let (mut read_count, mut write_count) = (0usize, 0usize);
    for (key, data) in keys.iter_mut() {
        let key = key.cloned();
        read_count += data.reads.len();
        write_count += data.writes.len();
        // Writes are in invocation order (operations() is). Per value, the
        // running max of completions, to find a read's possible sources.
        let mut by_value: HashMap<&Value, Vec<(i64, i64)>> = HashMap::new();
        for w in &data.writes {
            let list = by_value.entry(w.value).or_default();
            let max = list.last().map_or(w.done, |&(_, m)| m.max(w.done));
            list.push((w.invoke, max));
        }
        for r in data.reads.iter_mut() {
            let writers = by_value.get(r.value).map_or(&[][..], Vec::as_slice);
            let n = writers.partition_point(|&(inv, _)| inv < r.complete);
            let newest = n.checked_sub(1).map(|i| writers[i].1);
            r.source = match (newest, r.value.is_nil()) {
                (Some(m), _) => Some(m),
                (None, true) => Some(INITIAL),
                (None, false) => None,
            };
        }
        // Ok writes by invocation, with the suffix minimum of completions.
        let acked: Vec<&Write<'_, '_>> = data.writes.iter().filter(|w| w.done != OPEN).collect();
        let mut suffix_min: Vec<usize> = vec![usize::MAX; acked.len() + 1];
        for i in (0..acked.len()).rev() {
            let best = suffix_min[i + 1];
            suffix_min[i] = if best == usize::MAX || acked[i].done < acked[best].done {
                i
            } else {
                best
            };
        }

        for r in &data.reads {
            let Some(source) = r.source else {
                unwritten.push(UnwrittenRead {
                    key: key.clone(),
                    value: r.value.clone(),
                    read: op_json(r.op.completion.unwrap_or(r.op.invoke)),
                });
                continue;
            };
            if source == OPEN {
                continue;
            }
            let first = acked.partition_point(|w| w.invoke <= source);
            let Some(&best) = suffix_min.get(first) else {
                continue;
            };
            if best != usize::MAX && acked[best].done < r.invoke {
                let superseding = acked[best].op;
                stale.push(StaleRead {
                    key: key.clone(),
                    value: r.value.clone(),
                    read: op_json(r.op.completion.unwrap_or(r.op.invoke)),
                    superseded_by: op_json(superseding.completion.unwrap_or(superseding.invoke)),
                });
            }
        }

        // Reads by invocation, with suffix facts over those whose source is known.
        let mut reads: Vec<&Read<'_, '_>> = data.reads.iter().collect();
        reads.sort_by_key(|r| r.invoke);
        // suffix_newest[i]: the latest source among reads[i..] (None: no known source);
        // suffix_old[i]: the first read in reads[i..] with a known source.
        let mut suffix_newest: Vec<Option<i64>> = vec![None; reads.len() + 1];
        let mut suffix_first: Vec<Option<usize>> = vec![None; reads.len() + 1];
        for i in (0..reads.len()).rev() {
            suffix_newest[i] = match (reads[i].source, suffix_newest[i + 1]) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            suffix_first[i] = if reads[i].source.is_some() {
                Some(i)
            } else {
                suffix_first[i + 1]
            };
        }
        for w in &acked {
            let first = reads.partition_point(|r| r.invoke <= w.done);
            let (Some(newest), Some(Some(witness))) = (
                suffix_newest.get(first).copied().flatten(),
                suffix_first.get(first),
            ) else {
                continue;
            };
            if newest < w.invoke {
                let r = reads[*witness];
                lost.push(LostWrite {
                    key: key.clone(),
                    write: op_json(w.op.completion.unwrap_or(w.op.invoke)),
                    read: op_json(r.op.completion.unwrap_or(r.op.invoke)),
                    read_value: r.value.clone(),
                });
            }
        }
    }

    let verdict = if stale.is_empty() && lost.is_empty() && unwritten.is_empty() {
        Verdict::Valid
    } else {
        Verdict::Invalid
    };
    let summary = format!(
        "{} keys, {read_count} reads, {write_count} writes: {} stale reads, {} lost writes, {} reads of unwritten values",
        keys.len(),
        stale.len(),
        lost.len(),
        unwritten.len()
    );
    Ok(Report {
        checker: NAME,
        verdict,
        summary,
        details: Details::RegisterStats(Stats {
            key_count: keys.len() as u64,
            read_count: read_count as u64,
            write_count: write_count as u64,
            stale_read_count: stale.len() as u64,
            stale_reads: stale,
            lost_write_count: lost.len() as u64,
            lost_writes: lost,
            unwritten_read_count: unwritten.len() as u64,
            unwritten_reads: unwritten,
        }),
    })
}
