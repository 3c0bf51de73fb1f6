//! [`Workload`]: a generator of operations, the data a target starts
//! with, the reads that end a run, and the checkers that judge it.

use crate::generator::{BoxGen, Invocation};
use consistency::checker::{CheckError, Checker, Family, Report};
use consistency::linearizable::Options as Limits;
use history::{History, Op, Value};

/// A checker of a workload that sees the final reads (`:f :final-read`)
/// as ordinary reads: every checker but `convergence`, which needs them
/// per node, judges them so (Jepsen's final reads are reads too).
pub struct FinalReadsAsReads<C>(pub C);

impl<C: Checker> Checker for FinalReadsAsReads<C> {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn about(&self) -> &'static str {
        self.0.about()
    }

    fn family(&self) -> Family {
        self.0.family()
    }

    fn check(&self, history: &History, options: &Limits) -> Result<Report, CheckError> {
        self.0.check(&reads_view(history), options)
    }
}

/// `history` with its final reads turned into reads.
fn reads_view(history: &History) -> History {
    History::from_ops(history.ops().iter().map(|op| {
        if op.f == "final-read" {
            Op {
                f: "read".into(),
                ..op.clone()
            }
        } else {
            op.clone()
        }
    }))
}

/// Boxes a checker that sees final reads as reads.
pub fn reads<C: Checker + 'static>(checker: C) -> Box<dyn Checker> {
    Box::new(FinalReadsAsReads(checker))
}

/// Sizes and mixes of the workloads.
#[derive(Debug, Clone)]
pub struct Options {
    /// Independent keys (`register`).
    pub keys: u64,
    /// Accounts (`bank`).
    pub accounts: u64,
    /// Total money (`bank`), spread evenly.
    pub total: i64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            keys: 16,
            accounts: 8,
            total: 80,
        }
    }
}

/// A workload, ready to run.
pub struct Workload {
    /// The operations of the main phase (the runner bounds it by time and rate).
    pub generator: BoxGen,
    /// (key, value) pairs the target must hold before the run.
    pub initial: Vec<(Value, Value)>,
    /// Reads performed on every node after the faults are healed (`:f :final-read`).
    pub final_reads: Vec<Invocation>,
    /// The checkers that judge the history, each a section of the report.
    pub checks: Vec<Box<dyn Checker>>,
}

/// What data a workload keeps, which decides how a store holds it (the
/// sim's commands, Cassandra's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Data {
    /// Integer registers, one per key: read / write / cas.
    Registers,
    /// One set of integers: add / read.
    Set,
    /// One counter: add / read.
    Counter,
    /// Accounts `0..n` with balances: transfer / read of every balance.
    Accounts,
    /// Lists of integers, one per key: transactions of appends and reads.
    Lists,
    /// Integer registers, one per key: transactions of writes and reads.
    TxnRegisters,
}

/// A workload the lab can run: a row of [`WORKLOADS`].
pub struct WorkloadKind {
    /// Its name on the command line (`--workload`).
    pub name: &'static str,
    /// What it does, in one line, for `--help`.
    pub about: &'static str,
    /// The data it keeps.
    pub data: Data,
    /// Builds it.
    pub build: fn(&Options) -> Workload,
}

impl std::fmt::Debug for WorkloadKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl PartialEq for WorkloadKind {
    fn eq(&self, other: &WorkloadKind) -> bool {
        self.name == other.name
    }
}

/// Every workload, by name: validation of `--workload`, its `--help` and
/// the README's list come from this table.
pub static WORKLOADS: &[&WorkloadKind] = &[
    &crate::register::REGISTER,
    &crate::set::SET,
    &crate::counter::COUNTER,
    &crate::bank::BANK,
    &crate::list_append::LIST_APPEND,
    &crate::rw_register::RW_REGISTER,
    &crate::long_fork::LONG_FORK,
];

/// The workload named `name` in [`WORKLOADS`].
pub fn by_name(name: &str) -> Option<&'static WorkloadKind> {
    WORKLOADS.iter().copied().find(|w| w.name == name)
}

/// The names in [`WORKLOADS`], comma-separated.
pub fn names() -> String {
    WORKLOADS
        .iter()
        .map(|w| w.name)
        .collect::<Vec<_>>()
        .join(", ")
}
