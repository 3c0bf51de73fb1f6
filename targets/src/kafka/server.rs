//! Kafka 4.4.0 in KRaft mode: three nodes, each both broker and
//! controller, with a static quorum (`controller.quorum.voters`), run from
//! the Maven Central jars that `tools/kafka/pom.xml` names (no tarball,
//! no Debian package exists).
//!
//! Clients talk to `<address>:9092`, controllers to each other on `:9093`.
//! The jars are resolved once by Maven into `~/.m2` (which outlives the
//! lab) and their classpath is kept in `<state>/kafka/classpath`. The
//! cluster id is generated once per lab state (`<state>/kafka/cluster-id`)
//! and every node is formatted with it.
//!
//! Readiness is a Kafka `Metadata` request written by hand (no client
//! library here): a node is ready when it answers with this cluster's id
//! and lists itself among the live brokers, i.e. it has registered with
//! the controller quorum and been unfenced. Unlike the `Kafka Server
//! started` log line, it cannot pass on a line an earlier start left in
//! the log. The same request, sent to a chosen node, shows that node's
//! view of partition leaders and in-sync replicas ([`metadata`]).

use cluster::ClusterError;
use cluster::{Cluster, Server};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// The Kafka server kind.
pub struct Kafka;

/// The client (broker) port.
pub const PORT: u16 = 9092;
/// The controllers' port.
const CONTROLLER_PORT: u16 = 9093;
/// Heap of each broker: enough for the lab's small topics, and three of
/// them fit beside the other clusters (measured RSS 0.33–0.40 GB).
const HEAP: &str = "512m";

/// `tools/kafka` of this workspace: the POM, logging configs and the
/// server.properties template.
fn tools_dir() -> PathBuf {
    crate::maven::tools_dir("kafka")
}

/// `<state>/kafka`: what all nodes of a cluster share.
fn shared_dir(cluster: &Cluster) -> PathBuf {
    cluster.kind_dir()
}

/// The file holding the resolved classpath.
fn classpath_file(cluster: &Cluster) -> PathBuf {
    shared_dir(cluster).join("classpath")
}

/// `node`'s broker id in Kafka (`node.id`): 1, 2, 3.
pub fn broker_id(node: usize) -> i32 {
    node as i32 + 1
}

/// `node`'s bootstrap address (`10.47.0.41:9092`).
pub fn bootstrap(cluster: &Cluster, node: usize) -> String {
    format!("{}:{PORT}", cluster.host(node).address)
}

/// Every node's bootstrap address, comma-separated, as clients take them.
pub fn bootstrap_servers(cluster: &Cluster) -> String {
    (0..cluster.nodes())
        .map(|n| bootstrap(cluster, n))
        .collect::<Vec<_>>()
        .join(",")
}

/// Resolves the jars with Maven and writes their classpath, unless an earlier run did.
fn resolve_classpath(cluster: &Cluster) -> Result<String, ClusterError> {
    crate::maven::classpath("kafka", &classpath_file(cluster))
}

/// A Kafka CLI tool (`kafka.tools.StorageTool`) with the tools' logging,
/// which writes to stderr only: with the broker's config, a log line on
/// stdout would end up inside whatever the tool prints.
fn tool(classpath: &str, main: &str) -> Command {
    let mut command = Command::new("java");
    command
        .arg("-Xmx256m")
        .arg(format!(
            "-Dlog4j2.configurationFile={}",
            tools_dir().join("tools-log4j2.properties").display()
        ))
        .args(["-cp", classpath, main]);
    command
}

/// A fresh Kafka cluster id: 16 random bytes in URL-safe base64 without
/// padding, as `StorageTool random-uuid` prints it (and, as Kafka does,
/// never starting with `-`, which the tools would take for an option).
/// Generated here rather than by the tool: one JVM start less, and no
/// stdout to parse (the research lab's id once captured a log line).
fn new_cluster_id() -> Result<String, ClusterError> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut urandom = std::fs::File::open("/dev/urandom")
        .map_err(|e| ClusterError(format!("cannot open /dev/urandom: {e}")))?;
    loop {
        let mut bytes = [0u8; 16];
        urandom
            .read_exact(&mut bytes)
            .map_err(|e| ClusterError(format!("cannot read /dev/urandom: {e}")))?;
        let mut bits = 0u32;
        let mut held = 0;
        let mut id = String::with_capacity(22);
        for byte in bytes {
            bits = (bits << 8) | u32::from(byte);
            held += 8;
            while held >= 6 {
                held -= 6;
                id.push(ALPHABET[((bits >> held) & 63) as usize] as char);
            }
        }
        // 128 bits = 21 full sextets and 2 bits left over, shifted up.
        id.push(ALPHABET[((bits << (6 - held)) & 63) as usize] as char);
        if !id.starts_with('-') && bytes != [0u8; 16] {
            return Ok(id);
        }
    }
}

/// The cluster's id, generated on first use and kept in the lab's state,
/// so every node is formatted with the same one.
pub fn cluster_id(cluster: &Cluster) -> Result<String, ClusterError> {
    let file = shared_dir(cluster).join("cluster-id");
    if let Ok(id) = std::fs::read_to_string(&file) {
        let id = id.trim();
        if valid_cluster_id(id) {
            return Ok(id.to_string());
        }
    }
    let id = new_cluster_id()?;
    std::fs::create_dir_all(shared_dir(cluster))
        .and_then(|()| std::fs::write(&file, format!("{id}\n")))
        .map_err(|e| ClusterError(format!("cannot write {}: {e}", file.display())))?;
    Ok(id)
}

/// Whether `id` looks like a Kafka cluster id (22 URL-safe base64
/// characters): a guard against a corrupt stored id.
fn valid_cluster_id(id: &str) -> bool {
    id.len() == 22
        && !id.starts_with('-')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// One partition as a broker describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionMetadata {
    /// Its index.
    pub partition: i32,
    /// Its error code (0: none).
    pub error: i16,
    /// The broker id of its leader (-1: none).
    pub leader: i32,
    /// Its replicas' broker ids.
    pub replicas: Vec<i32>,
    /// Its in-sync replicas' broker ids.
    pub isr: Vec<i32>,
}

/// One topic as a broker describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMetadata {
    /// Its name.
    pub name: String,
    /// Its error code (0: none; 3: unknown topic).
    pub error: i16,
    /// Its partitions.
    pub partitions: Vec<PartitionMetadata>,
}

/// A broker's view of the cluster, from its own metadata cache (an
/// isolated broker answers from a cache frozen at the partition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// The cluster id it belongs to.
    pub cluster_id: Option<String>,
    /// The controller id it gives clients. In KRaft mode that is some
    /// live broker, not the quorum's leader (clients never talk to the
    /// controllers), so it tells nothing about leadership.
    pub controller: i32,
    /// The ids of the brokers it considers alive (registered, unfenced).
    pub brokers: Vec<i32>,
    /// The topics asked for.
    pub topics: Vec<TopicMetadata>,
}

/// Asks `node` for its metadata (`Metadata` v4) on `topics` (none: no
/// topic, only brokers); `None` if it does not answer within 1 s.
pub fn metadata(cluster: &Cluster, node: usize, topics: &[&str]) -> Option<Metadata> {
    let addr = SocketAddr::new(cluster.host(node).address.into(), PORT);
    let timeout = Duration::from_secs(1);
    let mut stream = TcpStream::connect_timeout(&addr, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    stream.set_write_timeout(Some(timeout)).ok()?;
    stream.write_all(&metadata_request(topics)).ok()?;
    let mut size = [0u8; 4];
    stream.read_exact(&mut size).ok()?;
    let size = usize::try_from(i32::from_be_bytes(size)).ok()?;
    if size > 1 << 24 {
        return None;
    }
    let mut body = vec![0u8; size];
    stream.read_exact(&mut body).ok()?;
    parse_metadata(&body)
}

/// The correlation id of every probe (one request per connection).
const CORRELATION: i32 = 0x6c6162;

/// A `Metadata` v4 request: header v1 (api key 3, version 4, correlation
/// id, client id), the topics, and no auto-creation.
fn metadata_request(topics: &[&str]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&3i16.to_be_bytes());
    body.extend_from_slice(&4i16.to_be_bytes());
    body.extend_from_slice(&CORRELATION.to_be_bytes());
    put_string(&mut body, "lab-probe");
    body.extend_from_slice(&(topics.len() as i32).to_be_bytes());
    for topic in topics {
        put_string(&mut body, topic);
    }
    body.push(0);
    let mut request = (body.len() as i32).to_be_bytes().to_vec();
    request.extend_from_slice(&body);
    request
}

fn put_string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as i16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// A cursor over a response; every read is `None` past the end.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }
    fn i8(&mut self) -> Option<i8> {
        self.take::<1>().map(i8::from_be_bytes)
    }
    fn i16(&mut self) -> Option<i16> {
        self.take::<2>().map(i16::from_be_bytes)
    }
    fn i32(&mut self) -> Option<i32> {
        self.take::<4>().map(i32::from_be_bytes)
    }
    /// A nullable string (length -1: null).
    fn string(&mut self) -> Option<Option<String>> {
        let len = self.i16()?;
        if len < 0 {
            return Some(None);
        }
        let len = len as usize;
        if self.0.len() < len {
            return None;
        }
        let (s, rest) = self.0.split_at(len);
        self.0 = rest;
        Some(Some(String::from_utf8_lossy(s).into_owned()))
    }
    /// An array's length (-1, null, as empty).
    fn len(&mut self) -> Option<usize> {
        let n = self.i32()?;
        // Each element takes at least 4 bytes: a longer array is corrupt.
        let n = usize::try_from(n).unwrap_or(0);
        (n <= self.0.len()).then_some(n)
    }
    fn ids(&mut self) -> Option<Vec<i32>> {
        (0..self.len()?).map(|_| self.i32()).collect()
    }
}

/// Parses a `Metadata` v4 response (after its size).
fn parse_metadata(body: &[u8]) -> Option<Metadata> {
    let mut r = Reader(body);
    if r.i32()? != CORRELATION {
        return None;
    }
    let _throttle = r.i32()?;
    let mut brokers = Vec::new();
    for _ in 0..r.len()? {
        brokers.push(r.i32()?);
        let _host = r.string()?;
        let _port = r.i32()?;
        let _rack = r.string()?;
    }
    let cluster_id = r.string()?;
    let controller = r.i32()?;
    let mut topics = Vec::new();
    for _ in 0..r.len()? {
        let error = r.i16()?;
        let name = r.string()?.unwrap_or_default();
        let _internal = r.i8()?;
        let mut partitions = Vec::new();
        for _ in 0..r.len()? {
            let error = r.i16()?;
            let partition = r.i32()?;
            let leader = r.i32()?;
            let replicas = r.ids()?;
            let isr = r.ids()?;
            partitions.push(PartitionMetadata {
                partition,
                error,
                leader,
                replicas,
                isr,
            });
        }
        topics.push(TopicMetadata {
            name,
            error,
            partitions,
        });
    }
    brokers.sort_unstable();
    Some(Metadata {
        cluster_id,
        controller,
        brokers,
        topics,
    })
}

/// Fills in `tools/kafka/server.properties.template` for `node`.
fn server_properties(cluster: &Cluster, node: usize) -> Result<String, ClusterError> {
    let path = tools_dir().join("server.properties.template");
    let template = std::fs::read_to_string(&path)
        .map_err(|e| ClusterError(format!("cannot read {}: {e}", path.display())))?;
    let voters = (0..cluster.nodes())
        .map(|n| {
            format!(
                "{}@{}:{CONTROLLER_PORT}",
                broker_id(n),
                cluster.host(n).address
            )
        })
        .collect::<Vec<_>>()
        .join(",");
    Ok(template
        .replace("@ID@", &broker_id(node).to_string())
        .replace("@ADDR@", &cluster.host(node).address.to_string())
        .replace("@VOTERS@", &voters)
        .replace("@DATA@", &cluster.data_dir(node).display().to_string()))
}

impl Server for Kafka {
    fn name(&self) -> &'static str {
        "kafka"
    }

    fn stem(&self) -> &'static str {
        "kafka"
    }

    fn first_address(&self) -> u8 {
        41
    }

    fn check_installed(&self, cluster: &Cluster) -> Result<(), ClusterError> {
        cluster::command::run(Command::new("java").arg("-version")).map_err(|e| {
            ClusterError(format!(
                "Kafka needs a Java runtime (17 or later): {e}; install it with `apt-get install openjdk-17-jre-headless`, or run ./test.sh"
            ))
        })?;
        resolve_classpath(cluster).map(|_| ())
    }

    fn prepare(&self, cluster: &Cluster, node: usize) -> Result<(), ClusterError> {
        let dir = cluster.dir(node);
        let data = cluster.data_dir(node);
        // `format` refuses a formatted folder: start from an empty one.
        let _ = std::fs::remove_dir_all(&data);
        for folder in [&data, &dir.join("logs")] {
            std::fs::create_dir_all(folder)
                .map_err(|e| ClusterError(format!("cannot create {}: {e}", folder.display())))?;
        }
        let properties = dir.join("server.properties");
        std::fs::write(&properties, server_properties(cluster, node)?)
            .map_err(|e| ClusterError(format!("cannot write {}: {e}", properties.display())))?;
        let classpath = resolve_classpath(cluster)?;
        let id = cluster_id(cluster)?;
        cluster::command::run(
            tool(&classpath, "kafka.tools.StorageTool")
                .args(["format", "-t", &id, "-c"])
                .arg(&properties)
                .current_dir(&dir),
        )
        .map(|_| ())
    }

    fn command(&self, cluster: &Cluster, node: usize) -> Command {
        let dir = cluster.dir(node);
        let logs = dir.join("logs");
        // Prepared nodes have a classpath file; should it be gone, java
        // fails at once and the cluster shows its message in the log tail.
        let classpath = std::fs::read_to_string(classpath_file(cluster)).unwrap_or_default();
        let mut command = Command::new("java");
        command
            .args([format!("-Xms{HEAP}"), format!("-Xmx{HEAP}")])
            .args([
                "-server",
                "-XX:+UseG1GC",
                "-XX:MaxGCPauseMillis=20",
                "-XX:InitiatingHeapOccupancyPercent=35",
                "-XX:+ExplicitGCInvokesConcurrent",
                "-XX:+ExitOnOutOfMemoryError",
                "-Djava.awt.headless=true",
            ])
            .arg(format!(
                "-Xlog:gc*:file={}:time,tags:filecount=2,filesize=10M",
                logs.join("gc.log").display()
            ))
            .arg(format!(
                "-Dlog4j2.configurationFile={}",
                tools_dir().join("log4j2.properties").display()
            ))
            .arg(format!("-Dkafka.logs.dir={}", logs.display()))
            .args(["-cp", classpath.trim(), "kafka.Kafka"])
            .arg(dir.join("server.properties"))
            .current_dir(&dir);
        command
    }

    fn ready(&self, cluster: &Cluster, node: usize) -> bool {
        let Ok(id) = cluster_id(cluster) else {
            return false;
        };
        metadata(cluster, node, &[]).is_some_and(|m| {
            m.cluster_id.as_deref() == Some(id.as_str()) && m.brokers.contains(&broker_id(node))
        })
    }

    fn ready_timeout(&self) -> Duration {
        // 24–27 s for a whole cluster measured on a loaded machine, plus
        // a JVM start per node to format it; 30–87 s seen here with other
        // builds running, 147 s once beside a clippy run on 2 cores.
        Duration::from_secs(300)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_ids_look_like_kafkas() {
        for _ in 0..200 {
            let id = new_cluster_id().expect("id");
            assert!(valid_cluster_id(&id), "{id}");
        }
        assert!(!valid_cluster_id("[2026-11-26 12:29:57,549] INFO"));
    }

    #[test]
    fn a_metadata_response_parses() {
        let mut body = Vec::new();
        body.extend_from_slice(&CORRELATION.to_be_bytes());
        body.extend_from_slice(&0i32.to_be_bytes()); // throttle
        body.extend_from_slice(&1i32.to_be_bytes()); // one broker
        body.extend_from_slice(&2i32.to_be_bytes());
        put_string(&mut body, "10.47.0.42");
        body.extend_from_slice(&9092i32.to_be_bytes());
        body.extend_from_slice(&(-1i16).to_be_bytes()); // no rack
        put_string(&mut body, "abc");
        body.extend_from_slice(&2i32.to_be_bytes()); // controller
        body.extend_from_slice(&1i32.to_be_bytes()); // one topic
        body.extend_from_slice(&0i16.to_be_bytes());
        put_string(&mut body, "t");
        body.push(0);
        body.extend_from_slice(&1i32.to_be_bytes()); // one partition
        body.extend_from_slice(&0i16.to_be_bytes());
        body.extend_from_slice(&0i32.to_be_bytes());
        body.extend_from_slice(&2i32.to_be_bytes()); // leader
        for ids in [[2i32, 1, 3].as_slice(), &[2, 1]] {
            body.extend_from_slice(&(ids.len() as i32).to_be_bytes());
            for id in ids {
                body.extend_from_slice(&id.to_be_bytes());
            }
        }
        let m = parse_metadata(&body).expect("parses");
        assert_eq!(m.brokers, vec![2]);
        assert_eq!(m.cluster_id.as_deref(), Some("abc"));
        assert_eq!(m.topics[0].partitions[0].isr, vec![2, 1]);
        assert!(parse_metadata(&body[..body.len() - 1]).is_none());
    }
}
