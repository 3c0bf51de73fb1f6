//! Latency and throughput of the service system against its stores queried directly, side by
//! side in one run (`docs/benchmarks.md`, "The service system"). Needs `checker cluster up system`
//! (on the lab network `CHECKER_LAB_NET`, default `lab`/10.47.0).
//!
//! ```text
//! cargo run --release -p targets --example service_latency -- [--requests 2000] [--concurrency 16] [--api URL]
//! ```
//!
//! For each path: `--requests` sequential gets of one key (p50, p99), then as many gets from
//! `--concurrency` tasks at once (requests per second). Every path is warmed first, and the
//! sequential gets run in rounds that rotate the paths' order, so that none gains from running
//! after the stores warmed up. Paths: a strong get through NGINX and the
//! api, to one api replica over REST and over gRPC, and the same transaction straight to
//! PostgreSQL (BEGIN SERIALIZABLE; SELECT; COMMIT, which is what the api runs); an eventual get
//! through NGINX and to one replica, and the same prepared SELECT at QUORUM straight to Cassandra;
//! and a route that does no work (`/healthz`) through NGINX and to one replica: the hops alone.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use system::proto::kv_client::KvClient;
use system::proto::GetRequest;

type Call = Arc<dyn Fn() -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The value of `--name VALUE`, if given.
fn text_arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1).cloned()
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

/// `n` sequential calls, each one's latency.
async fn sequential(call: &Call, n: usize) -> Vec<Duration> {
    let mut latencies = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        call().await;
        latencies.push(started.elapsed());
    }
    latencies
}

/// Requests per second of `requests` calls from `concurrency` tasks at once.
async fn throughput(call: &Call, requests: usize, concurrency: usize) -> f64 {
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let call = call.clone();
            tokio::spawn(async move {
                for _ in 0..requests / concurrency {
                    call().await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("a task");
    }
    (requests / concurrency * concurrency) as f64 / started.elapsed().as_secs_f64()
}

/// How many rounds the sequential calls are spread over.
const ROUNDS: usize = 8;

/// Every path's (p50 ms, p99 ms, requests/s). The stores warm up as they serve (Cassandra's JIT
/// most of all), so no path may run before or after the others: all are warmed first, then the
/// sequential calls go in rounds, the paths in a rotated order each round, then the concurrent
/// ones, in order.
async fn measure(
    paths: &[(&str, Call)],
    requests: usize,
    concurrency: usize,
) -> Vec<(f64, f64, f64)> {
    for (_, call) in paths {
        sequential(call, requests / 4).await;
    }
    let mut latencies = vec![Vec::with_capacity(requests); paths.len()];
    for round in 0..ROUNDS {
        for k in 0..paths.len() {
            let i = (k + round) % paths.len();
            latencies[i].extend(sequential(&paths[i].1, requests / ROUNDS).await);
        }
    }
    let mut results = Vec::with_capacity(paths.len());
    for ((_, call), mut latencies) in paths.iter().zip(latencies) {
        latencies.sort();
        let rate = throughput(call, requests, concurrency).await;
        results.push((
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            rate,
        ));
    }
    results
}

#[tokio::main]
async fn main() {
    let requests = arg("--requests", 2000);
    let concurrency = arg("--concurrency", 16);
    let net = cluster::netns::Net::from_env().expect("CHECKER_LAB_NET");
    let lab = |s: &'static dyn cluster::Server| {
        cluster::Cluster::new(s, net.clone(), std::path::Path::new(".lab"))
    };
    let api = lab(&targets::service::server::API);
    let pg = lab(&targets::postgres::server::Postgres);
    let cassandra = lab(&targets::cassandra::server::Cassandra);
    let nginx = lab(&targets::service::balancer::Nginx);
    let balanced = targets::service::balancer::http_url(&nginx);
    // `--api http://host:port`: another api instance instead of api1 (to compare how one runs).
    let rest = text_arg("--api").unwrap_or_else(|| targets::service::server::http_url(&api, 0));
    let grpc = targets::service::server::grpc_url(&api, 0);
    // The direct query is the last-write-wins table's: the api must read that one too (a run of
    // the `system-*-vector` targets leaves the replicas on vector clocks).
    targets::service::live::set(
        &lab(&targets::etcd::server::Etcd),
        &api,
        "conflict-policy",
        "hlc",
    )
    .expect("the replicas take the conflict policy hlc");
    let http = reqwest::Client::new();
    for consistency in ["strong", "eventual"] {
        http.put(format!("{rest}/kv/bench?consistency={consistency}"))
            .json(&serde_json::json!({"value": 1}))
            .send()
            .await
            .expect("the api answers (is `checker cluster up system` running?)");
    }

    let rest_get = |base: &str, consistency: &'static str| -> Call {
        let (http, url) = (
            http.clone(),
            format!("{base}/kv/bench?consistency={consistency}"),
        );
        Arc::new(move || {
            let (http, url) = (http.clone(), url.clone());
            Box::pin(async move {
                let r = http.get(&url).send().await.expect("get");
                assert!(r.status().is_success());
                r.bytes().await.expect("body");
            })
        })
    };
    // What the hops alone cost: a route that does no work (`/healthz`), through NGINX and to
    // api1, so the gap between the service and the direct query can be split into the hops and
    // the api's own work.
    let no_op = |base: &str| -> Call {
        let (http, url) = (http.clone(), format!("{base}/healthz"));
        Arc::new(move || {
            let (http, url) = (http.clone(), url.clone());
            Box::pin(async move {
                let r = http.get(&url).send().await.expect("healthz");
                assert!(r.status().is_success());
                r.bytes().await.expect("body");
            })
        })
    };
    let kv = KvClient::connect(grpc).await.expect("gRPC");
    let grpc_get: Call = Arc::new(move || {
        let mut kv = kv.clone();
        Box::pin(async move {
            kv.get(GetRequest {
                key: "bench".into(),
                consistency: 1,
            })
            .await
            .expect("get");
        })
    });
    // The direct paths get a pool as large as the api's (16), so concurrency is alike.
    let mut pg_clients = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (client, connection) = tokio_postgres::connect(
            &targets::postgres::server::url(&pg, 0),
            tokio_postgres::NoTls,
        )
        .await
        .expect("PostgreSQL");
        tokio::spawn(connection);
        pg_clients.push(Arc::new(tokio::sync::Mutex::new(client)));
    }
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let pg_get: Call = Arc::new(move || {
        let client = pg_clients
            [next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % pg_clients.len()]
        .clone();
        Box::pin(async move {
            let mut client = client.lock().await;
            let tx = client
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::Serializable)
                .start()
                .await
                .expect("begin");
            tx.query_opt("SELECT value FROM service.kv WHERE key = $1", &[&"bench"])
                .await
                .expect("select");
            tx.commit().await.expect("commit");
        })
    });
    // The SELECT at QUORUM through a session of its own: the driver's defaults, and set up as
    // the api sets up its own (no schema metadata, so no token-aware routing; a request
    // timeout on the statement), to tell whether the api's calls are slower than the direct
    // ones because of how its session is configured.
    let cql = |schema: bool, timeout: bool| {
        let cassandra = &cassandra;
        async move {
            let session = Arc::new(
                scylla::client::session_builder::SessionBuilder::new()
                    .known_nodes_addr(
                        (0..cassandra.nodes())
                            .map(|n| targets::cassandra::server::cql_address(cassandra, n)),
                    )
                    .fetch_schema_metadata(schema)
                    .build()
                    .await
                    .expect("Cassandra"),
            );
            let mut select = session
                .prepare("SELECT value, WRITETIME(value) FROM service.kv WHERE key = ?")
                .await
                .expect("prepare");
            select.set_consistency(scylla::statement::Consistency::Quorum);
            if timeout {
                select.set_request_timeout(Some(Duration::from_secs(2)));
            }
            let call: Call = Arc::new(move || {
                let (session, select) = (session.clone(), select.clone());
                Box::pin(async move {
                    session
                        .execute_unpaged(&select, ("bench",))
                        .await
                        .expect("select");
                })
            });
            call
        }
    };
    let cql_get = cql(true, false).await;
    let cql_untimed = cql(false, false).await;
    let cql_as_api = cql(false, true).await;

    println!("| path | p50 (ms) | p99 (ms) | requests/s at concurrency {concurrency} |");
    println!("|---|---|---|---|");
    let paths: Vec<(&str, Call)> = vec![
        (
            "strong get, REST through NGINX and the api",
            rest_get(&balanced, "strong"),
        ),
        ("strong get, REST to api1", rest_get(&rest, "strong")),
        ("strong get, gRPC to api1", grpc_get),
        ("the same transaction straight to PostgreSQL", pg_get),
        (
            "eventual get, REST through NGINX and the api",
            rest_get(&balanced, "eventual"),
        ),
        ("eventual get, REST to api1", rest_get(&rest, "eventual")),
        ("the same SELECT at QUORUM straight to Cassandra", cql_get),
        (
            "the same SELECT, no schema metadata (no token-aware routing)",
            cql_untimed,
        ),
        (
            "the same SELECT, no schema metadata and a request timeout: the api's session",
            cql_as_api,
        ),
        ("no work (/healthz), through NGINX", no_op(&balanced)),
        ("no work (/healthz), to api1", no_op(&rest)),
    ];
    for ((name, _), (p50, p99, rate)) in paths
        .iter()
        .zip(measure(&paths, requests, concurrency).await)
    {
        println!("| {name} | {p50:.2} | {p99:.2} | {rate:.0} |");
    }
}
