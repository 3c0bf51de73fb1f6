//! The service system's own server kinds, each instance in its own namespace of the lab and
//! wired to the lab's etcd, PostgreSQL, Cassandra and Kafka clusters: the `api` replicas
//! (10.47.0.51–53) and the `worker`s (10.47.0.61–62).
//!
//! The binaries are the `service` crate's; the lab finds them beside its own executable and, in
//! a checkout, builds them (`cargo build -p service --bins`) when they are missing.

use crate::{cassandra, etcd, kafka, postgres};
use cluster::{faketime, probe, Cluster, ClusterError, Server};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use system::names::INSTANCES_PREFIX;

/// The api's HTTP port (REST, /metrics, /readyz) on each replica's address.
pub const HTTP_PORT: u16 = 8080;
/// The api's gRPC port.
pub const GRPC_PORT: u16 = 9090;

/// One kind of the service's instances: which binary, where.
pub struct Instance {
    /// Its binary, and its role in etcd (`api`, `worker`).
    pub role: &'static str,
    /// Its hosts' name stem.
    pub stem: &'static str,
    /// The last octet of instance 1's address.
    pub first_address: u8,
    /// How many run by default (`checker cluster up system --replicas/--workers` changes it).
    pub count: usize,
    /// How many may run: the addresses up to `first_address + max - 1` are this kind's.
    pub max: usize,
    /// Whether it serves gRPC (on [`GRPC_PORT`]).
    pub grpc: bool,
}

/// The api replicas.
pub static API: Instance = Instance {
    role: "api",
    stem: "api",
    first_address: 51,
    count: 3,
    max: 9,
    grpc: true,
};

/// The workers, a consumer group applying async writes.
pub static WORKER: Instance = Instance {
    role: "worker",
    stem: "wrk",
    first_address: 61,
    count: 2,
    max: 9,
    grpc: false,
};

/// The environment variable naming the folder of the service's binaries.
pub const BIN_DIR_ENV: &str = "CHECKER_SERVICE_BIN_DIR";

/// `node`'s REST base URL (`http://10.47.0.51:8080`).
pub fn http_url(cluster: &Cluster, node: usize) -> String {
    format!("http://{}:{HTTP_PORT}", cluster.host(node).address)
}

/// `node`'s gRPC URL (`http://10.47.0.51:9090`).
pub fn grpc_url(cluster: &Cluster, node: usize) -> String {
    format!("http://{}:{GRPC_PORT}", cluster.host(node).address)
}

/// The cluster of a dependency, on the same network and state folder as `cluster`.
pub fn beside(cluster: &Cluster, server: &'static dyn Server) -> Cluster {
    let state = cluster.kind_dir();
    Cluster::new(
        server,
        cluster.net().clone(),
        state.parent().unwrap_or(Path::new(".")),
    )
}

/// The addresses of the instances of `role` registered in etcd now (empty if etcd does not
/// answer), through etcd's JSON gateway.
pub fn registered(cluster: &Cluster, role: &str) -> Vec<String> {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let etcd = beside(cluster, &etcd::server::Etcd);
    let prefix = format!("{INSTANCES_PREFIX}{role}/");
    // The range [prefix, prefix with its last byte + 1) is every key under it.
    let end = format!("{INSTANCES_PREFIX}{role}0");
    let body = serde_json::json!({"key": b64(&prefix), "range_end": b64(&end)}).to_string();
    let reply = (0..etcd.nodes()).find_map(|n| {
        let addr = SocketAddr::new(etcd.host(n).address.into(), etcd::server::CLIENT_PORT);
        probe::http(addr, "POST", "/v3/kv/range", &body, Duration::from_secs(2))
    });
    let Some(json) = reply.and_then(|r| serde_json::from_str::<serde_json::Value>(&r).ok()) else {
        return Vec::new();
    };
    let mut found: Vec<String> = json["kvs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|kv| {
            let value = base64::engine::general_purpose::STANDARD
                .decode(kv["value"].as_str()?)
                .ok()?;
            let instance: serde_json::Value = serde_json::from_slice(&value).ok()?;
            let http = instance["http"].as_str()?;
            Some(http.rsplit_once(':')?.0.to_string())
        })
        .collect();
    found.sort();
    found
}

/// Where the service's binary `name` is: `$CHECKER_SERVICE_BIN_DIR`, or beside this executable
/// (or one folder up, for test binaries in `deps/`).
pub fn find_binary(name: &str) -> Option<PathBuf> {
    let mut folders = Vec::new();
    if let Some(dir) = std::env::var_os(BIN_DIR_ENV) {
        folders.push(PathBuf::from(dir));
    }
    if let Ok(exe) = std::env::current_exe() {
        folders.extend(exe.ancestors().skip(1).take(2).map(Path::to_path_buf));
    }
    folders
        .into_iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// [`find_binary`], building the service first when this is a checkout and it is missing.
pub fn binary(name: &str) -> Result<PathBuf, ClusterError> {
    if let Some(found) = find_binary(name) {
        return Ok(found);
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let release = std::env::current_exe().is_ok_and(|exe| {
        exe.ancestors()
            .any(|a| a.file_name().is_some_and(|n| n == "release"))
    });
    if manifest.is_file() {
        eprintln!("building the service's binaries (cargo build -p service --bins)…");
        let mut build = Command::new("cargo");
        build
            .args(["build", "-q", "-p", "service", "--bins", "--manifest-path"])
            .arg(&manifest);
        if release {
            build.arg("--release");
        }
        cluster::command::run(&mut build)?;
    }
    find_binary(name).ok_or_else(|| {
        ClusterError(format!(
            "the service's `{name}` binary is not built: run `cargo build -p service --bins` \
             (or set {BIN_DIR_ENV} to the folder holding it)"
        ))
    })
}

/// Where the lab's store clusters beside `cluster` are, as the service's settings name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stores {
    /// PostgreSQL's primary, a libpq connection string.
    pub postgres: String,
    /// Cassandra's contact points, comma-separated.
    pub cassandra: String,
    /// Kafka's bootstrap servers, comma-separated.
    pub kafka: String,
    /// etcd's client URLs, comma-separated.
    pub etcd: String,
}

impl Stores {
    /// The stores on `cluster`'s network and state folder.
    pub fn beside(cluster: &Cluster) -> Stores {
        let all = |server: &'static dyn Server, f: &dyn Fn(&Cluster, usize) -> String| {
            let c = beside(cluster, server);
            (0..c.nodes())
                .map(|n| f(&c, n))
                .collect::<Vec<_>>()
                .join(",")
        };
        Stores {
            postgres: postgres::server::url(&beside(cluster, &postgres::server::Postgres), 0),
            cassandra: all(&cassandra::server::Cassandra, &|c, n| {
                cassandra::server::cql_address(c, n).to_string()
            }),
            kafka: all(&kafka::server::Kafka, &kafka::server::bootstrap),
            etcd: all(&etcd::server::Etcd, &etcd::server::client_url),
        }
    }
}

/// The command line every instance shares: where the lab's stores are.
pub fn store_args(cluster: &Cluster) -> Vec<String> {
    let stores = Stores::beside(cluster);
    vec![
        "--postgres".into(),
        stores.postgres,
        "--cassandra".into(),
        stores.cassandra,
        // QUORUM: without faults a read sees the last acknowledged write, so what the checker
        // finds comes from the faults (and the clocks), not from replication lag.
        "--cassandra-consistency".into(),
        "quorum".into(),
        "--kafka".into(),
        stores.kafka,
        "--etcd".into(),
        stores.etcd,
    ]
}

impl Server for Instance {
    fn name(&self) -> &'static str {
        self.role
    }

    fn stem(&self) -> &'static str {
        self.stem
    }

    fn first_address(&self) -> u8 {
        self.first_address
    }

    fn nodes(&self) -> usize {
        self.count
    }

    fn max_nodes(&self) -> usize {
        self.max
    }

    fn check_installed(&self, _cluster: &Cluster) -> Result<(), ClusterError> {
        binary(self.role).map(|_| ())
    }

    fn prepare(&self, cluster: &Cluster, node: usize) -> Result<(), ClusterError> {
        faketime::ensure(&cluster.clock_file(node))
    }

    fn command(&self, cluster: &Cluster, node: usize) -> Command {
        let address = cluster.host(node).address;
        // check_installed found it; a binary gone since then fails to start, with that error.
        let program = binary(self.role).unwrap_or_else(|_| PathBuf::from(self.role));
        let mut command = Command::new("env");
        command
            .args(faketime::env(&cluster.clock_file(node)))
            .arg(program)
            .args(["--name", &format!("{}{}", self.role, node + 1)])
            .args(["--http", &format!("{address}:{HTTP_PORT}")])
            .args(store_args(cluster));
        if self.grpc {
            command.args(["--grpc", &format!("{address}:{GRPC_PORT}")]);
        }
        command
    }

    fn ready(&self, cluster: &Cluster, node: usize) -> bool {
        let addr = SocketAddr::new(cluster.host(node).address.into(), HTTP_PORT);
        probe::http(addr, "GET", "/readyz", "", Duration::from_secs(3)).is_some()
    }

    /// One by one: the first creates the stores' schemas before the others start.
    fn one_by_one(&self) -> bool {
        true
    }

    fn fakes_clock(&self) -> bool {
        true
    }

    fn metrics_port(&self) -> Option<u16> {
        Some(HTTP_PORT)
    }
}
