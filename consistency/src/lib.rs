//! The checking library: does a history keep a consistency promise, and if
//! not, why not.
//!
//! - [`model`]: the [`model::Model`] trait and the models (`register`,
//!   `cas-register`, `mutex`, `kv`, `linearizable-set`, `fifo-queue`).
//! - [`linearizable`]: the linearizability search, its partitions and limits,
//!   and explanations of failures.
//! - [`checker`]: Jepsen's workload checkers (`set-full`, `set`, `counter`,
//!   `bank`) and the checks for eventually consistent stores
//!   (`convergence`, `register-stats`).
//! - [`verdict`]: valid / invalid / unknown, with Jepsen's exit codes.
//! - [`txn`]: transactional isolation, as Elle checks it (list-append):
//!   dependency cycles named by Adya's taxonomy, and the models they rule out.
//! - [`results`]: results as `results.json` and Jepsen's `results.edn`.
//!
//! It depends on the [`history`] crate (events and formats) and on nothing
//! that runs a system or talks to a network, so `checker check` works on any
//! Jepsen or elle-cli history, however it was produced.

#![warn(missing_docs)]

pub mod checker;
pub mod linearizable;
pub mod model;
pub mod results;
pub mod txn;
pub mod verdict;

pub use verdict::{Unknown, Verdict};
