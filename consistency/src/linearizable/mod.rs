//! Linearizability checking of a history against a [`Model`].
//!
//! [`check`] pairs the history's events into operations, lets the model
//! interpret each one (reporting bad input with its line), splits them into
//! independent partitions ([`Model::partition`], by key by default), and
//! searches each partition ([`search`]) on all cores. Partitions take turns
//! in short slices, so one hard partition cannot starve the others and the
//! first partition found non-linearizable stops the rest early (after an
//! optional grace period that collects more counterexamples).
//!
//! The result is never a wrong `Valid`: running out of time or memory gives
//! [`Verdict::Unknown`] with the reason.
//!
//! ```
//! use consistency::linearizable::{check, Options};
//! use consistency::model::cas_register::CasRegister;
//! use consistency::Verdict;
//! let h = history::format::read(b"
//! {:process 0, :type :invoke, :f :write, :value 1}
//! {:process 0, :type :ok, :f :write, :value 1}
//! {:process 1, :type :invoke, :f :read, :value nil}
//! {:process 1, :type :ok, :f :read, :value 2}
//! ", history::Format::Edn).unwrap();
//! let analysis = check(&CasRegister, &h, &Options::default()).unwrap();
//! assert_eq!(analysis.verdict, Verdict::Invalid);
//! ```

mod explain;
mod memo;
mod schedule;
pub mod search;
#[cfg(test)]
mod tests;

pub use explain::{Candidate, ExplainedOp, Explanation, Step};

use crate::checker::{self, Checker, Details, Family, Report};
use crate::model::{Model, ModelError};
use crate::verdict::{Unknown, Verdict};
use history::{operations, History, HistoryError, Location, Outcome, Value};
use rustc_hash::FxHashMap;
use search::Entry;
use std::time::{Duration, Instant};

/// Limits and knobs of a check.
#[derive(Debug, Clone)]
pub struct Options {
    /// Give up with `Unknown(Timeout)` after this long.
    pub timeout: Option<Duration>,
    /// Give up with `Unknown(OutOfMemory)` when the search's memory reaches
    /// this many bytes (across all partitions).
    pub memory_limit: usize,
    /// Worker threads; 0 means one per core.
    pub threads: usize,
    /// After the first partition fails, keep checking the others this long
    /// to find more counterexamples; zero stops at once.
    pub grace: Duration,
    /// Build an [`Explanation`] for each failing partition (replaying its
    /// prefix through the model). Off only to time the verdict alone.
    pub explain: bool,
    /// What the transactional checkers look for (consistency models,
    /// anomalies, the cycle search's time per component).
    pub transactions: crate::txn::Options,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            timeout: None,
            memory_limit: default_memory_limit(),
            threads: 0,
            grace: Duration::ZERO,
            explain: true,
            transactions: crate::txn::Options::default(),
        }
    }
}

/// Half of the machine's memory, capped at 8 GiB (4 GiB if it cannot be read).
pub fn default_memory_limit() -> usize {
    const GIB: usize = 1 << 30;
    let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    });
    total.map_or(4 * GIB, |t| (t / 2).min(8 * GIB))
}

/// The answer for one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionVerdict {
    /// Linearizable.
    Valid,
    /// Not linearizable.
    Invalid,
    /// Gave up.
    Unknown(Unknown),
    /// Not finished: another partition failed first.
    Skipped,
}

/// What the search found in one partition.
#[derive(Debug, Clone)]
pub struct PartitionReport {
    /// The partition's key, if the model partitions.
    pub key: Option<Value>,
    /// Operations in the partition (after dropping failed and unobservable ones).
    pub ops: usize,
    /// Its verdict.
    pub verdict: PartitionVerdict,
    /// Search steps taken.
    pub steps: u64,
    /// Distinct configurations explored.
    pub configurations: usize,
    /// Why it failed, when it did.
    pub explanation: Option<Explanation>,
}

/// The result of a linearizability check.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// The overall verdict: invalid if any partition is, else unknown if any is, else valid.
    pub verdict: Verdict,
    /// The model's name.
    pub model: &'static str,
    /// Client operations in the history (invocations).
    pub operations: usize,
    /// One report per partition, in order of first appearance.
    pub partitions: Vec<PartitionReport>,
    /// Wall time of the check.
    pub elapsed: Duration,
}

impl Analysis {
    /// The explanations of the partitions found non-linearizable.
    pub fn explanations(&self) -> impl Iterator<Item = &Explanation> {
        self.partitions
            .iter()
            .filter_map(|p| p.explanation.as_ref())
    }
}

/// A history the check cannot start on.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// Processes break Jepsen's rules.
    #[error(transparent)]
    History(#[from] HistoryError),
    /// The model cannot interpret an operation.
    #[error("{at}: {source}")]
    Model {
        /// Where.
        at: String,
        /// What.
        source: ModelError,
    },
}

/// One partition before the search: its key and its operations.
struct Partition<'h, O> {
    key: Option<Value>,
    entries: Vec<Entry<O>>,
    /// Each entry's operation, for explanations.
    sources: Vec<history::Operation<'h>>,
}

/// Checks `history` against `model`.
pub fn check<M: Model>(
    model: &M,
    history: &History,
    options: &Options,
) -> Result<Analysis, CheckError> {
    let started = Instant::now();
    let all = operations(history)?;
    let partitions = partition(model, history, &all)?;
    let outcomes = schedule::run(model, &partitions, options, started);
    let mut verdict = Verdict::Valid;
    let reports = partitions
        .iter()
        .zip(outcomes)
        .map(|(p, outcome)| {
            let v = match &outcome.verdict {
                PartitionVerdict::Valid | PartitionVerdict::Skipped => Verdict::Valid,
                PartitionVerdict::Invalid => Verdict::Invalid,
                PartitionVerdict::Unknown(u) => Verdict::Unknown(*u),
            };
            verdict = std::mem::replace(&mut verdict, Verdict::Valid).and(v);
            PartitionReport {
                key: p.key.clone(),
                ops: p.entries.len(),
                explanation: outcome
                    .counterexample
                    .as_ref()
                    .filter(|_| options.explain)
                    .map(|c| explain::explain(model, &p.entries, &p.sources, history, c)),
                verdict: outcome.verdict,
                steps: outcome.steps,
                configurations: outcome.configurations,
            }
        })
        .collect();
    Ok(Analysis {
        verdict,
        model: model.name(),
        operations: all.len(),
        partitions: reports,
        elapsed: started.elapsed(),
    })
}

/// The linearizability checker of a model: [`check`] as a [`Checker`],
/// named after its model (`cas-register`), in
/// [`crate::checker::CHECKERS`].
///
/// ```
/// use consistency::checker::Checker;
/// use consistency::linearizable::{Linearizable, Options};
/// use consistency::model::register::Register;
/// let h = history::format::read(b"
/// {:process 0, :type :invoke, :f :write, :value 1}
/// {:process 0, :type :ok, :f :write, :value 1}
/// ", history::Format::Edn).unwrap();
/// let report = Linearizable(Register).check(&h, &Options::default()).unwrap();
/// assert_eq!(report.checker, "register");
/// assert!(report.analysis().is_some());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Linearizable<M>(pub M);

impl<M: Model> Checker for Linearizable<M> {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn about(&self) -> &'static str {
        self.0.about()
    }

    fn family(&self) -> Family {
        Family::Linearizability
    }

    fn check(&self, history: &History, options: &Options) -> Result<Report, checker::CheckError> {
        let analysis = check(&self.0, history, options)?;
        let failing = analysis.explanations().count();
        Ok(Report {
            checker: self.0.name(),
            verdict: analysis.verdict.clone(),
            summary: format!(
                "{} operations, {} keys, {failing} not linearizable, {:.1} ms",
                analysis.operations,
                analysis.partitions.len(),
                analysis.elapsed.as_secs_f64() * 1e3
            ),
            details: Details::Linearizable(Box::new(analysis)),
        })
    }
}

/// Checks `history` against the linearizability model named `model`: one
/// of the [`Family::Linearizability`] checkers of
/// [`crate::checker::CHECKERS`].
pub fn check_model(
    model: &str,
    history: &History,
    options: &Options,
) -> Result<Analysis, checker::CheckError> {
    let models = || {
        checker::CHECKERS
            .iter()
            .filter(|c| c.family() == Family::Linearizability)
    };
    let unknown = || checker::CheckError::Unknown {
        what: "model",
        name: model.to_string(),
        choices: models().map(|c| c.name()).collect::<Vec<_>>().join(", "),
    };
    let found = models().find(|c| c.name() == model).ok_or_else(unknown)?;
    match found.check(history, options)?.details {
        Details::Linearizable(analysis) => Ok(*analysis),
        // Every linearizability checker reports an analysis: a checker
        // that reports anything else is no model.
        _ => Err(unknown()),
    }
}

/// Interprets operations with the model and groups them by partition.
fn partition<'h, M: Model>(
    model: &M,
    history: &'h History,
    all: &[history::Operation<'h>],
) -> Result<Vec<Partition<'h, M::Op>>, CheckError> {
    let mut parts: Vec<Partition<'h, M::Op>> = Vec::new();
    let mut by_key: FxHashMap<Option<Value>, usize> = FxHashMap::default();
    for operation in all {
        let op = model.op(operation).map_err(|source| CheckError::Model {
            at: Location {
                position: operation.invoke_at,
                index: operation.invoke.index,
                line: history.line(operation.invoke_at),
            }
            .to_string(),
            source,
        })?;
        // A failed operation did not happen; an indeterminate one that
        // cannot change the state can neither help nor hurt.
        if operation.outcome == Outcome::Fail
            || operation.outcome.is_indeterminate() && model.is_read_only(&op)
        {
            continue;
        }
        let key = model.partition(operation);
        let slot = match by_key.get(&key) {
            Some(&slot) => slot,
            None => {
                by_key.insert(key.clone(), parts.len());
                parts.push(Partition {
                    key,
                    entries: Vec::new(),
                    sources: Vec::new(),
                });
                parts.len() - 1
            }
        };
        let part = &mut parts[slot];
        part.entries.push(Entry {
            op,
            call: operation.invoke_at,
            ret: if operation.outcome == Outcome::Ok {
                operation.complete_at
            } else {
                None
            },
        });
        part.sources.push(*operation);
    }
    Ok(parts)
}
