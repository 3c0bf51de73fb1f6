//! Workloads: what the lab asks of a system under test.
//!
//! - [`generator`]: operations, composed like Jepsen's generators.
//! - [`client`]: the [`client::Target`] and [`client::Client`] seams.
//! - [`workload`]: a workload = generator + initial data + final reads + checks;
//!   [`register`], [`set`], [`counter`], [`bank`].
//! - [`sim`]: the embedded replicated store as a target.
//! - [`etcd`], [`postgres`], [`kafka`]: real clusters as targets.

pub mod bank;
pub mod cassandra;
pub mod client;
pub mod counter;
pub mod etcd;
pub mod generator;
pub mod kafka;
pub mod postgres;
pub mod register;
pub mod set;
pub mod sim;
pub mod workload;

pub use client::{Client, Completion, Target, TargetError};
pub use generator::{BoxGen, Context, Generator, Invocation, Next};
pub use rng::Rng;
pub use workload::{by_name, Options, Workload};
