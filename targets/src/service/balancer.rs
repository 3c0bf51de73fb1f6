//! NGINX (Debian's) in front of the api replicas, in its own namespace (10.47.0.50): HTTP on
//! :8080 (`proxy_pass`, with `stub_status` at `/nginx_status`) and gRPC on :9090 (`grpc_pass`).
//! It runs under the service's `balancer` binary, which keeps its upstreams equal to the api
//! replicas registered in etcd and reloads it when they change (`service::balancer`); until etcd
//! lists some, it balances over the lab's api hosts.

use super::server::{self, GRPC_PORT, HTTP_PORT};
use cluster::{probe, Cluster, ClusterError, Server};
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

/// The NGINX server kind.
pub struct Nginx;

/// The balancer's REST base URL.
pub fn http_url(cluster: &Cluster) -> String {
    format!("http://{}:{HTTP_PORT}", cluster.host(0).address)
}

/// The balancer's gRPC URL.
pub fn grpc_url(cluster: &Cluster) -> String {
    format!("http://{}:{GRPC_PORT}", cluster.host(0).address)
}

impl Server for Nginx {
    fn name(&self) -> &'static str {
        "nginx"
    }

    fn stem(&self) -> &'static str {
        "lb"
    }

    fn first_address(&self) -> u8 {
        50
    }

    fn nodes(&self) -> usize {
        1
    }

    fn check_installed(&self, _cluster: &Cluster) -> Result<(), ClusterError> {
        cluster::command::run(Command::new("nginx").arg("-v")).map_err(|e| {
            ClusterError(format!(
                "{e} (install Debian's nginx: apt-get install nginx)"
            ))
        })?;
        server::binary("balancer").map(|_| ())
    }

    fn prepare(&self, cluster: &Cluster, node: usize) -> Result<(), ClusterError> {
        let dir = cluster.data_dir(node);
        std::fs::create_dir_all(&dir)
            .map_err(|e| ClusterError(format!("cannot create {}: {e}", dir.display())))
    }

    fn command(&self, cluster: &Cluster, node: usize) -> Command {
        let api = server::beside(cluster, &server::API);
        let fallback: Vec<String> = api.hosts().iter().map(|h| h.address.to_string()).collect();
        let etcd = server::beside(cluster, &crate::etcd::server::Etcd);
        let endpoints: Vec<String> = (0..etcd.nodes())
            .map(|n| crate::etcd::server::client_url(&etcd, n))
            .collect();
        // Checked by check_installed; a missing binary fails the start with its name.
        let mut command =
            Command::new(server::binary("balancer").unwrap_or_else(|_| "balancer".into()));
        command
            .arg("--listen")
            .arg(cluster.host(node).address.to_string())
            .arg("--dir")
            .arg(cluster.data_dir(node))
            .arg("--etcd")
            .arg(endpoints.join(","))
            .arg("--fallback")
            .arg(fallback.join(","));
        command
    }

    fn ready(&self, cluster: &Cluster, node: usize) -> bool {
        let addr = SocketAddr::new(cluster.host(node).address.into(), HTTP_PORT);
        probe::http(addr, "GET", "/nginx_status", "", Duration::from_secs(2)).is_some()
    }
}
