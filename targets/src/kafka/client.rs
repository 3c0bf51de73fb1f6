//! Kafka as a [`Target`] for the `set` workload, through librdkafka
//! (`rdkafka`): an `add` produces one record whose key and value are the
//! element; a read consumes the whole topic from the beginning.
//!
//! Each run gets a topic of its own (`lab-set-<ms since the epoch>`), 3
//! partitions replicated 3 times with `min.insync.replicas=2`, so runs
//! never see each other's records; [`KafkaTarget::setup`] creates it and
//! deletes the topics of earlier runs. Two ways to produce:
//!
//! - `acks=all` with idempotence ([`Acks::All`]): a record is acknowledged
//!   once every in-sync replica has it, at least two; retries cannot
//!   duplicate it;
//! - `acks=1` without idempotence ([`Acks::One`]): acknowledged once the
//!   leader has it, which a leader change may then truncate; retries may
//!   write it twice.
//!
//! An `add` is `ok` once delivered, `fail` if librdkafka refused to queue
//! it, and `info` for every delivery error. librdkafka's persistence
//! status (`rd_kafka_message_status`) is not proof enough for `fail`: in
//! a run with partitions and a crash, an add that failed on *not
//! persisted* (`MessageTimedOut`) was read back afterwards. A likely
//! path: librdkafka counts a `NOT_LEADER_OR_FOLLOWER` reply as not
//! persisted, but a broker also sends it for a record it had appended,
//! and its followers copied, when its leadership moved while it waited
//! for the acks. The status is kept in the error (`librdkafka: not
//! persisted`), so histories show what librdkafka claimed.
//!
//! A read asks each partition's leader for its high watermark, then reads
//! every partition from its first offset up to it. During a run that is
//! what a consumer would see: a broker cut off from the others still
//! believes it leads, and answers from its frozen log (stale reads are
//! set-full's *stale*, not *lost*). A `final-read` additionally waits, up
//! to half its time, until every partition's high watermark covers the
//! highest offset acknowledged to this target, retrying with fresh
//! metadata: right after healing, the formerly isolated broker may still
//! be taken for a leader. When the wait runs out it reads what there is,
//! so a record that was acknowledged and then truncated shows as lost.

use async_trait::async_trait;
use history::Value;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::bindings::{rd_kafka_message_status, rd_kafka_msg_status_t};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{DeliveryResult, Message};
use rdkafka::producer::{BaseRecord, ProducerContext, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use workloads::Invocation;
use workloads::{Client, Completion, Target, TargetError};

/// Partitions of each run's topic.
pub const PARTITIONS: i32 = 3;
/// Replicas of each partition.
pub const REPLICATION: i32 = 3;
/// The prefix of the topics runs create.
pub const TOPIC_PREFIX: &str = "lab-set-";

/// What a producer waits for before a record counts as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acks {
    /// `acks=all`, idempotent: every in-sync replica (at least
    /// `min.insync.replicas=2`) has it.
    All,
    /// `acks=1`, not idempotent: the leader has it.
    One,
}

/// A Kafka cluster reached at its brokers' addresses.
pub struct KafkaTarget {
    brokers: Vec<String>,
    acks: Acks,
    timeout: Duration,
    shared: Arc<Shared>,
}

/// What the target's clients share: the run's topic, and the highest
/// offset acknowledged in each partition (for final reads).
#[derive(Default)]
struct Shared {
    topic: Mutex<Option<String>>,
    acknowledged: Mutex<HashMap<i32, i64>>,
}

impl Shared {
    fn topic(&self) -> Option<String> {
        self.topic.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn acknowledged(&self, partition: i32, offset: i64) {
        let mut acked = self.acknowledged.lock().unwrap_or_else(|e| e.into_inner());
        let highest = acked.entry(partition).or_insert(offset);
        *highest = (*highest).max(offset);
    }

    fn floor(&self) -> HashMap<i32, i64> {
        self.acknowledged
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl KafkaTarget {
    /// A target over the brokers at `brokers` (`host:9092`, one per node)
    /// producing with `acks`; an operation gives up after `timeout` (the
    /// runner's operation timeout: librdkafka's delivery timeout is set
    /// below it, so that librdkafka, which knows whether a request went
    /// out, decides how a slow `add` ended).
    pub fn new(brokers: Vec<String>, acks: Acks, timeout: Duration) -> KafkaTarget {
        KafkaTarget {
            brokers,
            acks,
            timeout,
            shared: Arc::default(),
        }
    }

    /// The topic of the current run, once [`Target::setup`] created it.
    pub fn topic(&self) -> Option<String> {
        self.shared.topic()
    }

    /// Every broker, `node`'s first: clients of different nodes start
    /// from different brokers, and still find the leaders through any.
    fn bootstrap(&self, node: usize) -> String {
        let n = self.brokers.len().max(1);
        (0..self.brokers.len())
            .map(|i| self.brokers[(node + i) % n].as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    fn base_config(&self, node: usize) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", self.bootstrap(node))
            .set("client.id", "lab")
            // librdkafka logs connection errors itself; the history has them.
            .set("log_level", "3");
        config
    }
}

#[async_trait]
impl Target for KafkaTarget {
    fn name(&self) -> String {
        match self.acks {
            Acks::All => "kafka-acks-all",
            Acks::One => "kafka-acks-1",
        }
        .into()
    }

    fn nodes(&self) -> usize {
        self.brokers.len()
    }

    async fn open(&self, node: usize) -> Result<Box<dyn Client>, TargetError> {
        let topic = self.shared.topic().ok_or_else(|| {
            TargetError::Setup("the Kafka target has no topic yet: setup creates it".into())
        })?;
        // Below the runner's timeout, so librdkafka reports first.
        let delivery = (self.timeout * 3 / 4).max(Duration::from_millis(100));
        let mut config = self.base_config(node);
        config
            .set(
                "acks",
                match self.acks {
                    Acks::All => "all",
                    Acks::One => "1",
                },
            )
            .set("enable.idempotence", (self.acks == Acks::All).to_string())
            .set("message.timeout.ms", delivery.as_millis().to_string())
            .set("request.timeout.ms", delivery.as_millis().to_string())
            .set("linger.ms", "1");
        let producer: ThreadedProducer<Delivery> = config
            .create_with_context(Delivery)
            .map_err(|e| TargetError::Setup(format!("Kafka producer for node {node}: {e}")))?;
        Ok(Box::new(KafkaClient {
            producer: Some(producer),
            reader: self.base_config(node),
            topic,
            shared: Arc::clone(&self.shared),
            timeout: self.timeout,
        }))
    }

    /// Creates this run's topic (and deletes earlier runs' topics, so the
    /// brokers do not accumulate them), then waits until every partition
    /// has a leader and all its replicas in sync.
    async fn setup(&self, initial: &[(Value, Value)]) -> Result<(), TargetError> {
        if !initial.is_empty() {
            return Err(TargetError::Setup(
                "the Kafka target takes no initial data".into(),
            ));
        }
        let admin: AdminClient<DefaultClientContext> = self
            .base_config(0)
            .create()
            .map_err(|e| TargetError::Setup(format!("Kafka admin client: {e}")))?;
        let options = AdminOptions::new()
            .request_timeout(Some(Duration::from_secs(30)))
            .operation_timeout(Some(Duration::from_secs(30)));
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let topic = format!("{TOPIC_PREFIX}{}", since_epoch.as_millis());

        // Best effort: a topic left behind costs disk, not correctness.
        let brokers = self.brokers.join(",");
        let listed = {
            let config = self.base_config(0);
            tokio::task::spawn_blocking(move || {
                let consumer: BaseConsumer = config.create().ok()?;
                let metadata = consumer
                    .fetch_metadata(None, Duration::from_secs(10))
                    .ok()?;
                Some(
                    metadata
                        .topics()
                        .iter()
                        .map(|t| t.name().to_string())
                        .filter(|name| name.starts_with(TOPIC_PREFIX))
                        .collect::<Vec<_>>(),
                )
            })
            .await
            .ok()
            .flatten()
            .unwrap_or_default()
        };
        if !listed.is_empty() {
            let names: Vec<&str> = listed.iter().map(String::as_str).collect();
            let _ = admin.delete_topics(&names, &options).await;
        }

        let new = NewTopic::new(&topic, PARTITIONS, TopicReplication::Fixed(REPLICATION))
            .set("min.insync.replicas", "2");
        let results = admin
            .create_topics([&new], &options)
            .await
            .map_err(|e| TargetError::Setup(format!("creating topic {topic} on {brokers}: {e}")))?;
        for result in results {
            result.map_err(|(name, code)| {
                TargetError::Setup(format!("creating topic {name} on {brokers}: {code}"))
            })?;
        }

        let config = self.base_config(0);
        let waited = topic.clone();
        tokio::task::spawn_blocking(move || wait_in_sync(config, &waited))
            .await
            .map_err(|e| TargetError::Setup(format!("waiting for topic {topic}: {e}")))?
            .map_err(TargetError::Setup)?;
        *self.shared.topic.lock().unwrap_or_else(|e| e.into_inner()) = Some(topic);
        self.shared
            .acknowledged
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        Ok(())
    }
}

/// Waits up to 60 s until every partition of `topic` has a leader and all
/// its replicas in its ISR (blocking).
fn wait_in_sync(config: ClientConfig, topic: &str) -> Result<(), String> {
    let consumer: BaseConsumer = config
        .create()
        .map_err(|e| format!("Kafka client for topic {topic}: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = String::from("no metadata yet");
    while Instant::now() < deadline {
        match consumer.fetch_metadata(Some(topic), Duration::from_secs(5)) {
            Ok(metadata) => {
                let partitions = metadata
                    .topics()
                    .iter()
                    .find(|t| t.name() == topic)
                    .map(|t| t.partitions())
                    .unwrap_or_default();
                let ready = partitions.len() == PARTITIONS as usize
                    && partitions.iter().all(|p| {
                        p.error().is_none()
                            && p.leader() >= 0
                            && p.isr().len() == REPLICATION as usize
                    });
                if ready {
                    return Ok(());
                }
                last = format!(
                    "partitions (leader, isr): {:?}",
                    partitions
                        .iter()
                        .map(|p| (p.leader(), p.isr().to_vec()))
                        .collect::<Vec<_>>()
                );
            }
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(format!(
        "topic {topic} did not get a leader and {REPLICATION} in-sync replicas per partition within 60 s; last seen: {last}"
    ))
}

/// How librdkafka says a record ended.
enum Delivered {
    /// Written at this partition and offset.
    Written(i32, i64),
    /// Not delivered: the error, with librdkafka's persistence status.
    Failed(String),
}

/// The producer's context: hands each record's outcome, with its
/// persistence status, to the `add` waiting for it.
struct Delivery;

impl ClientContext for Delivery {}

impl ProducerContext for Delivery {
    type DeliveryOpaque = Box<oneshot::Sender<Delivered>>;

    fn delivery(&self, result: &DeliveryResult<'_>, waiting: Self::DeliveryOpaque) {
        let delivered = match result {
            Ok(message) => Delivered::Written(message.partition(), message.offset()),
            Err((error, message)) => {
                // SAFETY: the message is valid for the whole callback, and
                // the status function only reads it.
                let status = unsafe { rd_kafka_message_status(message.ptr()) };
                let claim = match status {
                    rd_kafka_msg_status_t::RD_KAFKA_MSG_STATUS_NOT_PERSISTED => "not persisted",
                    rd_kafka_msg_status_t::RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED => {
                        "possibly persisted"
                    }
                    rd_kafka_msg_status_t::RD_KAFKA_MSG_STATUS_PERSISTED => "persisted",
                };
                Delivered::Failed(format!("{error} (librdkafka: {claim})"))
            }
        };
        // The add may have given up waiting (the runner timed it out).
        let _ = waiting.send(delivered);
    }
}

/// One process's connection: a producer of its own (a retired process's
/// stuck records must not delay the next one's) and the settings of the
/// consumers its reads create.
struct KafkaClient {
    producer: Option<ThreadedProducer<Delivery>>,
    reader: ClientConfig,
    topic: String,
    shared: Arc<Shared>,
    timeout: Duration,
}

impl Drop for KafkaClient {
    /// Destroying a producer purges its queue and joins its threads,
    /// which can take a while: not on the runtime's workers.
    fn drop(&mut self) {
        if let (Some(producer), Ok(runtime)) =
            (self.producer.take(), tokio::runtime::Handle::try_current())
        {
            runtime.spawn_blocking(move || drop(producer));
        }
    }
}

/// An element as a record's key and value.
fn encode(element: &Value) -> String {
    element.to_string()
}

/// A record's value back as an element (the set workload adds integers).
fn decode(bytes: &[u8]) -> Value {
    let text = String::from_utf8_lossy(bytes);
    text.parse::<i64>()
        .map_or_else(|_| Value::Str(text.into_owned()), Value::Int)
}

impl KafkaClient {
    async fn add(&self, op: &Invocation) -> Completion {
        let Some(producer) = &self.producer else {
            return Completion::fail(op.value.clone(), "no-producer");
        };
        let element = encode(&op.value);
        let (sender, delivered) = oneshot::channel();
        let record = BaseRecord::with_opaque_to(&self.topic, Box::new(sender))
            .key(&element)
            .payload(&element);
        if let Err((e, _)) = producer.send(record) {
            // Refused before it entered the producer's queue.
            return Completion::fail(op.value.clone(), &format!("enqueue: {e}"));
        }
        match delivered.await {
            Ok(Delivered::Written(partition, offset)) => {
                self.shared.acknowledged(partition, offset);
                Completion::ok(op.value.clone())
            }
            // Never proof that it was not written: see the module docs.
            Ok(Delivered::Failed(e)) => Completion::info(op.value.clone(), &e),
            Err(_) => Completion::info(op.value.clone(), "producer-gone"),
        }
    }

    async fn read(&self, op: &Invocation) -> Completion {
        let floor = (op.f == "final-read").then(|| self.shared.floor());
        let (config, topic, timeout) = (self.reader.clone(), self.topic.clone(), self.timeout);
        let read = tokio::task::spawn_blocking(move || read_topic(config, &topic, floor, timeout));
        match read.await {
            Ok(Ok(elements)) => Completion::ok(Value::Vector(elements)),
            // A read changes nothing: one that returns nothing failed.
            Ok(Err(e)) => Completion::fail(op.value.clone(), &e),
            Err(e) => Completion::fail(op.value.clone(), &format!("read task: {e}")),
        }
    }
}

#[async_trait]
impl Client for KafkaClient {
    async fn invoke(&self, op: &Invocation) -> Completion {
        match op.f.as_str() {
            "add" => self.add(op).await,
            "read" | "final-read" => self.read(op).await,
            f => Completion::fail(op.value.clone(), &format!("the Kafka target has no :{f}")),
        }
    }
}

/// Reads every record of `topic` up to each partition's high watermark
/// (blocking; gives up after `timeout`). With a `floor` (the highest
/// acknowledged offset of each partition), first waits, up to half the
/// time, for high watermarks above it, asking fresh clients each time.
fn read_topic(
    config: ClientConfig,
    topic: &str,
    floor: Option<HashMap<i32, i64>>,
    timeout: Duration,
) -> Result<Vec<Value>, String> {
    let started = Instant::now();
    let deadline = started + timeout;
    let patience = started + timeout / 2;
    let left = || deadline.saturating_duration_since(Instant::now());
    loop {
        let mut config = config.clone();
        config
            .set("group.id", "lab-reader")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false");
        let consumer: BaseConsumer = config
            .create()
            .map_err(|e| format!("Kafka consumer: {e}"))?;
        let mut bounds = Vec::with_capacity(PARTITIONS as usize);
        for partition in 0..PARTITIONS {
            let (low, high) = consumer
                .fetch_watermarks(topic, partition, left())
                .map_err(|e| format!("watermarks of {topic}/{partition}: {e}"))?;
            bounds.push((partition, low, high));
        }
        let behind = floor.as_ref().is_some_and(|floor| {
            bounds
                .iter()
                .any(|(p, _, high)| floor.get(p).is_some_and(|&acked| acked >= *high))
        });
        if behind && Instant::now() < patience {
            drop(consumer);
            std::thread::sleep(Duration::from_millis(200));
            continue;
        }
        return consume(&consumer, topic, &bounds, deadline);
    }
}

/// Reads partitions `(partition, low, high)` of `topic` from `low` up to
/// `high` with `consumer`.
fn consume(
    consumer: &BaseConsumer,
    topic: &str,
    bounds: &[(i32, i64, i64)],
    deadline: Instant,
) -> Result<Vec<Value>, String> {
    let mut assignment = TopicPartitionList::new();
    let mut next: HashMap<i32, (i64, i64)> = HashMap::new();
    for &(partition, low, high) in bounds {
        if high > low {
            assignment
                .add_partition_offset(topic, partition, Offset::Offset(low))
                .map_err(|e| format!("assigning {topic}/{partition}: {e}"))?;
            next.insert(partition, (low, high));
        }
    }
    let mut elements = Vec::new();
    if next.is_empty() {
        return Ok(elements);
    }
    consumer
        .assign(&assignment)
        .map_err(|e| format!("assigning {topic}: {e}"))?;
    let mut last_error = None;
    while next.values().any(|(at, high)| at < high) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "timeout reading {topic}: (partition, next offset, high watermark) {:?}; last error: {}",
                next.iter()
                    .map(|(p, (at, high))| (p, at, high))
                    .collect::<Vec<_>>(),
                last_error.unwrap_or_else(|| "none".to_string())
            ));
        }
        match consumer.poll(left.min(Duration::from_millis(200))) {
            Some(Ok(message)) => {
                if let Some((at, high)) = next.get_mut(&message.partition()) {
                    // Past the high watermark belongs to a later read.
                    if message.offset() >= *at && message.offset() < *high {
                        *at = message.offset() + 1;
                        elements.push(decode(message.payload().unwrap_or_default()));
                    }
                }
            }
            Some(Err(e)) => last_error = Some(e.to_string()),
            None => {}
        }
    }
    Ok(elements)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_round_trip() {
        assert_eq!(decode(encode(&Value::Int(42)).as_bytes()), Value::Int(42));
        assert_eq!(decode(b"x"), Value::Str("x".into()));
    }

    #[test]
    fn clients_of_different_nodes_start_from_different_brokers() {
        let target = KafkaTarget::new(
            vec!["a:1".into(), "b:1".into(), "c:1".into()],
            Acks::All,
            Duration::from_secs(1),
        );
        assert_eq!(target.bootstrap(1), "b:1,c:1,a:1");
        assert_eq!(target.name(), "kafka-acks-all");
    }
}
