//! Changing the service's live settings for a run: a key under `/lab/config/` in the lab's etcd
//! (through etcd's JSON gateway), then waiting until every api replica reports it applied.

use super::server;
use crate::OpenError;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use cluster::{probe, Cluster, ClusterError};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use system::names::SETTINGS_PREFIX;

/// Sets `/lab/config/<name>` to `value` and waits (10 s at most) until every replica of `api`
/// shows it in `/cluster` (the field named as the setting, with `_` for `-`).
pub fn set(etcd: &Cluster, api: &Cluster, name: &str, value: &str) -> Result<(), OpenError> {
    let body = serde_json::json!({
        "key": B64.encode(format!("{SETTINGS_PREFIX}{name}")),
        "value": B64.encode(value),
    })
    .to_string();
    let put = (0..etcd.nodes()).find_map(|n| {
        let addr = SocketAddr::new(
            etcd.host(n).address.into(),
            crate::etcd::server::CLIENT_PORT,
        );
        probe::http(addr, "POST", "/v3/kv/put", &body, Duration::from_secs(2))
    });
    if put.is_none() {
        return Err(ClusterError(format!("no etcd member took {SETTINGS_PREFIX}{name}")).into());
    }
    let field = name.replace('-', "_");
    let started = Instant::now();
    let applied = |node: usize| {
        let addr = SocketAddr::new(api.host(node).address.into(), server::HTTP_PORT);
        probe::http(addr, "GET", "/cluster", "", Duration::from_secs(2))
            .and_then(|body| serde_json::from_str::<serde_json::Value>(&body).ok())
            .is_some_and(|json| json[&field] == value)
    };
    while !(0..api.nodes()).all(applied) {
        if started.elapsed() > Duration::from_secs(10) {
            return Err(ClusterError(format!(
                "the api replicas did not apply {name} = {value} within 10 s; see \
                 `checker cluster status system` and their logs (`checker cluster logs system`)"
            ))
            .into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}
