//! NGINX (Debian's) in front of the api replicas, in its own namespace (10.47.0.50): HTTP on
//! :8080 (`proxy_pass`, with `stub_status` at `/nginx_status`) and gRPC on :9090 (`grpc_pass`),
//! its upstreams written from the replicas registered in etcd when it starts (the lab's api
//! hosts if etcd does not answer).
//!
//! A replica that refuses connections is skipped for 2 s (`max_fails=1 fail_timeout=2s`), and
//! a request it refused goes to the next replica; one that was sent is retried elsewhere only if
//! idempotent (NGINX never resends a POST), so a transfer is never applied twice by the balancer.

use super::server::{self, GRPC_PORT, HTTP_PORT};
use cluster::{probe, Cluster, ClusterError, Server};
use std::net::SocketAddr;
use std::path::Path;
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

/// The api replicas' addresses: those registered in etcd, else every host of the api cluster.
fn replicas(cluster: &Cluster) -> Vec<String> {
    let api = server::beside(cluster, &server::API);
    let registered = server::registered(cluster, "api");
    if registered.is_empty() {
        api.hosts().iter().map(|h| h.address.to_string()).collect()
    } else {
        registered
    }
}

/// The configuration for `node`, balancing over `replicas`.
pub fn config(dir: &Path, listen: &str, replicas: &[String]) -> String {
    let upstream = |name: &str, port: u16| {
        let servers: String = replicas
            .iter()
            .map(|r| format!("        server {r}:{port} max_fails=1 fail_timeout=2s;\n"))
            .collect();
        format!("    upstream {name} {{\n{servers}        keepalive 32;\n    }}\n")
    };
    let d = dir.display();
    format!(
        "# Written by the lab (targets::service::balancer); rewritten at each start.
daemon off;
master_process off;
user root;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    client_max_body_size 16k;
{http}{grpc}    server {{
        listen {listen}:{HTTP_PORT};
        location = /nginx_status {{ stub_status; }}
        location / {{
            proxy_pass http://api_http;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_connect_timeout 1s;
            proxy_next_upstream error timeout;
        }}
    }}
    server {{
        listen {listen}:{GRPC_PORT} http2;
        location / {{
            grpc_pass grpc://api_grpc;
            grpc_connect_timeout 1s;
            grpc_next_upstream error timeout;
        }}
    }}
}}
",
        http = upstream("api_http", HTTP_PORT),
        grpc = upstream("api_grpc", GRPC_PORT),
    )
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
        cluster::command::run(Command::new("nginx").arg("-v"))
            .map(|_| ())
            .map_err(|e| {
                ClusterError(format!(
                    "{e} (install Debian's nginx: apt-get install nginx)"
                ))
            })
    }

    fn prepare(&self, cluster: &Cluster, node: usize) -> Result<(), ClusterError> {
        let dir = cluster.data_dir(node);
        std::fs::create_dir_all(&dir)
            .map_err(|e| ClusterError(format!("cannot create {}: {e}", dir.display())))
    }

    fn command(&self, cluster: &Cluster, node: usize) -> Command {
        let dir = cluster.data_dir(node);
        let file = dir.join("nginx.conf");
        let text = config(
            &dir,
            &cluster.host(node).address.to_string(),
            &replicas(cluster),
        );
        // A config that cannot be written makes NGINX fail to start, saying so in its log.
        let _ = std::fs::write(&file, text);
        let mut command = Command::new("nginx");
        command.arg("-c").arg(file).arg("-p").arg(&dir);
        command
    }

    fn ready(&self, cluster: &Cluster, node: usize) -> bool {
        let addr = SocketAddr::new(cluster.host(node).address.into(), HTTP_PORT);
        probe::http(addr, "GET", "/nginx_status", "", Duration::from_secs(2)).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_balances_http_and_grpc_over_every_replica() {
        let text = config(
            Path::new("/tmp/x"),
            "10.47.0.50",
            &["10.47.0.51".into(), "10.47.0.52".into()],
        );
        assert!(text.contains("server 10.47.0.51:8080 max_fails=1"));
        assert!(text.contains("server 10.47.0.52:9090 max_fails=1"));
        assert!(text.contains("listen 10.47.0.50:9090 http2"));
        assert!(text.contains("grpc_pass grpc://api_grpc"));
        assert!(text.contains("stub_status"));
    }
}
