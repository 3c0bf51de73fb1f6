//! The worker: a member of the `service-workers` consumer group over [`queue::WRITES`] and
//! [`queue::TRANSFERS`], applying each queued write to the eventual store with the timestamp it
//! was accepted with, and recording each bank event in both accounts' activity timelines.
//!
//! Applying a key's write or a set's element is idempotent and order-free: Cassandra keeps, per
//! key, the write with the largest `USING TIMESTAMP`, and a set holds an element once, so a write
//! redelivered after a crash, or applied by another worker after a rebalance, changes nothing. A
//! counter's increment is not: redelivered, it counts twice (the lab shows it; an idempotent
//! counter would keep one row per increment and sum them). A message's offset is committed only once its write is durable at
//! the configured level; a write that fails is retried, never skipped.
//!
//! A timeline has one row per account and transfer, so an event redelivered, or published twice
//! by two relay leaders, is recorded once.
//!
//! [`queue::WRITES`]: crate::queue::WRITES
//! [`queue::TRANSFERS`]: crate::queue::TRANSFERS

use crate::app::App;
use crate::bank::TransferEvent;
use crate::metrics::Metrics;
use crate::queue::{QueuedWrite, WriteKind, TRANSFERS, WRITES};
use crate::ServiceError;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, ConsumerContext, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{ClientContext, Statistics};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The consumer group of the workers.
pub const GROUP: &str = system::names::WORKER_GROUP;

/// A consumer of the writes topic, in the group.
pub fn consumer(app: &App) -> Result<StreamConsumer<Lag>, ServiceError> {
    let consumer: StreamConsumer<Lag> = ClientConfig::new()
        .set("bootstrap.servers", &app.settings.kafka)
        .set("group.id", GROUP)
        .set("client.id", &app.settings.name)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        // Only what the producers committed to every in-sync replica.
        .set("isolation.level", "read_committed")
        .set("session.timeout.ms", "6000")
        // A member that has not asked for messages this long (a write retried while its store
        // is down) leaves the group, so that a rebalance waits for it 20 s, not librdkafka's 5 min.
        .set("max.poll.interval.ms", "20000")
        .set("statistics.interval.ms", "2000")
        .create_with_context(Lag(app.metrics.clone()))
        .map_err(|e| ServiceError::Invalid(format!("the Kafka consumer: {e}")))?;
    consumer.subscribe(&[WRITES, TRANSFERS]).map_err(|e| {
        ServiceError::Unavailable(format!("subscribing to {WRITES} and {TRANSFERS}: {e}"))
    })?;
    Ok(consumer)
}

/// Applies queued writes and bank events until `stop` turns true.
pub async fn apply(app: Arc<App>, consumer: StreamConsumer<Lag>, mut stop: watch::Receiver<bool>) {
    let mut every_second = tokio::time::interval(Duration::from_secs(1));
    loop {
        let message = tokio::select! {
            m = consumer.recv() => m,
            _ = every_second.tick() => {
                // What the group gave this worker, for /readyz and the metrics.
                let assigned = consumer.assignment().map_or(0, |a| a.count());
                app.metrics.assigned_partitions.set(assigned as i64);
                continue;
            }
            _ = stop.changed() => return,
        };
        let message = match message {
            Ok(m) => m,
            Err(e) => {
                eprintln!("{}: Kafka: {e}", app.settings.name);
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let topic = message.topic().to_string();
        app.metrics.consumed(&topic);
        let applied = match message.payload() {
            Some(payload) if topic == WRITES => {
                match serde_json::from_slice::<QueuedWrite>(payload) {
                    Ok(write) => {
                        retry(&app, &mut stop, &format!("{write:?}"), || {
                            apply_write(&app, &write)
                        })
                        .await
                    }
                    Err(_) => Err(()),
                }
            }
            Some(payload) => match serde_json::from_slice::<TransferEvent>(payload) {
                Ok(event) => {
                    retry(
                        &app,
                        &mut stop,
                        &format!("transfer {}", event.id),
                        || async {
                            app.eventual
                                .record(&event.from, event.id, -event.amount)
                                .await?;
                            app.eventual.record(&event.to, event.id, event.amount).await
                        },
                    )
                    .await
                }
                Err(_) => Err(()),
            },
            None => Err(()),
        };
        match applied {
            Ok(true) => {}
            // Stopping: the offset stays, the message is applied after the restart.
            Ok(false) => return,
            // A message no instance of ours wrote: skipped (and counted), not retried forever.
            Err(()) => {
                app.metrics.malformed(&topic);
                eprintln!(
                    "{}: skipping a malformed message at {topic}/{}/{}",
                    app.settings.name,
                    message.partition(),
                    message.offset()
                );
            }
        }
        if let Err(e) = consumer.commit_message(&message, CommitMode::Async) {
            // Not fatal: the write is redelivered and applied again, which changes nothing.
            eprintln!(
                "{}: committing offset {}: {e}",
                app.settings.name,
                message.offset()
            );
        }
    }
}

/// Applies one queued write to the eventual store.
async fn apply_write(app: &App, write: &QueuedWrite) -> Result<(), ServiceError> {
    let (key, value) = (&write.key, write.value);
    match write.kind {
        WriteKind::Put => match &write.clock {
            Some(clock) => {
                let clock = clock.iter().map(|(n, c)| (n.clone(), *c)).collect();
                app.eventual.write_version(key, &clock, value).await
            }
            None => app.eventual.write(key, value, write.stamp).await,
        },
        WriteKind::SetAdd => app.eventual.set_add(key, value).await,
        WriteKind::CounterAdd => app.eventual.counter_add(key, value).await,
    }
}

/// The consumer's context: turns librdkafka's statistics, emitted every few seconds, into the
/// consumer-lag gauges (per topic, summed over this worker's partitions; no extra broker call).
pub struct Lag(Metrics);

impl ClientContext for Lag {
    fn stats(&self, statistics: Statistics) {
        for topic in [WRITES, TRANSFERS] {
            let lag: i64 = statistics
                .topics
                .get(topic)
                .into_iter()
                .flat_map(|t| t.partitions.values())
                // -1: not consumed by this worker, or not known yet.
                .map(|p| p.consumer_lag.max(0))
                .sum();
            self.0.consumer_lag.with_label_values(&[topic]).set(lag);
        }
    }
}

impl ConsumerContext for Lag {}

/// Runs `apply` until it succeeds (`Ok(true)`) or `stop` turns true (`Ok(false)`): the offset
/// must not pass a message whose effect is not durable.
async fn retry<F, Fut>(
    app: &App,
    stop: &mut watch::Receiver<bool>,
    what: &str,
    mut apply: F,
) -> Result<bool, ()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), ServiceError>>,
{
    let mut delay = Duration::from_millis(50);
    loop {
        match apply().await {
            Ok(()) => return Ok(true),
            Err(e) => eprintln!("{}: applying {what}: {e}; retrying", app.settings.name),
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.changed() => return Ok(false),
        }
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}
