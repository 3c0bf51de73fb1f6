//! The lab's observability on real servers (`checker cluster up system observability`): the
//! service system, Prometheus with the repository's rules and the exporters, and Locust
//! (`tools/locust/run`) driving the hybrid workload through NGINX. Prometheus must scrape every
//! target, every dashboard query must return data after the load, and the api's request counts
//! in Prometheus must agree with Locust's. Needs root; `test.sh` installs what it needs.

mod servers;

use checker::load::{locust, now, observed};
use servers::{wait_for, SystemLab};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use targets::observability::{dashboard, prometheus, query, scrape_targets};

/// Waits until every target has been scraped after `moment`, so an instant query sees what
/// happened before it.
fn scraped_after(client: &query::Client, moment: f64) {
    observed::scraped_after(client, moment).expect("Prometheus answers");
}

fn api_requests(client: &query::Client) -> BTreeMap<(String, String), f64> {
    observed::api_requests(client).expect("the query runs")
}

/// Locust's requests per (protocol, method) from its final statistics, its own "ASYNC visible"
/// entries (not requests) left out, with its failure count.
fn locust_requests(stats: &Path) -> (BTreeMap<(String, String), f64>, u64) {
    let mut counts = BTreeMap::new();
    let mut failures = 0;
    for op in locust::read_stats(stats).expect("Locust's JSON statistics") {
        if !op.is_request() {
            continue;
        }
        failures += op.failures;
        *counts.entry(op.api_labels()).or_insert(0.0) += op.requests as f64;
    }
    (counts, failures)
}

#[test]
fn prometheus_sees_every_target_and_agrees_with_locust() {
    let lab = SystemLab::up_all(&["system", "observability"]);
    let prometheus_cluster = lab.cluster("prometheus");
    let client = query::Client::new(
        prometheus::address(&prometheus_cluster),
        Duration::from_secs(5),
    );
    let lab_view = cluster::Lab {
        net: prometheus_cluster.net().clone(),
        state: lab.state.clone(),
    };

    // Every prepared node of every kind that serves metrics, and each one up.
    let expected: Vec<(String, String)> = scrape_targets(&lab_view)
        .into_iter()
        .map(|t| (t.job.to_string(), t.instance))
        .collect();
    assert!(
        expected.len() >= 12,
        "api ×3, worker ×2, etcd ×3, 3 exporters, Prometheus: {expected:?}"
    );
    let mut up = Vec::new();
    wait_for("every target up", Duration::from_secs(60), || {
        up = client.instant("up", None).unwrap_or_default();
        let mut seen: Vec<(String, String)> = up
            .iter()
            .filter(|s| s.samples.first().is_some_and(|&(_, v)| v == 1.0))
            .map(|s| (s.labels["job"].clone(), s.labels["instance"].clone()))
            .collect();
        seen.sort();
        let mut wanted = expected.clone();
        wanted.sort();
        seen == wanted
    });
    eprintln!("Prometheus: up == 1 for all {} targets", expected.len());

    // A moderate hybrid load through NGINX: REST, gRPC and async writes followed to visibility.
    scraped_after(&client, now());
    let before = api_requests(&client);
    let out = tempdir("locust");
    let nginx = lab.cluster("nginx");
    let locust = locust_command()
        .args([
            "--headless",
            "-u",
            "10",
            "-r",
            "10",
            "-t",
            "20s",
            "--only-summary",
        ])
        .args(["--host", &targets::service::balancer::http_url(&nginx)])
        .arg("--json-file")
        .arg(out.join("run"))
        .arg("MixedUser")
        .output()
        .expect("tools/locust/run runs (./test.sh installs it)");
    let summary = String::from_utf8_lossy(&locust.stderr);
    let (locust_counts, failures) = locust_requests(&out.join("run.json"));
    assert!(
        locust.status.success() && failures == 0,
        "Locust had {failures} failures:\n{summary}"
    );

    // Prometheus's count of each operation against Locust's: the same requests, within 1 %.
    scraped_after(&client, now());
    let after = api_requests(&client);
    let mut total = (0.0, 0.0);
    for (key, &sent) in &locust_counts {
        let counted =
            after.get(key).copied().unwrap_or(0.0) - before.get(key).copied().unwrap_or(0.0);
        eprintln!(
            "  {} {:<24} Locust {sent:>6}  Prometheus {counted:>6}",
            key.0, key.1
        );
        total.0 += sent;
        total.1 += counted;
    }
    let gap = (total.0 - total.1).abs() / total.0;
    eprintln!(
        "requests: Locust {} Prometheus {} ({:.2} % apart)",
        total.0,
        total.1,
        gap * 100.0
    );
    assert!(total.0 > 500.0, "a load worth comparing: {}", total.0);
    assert!(
        gap <= 0.01,
        "Locust {} against Prometheus {}",
        total.0,
        total.1
    );

    // Distributed Locust: a master and two workers on this machine share the same load.
    let run = |role: &[&str]| {
        locust_command()
            .args(role)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("tools/locust/run runs")
    };
    let master = run(&[
        "--master",
        "--headless",
        "-u",
        "6",
        "-r",
        "6",
        "-t",
        "8s",
        "--expect-workers",
        "2",
        "--host",
        &targets::service::balancer::http_url(&nginx),
        "--json-file",
        &out.join("distributed").to_string_lossy(),
        "MixedUser",
    ]);
    let workers = [run(&["--worker"]), run(&["--worker"])];
    let finished = master.wait_with_output().expect("the master finishes");
    for worker in workers {
        let _ = worker.wait_with_output();
    }
    let (distributed, failures) = locust_requests(&out.join("distributed.json"));
    let sent: f64 = distributed.values().sum();
    eprintln!("distributed Locust, two workers: {sent} requests, {failures} failures");
    assert!(finished.status.success() && failures == 0 && sent > 50.0);

    // Every query of every dashboard returns data now.
    let mut empty = Vec::new();
    let mut queries = 0;
    for board in dashboard::all().expect("valid dashboards") {
        for panel in &board.panels {
            for q in &panel.queries {
                queries += 1;
                let series = client.instant(&q.expr, None).expect("the query runs");
                if series.is_empty() {
                    empty.push(format!("{} / {}: {}", board.title, panel.title, q.expr));
                }
            }
        }
    }
    eprintln!(
        "dashboards: {queries} queries, {} without data",
        empty.len()
    );
    assert!(
        empty.is_empty(),
        "queries without data:\n{}",
        empty.join("\n")
    );

    integrated_run(&lab, &prometheus_cluster, &out);
}

/// `checker run --load locust`: a consistency workload, Locust's hybrid load and partitions at
/// once, and one report of the verdicts, the load and Prometheus's panels.
fn integrated_run(lab: &SystemLab, prometheus_cluster: &cluster::Cluster, out: &Path) {
    let net = prometheus_cluster.net();
    let dir = out.join("integrated");
    let run = servers::checker_on(net)
        .args(["run", "--workload", "register", "--target", "system-strong"])
        .args(["--nemesis", "partition", "--time-limit", "16", "--quiet"])
        .args(["--fault-interval", "3", "--fault-duration", "3"])
        .args(["--load", "locust", "--load-users", "4:4:8"])
        .arg("--state")
        .arg(&lab.state)
        .arg("--out")
        .arg(&dir)
        .output()
        .expect("checker runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    eprintln!("{said}");
    assert_eq!(
        run.status.code(),
        Some(0),
        "a valid run, its load counted: {said}"
    );

    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).expect("run.json"))
            .expect("run.json is JSON");
    let load: checker::load::LoadReport =
        serde_json::from_value(file["load"].clone()).expect("the load's figures");
    assert!(
        load.requests() > 100,
        "Locust loaded the system: {}",
        load.requests()
    );
    assert_eq!(
        load.steps.len(),
        2,
        "two steps of 4 and 8 users: {:?}",
        load.steps
    );
    assert!(
        load.steps.iter().all(|s| s.resources.is_some()),
        "resources per step"
    );
    let agreement = load.agreement.as_ref().expect("Prometheus's counts");
    assert_eq!(agreement.agrees(), Some(true), "{agreement:?}");
    let rate = load
        .panels
        .iter()
        .find(|p| p.title == "Request rate")
        .expect("the overview's request rate");
    assert!(!rate.series.is_empty(), "the request rate has data");

    let page = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    assert!(page.contains("The system during the run"));
    assert!(
        page.contains("class=\"plot panel\"") && page.contains("class=\"fault partition\""),
        "the panels with the partitions shaded"
    );
    for file in [
        "load/locust.html",
        "load/locust.json",
        "load/locust_stats_history.csv",
    ] {
        assert!(dir.join(file).is_file(), "{file}");
    }
}

/// `tools/locust/run` with the lab's locustfile.
fn locust_command() -> std::process::Command {
    let mut command =
        std::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../tools/locust/run"));
    command.args([
        "-f",
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../workloads/locust/locustfile.py"
        ),
    ]);
    command
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("observability-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
