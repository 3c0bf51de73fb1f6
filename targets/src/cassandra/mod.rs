//! Apache Cassandra 5.0 from Maven Central's jars: three nodes; registers
//! at ONE, at QUORUM or as lightweight transactions, and a counter column.

pub mod client;
pub mod server;

use crate::{running, OpenError, Opened, Setup, System, TargetKind};
use client::{CassandraTarget, Mode};
use std::sync::Arc;
use workloads::{counter::COUNTER, register::REGISTER};

/// Cassandra's row of [`crate::SYSTEMS`].
pub static SYSTEM: System = System {
    name: "cassandra",
    about: "Apache Cassandra 5.0, three nodes (Maven Central's jars)",
    servers: &[&server::Cassandra],
    needs: &[],
    targets: &[
        TargetKind {
            name: "cassandra-one",
            about: "reads and writes at ONE; cas as a lightweight transaction",
            workloads: &[&REGISTER, &COUNTER],
            open: |setup| open(setup, Mode::One),
        },
        TargetKind {
            name: "cassandra-quorum",
            about: "reads and writes at QUORUM; cas as a lightweight transaction",
            workloads: &[&REGISTER, &COUNTER],
            open: |setup| open(setup, Mode::Quorum),
        },
        TargetKind {
            name: "cassandra-lwt",
            about: "writes and cas as lightweight transactions (Paxos), SERIAL reads",
            // Counters take no conditions and no SERIAL reads.
            workloads: &[&REGISTER],
            open: |setup| open(setup, Mode::Lwt),
        },
    ],
};

fn open(setup: &Setup, mode: Mode) -> Result<Opened, OpenError> {
    let cluster = running(&server::Cassandra, setup)?;
    let nodes = cluster.nodes();
    let addresses = (0..nodes)
        .map(|n| server::cql_address(&cluster, n))
        .collect();
    let consistency = match mode {
        Mode::One => {
            "reads and writes at ONE (one replica answers); cas as a lightweight transaction"
        }
        Mode::Quorum => {
            "reads and writes at QUORUM (last write wins by timestamp); cas as a lightweight transaction"
        }
        Mode::Lwt => "writes and cas as lightweight transactions (Paxos), reads at SERIAL",
    };
    Ok(Opened::real(
        cluster,
        Arc::new(CassandraTarget::new(addresses, mode, setup.op_timeout)),
        format!("Apache Cassandra 5.0 ({nodes} nodes, replication factor 3)"),
        consistency,
    ))
}
