//! Apache Cassandra 5.0.9: three nodes, one token each, every keyspace's
//! replicas on all of them when its replication factor is 3.
//!
//! No Debian package ships Cassandra, so the lab runs it from Maven
//! Central's jars: `tools/cassandra/pom.xml` lists them, `mvn` resolves
//! them into `~/.m2` once (which outlives a clone of this repository) and
//! writes the classpath to `<state>/cassandra/classpath`; each node is a
//! plain `java … CassandraDaemon` with `tools/cassandra`'s logging,
//! JVM options and `cassandra.yaml` template (the recipe measured in
//! namespaces before it was written down here).
//!
//! Nodes join one at a time ([`Server::one_by_one`]): concurrent joins of
//! nodes with fixed tokens race on the ring. A node is ready when its CQL
//! port accepts connections and its log of this start says it listens for
//! CQL clients. Clients talk CQL to `<address>:9042`; the nodes talk to
//! each other on `:7000`, which is what partitions cut. An isolated node
//! is convicted by the others' failure detectors after about 18 s (phi 8,
//! the default), which then log `… is now DOWN`.

use cluster::ClusterError;
use cluster::{probe, Cluster, Server};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The Cassandra server kind.
pub struct Cassandra;

/// The CQL port every node listens on (each on its own address).
pub const CQL_PORT: u16 = 9042;
/// The port of the nodes' own traffic (gossip, replication).
const STORAGE_PORT: u16 = 7000;
/// The heap of each node. 768 MiB was stable through the measured runs
/// (1.2–1.3 GB resident per node); 512 MiB started but left no margin.
const HEAP: &str = "768m";
/// What a node logs once its CQL port is open: the end of its start-up.
const READY_LINE: &str = "Starting listening for CQL clients";

/// `tools/cassandra` of this workspace: the POM, logging, JVM options and
/// configuration template.
pub fn tools_dir() -> PathBuf {
    crate::maven::tools_dir("cassandra")
}

/// Where the resolved classpath is kept: `<state>/cassandra/classpath`.
pub fn classpath_file(cluster: &Cluster) -> PathBuf {
    cluster.kind_dir().join("classpath")
}

/// `node`'s own Cassandra log (`system.log`, INFO and up): gossip's
/// `is now DOWN` / `is now UP` lines are there. The lab's `server.log`
/// only gets warnings and errors.
pub fn system_log(cluster: &Cluster, node: usize) -> PathBuf {
    cluster.dir(node).join("logs").join("system.log")
}

/// `node`'s CQL address (`10.47.0.31:9042`).
pub fn cql_address(cluster: &Cluster, node: usize) -> SocketAddr {
    SocketAddr::new(cluster.host(node).address.into(), CQL_PORT)
}

/// `node`'s token: the ring split evenly, node 0 at the lowest token.
fn token(nodes: usize, node: usize) -> i64 {
    let step = (1i128 << 64) / nodes.max(1) as i128;
    // In range: node < nodes, so the sum stays below i64::MAX.
    (i64::MIN as i128 + step * node as i128) as i64
}

fn read(path: &Path) -> Result<String, ClusterError> {
    std::fs::read_to_string(path)
        .map_err(|e| ClusterError(format!("cannot read {}: {e}", path.display())))
}

/// The classpath is there: resolves the jars with `mvn` into `~/.m2` and writes the classpath
/// file when it is missing.
fn ensure_classpath(cluster: &Cluster) -> Result<(), ClusterError> {
    crate::maven::classpath("cassandra", &classpath_file(cluster)).map(|_| ())
}

/// The JVM options of `tools/cassandra/jvm17-server.options`, one per
/// line, `#` lines being comments.
fn jvm_options() -> Result<Vec<String>, ClusterError> {
    Ok(read(&tools_dir().join("jvm17-server.options"))?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect())
}

/// The command that runs `node`, or what is missing to build it.
fn java_command(cluster: &Cluster, node: usize) -> Result<Command, ClusterError> {
    let classpath = read(&classpath_file(cluster))?.trim().to_string();
    // jamm measures objects for the memtables; Cassandra refuses to start
    // without it as an agent.
    let jamm = classpath
        .split(':')
        .find(|jar| {
            Path::new(jar)
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("jamm-"))
        })
        .ok_or_else(|| {
            ClusterError(format!(
                "no jamm jar in {}; delete it to resolve the classpath again",
                classpath_file(cluster).display()
            ))
        })?
        .to_string();
    let dir = cluster.dir(node);
    let data = cluster.data_dir(node);
    let logs = dir.join("logs");
    let log = system_log(cluster, node);
    let tools = tools_dir();
    // logback appends to system.log across starts, and the readiness probe
    // must see this start's lines only: the shell moves the last start's
    // log aside (kept for post-mortems), then becomes the JVM (exec), so
    // the pid the lab records is the server's.
    let mut command = Command::new("sh");
    command
        .args(["-c", r#"mv -f "$0" "$0.prev" 2>/dev/null; exec "$@""#])
        .arg(&log)
        .arg("java")
        .arg(format!("-Xms{HEAP}"))
        .arg(format!("-Xmx{HEAP}"))
        .arg("-XX:MaxDirectMemorySize=256m")
        .args(jvm_options()?)
        .arg(format!("-javaagent:{jamm}"))
        .arg(format!(
            "-Xlog:gc*:file={}:time,tags:filecount=2,filesize=10M",
            logs.join("gc.log").display()
        ))
        .arg(format!(
            "-Dcassandra.config=file://{}",
            dir.join("cassandra.yaml").display()
        ))
        .arg(format!("-Dcassandra.storagedir={}", data.display()))
        .arg(format!("-Dcassandra.logdir={}", logs.display()))
        .arg(format!(
            "-Dlogback.configurationFile={}",
            tools.join("logback.xml").display()
        ))
        .arg("-Dcassandra-foreground=yes")
        // JMX listens on 127.0.0.1 inside each namespace: one port for all.
        .arg("-Dcassandra.jmx.local.port=7199")
        .arg("-Dcom.sun.management.jmxremote.authenticate=false")
        // Start-up waits meant for large rings; they only slow the lab.
        .arg("-Dcassandra.ring_delay_ms=1000")
        .arg("-Dcassandra.skip_wait_for_gossip_to_settle=0")
        .arg("-Dcassandra.superuser_setup_delay_ms=0")
        // Per node: JNA and snappy unpack native libraries there.
        .arg(format!(
            "-Djava.io.tmpdir={}",
            data.join("javatmp").display()
        ))
        .arg("-cp")
        .arg(classpath)
        .arg("org.apache.cassandra.service.CassandraDaemon")
        // glibc's per-thread arenas inflate a JVM's resident memory.
        .env("MALLOC_ARENA_MAX", "4");
    Ok(command)
}

impl Server for Cassandra {
    fn name(&self) -> &'static str {
        "cassandra"
    }

    fn stem(&self) -> &'static str {
        "cass"
    }

    fn first_address(&self) -> u8 {
        31
    }

    fn check_installed(&self, cluster: &Cluster) -> Result<(), ClusterError> {
        cluster::command::run(Command::new("java").arg("-version"))?;
        ensure_classpath(cluster)
    }

    fn prepare(&self, cluster: &Cluster, node: usize) -> Result<(), ClusterError> {
        let dir = cluster.dir(node);
        let data = cluster.data_dir(node);
        // Everything Cassandra writes (sstables, commit log, hints, saved
        // caches) is under `data/`, which `down` deletes: a stale commit
        // log would be replayed into a fresh cluster.
        let _ = std::fs::remove_dir_all(&data);
        for needed in [data.join("javatmp"), dir.join("logs")] {
            std::fs::create_dir_all(&needed)
                .map_err(|e| ClusterError(format!("cannot create {}: {e}", needed.display())))?;
        }
        let seeds = (0..cluster.nodes().min(2))
            .map(|n| format!("{}:{STORAGE_PORT}", cluster.host(n).address))
            .collect::<Vec<_>>()
            .join(",");
        let yaml = read(&tools_dir().join("cassandra.yaml.template"))?
            .replace("@ADDR@", &cluster.host(node).address.to_string())
            .replace("@TOKEN@", &token(cluster.nodes(), node).to_string())
            .replace("@SEEDS@", &seeds)
            .replace("@DIR@", &data.to_string_lossy());
        let path = dir.join("cassandra.yaml");
        std::fs::write(&path, yaml)
            .map_err(|e| ClusterError(format!("cannot write {}: {e}", path.display())))
    }

    fn command(&self, cluster: &Cluster, node: usize) -> Command {
        java_command(cluster, node).unwrap_or_else(|e| {
            // `command` cannot fail: the node fails at once instead, and
            // the lab reports the message from its log.
            let mut fail = Command::new("sh");
            fail.args(["-c", r#"echo "$0" >&2; exit 1"#]).arg(format!(
                "cannot start cassandra n{}: {}",
                node + 1,
                e.0
            ));
            fail
        })
    }

    fn ready(&self, cluster: &Cluster, node: usize) -> bool {
        probe::accepts(cql_address(cluster, node), Duration::from_secs(1))
            && std::fs::read_to_string(system_log(cluster, node))
                .is_ok_and(|log| log.contains(READY_LINE))
    }

    fn one_by_one(&self) -> bool {
        true
    }

    fn ready_timeout(&self) -> Duration {
        // Measured 33 s for a fresh cluster and 80 s for a restart with
        // data on a loaded 2-core machine; JIT and GC compete with
        // everything else there.
        Duration::from_secs(300)
    }
}

#[cfg(test)]
mod tests {
    use super::token;

    #[test]
    fn tokens_split_the_ring_evenly() {
        assert_eq!(
            (0..3).map(|n| token(3, n)).collect::<Vec<_>>(),
            [
                i64::MIN,
                -3_074_457_345_618_258_603,
                3_074_457_345_618_258_602
            ]
        );
    }
}
