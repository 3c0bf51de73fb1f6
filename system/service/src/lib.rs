//! The service system under test: what the lab's `system` target drives end to end.
//!
//! Stateless `api` replicas serve the same operations over gRPC ([`grpc`], `system::proto`) and
//! REST ([`rest`], with its OpenAPI document at `/openapi.json`), each key-value request in the
//! consistency it asks for ([`Consistency`]):
//!
//! | consistency | store | what a reply means |
//! |---|---|---|
//! | `strong` | PostgreSQL ([`strong`]), one SERIALIZABLE transaction, retried on 40001 | the write is committed |
//! | `eventual` | Cassandra ([`eventual`]) at a configured level, last-write-wins on [`clock`]'s stamps | the level's replicas hold it |
//! | `async` | Kafka ([`queue`], acks=all), applied to Cassandra later by a worker | the write is durable in Kafka |
//!
//! The bank ([`bank`]) runs on the strong store: each transfer writes its event to a transactional
//! outbox in the same transaction. Every instance registers in etcd under a lease ([`discovery`]),
//! serves Prometheus metrics ([`metrics`]), `/healthz` and `/readyz`, and bounds every request
//! ([`limits`]).
//!
//! [`Consistency`]: kv::Consistency

#![warn(missing_docs)]

pub mod app;
pub mod bank;
pub mod clock;
pub mod discovery;
pub mod error;
pub mod eventual;
pub mod grpc;
pub mod kv;
pub mod lifecycle;
pub mod limits;
pub mod live;
pub mod metrics;
pub mod queue;
pub mod rest;
pub mod settings;
pub mod strong;
pub mod worker;

pub use app::App;
pub use error::ServiceError;
pub use settings::Settings;
