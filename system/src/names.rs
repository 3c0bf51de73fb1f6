//! The names the service system (the `service` crate) and the lab's clients of it share: its
//! Kafka topics and consumer group, and its keys in etcd. One place, so that the lab's checks
//! (a queue drained, an instance registered, a setting changed) name what the services use.

/// The Kafka topic of async writes.
pub const WRITES_TOPIC: &str = "service.writes";
/// The Kafka topic of bank events, published from the outbox by the relay leader.
pub const TRANSFERS_TOPIC: &str = "service.transfers";
/// The consumer group of the workers.
pub const WORKER_GROUP: &str = "service-workers";
/// The etcd prefix under which every instance registers (`<prefix><role>/<name>`).
pub const INSTANCES_PREFIX: &str = "/lab/instances/";
/// The etcd prefix of the live settings (`<prefix><setting>`).
pub const SETTINGS_PREFIX: &str = "/lab/config/";
