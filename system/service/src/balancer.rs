//! NGINX in front of the api replicas, its upstreams kept equal to the api instances registered
//! in etcd ([`crate::discovery`]): the `balancer` binary writes the configuration, runs NGINX,
//! watches `/lab/instances/api/`, and on every change rewrites the upstreams and reloads NGINX
//! (SIGHUP: new workers take the new configuration, old ones finish their requests), as
//! consul-template or confd would.
//!
//! A replica that leaves discovery (killed, paused, cut off from etcd past its lease) leaves the
//! upstreams; one that joins (restarted, or `--replicas 4`) is balanced to at once. When no
//! replica is registered, or etcd does not answer, the last upstreams stay (at the start, the
//! ones given on the command line): an empty upstream would refuse every request, a stale one
//! only skips the replicas that refuse connections (`max_fails=1 fail_timeout=2s`; a request they
//! refused goes to the next one, and one that was sent is retried elsewhere only if idempotent,
//! as NGINX never resends a POST, so a transfer is never applied twice by the balancer).

use crate::discovery::{Instance, INSTANCES};
use crate::ServiceError;
use etcd_client::{Client, ConnectOptions, GetOptions, WatchOptions};
use std::path::Path;
use std::time::Duration;

/// Where the balanced replicas serve: `host:port` for HTTP and for gRPC, sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Upstreams {
    /// The replicas' HTTP addresses.
    pub http: Vec<String>,
    /// The replicas' gRPC addresses.
    pub grpc: Vec<String>,
}

impl Upstreams {
    /// The upstreams of these instances (the api ones).
    pub fn of(instances: &[Instance]) -> Upstreams {
        let api = || instances.iter().filter(|i| i.role == "api");
        let sorted = |mut v: Vec<String>| {
            v.sort();
            v.dedup();
            v
        };
        Upstreams {
            http: sorted(api().map(|i| i.http.clone()).collect()),
            grpc: sorted(
                api()
                    .filter(|i| !i.grpc.is_empty())
                    .map(|i| i.grpc.clone())
                    .collect(),
            ),
        }
    }

    /// Whether there is a replica to balance over in both protocols.
    pub fn is_empty(&self) -> bool {
        self.http.is_empty() || self.grpc.is_empty()
    }
}

/// Where NGINX listens.
#[derive(Debug, Clone)]
pub struct Listen {
    /// The address of both listeners.
    pub address: std::net::IpAddr,
    /// HTTP (`proxy_pass`, and `stub_status` at `/nginx_status`).
    pub http: u16,
    /// gRPC (`grpc_pass`, HTTP/2 in clear text).
    pub grpc: u16,
}

/// NGINX's configuration: state under `dir`, listening on `listen`, balancing over `upstreams`.
pub fn config(dir: &Path, listen: &Listen, upstreams: &Upstreams) -> String {
    let upstream = |name: &str, servers: &[String]| {
        let servers: String = servers
            .iter()
            .map(|s| format!("        server {s} max_fails=1 fail_timeout=2s;\n"))
            .collect();
        format!("    upstream {name} {{\n{servers}        keepalive 32;\n    }}\n")
    };
    let d = dir.display();
    let (address, http, grpc) = (listen.address, listen.http, listen.grpc);
    format!(
        "# Written by the lab's balancer (service::balancer) from the replicas in etcd.
daemon off;
user root;
worker_processes 1;
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
{http_upstream}{grpc_upstream}    server {{
        listen {address}:{http};
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
        listen {address}:{grpc} http2;
        location / {{
            grpc_pass grpc://api_grpc;
            grpc_connect_timeout 1s;
            grpc_next_upstream error timeout;
        }}
    }}
}}
",
        http_upstream = upstream("api_http", &upstreams.http),
        grpc_upstream = upstream("api_grpc", &upstreams.grpc),
    )
}

/// The api replicas registered now, and the revision to watch from.
async fn registered(client: &mut Client) -> Result<(Upstreams, i64), ServiceError> {
    let found = client
        .get(INSTANCES, Some(GetOptions::new().with_prefix()))
        .await
        .map_err(|e| ServiceError::Unavailable(format!("etcd: {e}")))?;
    let instances: Vec<Instance> = found
        .kvs()
        .iter()
        .filter_map(|kv| serde_json::from_slice(kv.value()).ok())
        .collect();
    let revision = found.header().map_or(0, |h| h.revision());
    Ok((Upstreams::of(&instances), revision))
}

/// Calls `changed` with the registered api replicas whenever they change (and once at the
/// start when they differ from `current`), forever; reconnects to etcd after every failure.
pub async fn follow(
    endpoints: &[String],
    timeout: Duration,
    mut current: Upstreams,
    mut changed: impl FnMut(&Upstreams),
) {
    loop {
        let session = async {
            let options = ConnectOptions::new()
                .with_connect_timeout(timeout)
                .with_timeout(timeout);
            let mut client = Client::connect(endpoints, Some(options))
                .await
                .map_err(|e| ServiceError::Unavailable(format!("etcd {endpoints:?}: {e}")))?;
            let (mut upstreams, revision) = registered(&mut client).await?;
            let options = WatchOptions::new()
                .with_prefix()
                .with_start_revision(revision + 1);
            let mut events = client
                .watch(INSTANCES, Some(options))
                .await
                .map_err(|e| ServiceError::Unavailable(format!("etcd watch: {e}")))?;
            loop {
                if upstreams != current && !upstreams.is_empty() {
                    changed(&upstreams);
                    current = upstreams;
                }
                // Wait for a change under the prefix (the watch's first answer, that it was
                // created, carries none), then read the whole membership again: a lease that
                // expires deletes a key, a restart puts one.
                loop {
                    match events.message().await {
                        Ok(Some(answer)) if !answer.events().is_empty() => break,
                        Ok(Some(_)) => {}
                        Ok(None) => {
                            return Err(ServiceError::Unavailable("the watch ended".into()))
                        }
                        Err(e) => {
                            return Err(ServiceError::Unavailable(format!("etcd watch: {e}")))
                        }
                    }
                }
                upstreams = registered(&mut client).await?.0;
            }
        };
        let result: Result<std::convert::Infallible, ServiceError> = session.await;
        let Err(e) = result;
        eprintln!("balancer: {e}; keeping the upstreams, retrying");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(role: &str, name: &str, host: &str) -> Instance {
        Instance {
            role: role.into(),
            name: name.into(),
            http: format!("{host}:8080"),
            grpc: if role == "api" {
                format!("{host}:9090")
            } else {
                String::new()
            },
        }
    }

    #[test]
    fn the_upstreams_are_the_api_replicas_and_the_config_balances_both_protocols() {
        let upstreams = Upstreams::of(&[
            instance("api", "api2", "10.47.0.52"),
            instance("worker", "worker1", "10.47.0.61"),
            instance("api", "api1", "10.47.0.51"),
        ]);
        assert_eq!(upstreams.http, ["10.47.0.51:8080", "10.47.0.52:8080"]);
        assert_eq!(upstreams.grpc, ["10.47.0.51:9090", "10.47.0.52:9090"]);
        assert!(Upstreams::of(&[instance("worker", "w", "10.47.0.61")]).is_empty());
        let listen = Listen {
            address: [10, 47, 0, 50].into(),
            http: 8080,
            grpc: 9090,
        };
        let text = config(Path::new("/tmp/x"), &listen, &upstreams);
        assert!(text.contains("server 10.47.0.51:8080 max_fails=1"));
        assert!(text.contains("server 10.47.0.52:9090 max_fails=1"));
        assert!(!text.contains("10.47.0.61"));
        assert!(text.contains("listen 10.47.0.50:9090 http2"));
        assert!(text.contains("grpc_pass grpc://api_grpc"));
        assert!(text.contains("stub_status"));
    }
}
