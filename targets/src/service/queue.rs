//! Whether the service's queue has drained: for every partition of the async writes' topic, the
//! workers' consumer group has committed (which a worker does only once the write is in Cassandra)
//! up to the partition's end. The async target waits for it before its final reads, so that
//! convergence is judged on what the system applied, not on how far the workers had got.

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use std::time::{Duration, Instant};
use system::names::{WORKER_GROUP, WRITES_TOPIC};

/// Queued writes the workers have not applied yet, as the brokers at `bootstrap` see it now.
/// Blocking: every call asks the brokers, each call bounded by `timeout`.
pub fn pending(bootstrap: &str, timeout: Duration) -> Result<i64, String> {
    let kafka = |e: rdkafka::error::KafkaError| format!("Kafka at {bootstrap}: {e}");
    // Only reads the group's committed offsets: it never subscribes, so it never joins the group.
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", WORKER_GROUP)
        .set("enable.auto.commit", "false")
        .create()
        .map_err(kafka)?;
    let metadata = consumer
        .fetch_metadata(Some(WRITES_TOPIC), timeout)
        .map_err(kafka)?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    let mut list = TopicPartitionList::new();
    for &p in &partitions {
        list.add_partition(WRITES_TOPIC, p);
    }
    let committed = consumer.committed_offsets(list, timeout).map_err(kafka)?;
    let mut pending = 0;
    for &p in &partitions {
        let (low, high) = consumer
            .fetch_watermarks(WRITES_TOPIC, p, timeout)
            .map_err(kafka)?;
        let done = match committed
            .find_partition(WRITES_TOPIC, p)
            .map(|e| e.offset())
        {
            Some(Offset::Offset(at)) => at,
            // Nothing committed yet: everything from the start is pending.
            _ => low,
        };
        pending += (high - done).max(0);
    }
    Ok(pending)
}

/// Polls [`pending`] until it is 0 or `limit` has passed; the error says how many were left.
pub fn drain(bootstrap: &str, limit: Duration) -> Result<(), String> {
    let started = Instant::now();
    loop {
        let left = pending(bootstrap, Duration::from_secs(2));
        if left == Ok(0) {
            return Ok(());
        }
        if started.elapsed() >= limit {
            return Err(match left {
                Ok(n) => format!("{n} queued writes not yet applied after {limit:?}"),
                Err(e) => format!("cannot tell whether the queue drained: {e}"),
            });
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
