//! The service system on real servers (`checker cluster up system`): etcd, PostgreSQL, Cassandra
//! and Kafka clusters, three api replicas and two workers, each in its own network namespace, and
//! the checker driving it end to end over REST and gRPC under real faults of the api replicas.
//! Needs root; `test.sh` installs what it needs.

mod servers;

use consistency::Verdict;
use nemesis::local::LocalNemesis;
use nemesis::{Fault, Nemesis};
use servers::{assert_healed, ok_count, plan, run_with_config, why, SystemLab};
use std::sync::Arc;
use std::time::{Duration, Instant};
use targets::service::client::{Endpoint, ServiceTarget, Via};
use targets::service::server;

fn target(api: &cluster::Cluster, consistency: &'static str, via: Via) -> Arc<ServiceTarget> {
    let endpoints = (0..api.nodes())
        .map(|n| Endpoint {
            http: server::http_url(api, n),
            grpc: server::grpc_url(api, n),
        })
        .collect();
    Arc::new(ServiceTarget::new(endpoints, consistency, via, Duration::from_secs(2)))
}

fn config(seconds: u64) -> checker::run::RunConfig {
    checker::run::RunConfig {
        concurrency: 6,
        time_limit: Duration::from_secs(seconds),
        rate: Some(150.0),
        seed: 5,
        op_timeout: Duration::from_secs(2),
        settle: Duration::from_secs(10),
        history_path: None,
        progress: false,
    }
}

/// The api replicas registered in etcd, as replica `node` lists them.
fn members(api: &cluster::Cluster, node: usize) -> Option<Vec<String>> {
    let addr = std::net::SocketAddr::new(api.host(node).address.into(), server::HTTP_PORT);
    let body = cluster::probe::http(addr, "GET", "/cluster", "", Duration::from_secs(2))?;
    let json: serde_json::Value = serde_json::from_str(&body).ok()?;
    let mut names: Vec<String> = json["instances"]
        .as_array()?
        .iter()
        .filter(|i| i["role"] == "api")
        .filter_map(|i| i["name"].as_str().map(String::from))
        .collect();
    names.sort();
    Some(names)
}

/// Polls until `done` holds; the time it took.
fn time_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "{what} did not happen within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    started.elapsed()
}

#[test]
fn the_service_system_end_to_end_under_real_faults() {
    let lab = SystemLab::up("system");
    let api = lab.cluster("api");
    let nemesis: Arc<dyn Nemesis> = Arc::new(LocalNemesis::new(api.clone()));
    let all = vec!["api1".to_string(), "api2".into(), "api3".into()];
    assert_eq!(members(&api, 0), Some(all.clone()), "every replica registered in etcd");

    // Strong registers over REST, a replica killed and another paused: still linearizable (the
    // replicas are stateless; PostgreSQL orders everything).
    let faults = plan(&[
        (2.0, 5.0, Fault::Kill { node: 0 }),
        (7.0, 10.0, Fault::Pause { node: 1 }),
    ]);
    let (history, judgement) = run_with_config(
        target(&api, "strong", Via::Rest),
        "register",
        &config(12),
        Some((nemesis.clone(), faults)),
    );
    assert_eq!(judgement.verdict, Verdict::Valid, "{:?}", why(&judgement));
    assert!(ok_count(&history, "write") > 50, "writes went through");
    assert_healed(&api);

    // The same over gRPC, and the bank keeps its total with a replica killed mid-run.
    let (history, judgement) =
        run_with_config(target(&api, "strong", Via::Grpc), "register", &config(5), None);
    assert_eq!(judgement.verdict, Verdict::Valid, "{:?}", why(&judgement));
    assert!(ok_count(&history, "read") > 50);
    let faults = plan(&[(1.0, 4.0, Fault::Kill { node: 2 })]);
    let (history, judgement) = run_with_config(
        target(&api, "strong", Via::Grpc),
        "bank",
        &config(6),
        Some((nemesis.clone(), faults)),
    );
    assert_eq!(judgement.verdict, Verdict::Valid, "{:?}", why(&judgement));
    assert!(ok_count(&history, "transfer") > 20);
    assert_healed(&api);

    // Async writes go through Kafka and the workers: once the queue drains, every replica reads
    // the last write of each key (convergence), though reads in between are stale.
    let (_, judgement) =
        run_with_config(target(&api, "async", Via::Rest), "register", &config(6), None);
    let convergence = judgement
        .sections
        .iter()
        .find(|s| s.title.contains("convergence"))
        .expect("a convergence section");
    assert_eq!(convergence.verdict, Verdict::Valid, "{:?}", why(&judgement));

    // Discovery: a killed replica leaves etcd when its lease runs out, and is back once it runs
    // again.
    api.kill(1).expect("kill api2");
    let left = time_until("api2 leaving discovery", Duration::from_secs(15), || {
        members(&api, 0).is_some_and(|m| m == ["api1", "api3"])
    });
    api.restart(1).expect("restart api2");
    let back = time_until("api2 rejoining discovery", Duration::from_secs(30), || {
        members(&api, 0).as_ref() == Some(&all)
    });
    eprintln!(
        "discovery: a killed replica left after {:.1} s (lease TTL 3 s); restarted, it was back after {:.1} s",
        left.as_secs_f64(),
        back.as_secs_f64()
    );
}
