//! The embedded replicated key-value store: the lab's own system under test.
//!
//! - [`hlc`]: hybrid logical clocks, and the [`hlc::Clock`] they read physical time from.
//! - [`vclock`]: vector clocks, and sibling sets of concurrent versions.
//! - [`lww`]: last-write-wins registers.
//! - [`store`]: the data ([`Datum`]), the operations ([`Command`], [`Reply`]) and the
//!   single-copy [`Store`] that defines them.
//! - [`replica`]: the replication core — deterministic, message-driven replicas in a strong
//!   (majority-replicated log, linearizable) or eventual (LWW or siblings) mode.
//! - [`sim`]: an in-process cluster on tokio with a simulated network and faults (partitions,
//!   loss, delay, crashes, pauses, clock skew), which the test runner drives.
//! - [`names`]: the Kafka topics and etcd keys the service system and the lab's checks share.
//! - [`proto`]: the gRPC API of the service system (`proto/lab.proto`), whose servers are the
//!   `service` crate's `api` binary.

#![warn(missing_docs)]

pub mod hlc;
pub mod lww;
pub mod names;
pub mod proto;
pub mod replica;
pub mod sim;
pub mod store;
pub mod vclock;

/// A replica's id: `0..nodes`.
pub type NodeId = u32;

pub use replica::{ConflictPolicy, Mode, Refused};
pub use sim::{CallError, SimClient, SimCluster, SimConfig};
pub use store::{Command, Datum, Key, Reply, Store};
