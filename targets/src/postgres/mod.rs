//! PostgreSQL 15 (Debian): a primary and two synchronous streaming
//! standbys; bank and registers in SERIALIZABLE transactions.

pub mod client;
pub mod server;

use crate::{running, OpenError, Opened, Setup, System, TargetKind};
use client::{Isolation, PostgresTarget};
use std::sync::Arc;
use workloads::{
    bank::BANK, list_append::LIST_APPEND, long_fork::LONG_FORK, register::REGISTER,
    rw_register::RW_REGISTER,
};

/// PostgreSQL's row of [`crate::SYSTEMS`].
pub static SYSTEM: System = System {
    name: "postgres",
    about: "PostgreSQL 15, a primary and two synchronous streaming standbys",
    servers: &[&server::Postgres],
    needs: &[],
    targets: &[
        TargetKind {
            name: "postgres",
            about: "SERIALIZABLE transactions on the primary",
            workloads: &[&BANK, &REGISTER, &LIST_APPEND, &RW_REGISTER, &LONG_FORK],
            open: |setup| open(setup, false),
        },
        TargetKind {
            name: "postgres-rr",
            about: "REPEATABLE READ (snapshot isolation) transactions on the primary",
            workloads: &[&LIST_APPEND, &RW_REGISTER],
            open: |setup| open_at(setup, Isolation::RepeatableRead),
        },
        TargetKind {
            name: "postgres-rc",
            about: "READ COMMITTED transactions on the primary",
            workloads: &[&LIST_APPEND, &RW_REGISTER],
            open: |setup| open_at(setup, Isolation::ReadCommitted),
        },
        TargetKind {
            name: "postgres-standby-reads",
            about: "writes on the primary, reads spread over the standbys",
            workloads: &[&BANK, &REGISTER, &LONG_FORK],
            open: |setup| open(setup, true),
        },
    ],
};

/// The primary, its transactions at `isolation`.
fn open_at(setup: &Setup, isolation: Isolation) -> Result<Opened, OpenError> {
    let cluster = running(&server::Postgres, setup)?;
    let primary = server::url(&cluster, 0);
    let description = format!(
        "PostgreSQL 15 (primary and {} streaming standbys)",
        cluster.nodes() - 1
    );
    let target = PostgresTarget::new(&primary)
        .at(isolation)
        .holding(setup.workload.data);
    let how = format!(
        "{isolation:?} {} transactions on the primary; commits synchronous to one standby",
        setup.workload.name
    );
    Ok(Opened::real(cluster, Arc::new(target), description, &how))
}

fn open(setup: &Setup, standby_reads: bool) -> Result<Opened, OpenError> {
    let cluster = running(&server::Postgres, setup)?;
    let nodes = cluster.nodes();
    let primary = server::url(&cluster, 0);
    let description = format!(
        "PostgreSQL 15 (primary and {} streaming standbys)",
        nodes - 1
    );
    Ok(if standby_reads {
        let reads = (0..nodes).map(|n| server::url(&cluster, n)).collect();
        Opened::real(
            cluster,
            Arc::new(PostgresTarget::with_reads_from(&primary, reads).holding(setup.workload.data)),
            description,
            "writes on the primary (synchronous to one standby's disk, not its replay); \
             reads spread over all three nodes",
        )
    } else {
        Opened::real(
            cluster,
            Arc::new(PostgresTarget::new(&primary).holding(setup.workload.data)),
            description,
            "SERIALIZABLE transactions on the primary; commits synchronous to one standby",
        )
    })
}
