//! etcd: three members, one per namespace (Debian's `etcd-server`).
//!
//! Clients talk to `http://<address>:2379`; peers to `:2380`. Elections
//! are tuned faster than etcd's defaults (heartbeat 100 ms, election
//! timeout 1 s) so that a partition leads to a new leader within seconds,
//! as in Jepsen's etcd tests.

use cluster::ClusterError;
use cluster::{probe, Cluster, Server};
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

/// The etcd server kind.
pub struct Etcd;

/// The client port.
pub const CLIENT_PORT: u16 = 2379;
const PEER_PORT: u16 = 2380;

/// `node`'s client URL (`http://10.47.0.11:2379`).
pub fn client_url(cluster: &Cluster, node: usize) -> String {
    format!("http://{}:{CLIENT_PORT}", cluster.host(node).address)
}

/// What a member says of itself (`/v3/maintenance/status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberStatus {
    /// Its member id.
    pub member: String,
    /// The leader it follows (its own id when it leads; `0` for none).
    pub leader: String,
    /// Its raft term.
    pub term: u64,
}

impl MemberStatus {
    /// Whether it considers itself the leader.
    pub fn leads(&self) -> bool {
        self.member == self.leader
    }
}

/// Asks `node` for its status; `None` if it does not answer within 1 s.
pub fn status(cluster: &Cluster, node: usize) -> Option<MemberStatus> {
    let addr = SocketAddr::new(cluster.host(node).address.into(), CLIENT_PORT);
    let body = probe::http(
        addr,
        "POST",
        "/v3/maintenance/status",
        "{}",
        Duration::from_secs(1),
    )?;
    let json: serde_json::Value = serde_json::from_str(&body).ok()?;
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    Some(MemberStatus {
        member: text(&json["header"]["member_id"])?,
        leader: text(&json["leader"]).unwrap_or_else(|| "0".into()),
        term: text(&json["raftTerm"])?.parse().ok()?,
    })
}

impl Server for Etcd {
    fn name(&self) -> &'static str {
        "etcd"
    }

    fn stem(&self) -> &'static str {
        "etcd"
    }

    fn first_address(&self) -> u8 {
        11
    }

    fn check_installed(&self, _cluster: &Cluster) -> Result<(), ClusterError> {
        cluster::command::run(Command::new("etcd").arg("--version")).map(|_| ())
    }

    fn prepare(&self, cluster: &Cluster, node: usize) -> Result<(), ClusterError> {
        let data = cluster.data_dir(node);
        std::fs::create_dir_all(&data)
            .map_err(|e| ClusterError(format!("cannot create {}: {e}", data.display())))
    }

    fn command(&self, cluster: &Cluster, node: usize) -> Command {
        let peers = (0..cluster.nodes())
            .map(|n| format!("n{}=http://{}:{PEER_PORT}", n + 1, cluster.host(n).address))
            .collect::<Vec<_>>()
            .join(",");
        let address = cluster.host(node).address;
        let mut command = Command::new("etcd");
        command
            .args(["--name", &format!("n{}", node + 1)])
            .arg("--data-dir")
            .arg(cluster.data_dir(node))
            .args([
                "--listen-peer-urls",
                &format!("http://{address}:{PEER_PORT}"),
            ])
            .args([
                "--initial-advertise-peer-urls",
                &format!("http://{address}:{PEER_PORT}"),
            ])
            .args(["--listen-client-urls", &client_url(cluster, node)])
            .args(["--advertise-client-urls", &client_url(cluster, node)])
            .args(["--initial-cluster", &peers])
            .args([
                "--initial-cluster-token",
                "lab",
                "--initial-cluster-state",
                "new",
            ])
            .args(["--heartbeat-interval", "100", "--election-timeout", "1000"]);
        command
    }

    /// etcd serves its own metrics on the client port.
    fn metrics_port(&self) -> Option<u16> {
        Some(CLIENT_PORT)
    }

    /// The member the others agree leads (asked of every member; one that
    /// does not answer, isolated or paused, does not count against it).
    fn leader(&self, cluster: &Cluster) -> Option<usize> {
        let all: Vec<Option<MemberStatus>> =
            (0..cluster.nodes()).map(|n| status(cluster, n)).collect();
        let leads = |n: usize| all[n].as_ref().is_some_and(MemberStatus::leads);
        let leader = (0..cluster.nodes()).find(|&n| leads(n))?;
        let id = &all[leader].as_ref()?.member;
        let followed = all.iter().flatten().filter(|s| &s.leader == id).count();
        (followed * 2 > cluster.nodes()).then_some(leader)
    }

    fn ready(&self, cluster: &Cluster, node: usize) -> bool {
        let addr = SocketAddr::new(cluster.host(node).address.into(), CLIENT_PORT);
        probe::http(addr, "GET", "/health", "", Duration::from_secs(1))
            .is_some_and(|body| body.contains("\"health\":\"true\""))
    }
}
