//! The service system (the `service` crate's binaries): stateless api replicas over the lab's
//! PostgreSQL, Cassandra, Kafka and etcd clusters, each replica in its own namespace, reached
//! through NGINX ([`balancer`]) over REST or gRPC (`--via`). One target per consistency, so
//! `checker compare` puts them side by side; faults hit the api replicas and the stores each
//! consistency's requests go through, as one [`Composite`] system: a partition can cut a replica
//! from a store's nodes as well as those nodes from each other; kills and pauses hit replicas and
//! store nodes alike; clock skew hits the nodes libfaketime can move (the replicas, the workers,
//! PostgreSQL).

pub mod balancer;
pub mod client;
pub mod live;
pub mod queue;
pub mod server;
pub mod workflow;

use crate::{
    cassandra, etcd, kafka, postgres, running, OpenError, Opened, Setup, System, TargetKind,
};
use client::{Endpoint, ServiceTarget};
use nemesis::composite::Composite;
use std::sync::Arc;
use workloads::{bank::BANK, counter::COUNTER, register::REGISTER, set::SET};

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
            workloads: &[&REGISTER, &SET, &COUNTER, &BANK],
            open: |setup| open(setup, "strong"),
        },
        TargetKind {
            name: "system-eventual",
            about: "eventual requests: Cassandra at QUORUM, last-write-wins on hybrid logical clocks",
            workloads: &[&REGISTER, &SET, &COUNTER],
            open: |setup| open_with_policy(setup, "eventual", "hlc"),
        },
        TargetKind {
            name: "system-eventual-wall",
            about: "eventual requests, last-write-wins on each replica's wall clock (as Cassandra's own)",
            workloads: &[&REGISTER],
            open: |setup| open_with_policy(setup, "eventual", "wall"),
        },
        TargetKind {
            name: "system-eventual-vector",
            about: "eventual requests, vector clocks: concurrent writes kept as siblings, a read returns the largest",
            workloads: &[&REGISTER],
            open: |setup| open_with_policy(setup, "eventual", "vector"),
        },
        TargetKind {
            name: "system-async",
            about: "async writes: Kafka now, Cassandra later (a worker applies them); no cas",
            workloads: &[&REGISTER, &SET, &COUNTER],
            open: |setup| open_with_policy(setup, "async", "hlc"),
        },
        TargetKind {
            name: "system-async-vector",
            about: "async writes applied by the workers as vector-clock versions (siblings kept)",
            workloads: &[&REGISTER],
            open: |setup| open_with_policy(setup, "async", "vector"),
        },
    ],
};

/// Opens the target after making every api replica resolve writes to one key under `policy`
/// (`wall`, `hlc` or `vector`; a live setting in etcd, `/lab/config/conflict-policy`).
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

/// The stores each consistency's requests go through, whose nodes its
/// faults hit beside the api replicas (and, for `async`, the workers).
fn stores(consistency: &str) -> &'static [&'static System] {
    static STRONG: [&System; 1] = [&postgres::SYSTEM];
    static EVENTUAL: [&System; 1] = [&cassandra::SYSTEM];
    static ASYNC: [&System; 2] = [&kafka::SYSTEM, &cassandra::SYSTEM];
    match consistency {
        "strong" => &STRONG,
        "eventual" => &EVENTUAL,
        _ => &ASYNC,
    }
}

fn open(setup: &Setup, consistency: &'static str) -> Result<Opened, OpenError> {
    // Every store up, each waited for once; the faults and the queue's drain use them below.
    let mut stores_up = Vec::new();
    for needed in SYSTEM.needs {
        for server in needed.servers {
            stores_up.push(running(*server, setup)?);
        }
    }
    let up = |server: &dyn cluster::Server| {
        stores_up
            .iter()
            .find(|c| c.name() == server.name())
            .cloned()
            .ok_or_else(|| OpenError::NotUp {
                system: SYSTEM.name,
                state: setup.lab.state.display().to_string(),
            })
    };
    let cluster = running(&server::API, setup)?;
    let workers = running(&server::WORKER, setup)?;
    // Every client goes through the balancer, as a service's clients do; faults hit the
    // replicas and the stores behind them, never the balancer.
    let nginx = running(&balancer::Nginx, setup)?;
    let mut parts = vec![Arc::clone(&cluster)];
    if consistency == "async" {
        parts.push(workers);
    }
    for store in stores(consistency) {
        for server in store.servers {
            parts.push(up(*server)?);
        }
    }
    let nemesis = Composite::new(parts);
    let endpoints = vec![Endpoint {
        http: balancer::http_url(&nginx),
        grpc: balancer::grpc_url(&nginx),
    }];
    let via = setup.via;
    let stores: Vec<&str> = stores(consistency).iter().map(|s| s.name).collect();
    let description = format!(
        "the service system: {} api replicas behind NGINX, over {}, {consistency} requests; faults hit the replicas{} and {}",
        cluster.nodes(),
        via.name(),
        if consistency == "async" { ", the workers" } else { "" },
        stores.join(" and ")
    );
    let promise = match consistency {
        "strong" => "each request one SERIALIZABLE PostgreSQL transaction: linearizable",
        "eventual" => "Cassandra at QUORUM with last-write-wins: no promise for a read-then-write",
        _ => "writes accepted into Kafka and applied later: reads converge once the queue drains",
    };
    let data = setup.workload.data;
    let mut target = ServiceTarget::new(endpoints, data, consistency, via, setup.op_timeout);
    if consistency == "async" {
        target = target.draining();
    }
    Ok(Opened {
        target: Arc::new(target),
        fault_surface: nemesis.surface(),
        nemesis: Arc::new(nemesis),
        description,
        consistency: promise.to_string(),
        shutdown: None,
    })
}
