//! The service system under test: what the lab's `system` target drives end to end.
//!
//! Stateless `api` replicas serve the same operations over gRPC ([`grpc`], `system::proto`) and
//! REST ([`rest`], with its OpenAPI document at `/openapi.json`), each key-value request in the
//! consistency it asks for ([`Consistency`]):
//!
//! | consistency | store | what a reply means |
//! |---|---|---|
//! | `strong` | PostgreSQL ([`strong`]), one SERIALIZABLE transaction, retried on 40001 | the write is committed |
//! | `eventual` | Cassandra ([`eventual`]) at a configured level, last-write-wins on [`clock`]'s stamps, or vector-clock siblings ([`versions`]) | the level's replicas hold it |
//! | `async` | Kafka ([`queue`], acks=all), applied to Cassandra later by a worker | the write is durable in Kafka |
//!
//! Grow-only sets ([`sets`]) and counters ([`counters`]) are offered in the same three
//! consistencies. The bank ([`bank`]) runs on the strong store: each transfer writes its event to a transactional
//! outbox in the same transaction. The `worker` binary is a Kafka consumer group ([`worker`]) that
//! applies async writes and records bank events in each account's activity timeline; one worker at
//! a time, elected through etcd and fenced, relays the outbox to Kafka ([`relay`]).
//!
//! Every instance registers in etcd under a lease ([`discovery`]), applies live settings from etcd
//! ([`live`]), serves Prometheus metrics ([`metrics`]), CPU profiles on demand ([`profile`]), `/healthz` and `/readyz`, bounds every
//! request ([`limits`]) and stops gracefully ([`lifecycle`]). The `balancer` binary runs NGINX in
//! front of the api replicas, its upstreams following discovery ([`balancer`]).
//!
//! [`Consistency`]: kv::Consistency

#![warn(missing_docs)]

pub mod app;
pub mod balancer;
pub mod bank;
pub mod clock;
pub mod counters;
pub mod discovery;
pub mod error;
pub mod eventual;
pub mod grpc;
pub mod kv;
pub mod lifecycle;
pub mod limits;
pub mod live;
pub mod metrics;
pub mod profile;
pub mod queue;
pub mod relay;
pub mod rest;
pub mod sets;
pub mod settings;
pub mod strong;
pub mod versions;
pub mod worker;

pub use app::App;
pub use error::ServiceError;
pub use settings::Settings;
