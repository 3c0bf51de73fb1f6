//! One instance's state: its stores, its live settings, its membership and its metrics, shared
//! by the gRPC and REST front ends.

use crate::discovery::{Discovery, Instance};
use crate::eventual::{Eventual, Replication};
use crate::live::Live;
use crate::metrics::Metrics;
use crate::queue::Queue;
use crate::settings::Settings;
use crate::strong::Strong;
use crate::ServiceError;
use serde::Serialize;
use std::sync::Arc;

/// An instance.
pub struct App {
    /// `api` or `worker`.
    pub role: &'static str,
    /// Its command line.
    pub settings: Settings,
    /// Its metrics.
    pub metrics: Metrics,
    /// PostgreSQL.
    pub strong: Strong,
    /// Cassandra.
    pub eventual: Eventual,
    /// Kafka.
    pub queue: Queue,
    /// What etcd can change live.
    pub live: Arc<Live>,
    /// Its membership in etcd.
    pub discovery: Discovery,
}

/// Which dependencies answer (`/readyz`).
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// PostgreSQL answers.
    pub postgres: bool,
    /// Cassandra answers.
    pub cassandra: bool,
    /// A Kafka broker answers and the writes topic exists.
    pub kafka: bool,
    /// This instance's etcd lease is renewed.
    pub etcd: bool,
    /// A worker: it has partitions of the writes topic to consume (a group that is still
    /// forming has none yet); null for an api.
    pub consuming: Option<bool>,
}

impl Readiness {
    /// Whether everything answers.
    pub fn ready(&self) -> bool {
        self.postgres && self.cassandra && self.kafka && self.etcd && self.consuming.unwrap_or(true)
    }
}

impl App {
    /// An instance of `role` (`api`) with `settings`; nothing connects yet.
    pub fn new(role: &'static str, settings: Settings) -> Result<Arc<App>, ServiceError> {
        let metrics = Metrics::new(&settings.metrics_labels)
            .map_err(|e| ServiceError::Invalid(format!("metrics: {e}")))?;
        let deadline = settings.deadline();
        let strong = Strong::new(
            &settings.postgres,
            settings.postgres_pool,
            deadline,
            metrics.clone(),
        )?;
        let eventual = Eventual::new(
            settings.cassandra.clone(),
            settings.cassandra_consistency,
            Replication {
                factor: settings.cassandra_replication,
                datacenter: settings.cassandra_datacenter.clone(),
            },
            deadline,
            metrics.clone(),
            &settings.name,
        );
        let queue = Queue::new(&settings.kafka, deadline, metrics.clone())?;
        let live = Arc::new(Live::new(
            settings.default_consistency,
            settings.conflict_policy,
        ));
        let host = settings.advertise.unwrap_or(settings.http.ip());
        let me = Instance {
            role: role.to_string(),
            name: settings.name.clone(),
            http: format!("{host}:{}", settings.http.port()),
            // Workers serve no gRPC.
            grpc: if role == "api" {
                format!("{host}:{}", settings.grpc.port())
            } else {
                String::new()
            },
        };
        let discovery = Discovery::new(
            settings.etcd.clone(),
            me,
            settings.lease_ttl,
            deadline,
            live.clone(),
            metrics.clone(),
        );
        Ok(Arc::new(App {
            role,
            settings,
            metrics,
            strong,
            eventual,
            queue,
            live,
            discovery,
        }))
    }

    /// Which dependencies answer now, asked all at once.
    pub async fn readiness(&self) -> Readiness {
        let (postgres, cassandra, kafka) = tokio::join!(
            self.strong.ready(),
            self.eventual.ready(),
            self.queue.ready()
        );
        Readiness {
            postgres,
            cassandra,
            kafka,
            etcd: self.metrics.lease_alive.get() == 1,
            consuming: (self.role == "worker").then(|| self.metrics.assigned_partitions.get() > 0),
        }
    }
}
