//! The instance's Prometheus metrics, served at `/metrics` in the text format.
//!
//! | metric | labels | what |
//! |---|---|---|
//! | `service_requests_total` | protocol, method, status | requests served |
//! | `service_request_seconds` | protocol, method | request latency |
//! | `service_store_seconds` | store, statement | latency of each store call |
//! | `service_kafka_produced_total` | topic, result | messages produced |
//! | `service_kafka_consumed_total` | topic | messages consumed |
//! | `service_kafka_malformed_total` | topic | messages skipped as malformed |
//! | `service_kafka_assigned_partitions` | | partitions this worker consumes now |
//! | `service_kafka_consumer_lag` | topic | messages behind the newest offset, over this worker's partitions |
//! | `service_outbox_backlog` | | bank events not yet published |
//! | `service_relay_leader` | | 1 while this worker leads the outbox relay |
//! | `service_relay_in_flight` | | events of the batch the relay is publishing now |
//! | `service_etcd_lease_alive` | | 1 while this instance's lease is renewed |
//! | `service_etcd_watch_alive` | | 1 while the watch of the live settings is open |
//! | `service_config_revision` | | the etcd revision of the live settings applied |
//! | `process_*` | | CPU, memory, file descriptors (the `prometheus` crate's process collector, its CPU made exact: [`ProcessMetrics`]) |
//!
//! Every series also carries the instance's `--metrics-label`s (in Kubernetes, its `namespace`
//! and `pod`).

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use std::time::Instant;

/// The `prometheus` crate's process collector with `process_cpu_seconds_total` to the clock
/// tick: the crate counts it in whole seconds (tikv/rust-prometheus#451), so an instance using a
/// tenth of a core showed 0 for ten seconds and then 1, and `rate()` over a load step read 0.
pub struct ProcessMetrics(pub prometheus::process_collector::ProcessCollector);

impl prometheus::core::Collector for ProcessMetrics {
    fn desc(&self) -> Vec<&prometheus::core::Desc> {
        self.0.desc()
    }

    fn collect(&self) -> Vec<prometheus::proto::MetricFamily> {
        let mut families = self.0.collect();
        if let Some(seconds) = cpu_seconds() {
            for family in &mut families {
                if family.name() == "process_cpu_seconds_total" {
                    for metric in family.mut_metric() {
                        let mut counter = prometheus::proto::Counter::default();
                        counter.set_value(seconds);
                        metric.set_counter(counter);
                    }
                }
            }
        }
        families
    }
}

/// This process's user and system CPU time, in seconds, from `/proc/self/stat`.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces: the fields after it start at its `)`.
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of proc(5) (utime, stime), counted from field 3 here.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (per_second > 0).then(|| ticks as f64 / per_second as f64)
}

/// `name`, if Prometheus takes it as a label's name (names starting `__` are its own); else why not.
pub fn label_name(name: &str) -> Result<&str, String> {
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__");
    if valid {
        Ok(name)
    } else {
        Err(format!(
            "`{name}` is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, not __…)"
        ))
    }
}

/// The metrics of one instance.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    request_seconds: HistogramVec,
    store_seconds: HistogramVec,
    produced: IntCounterVec,
    consumed: IntCounterVec,
    malformed: IntCounterVec,
    /// The partitions this worker consumes now.
    pub assigned_partitions: IntGauge,
    /// Messages behind the newest offset, per topic, over this worker's partitions.
    pub consumer_lag: IntGaugeVec,
    /// Bank events in the outbox not yet published.
    pub outbox_backlog: IntGauge,
    /// 1 while this worker leads the outbox relay.
    pub relay_leader: IntGauge,
    /// Events of the batch being published now.
    pub relay_in_flight: IntGauge,
    /// 1 while the etcd lease is renewed.
    pub lease_alive: IntGauge,
    /// 1 while the watch of the live settings is open.
    pub watch_alive: IntGauge,
    /// The etcd revision of the live settings applied.
    pub config_revision: IntGauge,
}

// Latency buckets from 0.5 ms to 10 s: a store call over a bridge takes about a millisecond, a
// request stuck behind a partition its whole deadline.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0,
];

impl Metrics {
    /// A registry with every metric of the table above, each series also labelled with
    /// `labels` (`name`, `value`).
    pub fn new(labels: &[(String, String)]) -> Result<Metrics, prometheus::Error> {
        for (name, _) in labels {
            label_name(name).map_err(prometheus::Error::Msg)?;
        }
        let registry = if labels.is_empty() {
            Registry::new()
        } else {
            Registry::new_custom(None, Some(labels.iter().cloned().collect()))?
        };
        let requests = IntCounterVec::new(
            Opts::new("service_requests_total", "Requests served"),
            &["protocol", "method", "status"],
        )?;
        let request_seconds = HistogramVec::new(
            HistogramOpts::new("service_request_seconds", "Request latency")
                .buckets(BUCKETS.to_vec()),
            &["protocol", "method"],
        )?;
        let store_seconds = HistogramVec::new(
            HistogramOpts::new("service_store_seconds", "Latency of each store call")
                .buckets(BUCKETS.to_vec()),
            &["store", "statement"],
        )?;
        let produced = IntCounterVec::new(
            Opts::new("service_kafka_produced_total", "Messages produced to Kafka"),
            &["topic", "result"],
        )?;
        let consumed = IntCounterVec::new(
            Opts::new(
                "service_kafka_consumed_total",
                "Messages consumed from Kafka",
            ),
            &["topic"],
        )?;
        let malformed = IntCounterVec::new(
            Opts::new(
                "service_kafka_malformed_total",
                "Messages skipped as malformed",
            ),
            &["topic"],
        )?;
        let assigned_partitions = IntGauge::new(
            "service_kafka_assigned_partitions",
            "Partitions this worker consumes now",
        )?;
        let consumer_lag = IntGaugeVec::new(
            Opts::new(
                "service_kafka_consumer_lag",
                "Messages behind the newest offset, over this worker's partitions",
            ),
            &["topic"],
        )?;
        let outbox_backlog =
            IntGauge::new("service_outbox_backlog", "Bank events not yet published")?;
        let relay_leader = IntGauge::new(
            "service_relay_leader",
            "1 while this worker leads the outbox relay",
        )?;
        let relay_in_flight = IntGauge::new(
            "service_relay_in_flight",
            "Events of the batch the relay is publishing now",
        )?;
        let lease_alive = IntGauge::new(
            "service_etcd_lease_alive",
            "1 while the etcd lease is renewed",
        )?;
        let watch_alive = IntGauge::new(
            "service_etcd_watch_alive",
            "1 while the watch of the live settings is open",
        )?;
        let config_revision = IntGauge::new(
            "service_config_revision",
            "The etcd revision of the live settings applied",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(request_seconds.clone()))?;
        registry.register(Box::new(store_seconds.clone()))?;
        registry.register(Box::new(produced.clone()))?;
        registry.register(Box::new(consumed.clone()))?;
        registry.register(Box::new(malformed.clone()))?;
        registry.register(Box::new(assigned_partitions.clone()))?;
        registry.register(Box::new(consumer_lag.clone()))?;
        registry.register(Box::new(outbox_backlog.clone()))?;
        registry.register(Box::new(relay_leader.clone()))?;
        registry.register(Box::new(relay_in_flight.clone()))?;
        registry.register(Box::new(lease_alive.clone()))?;
        registry.register(Box::new(watch_alive.clone()))?;
        registry.register(Box::new(config_revision.clone()))?;
        registry.register(Box::new(ProcessMetrics(
            prometheus::process_collector::ProcessCollector::for_self(),
        )))?;
        Ok(Metrics {
            registry,
            requests,
            request_seconds,
            store_seconds,
            produced,
            consumed,
            malformed,
            assigned_partitions,
            consumer_lag,
            outbox_backlog,
            relay_leader,
            relay_in_flight,
            lease_alive,
            watch_alive,
            config_revision,
        })
    }

    /// Counts one request and its latency since `started`.
    pub fn request(&self, protocol: &str, method: &str, status: &str, started: Instant) {
        self.requests
            .with_label_values(&[protocol, method, status])
            .inc();
        self.request_seconds
            .with_label_values(&[protocol, method])
            .observe(started.elapsed().as_secs_f64());
    }

    /// Records one store call's latency since `started`.
    pub fn store(&self, store: &str, statement: &str, started: Instant) {
        self.store_seconds
            .with_label_values(&[store, statement])
            .observe(started.elapsed().as_secs_f64());
    }

    /// Counts one message produced to `topic` (`ok` or `error`).
    pub fn produced(&self, topic: &str, result: &str) {
        self.produced.with_label_values(&[topic, result]).inc();
    }

    /// Counts one message consumed from `topic`.
    pub fn consumed(&self, topic: &str) {
        self.consumed.with_label_values(&[topic]).inc();
    }

    /// Counts one malformed message skipped in `topic`.
    pub fn malformed(&self, topic: &str) {
        self.malformed.with_label_values(&[topic]).inc();
    }

    /// Everything, in Prometheus's text format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec fails only on metrics the registry would have refused.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::Metrics;

    fn cpu_in(text: &str) -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix("process_cpu_seconds_total "))
            .and_then(|v| v.trim().parse().ok())
            .expect("the process's CPU is exported")
    }

    /// A third of a second on a CPU shows as about that: whole seconds would show 0 (or 1).
    #[test]
    fn process_cpu_is_exported_to_the_tick() {
        let metrics = Metrics::new(&[]).expect("metrics");
        let before = cpu_in(&metrics.render());
        let started = std::time::Instant::now();
        let mut x = 0u64;
        while started.elapsed() < std::time::Duration::from_millis(400) {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        let spent = cpu_in(&metrics.render()) - before;
        assert!(
            (0.2..0.9).contains(&spent),
            "a third of a second or so of CPU, not {spent}"
        );
    }

    /// Labels given to the registry are on every series, process metrics included; a name
    /// Prometheus would refuse is refused at start.
    #[test]
    fn instance_labels_are_on_every_series() {
        let labels = [
            ("namespace".to_string(), "lab".to_string()),
            ("pod".to_string(), "lab-api-7d9".to_string()),
        ];
        let metrics = Metrics::new(&labels).expect("metrics");
        metrics.request("rest", "get", "200", std::time::Instant::now());
        let text = metrics.render();
        let series: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert!(series
            .iter()
            .any(|l| l.starts_with("service_requests_total{")));
        assert!(series
            .iter()
            .any(|l| l.starts_with("process_cpu_seconds_total{")));
        for line in series {
            assert!(
                line.contains(r#"namespace="lab""#) && line.contains(r#"pod="lab-api-7d9""#),
                "a series without the instance's labels: {line}"
            );
        }
        for bad in ["a-b", "1a", "__name", ""] {
            assert!(
                Metrics::new(&[(bad.to_string(), "x".to_string())]).is_err(),
                "{bad}"
            );
        }
    }
}
