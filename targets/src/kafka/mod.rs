//! Apache Kafka 4.4 (KRaft) from Maven Central's jars: three combined
//! broker/controller nodes; the set workload on a fresh topic per run.

pub mod client;
pub mod server;

use crate::{running, OpenError, Opened, Setup, System, TargetKind};
use client::{Acks, KafkaTarget, PARTITIONS, REPLICATION};
use std::sync::Arc;
use workloads::set::SET;

/// Kafka's row of [`crate::SYSTEMS`].
pub static SYSTEM: System = System {
    name: "kafka",
    about: "Apache Kafka 4.4 KRaft, three brokers (Maven Central's jars)",
    servers: &[&server::Kafka],
    needs: &[],
    targets: &[
        TargetKind {
            name: "kafka-acks-all",
            about: "acks=all, idempotent producer",
            workloads: &[&SET],
            open: |setup| open(setup, Acks::All),
        },
        TargetKind {
            name: "kafka-acks-1",
            about: "acks=1, no idempotence",
            workloads: &[&SET],
            open: |setup| open(setup, Acks::One),
        },
    ],
};

fn open(setup: &Setup, acks: Acks) -> Result<Opened, OpenError> {
    let cluster = running(&server::Kafka, setup)?;
    let nodes = cluster.nodes();
    let brokers = (0..nodes).map(|n| server::bootstrap(&cluster, n)).collect();
    let consistency = match acks {
        Acks::All => {
            "acks=all, idempotent producer: acknowledged once every in-sync replica (at least 2) has the record"
        }
        Acks::One => {
            "acks=1, no idempotence: acknowledged once the leader has the record (a new leader may truncate it; retries may duplicate it)"
        }
    };
    Ok(Opened::real(
        cluster,
        Arc::new(KafkaTarget::new(brokers, acks, setup.op_timeout)),
        format!(
            "Kafka 4.4 KRaft ({nodes} brokers, each also a controller; a fresh topic of {PARTITIONS} \
             partitions, replication factor {REPLICATION}, min.insync.replicas 2)"
        ),
        consistency,
    ))
}
