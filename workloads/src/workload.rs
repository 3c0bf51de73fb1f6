//! [`Workload`]: a generator of operations, the data a target starts
//! with, the reads that end a run, and the checkers that judge it.

use crate::generator::{BoxGen, Invocation};
use history::Value;

/// How a run of a workload is judged. The runner maps each to a checker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Linearizability against a model (e.g. `cas-register`), key by key.
    Linearizable(&'static str),
    /// One of the `checker::checks` checkers (`set-full`, `counter`, `bank`,
    /// `register-stats`, `convergence`).
    Named(&'static str),
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
    /// The checkers that judge the history.
    pub checks: Vec<Check>,
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
