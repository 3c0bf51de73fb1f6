//! Prometheus (Debian's `prometheus`, 2.42) in its own namespace (10.47.0.81:9090), with the
//! repository's `observability/prometheus.yml` and rules copied into its folder
//! (`.lab/prometheus/n1/`) and the lab's scrape targets in `targets/lab.json` beside them.

use cluster::{probe, Cluster, ClusterError, Server};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// Prometheus's HTTP port (the API, the UI, and its own /metrics).
pub const PORT: u16 = 9090;

/// The configuration, as the repository has it.
pub const CONFIG: &str = include_str!("../../../observability/prometheus.yml");

/// The rule files, by name, as the repository has them (`observability/rules/`).
pub const RULES: &[(&str, &str)] = &[
    (
        "golden-signals.yml",
        include_str!("../../../observability/rules/golden-signals.yml"),
    ),
    (
        "alerts.yml",
        include_str!("../../../observability/rules/alerts.yml"),
    ),
];

/// The Prometheus server kind.
pub struct Prometheus;

/// Where `prometheus` reads its scrape targets.
pub fn targets_dir(prometheus: &Cluster) -> PathBuf {
    prometheus.dir(0).join("targets")
}

/// Its API's address.
pub fn address(prometheus: &Cluster) -> SocketAddr {
    SocketAddr::new(prometheus.host(0).address.into(), PORT)
}

impl Server for Prometheus {
    fn name(&self) -> &'static str {
        "prometheus"
    }

    fn stem(&self) -> &'static str {
        "prom"
    }

    fn first_address(&self) -> u8 {
        81
    }

    fn nodes(&self) -> usize {
        1
    }

    fn check_installed(&self, _cluster: &Cluster) -> Result<(), ClusterError> {
        cluster::command::run(Command::new("prometheus").arg("--version")).map_err(|e| {
            ClusterError(format!(
                "{e} (install Debian's Prometheus: apt-get install prometheus)"
            ))
        })?;
        Ok(())
    }

    /// The configuration and rules from the repository, and the lab's targets as they are.
    fn prepare(&self, cluster: &Cluster, node: usize) -> Result<(), ClusterError> {
        let dir = cluster.dir(node);
        super::write_atomically(&dir.join("prometheus.yml"), CONFIG)?;
        for (name, text) in RULES {
            super::write_atomically(&dir.join("rules").join(name), text)?;
        }
        let lab = cluster::Lab {
            net: cluster.net().clone(),
            state: cluster
                .kind_dir()
                .parent()
                .map_or_else(|| PathBuf::from("."), PathBuf::from),
        };
        // This node is not marked prepared yet: list it by hand.
        let mut targets = super::scrape_targets(&lab);
        targets.push(super::ScrapeTarget {
            job: self.name(),
            instance: format!("{}{}", self.name(), node + 1),
            address: address(cluster).to_string(),
        });
        super::write_targets(cluster, &targets)
    }

    fn command(&self, cluster: &Cluster, node: usize) -> Command {
        let dir = cluster.dir(node);
        let mut command = Command::new("prometheus");
        command
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                cluster.data_dir(node).display()
            ))
            .arg(format!("--web.listen-address={}", address(cluster)))
            // A lab's runs are hours apart at most; a day keeps the last ones' panels.
            .arg("--storage.tsdb.retention.time=1d")
            .arg("--web.enable-lifecycle")
            .current_dir(&dir);
        command
    }

    fn ready(&self, cluster: &Cluster, _node: usize) -> bool {
        probe::http(
            address(cluster),
            "GET",
            "/-/ready",
            "",
            Duration::from_secs(2),
        )
        .is_some()
    }

    fn metrics_port(&self) -> Option<u16> {
        Some(PORT)
    }
}
