//! The lab's front end: runs tests and reports them.
//!
//! - [`run`]: the runner (Jepsen's interpreter): N processes perform a
//!   workload's operations against a target while a nemesis injects faults;
//!   every invocation and completion is recorded, then judged.
//! - [`load`]: Locust's load beside a run, and what Prometheus saw of it.
//! - [`report`]: the run's page, plots and counterexamples (drawing).
//! - [`stats`]: fault intervals, latencies and percentiles (measuring).
//! - [`catalog`]: the lists of workloads, targets and checkers, for
//!   `--help` and the README.
//!
//! The checking itself lives in the [`consistency`] crate, histories in the
//! [`history`] crate.

pub mod catalog;
pub mod load;
pub mod report;
pub mod run;
pub mod stats;
pub mod timestamp;
