//! The lab's observability (`checker cluster up observability`): Debian's Prometheus scraping
//! every live server of the lab that serves metrics, with exporters for what does not (NGINX,
//! PostgreSQL, the machine), the recording and alerting rules of `observability/rules/`, and
//! the dashboards of `observability/grafana/` ([`dashboard`]) whose queries [`query`] runs.
//!
//! It needs no other system: it watches whatever runs. Its scrape targets come from the lab
//! itself ([`scrape_targets`]): every prepared node of every server kind with a
//! [`cluster::Server::metrics_port`], rewritten by [`refresh`] whenever `checker cluster up` or
//! `down` changes the lab; Prometheus rereads the file on its own. A node that is configured
//! but not running stays listed, so it shows as `up == 0` and fires `InstanceDown`.
//!
//! | server | address | port | scrapes |
//! |---|---|---|---|
//! | [`prometheus::Prometheus`] | .81 | 9090 | everything below, and itself |
//! | [`exporter::NODE`] | .82 | 9100 | the machine's CPU, memory and load |
//! | [`exporter::NGINX`] | .83 | 9113 | NGINX's `stub_status` |
//! | [`exporter::POSTGRES`] | .84 | 9187 | the PostgreSQL primary's statistics |
//!
//! Cassandra and Kafka are not scraped: their jars expose JMX, not Prometheus's format, and the
//! lab runs them without a JMX exporter agent (`docs/observability.md`).

pub mod dashboard;
pub mod exporter;
pub mod prometheus;
pub mod query;

use crate::System;
use cluster::{Cluster, ClusterError, Lab};
use std::path::Path;

/// The observability system's row of [`crate::SYSTEMS`].
pub static SYSTEM: System = System {
    name: "observability",
    about: "Prometheus with the lab's rules, scraping every live server, and exporters for NGINX, PostgreSQL and the machine",
    servers: &[
        &exporter::NODE,
        &exporter::NGINX,
        &exporter::POSTGRES,
        &prometheus::Prometheus,
    ],
    needs: &[],
    targets: &[],
};

/// One node Prometheus scrapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScrapeTarget {
    /// Its server kind, Prometheus's `job` (`api`, `etcd`).
    pub job: &'static str,
    /// Its name, Prometheus's `instance` (`api1`).
    pub instance: String,
    /// Where its `/metrics` is (`10.47.0.51:8080`).
    pub address: String,
}

/// Every prepared node of the lab's server kinds that serve metrics, in table order.
pub fn scrape_targets(lab: &Lab) -> Vec<ScrapeTarget> {
    crate::servers()
        .into_iter()
        .filter_map(|server| Some((server, server.metrics_port()?)))
        .flat_map(|(server, port)| {
            let cluster = Cluster::new(server, lab.net.clone(), &lab.state);
            (0..cluster.nodes())
                .filter(|&node| cluster.is_prepared(node))
                .map(|node| ScrapeTarget {
                    job: server.name(),
                    instance: format!("{}{}", server.name(), node + 1),
                    address: format!("{}:{port}", cluster.host(node).address),
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The targets in Prometheus's file service discovery format.
pub fn file_sd(targets: &[ScrapeTarget]) -> String {
    let groups: Vec<serde_json::Value> = targets
        .iter()
        .map(|t| {
            serde_json::json!({
                "targets": [t.address],
                "labels": {"kind": t.job, "instance": t.instance},
            })
        })
        .collect();
    serde_json::to_string_pretty(&groups).unwrap_or_else(|_| "[]".into())
}

/// Rewrites Prometheus's scrape targets from the lab as it is now, if the lab has a Prometheus
/// (a no-op otherwise). `checker cluster up` and `down` call it after changing the lab.
pub fn refresh(lab: &Lab) -> Result<(), ClusterError> {
    let prometheus = Cluster::new(&prometheus::Prometheus, lab.net.clone(), &lab.state);
    if !prometheus.is_prepared(0) {
        return Ok(());
    }
    write_targets(&prometheus, &scrape_targets(lab))
}

/// Writes `targets` where `prometheus` reads them, atomically (it watches the file).
fn write_targets(prometheus: &Cluster, targets: &[ScrapeTarget]) -> Result<(), ClusterError> {
    let dir = prometheus::targets_dir(prometheus);
    write_atomically(&dir.join("lab.json"), &file_sd(targets))
}

/// Writes `text` to `path` through a temporary file beside it, so a reader never sees half.
fn write_atomically(path: &Path, text: &str) -> Result<(), ClusterError> {
    let failed = |e: std::io::Error| ClusterError(format!("cannot write {}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(failed)?;
    }
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, text).map_err(failed)?;
    std::fs::rename(&temporary, path).map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_sd_labels_each_target_with_its_kind_and_name() {
        let text = file_sd(&[ScrapeTarget {
            job: "api",
            instance: "api1".into(),
            address: "10.47.0.51:8080".into(),
        }]);
        let json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(json[0]["targets"][0], "10.47.0.51:8080");
        assert_eq!(json[0]["labels"]["kind"], "api");
        assert_eq!(json[0]["labels"]["instance"], "api1");
    }

    #[test]
    fn only_prepared_nodes_of_kinds_with_metrics_are_scraped() {
        let state = std::env::temp_dir().join(format!("observability-sd-{}", std::process::id()));
        let lab = Lab {
            net: cluster::netns::Net::default(),
            state: state.clone(),
        };
        assert!(scrape_targets(&lab).is_empty(), "nothing prepared");
        let api = Cluster::new(&crate::service::server::API, lab.net.clone(), &state);
        std::fs::create_dir_all(api.dir(1)).expect("folder");
        std::fs::write(api.dir(1).join("prepared"), "").expect("marker");
        // PostgreSQL serves no metrics of its own: prepared, it is still not a target.
        let pg = Cluster::new(&crate::postgres::server::Postgres, lab.net.clone(), &state);
        std::fs::create_dir_all(pg.dir(0)).expect("folder");
        std::fs::write(pg.dir(0).join("prepared"), "").expect("marker");
        let found = scrape_targets(&lab);
        assert_eq!(
            found,
            vec![ScrapeTarget {
                job: "api",
                instance: "api2".into(),
                address: format!("{}:8080", api.host(1).address),
            }]
        );
        let _ = std::fs::remove_dir_all(&state);
    }
}
