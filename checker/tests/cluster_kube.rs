//! A real Kubernetes v1.34 cluster on this machine (`checker cluster up kube`): a control plane
//! and three nodes, each node a containerd, a kubelet and kube-proxy in its own network namespace
//! of the lab, with images the lab made (no registry). Needs root, Debian's containerd, runc,
//! containernetworking-plugins, conntrack and busybox-static, and the components
//! `tools/kube/build` builds; `test.sh` installs and builds them all.
//!
//! What it shows, each as an assertion that can fail: the nodes are Ready; a Deployment with
//! required anti-affinity puts one pod on each node, and a NodePort Service on one node reaches
//! all three (kube-proxy and the routes between the nodes' pod networks); CoreDNS resolves a
//! Service's name; metrics-server reports every node; a container over its memory limit is
//! OOM-killed and restarted; a pod over its namespace's ResourceQuota is refused; stopping a
//! node's kubelet makes the node NotReady and its pod is replaced on another node (times
//! printed); and `down` leaves no process, namespace, mount, cgroup, sysctl change or folder.

mod servers;

use cluster::Cluster;
use servers::kube::kubectl;
use servers::{wait_for, SystemLab};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use targets::kube::{self, image::BUSYBOX, node};

fn apply(cluster: &Cluster, name: &str, yaml: &str) {
    let file = kube::shared_dir(cluster).join(format!("test-{name}.yaml"));
    std::fs::write(&file, yaml).expect("write the manifest");
    kubectl(cluster, &["apply", "-f", &file.display().to_string()]);
}

fn jsonpath(control: &Cluster, what: &[&str], path: &str) -> String {
    servers::kube::jsonpath(control, None, what, path)
}

/// The node each pod labelled `app=<app>` runs on, by pod name (Running pods only).
fn placements(control: &Cluster, app: &str) -> Vec<(String, String)> {
    servers::kube::running_pods(control, None, &format!("app={app}"))
}

const WEB: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      # One per node, the store node included.
      tolerations: [{key: lab.consistency/stores, operator: Exists, effect: NoSchedule}]
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - topologyKey: kubernetes.io/hostname
            labelSelector: {matchLabels: {app: web}}
      securityContext: {runAsNonRoot: true}
      containers:
      - name: web
        image: IMAGE
        imagePullPolicy: Never
        command: ["/busybox", "sh", "-c", "mkdir -p /tmp/www && /busybox hostname > /tmp/www/index.html && exec /busybox httpd -f -p 8080 -h /tmp/www"]
        ports: [{containerPort: 8080}]
        readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 2}
        resources: {requests: {cpu: 10m, memory: 16Mi}, limits: {memory: 64Mi}}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080, nodePort: 30080}]
"#;

const DNS_PROBE: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: dns-probe}
spec:
  restartPolicy: Never
  securityContext: {runAsNonRoot: true}
  containers:
  - name: probe
    image: IMAGE
    imagePullPolicy: Never
    command: ["/busybox", "nslookup", "web.default.svc.cluster.local"]
"#;

const HOG: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: hog}
spec:
  restartPolicy: Always
  securityContext: {runAsNonRoot: true}
  containers:
  - name: hog
    image: IMAGE
    imagePullPolicy: Never
    # /dev/zero has no newline: tail holds the whole "last line" in memory, 256 MB of it.
    command: ["/busybox", "sh", "-c", "/busybox head -c 268435456 /dev/zero | /busybox tail -n 1 >/dev/null"]
    resources: {requests: {memory: 32Mi}, limits: {memory: 32Mi}}
"#;

const QUOTA: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: quota-test}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: small, namespace: quota-test}
spec:
  hard: {requests.memory: 64Mi, limits.memory: 128Mi, pods: "2"}
"#;

const TOO_BIG: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: too-big, namespace: quota-test}
spec:
  containers:
  - name: big
    image: IMAGE
    imagePullPolicy: Never
    command: ["/busybox", "sleep", "3600"]
    resources: {requests: {memory: 256Mi}, limits: {memory: 256Mi}}
"#;

const MOVER: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: mover}
spec:
  replicas: 2
  selector: {matchLabels: {app: mover}}
  template:
    metadata: {labels: {app: mover}}
    spec:
      securityContext: {runAsNonRoot: true}
      terminationGracePeriodSeconds: 1
      containers:
      - name: mover
        image: IMAGE
        imagePullPolicy: Never
        command: ["/busybox", "sleep", "3600"]
        resources: {requests: {cpu: 10m, memory: 8Mi}}
"#;

fn with_image(yaml: &str) -> String {
    yaml.replace("IMAGE", BUSYBOX.reference)
}

#[test]
fn a_kubernetes_cluster_schedules_serves_resolves_measures_limits_reschedules_and_cleans_up() {
    let sysctls_before = read_sysctls();
    let folders_before: Vec<bool> = node::MACHINE_FOLDERS
        .iter()
        .map(|f| std::path::Path::new(f).exists())
        .collect();
    let started = Instant::now();
    let lab = SystemLab::up("kube");
    let control = lab.cluster("kube-control-plane");
    let nodes = lab.cluster("kube-node");
    eprintln!(
        "kube: cluster and add-ons up in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let ready = jsonpath(
        &control,
        &["nodes"],
        r#"{range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status} {end}"#,
    );
    for n in 0..nodes.nodes() {
        assert!(
            ready.contains(&format!("{}=True", node::name(n))),
            "node {} not Ready: {ready}",
            node::name(n)
        );
    }

    // Required anti-affinity: one web pod per node.
    apply(&control, "web", &with_image(WEB));
    kubectl(
        &control,
        &["rollout", "status", "deployment/web", "--timeout=120s"],
    );
    let web = placements(&control, "web");
    let web_nodes: BTreeSet<&str> = web.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(web_nodes.len(), 3, "one web pod per node: {web:?}");

    // A NodePort on node 1, from the root namespace: kube-proxy sends requests to the pods on
    // every node, so each pod's name comes back within some tries.
    let node_port = SocketAddr::new(nodes.host(0).address.into(), 30080);
    let pods: BTreeSet<String> = web.iter().map(|(p, _)| p.clone()).collect();
    let mut answered = BTreeSet::new();
    wait_for(
        "every web pod to answer through node 1's NodePort",
        Duration::from_secs(60),
        || {
            if let Some(body) =
                cluster::probe::http(node_port, "GET", "/", "", Duration::from_secs(2))
            {
                answered.insert(body.trim().to_string());
            }
            answered == pods
        },
    );

    // CoreDNS: a pod resolves the Service's name to its ClusterIP.
    let cluster_ip = jsonpath(&control, &["service", "web"], "{.spec.clusterIP}");
    apply(&control, "dns", &with_image(DNS_PROBE));
    wait_for("the DNS probe to finish", Duration::from_secs(60), || {
        jsonpath(&control, &["pod", "dns-probe"], "{.status.phase}") == "Succeeded"
    });
    let answer = kubectl(&control, &["logs", "dns-probe"]);
    assert!(
        answer.contains(&cluster_ip),
        "nslookup web gave {answer:?}, not {cluster_ip}"
    );

    // metrics-server: every node's CPU and memory.
    let mut top = String::new();
    wait_for(
        "kubectl top nodes to list every node",
        Duration::from_secs(120),
        || {
            top =
                kube::kubectl_run(&control, &["top", "nodes", "--no-headers"]).unwrap_or_default();
            (0..nodes.nodes()).all(|n| top.contains(&node::name(n)))
        },
    );
    eprintln!("kube: kubectl top nodes\n{top}");

    // Over its memory limit, a container is OOM-killed and restarted.
    apply(&control, "hog", &with_image(HOG));
    let mut last = String::new();
    wait_for(
        "the memory hog to be OOM-killed and restarted",
        Duration::from_secs(120),
        || {
            last = jsonpath(
            &control,
            &["pod", "hog"],
            "{.status.containerStatuses[0].lastState.terminated.reason} {.status.containerStatuses[0].restartCount}",
        );
            last.starts_with("OOMKilled ")
                && last
                    .trim_start_matches("OOMKilled ")
                    .parse::<u32>()
                    .is_ok_and(|n| n >= 1)
        },
    );
    eprintln!("kube: hog {last}");

    // Over the namespace's ResourceQuota, a pod is refused by admission.
    apply(&control, "quota", QUOTA);
    let file = kube::shared_dir(&control).join("test-too-big.yaml");
    std::fs::write(&file, with_image(TOO_BIG)).expect("write the manifest");
    let refused = kube::kubectl_run(&control, &["apply", "-f", &file.display().to_string()])
        .expect_err("a pod over the quota is refused");
    assert!(refused.to_string().contains("exceeded quota"), "{refused}");

    // A node whose kubelet stops goes NotReady; its pod is evicted and replaced elsewhere.
    apply(&control, "mover", &with_image(MOVER));
    kubectl(
        &control,
        &["rollout", "status", "deployment/mover", "--timeout=120s"],
    );
    let before = placements(&control, "mover");
    let store_node = node::name(node::STORE_NODE);
    assert!(
        before.iter().all(|(_, n)| n != &store_node),
        "pods that do not tolerate the store node's taint stay off it: {before:?}"
    );
    let (moved_pod, victim) = before[0].clone();
    let index = (0..nodes.nodes())
        .find(|&n| node::name(n) == victim)
        .expect("a lab node");
    let stopped = Instant::now();
    nodes
        .kill_companion(index, "kubelet")
        .expect("kill the kubelet");
    wait_for("the node to be NotReady", Duration::from_secs(120), || {
        jsonpath(
            &control,
            &["node", &victim],
            r#"{.status.conditions[?(@.type=="Ready")].status}"#,
        ) != "True"
    });
    let not_ready = stopped.elapsed();
    let mut after = Vec::new();
    wait_for(
        "the pod to be replaced on another node",
        Duration::from_secs(180),
        || {
            after = placements(&control, "mover");
            after.len() == 2 && after.iter().all(|(_, node)| node != &victim)
        },
    );
    let replaced = stopped.elapsed();
    eprintln!(
        "kube: kubelet of {victim} stopped: NotReady after {:.1} s, {moved_pod} replaced after {:.1} s (grace {} s + toleration {} s): {after:?}",
        not_ready.as_secs_f64(),
        replaced.as_secs_f64(),
        kube::control_plane::NODE_MONITOR_GRACE_SECONDS,
        kube::control_plane::EVICTION_TOLERATION_SECONDS,
    );
    nodes.restart(index).expect("start the kubelet again");
    wait_for(
        "the node to be Ready again",
        Duration::from_secs(120),
        || nodes.server().ready(&nodes, index),
    );

    // Down leaves nothing behind.
    let namespaces: Vec<String> = (0..nodes.nodes())
        .map(|n| nodes.host(n).namespace)
        .collect();
    for cluster in lab.clusters.iter().rev() {
        cluster
            .down()
            .unwrap_or_else(|e| panic!("{} down: {e}", cluster.name()));
    }
    let left: Vec<u32> = std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|&pid: &u32| {
            std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
                .is_ok_and(|c| namespaces.iter().any(|ns| c.contains(&format!("/{ns}"))))
        })
        // A killed container whose shim went first is reparented to the machine's init, and is
        // a zombie until init reaps it: it holds nothing, and has left its cgroup already.
        .filter(|&pid| cluster::process::alive(pid))
        .collect();
    assert!(
        left.is_empty(),
        "processes left in the nodes' cgroups: {left:?}"
    );
    let net_left = nodes.net().namespaces().expect("namespaces");
    assert!(
        net_left
            .iter()
            .all(|ns| !ns.contains("knode") && !ns.contains("kcp")),
        "{net_left:?}"
    );
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let state = lab.state.display().to_string();
    assert!(!mounts.contains(&state), "mounts left under {state}");
    for hierarchy in std::fs::read_dir("/sys/fs/cgroup")
        .expect("cgroups")
        .flatten()
    {
        for ns in &namespaces {
            assert!(
                !hierarchy.path().join(ns).exists(),
                "cgroup {} left",
                hierarchy.path().join(ns).display()
            );
        }
    }
    assert!(
        !std::path::Path::new(node::RUNTIME_ROOT).exists(),
        "{} is left",
        node::RUNTIME_ROOT
    );
    assert_eq!(
        read_sysctls(),
        sysctls_before,
        "the kubelet's sysctls are restored"
    );
    for (folder, existed) in node::MACHINE_FOLDERS.iter().zip(folders_before) {
        assert_eq!(
            std::path::Path::new(folder).exists(),
            existed,
            "{folder} as it was"
        );
    }
}

fn read_sysctls() -> Vec<(String, String)> {
    node::SYSCTLS
        .iter()
        .map(|name| {
            let out = std::process::Command::new("sysctl")
                .args(["-n", name])
                .output()
                .expect("sysctl");
            (
                name.to_string(),
                String::from_utf8_lossy(&out.stdout).trim().to_string(),
            )
        })
        .collect()
}
