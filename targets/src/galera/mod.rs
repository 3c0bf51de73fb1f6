//! MariaDB Galera (Debian's MariaDB 10.11 and Galera 4): three nodes, each taking writes,
//! replicating synchronously by certification; Elle's transactional workloads with clients
//! spread over the nodes.

pub mod client;
pub mod server;

use crate::{running, OpenError, Opened, Setup, System, TargetKind};
use client::GaleraTarget;
use std::sync::Arc;
use workloads::{list_append::LIST_APPEND, rw_register::RW_REGISTER};

/// Galera's row of [`crate::SYSTEMS`].
pub static SYSTEM: System = System {
    name: "galera",
    about: "MariaDB 10.11 with Galera 4, three nodes, every one taking writes",
    servers: &[&server::Galera],
    needs: &[],
    targets: &[
        TargetKind {
            name: "galera",
            about: "transactions at MariaDB's default REPEATABLE READ, clients spread over the nodes",
            workloads: &[&LIST_APPEND, &RW_REGISTER],
            open: |setup| open(setup, ""),
        },
        TargetKind {
            name: "galera-causal",
            about: "the same with causal reads (wsrep_sync_wait=1): a read waits for the cluster's latest commits",
            workloads: &[&LIST_APPEND, &RW_REGISTER],
            open: |setup| open(setup, "SET SESSION wsrep_sync_wait = 1"),
        },
    ],
};

fn open(setup: &Setup, session: &'static str) -> Result<Opened, OpenError> {
    let cluster = running(&server::Galera, setup)?;
    let urls = (0..cluster.nodes())
        .map(|n| server::url(&cluster, n))
        .collect();
    let target = GaleraTarget::new(urls, setup.workload.data, session);
    let how = match session {
        "" => "REPEATABLE READ transactions, each client on one node",
        _ => "REPEATABLE READ transactions with causal reads, each client on one node",
    };
    Ok(Opened::real(
        cluster,
        Arc::new(target),
        "MariaDB 10.11 + Galera 4 (three nodes)".into(),
        how,
    ))
}
