//! Checking Jepsen-style histories against consistency models.
//!
//! - [`model`]: the [`model::Model`] trait and the models (`register`,
//!   `cas-register`, `mutex`, `kv`, `set`, `fifo-queue`).
//! - [`linearizable`]: the linearizability search, its partitions and limits,
//!   and explanations of failures.
//! - [`verdict`]: valid / invalid / unknown, with Jepsen's exit codes.
//!
//! Histories themselves (events, formats) live in the [`history`] crate.

pub mod checks;
pub mod html;
pub mod linearizable;
pub mod model;
pub mod report;
pub mod results;
pub mod run;
pub mod timestamp;
pub mod verdict;

pub use verdict::{Unknown, Verdict};
