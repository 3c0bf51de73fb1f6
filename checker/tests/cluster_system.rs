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
    Arc::new(ServiceTarget::new(
        endpoints,
        consistency,
        via,
        Duration::from_secs(2),
    ))
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

/// How many client operations did not succeed after the first kill, and how long after it the
/// last of them completed.
fn errors_after_kill(history: &history::History) -> (usize, Duration) {
    let ops = history.ops();
    let killed = ops
        .iter()
        .find(|o| o.process.client().is_none() && o.f == "kill")
        .map(|o| o.time)
        .expect("the kill is in the history");
    let failed: Vec<i64> = ops
        .iter()
        .filter(|o| o.process.client().is_some() && o.time >= killed)
        .filter(|o| {
            matches!(o.kind, history::OpType::Info)
                || (o.kind == history::OpType::Fail && o.f != "cas")
        })
        .map(|o| o.time)
        .collect();
    let last = failed.iter().max().map_or(0, |t| t - killed);
    (failed.len(), Duration::from_nanos(last.max(0) as u64))
}

/// Every request api replica `node` counted, but those for its metrics (this probe's own).
fn total_requests(api: &cluster::Cluster, node: usize) -> f64 {
    let addr = std::net::SocketAddr::new(api.host(node).address.into(), server::HTTP_PORT);
    let Some(text) = cluster::probe::http(addr, "GET", "/metrics", "", Duration::from_secs(2))
    else {
        return 0.0;
    };
    text.lines()
        .filter(|l| l.starts_with("service_requests_total{") && !l.contains("/metrics"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A metric's value on worker `node`, from its /metrics.
fn worker_metric(workers: &cluster::Cluster, node: usize, name: &str) -> Option<f64> {
    let addr = std::net::SocketAddr::new(workers.host(node).address.into(), server::HTTP_PORT);
    let text = cluster::probe::http(addr, "GET", "/metrics", "", Duration::from_secs(2))?;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Restarts the workers with fencing on or off and the relay holding each batch 1.5 s, pauses
/// the leader inside a batch for 8 s (its lease lasts 3 s) while transfers go on, resumes it, and
/// counts the events in Kafka (committed reads) published under an older leader's token after a
/// newer one's. Also checks that the timelines stay exact.
fn deposed_publications(lab: &SystemLab, api: &cluster::Cluster, fencing: bool) -> usize {
    let workers = lab.cluster("worker");
    std::env::set_var("SERVICE_RELAY_HOLD_MS", "1500");
    if fencing {
        std::env::remove_var("SERVICE_NO_FENCING");
    } else {
        std::env::set_var("SERVICE_NO_FENCING", "true");
    }
    for n in 0..workers.nodes() {
        workers.kill(n).expect("stop a worker");
        workers.restart(n).expect("start a worker");
    }
    time_until("the workers ready again", Duration::from_secs(60), || {
        workers.is_up()
    });
    let metric = |n: usize, name: &str| worker_metric(&workers, n, name).unwrap_or(0.0);

    // Transfers all along, so that the outbox always has a batch for the relay.
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let base = server::http_url(api, 0);
    let prefix = format!("fence{}-", if fencing { "on" } else { "off" });
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let traffic = rt.spawn({
        let (base, prefix, stop) = (base.clone(), prefix.clone(), stop.clone());
        async move {
            let http = reqwest::Client::new();
            for (account, balance) in [("a", 1_000_000), ("b", 0)] {
                let body = serde_json::json!({"account": format!("{prefix}{account}"), "balance": balance});
                let _ = http.post(format!("{base}/bank/accounts")).json(&body).send().await;
            }
            let body = serde_json::json!({"from": format!("{prefix}a"), "to": format!("{prefix}b"), "amount": 1});
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = http.post(format!("{base}/bank/transfers")).json(&body).send().await;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });

    let mut leader = 0;
    time_until(
        "the relay leader holding a batch",
        Duration::from_secs(60),
        || match (0..workers.nodes()).find(|&n| metric(n, "service_relay_in_flight") > 0.0) {
            Some(n) => {
                leader = n;
                true
            }
            None => false,
        },
    );
    workers.pause(leader).expect("pause the leader");
    let other = 1 - leader;
    time_until(
        "another worker taking the relay over",
        Duration::from_secs(30),
        || metric(other, "service_relay_leader") == 1.0,
    );
    // Paused well past its lease and PostgreSQL's idle-in-transaction timeout (3 s each).
    std::thread::sleep(Duration::from_secs(8));
    workers.resume(leader).expect("resume the leader");
    time_until(
        "the resumed worker giving its batch up",
        Duration::from_secs(30),
        || {
            metric(leader, "service_relay_in_flight") == 0.0
                && metric(leader, "service_relay_leader") == 0.0
        },
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    rt.block_on(traffic).expect("traffic");
    time_until("the outbox drained", Duration::from_secs(60), || {
        metric(other, "service_outbox_backlog") == 0.0
            && metric(other, "service_relay_in_flight") == 0.0
    });
    let (workflow, _) = workflow_until_valid(&rt, &base, &prefix);
    eprintln!("fencing {fencing}: workflow {workflow}");
    older_after_newer(&lab.cluster("kafka"))
}

/// Events in the transfers topic (committed reads) whose publisher's token is older than one
/// already seen in the same partition.
fn older_after_newer(kafka: &cluster::Cluster) -> usize {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Message;
    let bootstrap = targets::kafka::server::bootstrap_servers(kafka);
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", format!("fencing-check-{}", std::process::id()))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed")
        .create()
        .expect("a consumer");
    consumer
        .subscribe(&["service.transfers"])
        .expect("subscribe");
    let mut newest: std::collections::HashMap<i32, i64> = Default::default();
    let mut older = 0;
    let mut idle = Instant::now();
    while idle.elapsed() < Duration::from_secs(5) {
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let message = message.expect("a message");
        idle = Instant::now();
        let event: serde_json::Value =
            serde_json::from_slice(message.payload().unwrap_or_default()).expect("an event");
        let epoch = event["epoch"].as_i64().expect("an epoch");
        let seen = newest.entry(message.partition()).or_insert(epoch);
        if epoch < *seen {
            older += 1;
        }
        *seen = (*seen).max(epoch);
    }
    older
}

/// The workflow check of the accounts under `prefix`, repeated until it holds (the timelines
/// catch up once the relay and the workers have drained the outbox); fails the test after 60 s.
fn workflow_until_valid(
    rt: &tokio::runtime::Runtime,
    base: &str,
    prefix: &str,
) -> (targets::service::workflow::Workflow, Duration) {
    let mut workflow = None;
    let took = time_until("the timelines catching up", Duration::from_secs(60), || {
        let found = rt
            .block_on(targets::service::workflow::check(base, prefix))
            .expect("the workflow check runs");
        let done = found.valid();
        workflow = Some(found);
        done
    });
    (workflow.expect("checked at least once"), took)
}

/// Polls until `done` holds; the time it took.
fn time_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < limit,
            "{what} did not happen within {limit:?}"
        );
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
    assert_eq!(
        members(&api, 0),
        Some(all.clone()),
        "every replica registered in etcd"
    );

    // Through NGINX, a replica killed under load: only the requests it held fail, the balancer
    // routes around it at once, and it serves again once restarted.
    let nginx = lab.cluster("nginx");
    let balanced = Arc::new(ServiceTarget::new(
        vec![Endpoint {
            http: targets::service::balancer::http_url(&nginx),
            grpc: targets::service::balancer::grpc_url(&nginx),
        }],
        "strong",
        Via::Rest,
        Duration::from_secs(2),
    ));
    let faults = plan(&[(3.0, 7.0, Fault::Kill { node: 0 })]);
    let (history, judgement) = run_with_config(
        balanced,
        "register",
        &config(10),
        Some((nemesis.clone(), faults)),
    );
    assert_eq!(judgement.verdict, Verdict::Valid, "{:?}", why(&judgement));
    let (errors, recovery) = errors_after_kill(&history);
    eprintln!(
        "through NGINX, api1 killed under load: {errors} requests failed or timed out, the last {:.0} ms after the kill",
        recovery.as_secs_f64() * 1e3
    );
    // At most what was in flight at the kill and what was sent on NGINX's pooled connections to
    // it, which the kill broke: two per process.
    assert!(errors <= 12, "{errors} errors");
    let before = total_requests(&api, 0);
    let served = time_until(
        "the restarted replica serving through NGINX",
        Duration::from_secs(30),
        || {
            let probe = std::net::SocketAddr::new(nginx.host(0).address.into(), server::HTTP_PORT);
            let _ = cluster::probe::http(
                probe,
                "GET",
                "/kv/probe?consistency=strong",
                "",
                Duration::from_secs(2),
            );
            total_requests(&api, 0) > before
        },
    );
    eprintln!(
        "the restarted api1 served again through NGINX within {:.1} s",
        served.as_secs_f64()
    );

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
    let (history, judgement) = run_with_config(
        target(&api, "strong", Via::Grpc),
        "register",
        &config(5),
        None,
    );
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
    let (_, judgement) = run_with_config(
        target(&api, "async", Via::Rest),
        "register",
        &config(6),
        None,
    );
    let convergence = judgement
        .sections
        .iter()
        .find(|s| s.title.contains("convergence"))
        .expect("a convergence section");
    assert_eq!(convergence.verdict, Verdict::Valid, "{:?}", why(&judgement));

    // Clock skew on one replica against last-write-wins: with wall-clock stamps its writes lose
    // to older ones (acknowledged writes vanish); with hybrid logical clocks, which move past the
    // key's timestamp read first, none does.
    let etcd = lab.cluster("etcd");
    // Skewed until the run ends, so the final values show the writes it lost.
    let skewed = || {
        plan(&[(
            1.0,
            30.0,
            Fault::ClockSkew {
                node: 0,
                offset_ns: -5_000_000_000,
            },
        )])
    };
    let count = |judgement: &checker::run::judge::Judgement, what: &str| {
        judgement.results["register-stats"][what]
            .as_u64()
            .expect("a count")
    };
    let lost_writes =
        |judgement: &checker::run::judge::Judgement| count(judgement, "lost-write-count");
    targets::service::live::set(&etcd, &api, "conflict-policy", "wall").expect("wall clocks");
    let (_, wall) = run_with_config(
        target(&api, "eventual", Via::Rest),
        "register",
        &config(10),
        Some((nemesis.clone(), skewed())),
    );
    targets::service::live::set(&etcd, &api, "conflict-policy", "hlc").expect("hybrid clocks");
    let (_, hlc) = run_with_config(
        target(&api, "eventual", Via::Rest),
        "register",
        &config(10),
        Some((nemesis.clone(), skewed())),
    );
    eprintln!(
        "clock skew -5 s on api1: {} lost writes and {} stale reads with wall clocks, {} and {} with hybrid logical clocks",
        lost_writes(&wall),
        count(&wall, "stale-read-count"),
        lost_writes(&hlc),
        count(&hlc, "stale-read-count"),
    );
    assert!(lost_writes(&wall) > 0, "{:?}", why(&wall));
    assert_eq!(lost_writes(&hlc), 0, "{:?}", why(&hlc));
    assert_healed(&api);

    // The bank's events flow through the outbox, the elected relay, Kafka and the workers into
    // the activity timelines: with the relay's leader killed mid-run, every committed transfer
    // still lands there exactly once, and nothing else does.
    let workers = lab.cluster("worker");
    let leader = (0..workers.nodes())
        .find(|&n| worker_metric(&workers, n, "service_relay_leader") == Some(1.0))
        .expect("a worker leads the relay");
    let bank = target(&api, "strong", Via::Rest);
    let prefix = bank.prefix().to_string();
    let (history, judgement) = run_with_config(
        bank,
        "bank",
        &config(8),
        Some((
            Arc::new(LocalNemesis::new(workers.clone())) as Arc<dyn Nemesis>,
            plan(&[(2.0, 5.0, Fault::Kill { node: leader })]),
        )),
    );
    assert_eq!(judgement.verdict, Verdict::Valid, "{:?}", why(&judgement));
    let transfers = ok_count(&history, "transfer");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (workflow, drained) = workflow_until_valid(&rt, &server::http_url(&api, 0), &prefix);
    eprintln!(
        "workflow with the relay leader killed: {workflow} ({transfers} transfers acknowledged); \
         timelines complete {:.1} s after the run",
        drained.as_secs_f64()
    );
    assert!(
        workflow.committed >= transfers,
        "every acknowledged transfer is committed"
    );
    assert_eq!(workflow.recorded, 2 * workflow.committed, "{workflow}");

    // Fencing: the relay leader paused (SIGSTOP) inside a batch, past its lease, while a newer
    // leader publishes; resumed, it must not publish the batch it held. Without fencing it does,
    // as Jepsen's etcd 3.4.3 analysis found for lease-based locks.
    let fenced = deposed_publications(&lab, &api, true);
    let unfenced = deposed_publications(&lab, &api, false);
    eprintln!(
        "a paused relay leader published {fenced} events after a newer leader with fencing, {unfenced} without"
    );
    assert_eq!(fenced, 0);
    assert!(
        unfenced > 0,
        "without fencing the deposed leader publishes its batch"
    );

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
