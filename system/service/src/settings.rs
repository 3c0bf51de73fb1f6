//! How an instance is configured: its command line (every option also read from a `SERVICE_…`
//! environment variable), and the live settings etcd can change while it runs.

use crate::kv::Consistency;
use clap::{Args, ValueEnum};
use std::net::SocketAddr;
use std::time::Duration;

/// The options every instance takes.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// This instance's name, unique among the live instances (its key in etcd).
    #[arg(long, env = "SERVICE_NAME", default_value = "api1")]
    pub name: String,
    /// Where REST, /metrics, /healthz and /readyz are served.
    #[arg(long, env = "SERVICE_HTTP", default_value = "127.0.0.1:8080")]
    pub http: SocketAddr,
    /// Where gRPC is served.
    #[arg(long, env = "SERVICE_GRPC", default_value = "127.0.0.1:9090")]
    pub grpc: SocketAddr,
    /// The address other instances and the load balancer reach this one at (default: the
    /// listeners' addresses).
    #[arg(long, env = "SERVICE_ADVERTISE")]
    pub advertise: Option<std::net::IpAddr>,
    /// The strong store: a PostgreSQL connection string.
    #[arg(
        long,
        env = "SERVICE_POSTGRES",
        default_value = "host=127.0.0.1 user=postgres dbname=postgres"
    )]
    pub postgres: String,
    /// Connections in the PostgreSQL pool.
    #[arg(long, env = "SERVICE_POSTGRES_POOL", default_value_t = 16)]
    pub postgres_pool: usize,
    /// The eventual store: Cassandra contact points (`host:port`, a host being an address or a
    /// name), comma-separated.
    #[arg(
        long,
        env = "SERVICE_CASSANDRA",
        value_delimiter = ',',
        default_value = "127.0.0.1:9042"
    )]
    pub cassandra: Vec<String>,
    /// The Cassandra consistency level of eventual reads and writes.
    #[arg(long, env = "SERVICE_CASSANDRA_CONSISTENCY", value_enum, default_value_t = Level::One)]
    pub cassandra_consistency: Level,
    /// How many times the eventual store's keyspace is replicated (when it creates it).
    #[arg(long, env = "SERVICE_CASSANDRA_REPLICATION", default_value_t = 3)]
    pub cassandra_replication: u32,
    /// The datacenter whose racks the keyspace's replicas are spread over
    /// (`NetworkTopologyStrategy`, when it creates it); none: `SimpleStrategy`, in ring order.
    #[arg(long, env = "SERVICE_CASSANDRA_DATACENTER")]
    pub cassandra_datacenter: Option<String>,
    /// Kafka bootstrap servers, comma-separated (async writes).
    #[arg(long, env = "SERVICE_KAFKA", default_value = "127.0.0.1:9092")]
    pub kafka: String,
    /// etcd endpoints, comma-separated (discovery, election, live configuration).
    #[arg(
        long,
        env = "SERVICE_ETCD",
        value_delimiter = ',',
        default_value = "127.0.0.1:2379"
    )]
    pub etcd: Vec<String>,
    /// The consistency of a request that names none (etcd's `config/default-consistency`
    /// overrides it live).
    #[arg(long, env = "SERVICE_DEFAULT_CONSISTENCY", value_enum, default_value_t = Consistency::Strong)]
    pub default_consistency: Consistency,
    /// How eventual and async writes are stamped for last-write-wins (etcd's
    /// `config/conflict-policy` overrides it live).
    #[arg(long, env = "SERVICE_CONFLICT_POLICY", value_enum, default_value_t = Policy::Hlc)]
    pub conflict_policy: Policy,
    /// The deadline of every call to a store, in milliseconds.
    #[arg(long, env = "SERVICE_DEADLINE_MS", default_value_t = 2000)]
    pub deadline_ms: u64,
    /// The TTL of this instance's etcd lease, in seconds: it leaves discovery this long after it
    /// stops renewing.
    #[arg(long, env = "SERVICE_LEASE_TTL", default_value_t = 3)]
    pub lease_ttl: i64,
    /// Workers: publish outbox batches without fencing (no epoch check in PostgreSQL, no Kafka
    /// transactions), so a deposed relay leader can still publish: what fencing prevents.
    #[arg(long, env = "SERVICE_NO_FENCING")]
    pub no_fencing: bool,
    /// Workers, for tests: hold each outbox batch this long between reading it and publishing
    /// it, so that a pause of the leader lands inside a batch.
    #[arg(long, env = "SERVICE_RELAY_HOLD_MS", default_value_t = 0)]
    pub relay_hold_ms: u64,
    /// Labels added to every series of `/metrics`, as `name=value`, comma-separated: in
    /// Kubernetes, the pod and its namespace, so that Prometheus's series name the pod even where
    /// its discovery cannot (DNS), as a custom-metrics adapter needs them.
    #[arg(long = "metrics-label", env = "SERVICE_METRICS_LABELS", value_delimiter = ',', value_parser = metrics_label)]
    pub metrics_labels: Vec<(String, String)>,
}

/// A `name=value` of `--metrics-label`.
fn metrics_label(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not name=value"))?;
    let name = crate::metrics::label_name(name.trim())?;
    Ok((name.to_string(), value.trim().to_string()))
}

impl Settings {
    /// The deadline of every store call.
    pub fn deadline(&self) -> Duration {
        Duration::from_millis(self.deadline_ms)
    }
}

/// A Cassandra consistency level, as the command line names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Level {
    /// One replica.
    One,
    /// A majority of replicas.
    Quorum,
    /// Every replica.
    All,
}

impl Level {
    /// The driver's level.
    pub fn cql(self) -> scylla::statement::Consistency {
        match self {
            Level::One => scylla::statement::Consistency::One,
            Level::Quorum => scylla::statement::Consistency::Quorum,
            Level::All => scylla::statement::Consistency::All,
        }
    }
}

/// How last-write-wins timestamps are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Policy {
    /// The instance's wall clock: a write from an instance whose clock runs behind loses to an
    /// older write from one whose clock runs ahead, even one it read first.
    Wall,
    /// A hybrid logical clock that also moves past every timestamp the instance has seen for
    /// the key (read before the write), so a later write always wins.
    Hlc,
    /// Vector clocks over the instances' names: a write supersedes the versions it read first,
    /// and concurrent writes are all kept as siblings ([`crate::versions`]); a read returns the
    /// largest sibling and lists them all.
    Vector,
}

impl Policy {
    /// Its name, as etcd's `config/conflict-policy` and `/cluster` spell it.
    pub fn name(self) -> &'static str {
        match self {
            Policy::Wall => "wall",
            Policy::Hlc => "hlc",
            Policy::Vector => "vector",
        }
    }

    /// The policy named `name`.
    pub fn parse(name: &str) -> Option<Policy> {
        Policy::from_str(name, true).ok()
    }
}
