//! The service system (the `service` crate's binaries): stateless api replicas over the lab's
//! PostgreSQL, Cassandra, Kafka and etcd clusters, each replica in its own namespace, reached
//! through NGINX ([`balancer`]) over REST or gRPC (`--via`). One target per consistency, so `checker compare` puts them side
//! by side; faults hit the api replicas (kill, pause, clock skew, partitions between them).

pub mod balancer;
pub mod client;
pub mod live;
pub mod server;
pub mod workflow;

use crate::{
    cassandra, etcd, kafka, postgres, running, OpenError, Opened, Setup, System, TargetKind,
};
use client::{Endpoint, ServiceTarget};
use std::sync::Arc;
use workloads::{bank::BANK, register::REGISTER};

/// The service system's row of [`crate::SYSTEMS`].
pub static SYSTEM: System = System {
    name: "system",
    about: "the service system: NGINX, 3 api replicas (gRPC + REST) and 2 workers over PostgreSQL, Cassandra, Kafka and etcd",
    servers: &[&server::API, &server::WORKER, &balancer::Nginx],
    needs: &[&etcd::SYSTEM, &postgres::SYSTEM, &cassandra::SYSTEM, &kafka::SYSTEM],
    targets: &[
        TargetKind {
            name: "system-strong",
            about: "strong requests: PostgreSQL, SERIALIZABLE, through the api",
            workloads: &[&REGISTER, &BANK],
            open: |setup| open(setup, "strong"),
        },
        TargetKind {
            name: "system-eventual",
            about: "eventual requests: Cassandra at QUORUM, last-write-wins on hybrid logical clocks",
            workloads: &[&REGISTER],
            open: |setup| open_with_policy(setup, "eventual", "hlc"),
        },
        TargetKind {
            name: "system-eventual-wall",
            about: "eventual requests, last-write-wins on each replica's wall clock (as Cassandra's own)",
            workloads: &[&REGISTER],
            open: |setup| open_with_policy(setup, "eventual", "wall"),
        },
        TargetKind {
            name: "system-async",
            about: "async writes: Kafka now, Cassandra later (a worker applies them); no cas",
            workloads: &[&REGISTER],
            open: |setup| open_with_policy(setup, "async", "hlc"),
        },
    ],
};

/// Opens the target after making every api replica stamp writes under `policy` (a live
/// setting in etcd, `/lab/config/conflict-policy`).
fn open_with_policy(
    setup: &Setup,
    consistency: &'static str,
    policy: &str,
) -> Result<Opened, OpenError> {
    let opened = open(setup, consistency)?;
    let lab = |s: &'static dyn cluster::Server| {
        cluster::Cluster::new(s, setup.lab.net.clone(), &setup.lab.state)
    };
    live::set(
        &lab(&etcd::server::Etcd),
        &lab(&server::API),
        "conflict-policy",
        policy,
    )?;
    Ok(Opened {
        description: format!("{}, conflict policy {policy}", opened.description),
        ..opened
    })
}

fn open(setup: &Setup, consistency: &'static str) -> Result<Opened, OpenError> {
    for needed in SYSTEM.needs {
        for server in needed.servers {
            running(*server, setup)?;
        }
    }
    let cluster = running(&server::API, setup)?;
    running(&server::WORKER, setup)?;
    // Every client goes through the balancer, as a service's clients do; faults hit the replicas.
    let nginx = running(&balancer::Nginx, setup)?;
    let endpoints = vec![Endpoint {
        http: balancer::http_url(&nginx),
        grpc: balancer::grpc_url(&nginx),
    }];
    let via = setup.via;
    let description = format!(
        "the service system: {} api replicas behind NGINX, over {}, {consistency} requests",
        cluster.nodes(),
        via.name()
    );
    let promise = match consistency {
        "strong" => "each request one SERIALIZABLE PostgreSQL transaction: linearizable",
        "eventual" => "Cassandra at QUORUM with last-write-wins: no promise for a read-then-write",
        _ => "writes accepted into Kafka and applied later: reads converge once the queue drains",
    };
    Ok(Opened::real(
        cluster,
        Arc::new(ServiceTarget::new(
            endpoints,
            consistency,
            via,
            setup.op_timeout,
        )),
        description,
        promise,
    ))
}
