//! The whole service system deployed on the lab's Kubernetes cluster by its Helm chart
//! (`k8s/chart`): the api, the workers and NGINX on the service nodes, PostgreSQL, Cassandra,
//! Kafka and etcd as StatefulSets on the store node. Needs root and what `cluster_kube.rs` needs;
//! `test.sh` installs and builds it all.
//!
//! What it shows, each as an assertion that can fail: `helm install --wait` leaves every
//! Deployment and StatefulSet ready; every store pod runs on the tainted store node, on a local
//! volume; the release's Prometheus scrapes every api pod with the lab's rules loaded (and sees
//! the load later); a request through NGINX's NodePort is answered by an api pod; the api's
//! replicas are spread over nodes; a `register` run through NGINX is linearizable; a strong write survives
//! its PostgreSQL primary's pod being replaced (time printed); async writes through Kafka and
//! the workers converge in Cassandra; the HPA scales the api up on requests per second per pod
//! (a custom metric, from the release's prometheus-adapter) under a load too light for its CPU
//! target, and under a heavy load, and back down after each (replica counts and times printed);
//! and a node whose kubelet stops has its pods replaced on the other nodes while a `register`
//! run through the system stays valid (times printed).

mod servers;

use cluster::Cluster;
use consistency::Verdict;
use servers::{run_and_judge, wait_for, SystemLab};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use targets::kube::{self, chart, node};
use targets::service::client::{Endpoint, ServiceTarget, Via};
use workloads::Data;

fn jsonpath(control: &Cluster, what: &[&str], path: &str) -> String {
    servers::kube::jsonpath(control, Some(chart::NAMESPACE), what, path)
}

/// The api's pods that run and are not being deleted, with their nodes.
fn api_pods(control: &Cluster) -> Vec<(String, String)> {
    servers::kube::running_pods(
        control,
        Some(chart::NAMESPACE),
        "app.kubernetes.io/name=api",
    )
}

fn target(nodes: &Cluster, node: usize, timeout: Duration) -> Arc<ServiceTarget> {
    Arc::new(target_with(nodes, node, "strong", timeout))
}

fn target_with(
    nodes: &Cluster,
    node: usize,
    consistency: &'static str,
    timeout: Duration,
) -> ServiceTarget {
    let endpoints = vec![Endpoint {
        http: format!("http://{}", chart::http_address(nodes, node)),
        grpc: format!("http://{}", chart::grpc_address(nodes, node)),
    }];
    ServiceTarget::new(endpoints, Data::Registers, consistency, Via::Rest, timeout)
}

/// What the release's Prometheus (its NodePort on node 0) answers to `GET path`, as JSON.
fn prometheus(nodes: &Cluster, path: &str) -> Option<serde_json::Value> {
    let body = cluster::probe::http(
        chart::prometheus_address(nodes, 0),
        "GET",
        path,
        "",
        Duration::from_secs(5),
    )?;
    serde_json::from_str(&body).ok()
}

/// The value of each series of an instant query's answer.
fn samples(answer: &serde_json::Value) -> Vec<f64> {
    answer["data"]["result"]
        .as_array()
        .map(|series| {
            series
                .iter()
                .filter_map(|s| s["value"][1].as_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// What NGINX on node 0 answers to `method path` (with a JSON `body`), if it answers 2xx.
fn through_nginx(nodes: &Cluster, method: &str, path: &str, body: &str) -> Option<String> {
    cluster::probe::http(
        chart::http_address(nodes, 0),
        method,
        path,
        body,
        Duration::from_secs(5),
    )
}

/// Requests from `threads` threads through NGINX until `stop`, each thread starting one every
/// `period` at most (none: as fast as answered); counts the answers.
fn load(
    nodes: &Cluster,
    threads: usize,
    period: Option<Duration>,
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicU64>,
) -> Vec<std::thread::JoinHandle<()>> {
    (0..threads)
        .map(|t| {
            let addr = chart::http_address(nodes, t % nodes.nodes());
            let (stop, answered) = (Arc::clone(&stop), Arc::clone(&answered));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let next = Instant::now() + period.unwrap_or_default();
                    if cluster::probe::http(addr, "GET", "/kv/load", "", Duration::from_secs(2))
                        .is_some()
                    {
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                    // Pacing, not waiting for anything: the load's rate is what is tested.
                    if let Some(rest) = next.checked_duration_since(Instant::now()) {
                        std::thread::sleep(rest);
                    }
                }
            })
        })
        .collect()
}

/// Each api pod's requests per second, as the custom-metrics API serves them to the HPA.
fn requests_per_second(control: &Cluster) -> Vec<(String, f64)> {
    let path = format!(
        "/apis/custom.metrics.k8s.io/v1beta2/namespaces/{}/pods/*/service_requests_per_second?labelSelector=app.kubernetes.io%2Fname%3Dapi",
        chart::NAMESPACE
    );
    let Ok(text) = kube::kubectl_run(control, &["get", "--raw", &path]) else {
        return Vec::new();
    };
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    answer["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| {
                    let pod = item["describedObject"]["name"].as_str()?.to_string();
                    Some((pod, quantity(item["value"].as_str()?)?))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A Kubernetes quantity as the metrics APIs write it ("75", "75133m", "2k").
fn quantity(text: &str) -> Option<f64> {
    let (number, scale) = match text.as_bytes().last()? {
        b'm' => (&text[..text.len() - 1], 1e-3),
        b'k' => (&text[..text.len() - 1], 1e3),
        _ => (text, 1.0),
    };
    Some(number.parse::<f64>().ok()? * scale)
}

/// The api HPA's rescale events: each message ("New size: 3; reason: pods metric … above
/// target") with how many times it was given.
fn rescales(control: &Cluster) -> BTreeMap<String, u64> {
    jsonpath(
        control,
        &[
            "events",
            "--field-selector=involvedObject.kind=HorizontalPodAutoscaler,involvedObject.name=lab-api,reason=SuccessfulRescale",
        ],
        r#"{range .items[*]}{.count} {.message}{"\n"}{end}"#,
    )
    .lines()
    .filter_map(|line| {
        let (count, message) = line.split_once(' ')?;
        Some((message.to_string(), count.parse().ok()?))
    })
    .collect()
}

/// The rescales since `before`.
fn rescales_since(control: &Cluster, before: &BTreeMap<String, u64>) -> Vec<String> {
    rescales(control)
        .into_iter()
        .filter(|(message, count)| before.get(message).is_none_or(|b| count > b))
        .map(|(message, _)| message)
        .collect()
}

/// Runs the `checker` binary on the test's lab; whether it exited 0, and what it said.
fn checker(lab: &SystemLab, nodes: &Cluster, args: &[&str]) -> (bool, String) {
    let output = servers::checker_on(nodes.net())
        .args(args)
        .arg("--state")
        .arg(&lab.state)
        .output()
        .expect("checker runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), said)
}

fn replicas(control: &Cluster) -> u32 {
    jsonpath(control, &["hpa", "lab-api"], "{.status.currentReplicas}")
        .parse()
        .unwrap_or(0)
}

#[test]
fn the_service_system_on_kubernetes_serves_scales_and_survives_a_lost_node() {
    let started = Instant::now();
    let lab = SystemLab::up_all(&["kube"]);
    let control = lab.cluster("kube-control-plane");
    let nodes = lab.cluster("kube-node");
    eprintln!(
        "kube-system: cluster up in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // What the schemas cannot check (admission, quotas), against the live cluster, before
    // anything is applied.
    let validate = std::process::Command::new(chart::chart_dir().join("../validate"))
        .arg("--live")
        .arg(kube::admin_kubeconfig(&control))
        .output()
        .expect("k8s/validate runs");
    assert!(
        validate.status.success(),
        "k8s/validate --live: {}",
        String::from_utf8_lossy(&validate.stderr)
    );
    let installed = checker(&lab, &nodes, &["kube", "install"]);
    assert!(installed.0, "checker kube install: {}", installed.1);
    eprint!("{}", installed.1);

    // Every Deployment and StatefulSet of the release is ready.
    let mut workloads = Vec::new();
    for kind in ["deployments", "statefulsets"] {
        let listed = jsonpath(
            &control,
            &[kind],
            r#"{range .items[*]}{.metadata.name}={.status.readyReplicas}/{.spec.replicas} {end}"#,
        );
        for entry in listed.split_whitespace() {
            let (name, counts) = entry.split_once('=').expect("name=ready/wanted");
            let (ready, wanted) = counts.split_once('/').expect("ready/wanted");
            assert_eq!(ready, wanted, "{kind} {name} not ready: {listed}");
            workloads.push(name.to_string());
        }
    }
    for name in [
        "lab-api",
        "lab-worker",
        "lab-nginx",
        "lab-etcd",
        "lab-postgres",
        "lab-cassandra",
        "lab-kafka",
    ] {
        assert!(
            workloads.iter().any(|w| w == name),
            "{name} missing: {workloads:?}"
        );
    }

    // Nothing was evicted on the way (a store over its ephemeral storage limit would be).
    let evicted = jsonpath(
        &control,
        &["events", "--field-selector=reason=Evicted"],
        "{.items[*].message}",
    );
    assert!(evicted.is_empty(), "pods were evicted: {evicted}");

    // The stores run on the tainted store node only, three members each, every member on a
    // local volume of the lab's pool.
    let store_node = node::name(node::STORE_NODE);
    for store in ["etcd", "postgres", "cassandra", "kafka"] {
        let placed = jsonpath(
            &control,
            &["pods", "-l", &format!("app.kubernetes.io/name={store}")],
            r#"{range .items[*]}{.spec.nodeName} {end}"#,
        );
        assert_eq!(
            placed.split_whitespace().count(),
            3,
            "three {store} members: {placed}"
        );
        assert!(
            placed.split_whitespace().all(|n| n == store_node),
            "{store} pods on {store_node} only: {placed}"
        );
    }
    let claims = jsonpath(
        &control,
        &["pvc"],
        r#"{range .items[*]}{.metadata.name}={.status.phase}/{.spec.storageClassName} {end}"#,
    );
    assert_eq!(
        claims.split_whitespace().count(),
        12,
        "a claim per member: {claims}"
    );
    assert!(
        claims
            .split_whitespace()
            .all(|c| c.ends_with(&format!("=Bound/{}", kube::volumes::STORAGE_CLASS))),
        "every claim bound to the lab's local volumes: {claims}"
    );

    // The Deployment starts with one replica and the HPA raises it to its minimum; the spread is
    // judged once that many run.
    let minimum: usize = jsonpath(&control, &["hpa", "lab-api"], "{.spec.minReplicas}")
        .parse()
        .expect("the HPA's minReplicas");
    let mut pods = Vec::new();
    wait_for(
        "the api's minimum of replicas to run",
        Duration::from_secs(120),
        || {
            pods = api_pods(&control);
            pods.len() >= minimum
        },
    );

    // Through NGINX's NodePort on node 1, an api pod answers and says which it is.
    let body = cluster::probe::http(
        chart::http_address(&nodes, 0),
        "GET",
        "/cluster",
        "",
        Duration::from_secs(5),
    )
    .expect("/cluster through NGINX");
    let me: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let me = me["me"].as_str().expect("me").to_string();
    assert!(
        pods.iter().any(|(pod, _)| pod == &me),
        "{me} is not an api pod: {pods:?}"
    );
    let spread: BTreeSet<&str> = pods.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(
        spread.len(),
        pods.len(),
        "anti-affinity spreads the api's replicas over nodes: {pods:?}"
    );

    // The release's Prometheus scrapes every api pod, with the lab's rules loaded and the
    // dashboards beside it.
    let mut up = Vec::new();
    wait_for(
        "Prometheus to scrape every api pod",
        Duration::from_secs(60),
        || {
            up = prometheus(&nodes, "/api/v1/query?query=up%7Bjob%3D%22api%22%7D")
                .map(|a| samples(&a))
                .unwrap_or_default();
            up.len() == api_pods(&control).len() && up.iter().all(|&v| v == 1.0)
        },
    );
    let rules = prometheus(&nodes, "/api/v1/rules").expect("Prometheus's rules");
    let groups: BTreeSet<&str> = rules["data"]["groups"]
        .as_array()
        .expect("rule groups")
        .iter()
        .filter_map(|g| g["name"].as_str())
        .collect();
    assert_eq!(
        groups,
        BTreeSet::from(["alerts", "golden-signals"]),
        "the lab's rule groups: {rules}"
    );
    let dashboards = jsonpath(&control, &["configmap", "lab-dashboards"], "{.data}");
    for (name, _) in targets::observability::dashboard::DASHBOARDS {
        assert!(
            dashboards.contains(name),
            "{name} in the dashboards' ConfigMap"
        );
    }

    // Linearizable through NGINX, the api pods and PostgreSQL.
    let (history, judgement) = run_and_judge(
        target(&nodes, 0, Duration::from_secs(5)),
        "register",
        8,
        10,
        100.0,
    );
    assert_eq!(
        judgement.verdict,
        Verdict::Valid,
        "register through the cluster: {:?}",
        judgement.results
    );
    eprintln!(
        "kube-system: register run, {} operations, valid",
        history.len()
    );

    // A strong write survives its primary's pod being replaced: the claim keeps the data.
    let key = format!("kube-durable-{}", std::process::id());
    let written = through_nginx(
        &nodes,
        "PUT",
        &format!("/kv/{key}?consistency=strong"),
        r#"{"value": 41}"#,
    );
    assert!(
        written.as_deref().is_some_and(|r| r.contains("applied")),
        "PUT {key}: {written:?}"
    );
    let uid = || jsonpath(&control, &["pod", "lab-postgres-0"], "{.metadata.uid}");
    let before = uid();
    let replacing = Instant::now();
    servers::kube::kubectl(
        &control,
        &[
            "-n",
            chart::NAMESPACE,
            "delete",
            "pod",
            "lab-postgres-0",
            "--wait=true",
        ],
    );
    let mut read = None;
    wait_for(
        "the replaced primary to serve the write",
        Duration::from_secs(180),
        || {
            read = (uid() != before)
                .then(|| through_nginx(&nodes, "GET", &format!("/kv/{key}?consistency=strong"), ""))
                .flatten();
            read.is_some()
        },
    );
    let read: serde_json::Value =
        serde_json::from_str(read.as_deref().unwrap_or_default()).expect("JSON");
    assert_eq!(
        read["value"], 41,
        "{key} after the primary's pod was replaced: {read}"
    );
    eprintln!(
        "kube-system: lab-postgres-0 replaced, {key} read back from its volume after {:.0} s",
        replacing.elapsed().as_secs_f64()
    );

    // Async writes go through Kafka and the workers into Cassandra, all in the cluster: once the
    // queue has drained (as the api says), every replica's final reads agree.
    let (history, judgement) = run_and_judge(
        Arc::new(target_with(&nodes, 1, "async", Duration::from_secs(5)).draining()),
        "register",
        8,
        10,
        50.0,
    );
    assert_eq!(
        judgement.results["convergence"]["valid?"],
        serde_json::Value::Bool(true),
        "async writes converge: {:?}",
        judgement.results["convergence"]
    );
    eprintln!(
        "kube-system: async register run, {} operations, converged",
        history.len()
    );

    // The HPA scales the api on its requests per second per pod, a custom metric the release's
    // metrics adapter serves from Prometheus, under a load too light for its CPU target. First
    // it settles at its minimum (the register run may have scaled it).
    let minimum: u32 = jsonpath(&control, &["hpa", "lab-api"], "{.spec.minReplicas}")
        .parse()
        .expect("the HPA's minReplicas");
    let settle = || {
        wait_for(
            "the HPA to settle at its minimum",
            Duration::from_secs(300),
            || replicas(&control) == minimum,
        )
    };
    settle();
    let per_pod: f64 = jsonpath(
        &control,
        &["hpa", "lab-api"],
        r#"{.spec.metrics[?(@.type=="Pods")].pods.target.averageValue}"#,
    )
    .parse()
    .expect("the HPA's requests per second per pod");
    // Three pods' worth of requests for two pods: the HPA wants a third.
    let paced = 3.0 * per_pod;
    let (stop, answered) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let before = rescales(&control);
    let loading = Instant::now();
    let threads = load(
        &nodes,
        6,
        Some(Duration::from_secs_f64(6.0 / paced)),
        Arc::clone(&stop),
        Arc::clone(&answered),
    );
    let mut served = Vec::new();
    wait_for(
        "the custom-metrics API to serve every api pod's requests per second",
        Duration::from_secs(180),
        || {
            served = requests_per_second(&control);
            let pods: BTreeSet<String> = api_pods(&control).into_iter().map(|(p, _)| p).collect();
            let rated: BTreeSet<String> = served
                .iter()
                .filter(|(_, r)| *r > 1.0)
                .map(|(p, _)| p.clone())
                .collect();
            !pods.is_empty() && pods.is_subset(&rated)
        },
    );
    eprintln!(
        "kube-system: custom metric {:.0} s into {paced:.0} requests/s: {served:?}",
        loading.elapsed().as_secs_f64()
    );
    wait_for(
        "the HPA to scale the api up on requests per second",
        Duration::from_secs(240),
        || replicas(&control) > minimum,
    );
    let up_after = loading.elapsed();
    let decided = rescales_since(&control, &before);
    let cpu = jsonpath(
        &control,
        &["hpa", "lab-api"],
        r#"{.status.currentMetrics[?(@.resource.name=="cpu")].resource.current.averageUtilization}"#,
    );
    stop.store(true, Ordering::Relaxed);
    for thread in threads {
        thread.join().expect("a load thread");
    }
    let rate = answered.load(Ordering::Relaxed) as f64 / loading.elapsed().as_secs_f64();
    assert!(
        decided
            .iter()
            .any(|d| d.contains("reason: pods metric service_requests_per_second above target")),
        "the HPA scaled on something else than requests per second: {decided:?} (CPU {cpu} %)"
    );
    eprintln!(
        "kube-system: HPA {minimum} -> {} replicas on requests per second {:.0} s into {rate:.0} requests/s (target {per_pod} per pod, CPU at {cpu} %)",
        replicas(&control),
        up_after.as_secs_f64()
    );
    settle();

    // And on CPU (and requests per second) under a load as heavy as the api can answer.
    let (stop, answered) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let before = rescales(&control);
    let loading = Instant::now();
    let threads = load(&nodes, 24, None, Arc::clone(&stop), Arc::clone(&answered));
    wait_for(
        "the HPA to scale the api up",
        Duration::from_secs(240),
        || replicas(&control) > minimum,
    );
    let up_after = loading.elapsed();
    // The load goes on 30 s more, for the HPA to go on scaling.
    let mut peak = minimum;
    let more = Instant::now();
    while more.elapsed() < Duration::from_secs(30) {
        peak = peak.max(replicas(&control));
        std::thread::sleep(Duration::from_secs(1));
    }
    let decided = rescales_since(&control, &before);
    stop.store(true, Ordering::Relaxed);
    for thread in threads {
        thread.join().expect("a load thread");
    }
    let rate = answered.load(Ordering::Relaxed) as f64 / loading.elapsed().as_secs_f64();
    // Prometheus saw the load: the api's traffic by its recording rule.
    let seen = prometheus(
        &nodes,
        "/api/v1/query?query=job%3Aservice_requests%3Arate1m%7Bjob%3D%22api%22%7D",
    )
    .map(|a| samples(&a))
    .unwrap_or_default();
    assert!(
        seen.first().is_some_and(|&r| r > 1.0),
        "Prometheus's job:service_requests:rate1m for the api under the load: {seen:?}"
    );
    let unloaded = Instant::now();
    wait_for(
        "the HPA to scale the api back down",
        Duration::from_secs(300),
        || replicas(&control) == minimum,
    );
    eprintln!(
        "kube-system: HPA {minimum} -> {} replicas {:.0} s into a load of {rate:.0} requests/s, up to {peak} within 30 s more ({decided:?}), back to {minimum} {:.0} s after it",
        minimum + 1,
        up_after.as_secs_f64(),
        unloaded.elapsed().as_secs_f64()
    );

    // `checker run` against the chart's system, with the lab's kill fault on the nodes.
    let out = lab.state.join("kube-strong-run");
    let out = out.display().to_string();
    let (valid, said) = checker(
        &lab,
        &nodes,
        &[
            "run",
            "--target",
            "kube-strong",
            "--workload",
            "register",
            "--nemesis",
            "kill",
            "--time-limit",
            "20",
            "--fault-interval",
            "5",
            "--fault-duration",
            "5",
            "--quiet",
            "--out",
            &out,
        ],
    );
    assert!(
        valid,
        "checker run --target kube-strong --nemesis kill: {said}"
    );
    eprintln!("kube-system: checker run --target kube-strong --nemesis kill: valid");

    // A node's kubelet stops during a register run: its api pod is replaced elsewhere, and the
    // run through NGINX (on another node) stays linearizable.
    let pods = api_pods(&control);
    let (lost_pod, victim) = pods[0].clone();
    let index = (0..nodes.nodes())
        .find(|&n| node::name(n) == victim)
        .expect("a lab node");
    let entry = (index + 1) % nodes.nodes();
    // Kill the kubelet 5 s into the run, then watch: the node NotReady, the pod replaced.
    let watching = {
        let (nodes, control) = (Arc::clone(&nodes), Arc::clone(&control));
        let (victim, lost_pod, before) = (victim.clone(), lost_pod.clone(), pods.len());
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(5));
            nodes
                .kill_companion(index, "kubelet")
                .expect("kill the kubelet");
            let stopped = Instant::now();
            let ready = || {
                kube::kubectl_run(
                    &control,
                    &[
                        "get",
                        "node",
                        &victim,
                        "-o",
                        r#"jsonpath={.status.conditions[?(@.type=="Ready")].status}"#,
                    ],
                )
                .unwrap_or_default()
            };
            wait_for("the node to be NotReady", Duration::from_secs(120), || {
                ready() != "True"
            });
            let not_ready = stopped.elapsed();
            wait_for(
                "the lost node's api pod to be replaced",
                Duration::from_secs(180),
                || {
                    let now = api_pods(&control);
                    now.len() >= before
                        && now
                            .iter()
                            .all(|(pod, node)| pod != &lost_pod && node != &victim)
                },
            );
            (not_ready, stopped.elapsed())
        })
    };
    let (history, judgement) = run_and_judge(
        target(&nodes, entry, Duration::from_secs(5)),
        "register",
        8,
        75,
        50.0,
    );
    let (not_ready, replaced) = watching.join().expect("the watcher");
    assert_eq!(
        judgement.verdict,
        Verdict::Valid,
        "register while {victim} is lost: {:?}",
        judgement.results
    );
    eprintln!(
        "kube-system: kubelet of {victim} stopped: NotReady after {:.0} s, {lost_pod} replaced after {:.0} s (grace {} s + toleration {} s); register through {} valid ({} operations)",
        not_ready.as_secs_f64(),
        replaced.as_secs_f64(),
        kube::control_plane::NODE_MONITOR_GRACE_SECONDS,
        kube::control_plane::EVICTION_TOLERATION_SECONDS,
        node::name(entry),
        history.len()
    );
    nodes.restart(index).expect("the kubelet again");
    chart::uninstall(&nodes).expect("helm uninstall");
}
