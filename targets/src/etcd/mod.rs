//! etcd (Debian's `etcd-server` 3.4): three members, one network namespace
//! each; registers through the v3 JSON gateway, with linearizable or
//! serializable reads.

pub mod client;
pub mod server;

use crate::{running, OpenError, Opened, Setup, System, TargetKind};
use client::EtcdTarget;
use std::sync::Arc;
use workloads::register::REGISTER;

/// etcd's row of [`crate::SYSTEMS`].
pub static SYSTEM: System = System {
    name: "etcd",
    about: "etcd 3.4, three members (Debian's etcd-server)",
    servers: &[&server::Etcd],
    needs: &[],
    targets: &[
        TargetKind {
            name: "etcd",
            about: "linearizable reads and writes, through raft",
            workloads: &[&REGISTER],
            open: |setup| open(setup, false),
        },
        TargetKind {
            name: "etcd-serializable",
            about: "serializable reads, served by any member (possibly stale)",
            workloads: &[&REGISTER],
            open: |setup| open(setup, true),
        },
    ],
};

fn open(setup: &Setup, serializable: bool) -> Result<Opened, OpenError> {
    let cluster = running(&server::Etcd, setup)?;
    let nodes = cluster.nodes();
    let endpoints = (0..nodes)
        .map(|n| server::client_url(&cluster, n))
        .collect();
    let target = Arc::new(EtcdTarget::new(endpoints, serializable, setup.op_timeout));
    let consistency = if serializable {
        "serializable reads (answered by any member, possibly stale); writes through raft"
    } else {
        "linearizable (reads and writes through raft)"
    };
    Ok(Opened::real(
        cluster,
        target,
        format!("etcd ({nodes} members, one network namespace each)"),
        consistency,
    ))
}
