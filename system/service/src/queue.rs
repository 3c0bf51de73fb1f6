//! Async writes: accepted into a partitioned, replicated Kafka topic (acks=all, idempotent
//! producer), keyed by the key so that one key's writes stay in order in one partition; a worker
//! applies them to the eventual store later.

use crate::metrics::Metrics;
use crate::ServiceError;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::OnceCell;

/// The topic of async writes.
pub const WRITES: &str = system::names::WRITES_TOPIC;
/// The topic of bank events, published from the outbox by the relay leader.
pub const TRANSFERS: &str = system::names::TRANSFERS_TOPIC;
/// The partitions of each topic (a consumer group spreads them over the workers).
pub const PARTITIONS: i32 = 6;

/// One queued write, as the topic carries it (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedWrite {
    /// What it does (a key's new value when absent).
    #[serde(default)]
    pub kind: WriteKind,
    /// The key, set or counter (and the message's key: one partition keeps its order).
    pub key: String,
    /// The value, element or increment.
    pub value: i64,
    /// Its last-write-wins timestamp, taken when it was accepted.
    pub stamp: i64,
    /// Under vector clocks, a put's clock (instance name → count): the worker writes it as a
    /// version ([`crate::versions`]) instead of last-write-wins by `stamp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<BTreeMap<String, u64>>,
}

/// What a queued write does once a worker applies it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WriteKind {
    /// Sets a key (last write wins by the stamp: applying it again changes nothing).
    #[default]
    Put,
    /// Adds an element to a set (again: no change).
    SetAdd,
    /// Adds to a counter: applying it again (a redelivery) counts it twice.
    CounterAdd,
}

/// The producer of async writes.
pub struct Queue {
    bootstrap: String,
    producer: FutureProducer,
    deadline: Duration,
    metrics: Metrics,
    topics: OnceCell<()>,
}

impl Queue {
    /// A producer to `bootstrap` (nothing connects until the first write).
    pub fn new(
        bootstrap: &str,
        deadline: Duration,
        metrics: Metrics,
    ) -> Result<Queue, ServiceError> {
        let producer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("message.timeout.ms", deadline.as_millis().to_string())
            .set(
                "socket.timeout.ms",
                deadline.as_millis().max(10).to_string(),
            )
            .create()
            .map_err(|e| {
                ServiceError::Invalid(format!("the Kafka producer for {bootstrap}: {e}"))
            })?;
        Ok(Queue {
            bootstrap: bootstrap.to_string(),
            producer,
            deadline,
            metrics,
            topics: OnceCell::new(),
        })
    }

    /// Creates the topics if they are missing (replicated 3 times, 2 in sync to accept a write).
    pub async fn create_topic(&self) -> Result<(), ServiceError> {
        self.topics
            .get_or_try_init(|| async {
                let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
                    .set("bootstrap.servers", &self.bootstrap)
                    .create()
                    .map_err(|e| ServiceError::Unavailable(format!("Kafka admin: {e}")))?;
                let topics = [WRITES, TRANSFERS].map(|name| {
                    NewTopic::new(name, PARTITIONS, TopicReplication::Fixed(3))
                        .set("min.insync.replicas", "2")
                });
                let options = AdminOptions::new().operation_timeout(Some(self.deadline));
                let results = admin
                    .create_topics(&topics, &options)
                    .await
                    .map_err(|e| ServiceError::Unavailable(format!("creating {WRITES}: {e}")))?;
                for result in results {
                    match result {
                        Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                        Err((name, code)) => {
                            return Err(ServiceError::Unavailable(format!(
                                "creating {name}: {code}"
                            )))
                        }
                    }
                }
                Ok(())
            })
            .await
            .copied()
    }

    /// The async writes the workers have not applied yet ([`pending`]), as the brokers see it
    /// now.
    pub async fn pending(&self) -> Result<i64, ServiceError> {
        let (bootstrap, deadline) = (self.bootstrap.clone(), self.deadline);
        tokio::task::spawn_blocking(move || pending(&bootstrap, deadline))
            .await
            .map_err(|e| ServiceError::Unavailable(format!("asking Kafka: {e}")))?
            .map_err(ServiceError::Unavailable)
    }

    /// Whether a broker answers now.
    pub async fn ready(&self) -> bool {
        let producer = self.producer.clone();
        let deadline = self.deadline;
        let metadata = tokio::task::spawn_blocking(move || {
            producer
                .client()
                .fetch_metadata(Some(WRITES), deadline)
                .is_ok()
        });
        matches!(metadata.await, Ok(true)) && self.create_topic().await.is_ok()
    }

    /// Publishes `write` and waits until every in-sync replica has it.
    pub async fn publish(&self, write: &QueuedWrite) -> Result<(), ServiceError> {
        self.create_topic().await?;
        let payload = serde_json::to_vec(write)
            .map_err(|e| ServiceError::Invalid(format!("encoding the write: {e}")))?;
        let record = FutureRecord::to(WRITES).key(&write.key).payload(&payload);
        let result = self.producer.send(record, self.deadline).await;
        self.metrics
            .produced(WRITES, if result.is_ok() { "ok" } else { "error" });
        result.map(|_| ()).map_err(|(e, _)| match e {
            // Refused before it left this process: it will not be written.
            KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull)
            | KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge) => {
                ServiceError::Unavailable(format!("Kafka: {e}"))
            }
            // A timeout or a broker error after sending: it may be in the log.
            _ => ServiceError::Indeterminate(format!("Kafka did not confirm the write: {e}")),
        })
    }
}

/// Queued writes the workers have not applied yet, as the brokers at `bootstrap` see it now: for
/// every partition of the writes topic, how far its end is past what the workers' group has
/// committed (which a worker does only once the write is in Cassandra). Blocking; each call to
/// the brokers bounded by `timeout`.
pub fn pending(bootstrap: &str, timeout: Duration) -> Result<i64, String> {
    let kafka = |e: KafkaError| format!("Kafka at {bootstrap}: {e}");
    // Only reads the group's committed offsets: it never subscribes, so it never joins the group.
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", system::names::WORKER_GROUP)
        .set("enable.auto.commit", "false")
        .create()
        .map_err(kafka)?;
    let metadata = consumer
        .fetch_metadata(Some(WRITES), timeout)
        .map_err(kafka)?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    let mut list = TopicPartitionList::new();
    for &p in &partitions {
        list.add_partition(WRITES, p);
    }
    let committed = consumer.committed_offsets(list, timeout).map_err(kafka)?;
    let mut pending = 0;
    for &p in &partitions {
        let (low, high) = consumer
            .fetch_watermarks(WRITES, p, timeout)
            .map_err(kafka)?;
        let done = match committed.find_partition(WRITES, p).map(|e| e.offset()) {
            Some(Offset::Offset(at)) => at,
            // Nothing committed yet: everything from the start is pending.
            _ => low,
        };
        pending += (high - done).max(0);
    }
    Ok(pending)
}
