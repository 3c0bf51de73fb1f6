//! The worker: a member of the `service-workers` consumer group over [`queue::WRITES`], applying
//! each queued write to the eventual store with the timestamp it was accepted with.
//!
//! Applying is idempotent and order-free: Cassandra keeps, per key, the write with the largest
//! `USING TIMESTAMP`, so a write redelivered after a crash, or applied by another worker after a
//! rebalance, changes nothing. A message's offset is committed only once its write is durable at
//! the configured level; a write that fails is retried, never skipped.
//!
//! [`queue::WRITES`]: crate::queue::WRITES

use crate::app::App;
use crate::queue::{QueuedWrite, WRITES};
use crate::ServiceError;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::Message;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The consumer group of the workers.
pub const GROUP: &str = "service-workers";

/// A consumer of the writes topic, in the group.
pub fn consumer(app: &App) -> Result<StreamConsumer, ServiceError> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &app.settings.kafka)
        .set("group.id", GROUP)
        .set("client.id", &app.settings.name)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        // Only what the producers committed to every in-sync replica.
        .set("isolation.level", "read_committed")
        .set("session.timeout.ms", "6000")
        .create()
        .map_err(|e| ServiceError::Invalid(format!("the Kafka consumer: {e}")))?;
    consumer
        .subscribe(&[WRITES])
        .map_err(|e| ServiceError::Unavailable(format!("subscribing to {WRITES}: {e}")))?;
    Ok(consumer)
}

/// Applies queued writes until `stop` turns true.
pub async fn apply_writes(app: Arc<App>, consumer: StreamConsumer, mut stop: watch::Receiver<bool>) {
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
        app.metrics.consumed(WRITES);
        match message.payload().map(serde_json::from_slice::<QueuedWrite>) {
            Some(Ok(write)) => {
                // Retried until durable: the offset must not pass a write not applied.
                let mut delay = Duration::from_millis(50);
                while let Err(e) = app.eventual.write(&write.key, write.value, write.stamp).await {
                    eprintln!("{}: applying {write:?}: {e}; retrying", app.settings.name);
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = stop.changed() => return,
                    }
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
            }
            // A message no api wrote: skipped (and counted), not retried forever.
            _ => {
                app.metrics.malformed(WRITES);
                eprintln!(
                    "{}: skipping a malformed message at {}/{}",
                    app.settings.name,
                    message.partition(),
                    message.offset()
                );
            }
        }
        if let Err(e) = consumer.commit_message(&message, CommitMode::Async) {
            // Not fatal: the write is redelivered and applied again, which changes nothing.
            eprintln!("{}: committing offset {}: {e}", app.settings.name, message.offset());
        }
    }
}
