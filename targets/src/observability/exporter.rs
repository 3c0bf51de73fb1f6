//! Debian's Prometheus exporters, for what serves no metrics of its own, each in its own
//! namespace like any node of the lab: the machine (`prometheus-node-exporter`: a network
//! namespace still sees the whole machine's CPU and memory), NGINX's `stub_status`
//! (`prometheus-nginx-exporter`) and the PostgreSQL primary (`prometheus-postgres-exporter`).
//! Each reports its subject's reachability itself (`nginx_up`, `pg_up`), so an exporter is up
//! while what it watches is down.

use crate::postgres::server::{Postgres, PORT as POSTGRES_PORT};
use crate::service::{balancer, server::beside, server::HTTP_PORT};
use cluster::{probe, Cluster, ClusterError, Server};
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

/// An exporter's arguments, and the environment variables it reads.
pub type Invocation = (Vec<String>, Vec<(&'static str, String)>);

/// One exporter: which program, where, and what it watches.
pub struct Exporter {
    /// Its name (`checker cluster status`, Prometheus's `job`).
    pub name: &'static str,
    /// Its hosts' name stem.
    pub stem: &'static str,
    /// The last octet of its address.
    pub address: u8,
    /// The port of its `/metrics`.
    pub port: u16,
    /// Its program, and the Debian package of the same name.
    pub program: &'static str,
    /// Whether it serves nothing until its subject answers (the NGINX exporter connects to NGINX
    /// first): then it counts as ready once it runs, and shows as down in Prometheus until then.
    pub waits: bool,
    /// Its arguments and environment, given its own cluster (for the clusters beside it) and
    /// the address it listens on: where to listen and what to watch.
    pub watch: fn(&Cluster, SocketAddr) -> Invocation,
}

/// The machine: CPU, memory and load.
pub static NODE: Exporter = Exporter {
    name: "node-exporter",
    stem: "nodex",
    address: 82,
    port: 9100,
    program: "prometheus-node-exporter",
    waits: false,
    watch: |_, listen| {
        // Only what the dashboards read: the defaults would walk every mount and device.
        let collectors = ["cpu", "meminfo", "loadavg", "stat"];
        let mut args = vec![
            format!("--web.listen-address={listen}"),
            "--collector.disable-defaults".to_string(),
        ];
        args.extend(collectors.iter().map(|c| format!("--collector.{c}")));
        (args, Vec::new())
    },
};

/// NGINX, from its `stub_status` page.
pub static NGINX: Exporter = Exporter {
    name: "nginx-exporter",
    stem: "ngxex",
    address: 83,
    port: 9113,
    program: "prometheus-nginx-exporter",
    waits: true,
    watch: |cluster, listen| {
        let nginx = beside(cluster, &balancer::Nginx);
        let status = format!("http://{}:{HTTP_PORT}/nginx_status", nginx.host(0).address);
        // Go's own flags, with one dash. Without NGINX it would exit at once: it retries for
        // as long as a lab may take to bring the service system up after it.
        let args = vec![
            format!("-web.listen-address={listen}"),
            format!("-nginx.scrape-uri={status}"),
            "-nginx.retries=100000".to_string(),
            "-nginx.retry-interval=2s".to_string(),
        ];
        (args, Vec::new())
    },
};

/// The PostgreSQL primary's statistics (`pg_stat_database`, `pg_stat_activity`).
pub static POSTGRES: Exporter = Exporter {
    name: "postgres-exporter",
    stem: "pgex",
    address: 84,
    port: 9187,
    program: "prometheus-postgres-exporter",
    waits: false,
    watch: |cluster, listen| {
        let pg = beside(cluster, &Postgres);
        let source = format!(
            "postgresql://postgres@{}:{POSTGRES_PORT}/postgres?sslmode=disable&connect_timeout=2",
            pg.host(0).address
        );
        let args = vec![format!("--web.listen-address={listen}")];
        (args, vec![("DATA_SOURCE_NAME", source)])
    },
};

impl Exporter {
    fn listen(&self, cluster: &Cluster) -> SocketAddr {
        SocketAddr::new(cluster.host(0).address.into(), self.port)
    }
}

impl Server for Exporter {
    fn name(&self) -> &'static str {
        self.name
    }

    fn stem(&self) -> &'static str {
        self.stem
    }

    fn first_address(&self) -> u8 {
        self.address
    }

    fn nodes(&self) -> usize {
        1
    }

    fn check_installed(&self, _cluster: &Cluster) -> Result<(), ClusterError> {
        cluster::command::run(Command::new(self.program).arg("--version")).map_err(|e| {
            ClusterError(format!(
                "{e} (install Debian's exporter: apt-get install {})",
                self.program
            ))
        })?;
        Ok(())
    }

    fn prepare(&self, _cluster: &Cluster, _node: usize) -> Result<(), ClusterError> {
        Ok(())
    }

    fn command(&self, cluster: &Cluster, _node: usize) -> Command {
        let (args, env) = (self.watch)(cluster, self.listen(cluster));
        let mut command = Command::new(self.program);
        command.args(args).envs(env);
        command
    }

    fn ready(&self, cluster: &Cluster, node: usize) -> bool {
        if self.waits {
            return cluster.pid(node).is_some();
        }
        // Its landing page, not /metrics: a scrape waits on the subject (16 s for a PostgreSQL
        // that is not there), the page does not.
        probe::http(self.listen(cluster), "GET", "/", "", Duration::from_secs(2)).is_some()
    }

    fn metrics_port(&self) -> Option<u16> {
        Some(self.port)
    }
}
