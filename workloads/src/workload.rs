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
    /// Its name.
    pub name: &'static str,
    /// The operations of the main phase (the runner bounds it by time and rate).
    pub generator: BoxGen,
    /// The functions it invokes, so a target can refuse what it cannot do.
    pub functions: &'static [&'static str],
    /// (key, value) pairs the target must hold before the run.
    pub initial: Vec<(Value, Value)>,
    /// Reads performed on every node after the faults are healed (`:f :final-read`).
    pub final_reads: Vec<Invocation>,
    /// The checkers that judge the history, each a section of the report.
    pub checks: Vec<Box<dyn Checker>>,
}

/// The workloads' names, for `--workload`.
pub const NAMES: &[&str] = &["register", "set", "counter", "bank"];

/// Builds the workload named `name`.
pub fn by_name(name: &str, options: &Options) -> Option<Workload> {
    match name {
        "register" => Some(crate::register::workload(options)),
        "set" => Some(crate::set::workload(options)),
        "counter" => Some(crate::counter::workload(options)),
        "bank" => Some(crate::bank::workload(options)),
        _ => None,
    }
}
