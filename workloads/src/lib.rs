//! Workloads: what the lab asks of a system under test.
//!
//! - [`generator`]: operations, composed like Jepsen's generators.
//! - [`client`]: the [`client::Target`] and [`client::Client`] seams.
//! - [`workload`]: a workload = generator + initial data + final reads + checks;
//!   [`register`], [`set`], [`counter`], [`bank`], [`list_append`], [`rw_register`]
//!   (these two from [`transactions`]), [`long_fork`].
//!
//! The systems themselves, and their clients, are the `targets` crate's.

pub mod bank;
pub mod client;
pub mod counter;
pub mod generator;
pub mod list_append;
pub mod long_fork;
pub mod register;
pub mod rw_register;
pub mod set;
pub mod transactions;
pub mod workload;

pub use client::{Audit, Client, Completion, Target, TargetError};
pub use generator::{BoxGen, Context, Generator, Invocation, Next};
pub use rng::Rng;
pub use workload::{by_name, Data, Options, Workload, WorkloadKind, WORKLOADS};
