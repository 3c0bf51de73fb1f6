//! The control plane: etcd (the node's main program), then kube-apiserver,
//! kube-controller-manager and kube-scheduler beside it, in one namespace of the lab.
//!
//! Tuned for a lab whose nodes are failed on purpose: the controller manager marks a silent node
//! `NotReady` after 20 s (`--node-monitor-grace-period`, 50 s by default) and pods tolerate a
//! not-ready or unreachable node for 30 s (the apiserver's default tolerations, 300 s by
//! default), so a stopped node's pods are rescheduled within about a minute.

use super::pki::{kubeconfig, Leaf, CA, FRONT_PROXY_CA, SERVICE_ACCOUNT};
use super::{bin, write, API_PORT, API_SERVICE_IP, SERVICE_CIDR};
use cluster::{probe, Cluster, ClusterError, Companion, Server};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::Command;
use std::time::Duration;

/// The control plane's server kind.
pub struct ControlPlane;

/// etcd's client port, on the control plane's address.
pub const ETCD_PORT: u16 = 2379;
const ETCD_PEER_PORT: u16 = 2380;

/// Seconds a silent node stays `Ready` (`--node-monitor-grace-period`).
pub const NODE_MONITOR_GRACE_SECONDS: u64 = 20;
/// Seconds pods stay on a `NotReady` or unreachable node before eviction.
pub const EVICTION_TOLERATION_SECONDS: u64 = 30;

/// The client certificates of the control plane's own components and of kube-proxy, each with
/// its kubeconfig: (user, common name, group).
const CLIENTS: &[(&str, &str, Option<&str>)] = &[
    ("admin", "kubernetes-admin", Some("system:masters")),
    ("controller-manager", "system:kube-controller-manager", None),
    ("scheduler", "system:kube-scheduler", None),
    ("kube-proxy", "system:kube-proxy", None),
];

impl ControlPlane {
    fn address(cluster: &Cluster) -> Ipv4Addr {
        cluster.host(0).address
    }
}

impl Server for ControlPlane {
    fn name(&self) -> &'static str {
        "kube-control-plane"
    }

    fn stem(&self) -> &'static str {
        "kcp"
    }

    fn first_address(&self) -> u8 {
        91
    }

    fn nodes(&self) -> usize {
        1
    }

    /// The kube targets fault the nodes, whose pods the lab's partitions do not cut; the
    /// system's checks read its first kind, this one, so it says the same.
    fn partitionable(&self) -> bool {
        false
    }

    fn check_installed(&self, _cluster: &Cluster) -> Result<(), ClusterError> {
        bin::folder()?;
        cluster::command::run(Command::new("openssl").arg("version")).map(|_| ())
    }

    /// The PKI afresh, and the kubeconfigs of the administrator, the controller manager, the
    /// scheduler and kube-proxy.
    fn prepare(&self, cluster: &Cluster, node: usize) -> Result<(), ClusterError> {
        let data = cluster.data_dir(node);
        std::fs::create_dir_all(&data)
            .map_err(|e| ClusterError(format!("cannot create {}: {e}", data.display())))?;
        let pki = super::pki(cluster);
        pki.create_authorities()?;
        let address = Self::address(cluster);
        let dns = [
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ];
        pki.issue(&Leaf::server(
            "apiserver",
            "kube-apiserver",
            vec![Ipv4Addr::from(API_SERVICE_IP), address, Ipv4Addr::LOCALHOST],
            dns.iter().map(|d| d.to_string()).collect(),
        ))?;
        pki.issue(&Leaf::client(
            "apiserver-kubelet-client",
            "kube-apiserver-kubelet-client",
            Some("system:masters"),
        ))?;
        pki.issue(&Leaf {
            ca: FRONT_PROXY_CA,
            ..Leaf::client("front-proxy-client", "front-proxy-client", None)
        })?;
        let server = super::api_url(cluster);
        for (user, common_name, group) in CLIENTS {
            pki.issue(&Leaf::client(user, common_name, *group))?;
            write(
                &super::kubeconfig(cluster, user),
                &kubeconfig(&pki, &server, user),
            )?;
        }
        Ok(())
    }

    /// etcd, serving the apiserver alone (plain HTTP on the control plane's address: the
    /// lab's network is private).
    fn command(&self, cluster: &Cluster, node: usize) -> Command {
        let address = Self::address(cluster);
        let client = format!("http://{address}:{ETCD_PORT}");
        let peer = format!("http://{address}:{ETCD_PEER_PORT}");
        let mut command = bin::command("etcd");
        command
            .args(["--name", "kcp1", "--data-dir"])
            .arg(cluster.data_dir(node).join("etcd"))
            .args([
                "--listen-client-urls",
                &client,
                "--advertise-client-urls",
                &client,
            ])
            .args([
                "--listen-peer-urls",
                &peer,
                "--initial-advertise-peer-urls",
                &peer,
            ])
            .args([
                "--initial-cluster",
                &format!("kcp1={peer}"),
                "--initial-cluster-state",
                "new",
            ]);
        command
    }

    fn companions(&self) -> &'static [Companion] {
        &[
            Companion {
                name: "kube-apiserver",
                command: apiserver,
                may_start: etcd_healthy,
            },
            Companion {
                name: "kube-controller-manager",
                command: controller_manager,
                may_start: api_ready,
            },
            Companion {
                name: "kube-scheduler",
                command: scheduler,
                may_start: api_ready,
            },
        ]
    }

    fn ready(&self, cluster: &Cluster, _node: usize) -> bool {
        api_ready(cluster, 0)
    }

    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(120)
    }

    /// The PKI and kubeconfigs go with the cluster (the nodes' are gone by now: they go down
    /// first).
    fn clean(&self, cluster: &Cluster) -> Result<(), ClusterError> {
        let shared = super::shared_dir(cluster);
        let _ = std::fs::remove_dir_all(super::pki(cluster).dir());
        for (user, ..) in CLIENTS {
            let _ = std::fs::remove_file(super::kubeconfig(cluster, user));
        }
        let _ = std::fs::remove_dir(shared);
        Ok(())
    }
}

fn etcd_healthy(cluster: &Cluster, _node: usize) -> bool {
    let addr = SocketAddr::new(ControlPlane::address(cluster).into(), ETCD_PORT);
    probe::http(addr, "GET", "/health", "", Duration::from_secs(1))
        .is_some_and(|b| b.contains("true"))
}

/// Whether the apiserver says it is ready (`/readyz`, through kubectl: it speaks TLS with the
/// administrator's certificate).
pub fn api_ready(cluster: &Cluster, _node: usize) -> bool {
    let addr = SocketAddr::new(ControlPlane::address(cluster).into(), API_PORT);
    probe::accepts(addr, Duration::from_secs(1))
        && super::kubectl_run(cluster, &["get", "--raw", "/readyz"])
            .is_ok_and(|body| body.trim() == "ok")
}

fn apiserver(cluster: &Cluster, node: usize) -> Command {
    let pki = super::pki(cluster);
    let address = ControlPlane::address(cluster);
    let mut command = bin::command("kube-apiserver");
    // 0.0.0.0 inside the namespace: pods reach the `kubernetes` Service through the node's
    // address, and a loopback-bound apiserver would not answer them.
    command
        .args([
            "--bind-address=0.0.0.0",
            &format!("--secure-port={API_PORT}"),
        ])
        .arg(format!("--advertise-address={address}"))
        .arg(format!("--etcd-servers=http://{address}:{ETCD_PORT}"))
        .arg(format!("--service-cluster-ip-range={SERVICE_CIDR}"))
        .args([
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
        ])
        .arg("--allow-privileged=true")
        .arg(format!(
            "--default-not-ready-toleration-seconds={EVICTION_TOLERATION_SECONDS}"
        ))
        .arg(format!(
            "--default-unreachable-toleration-seconds={EVICTION_TOLERATION_SECONDS}"
        ))
        .arg(flag("client-ca-file", &pki.cert(CA)))
        .arg(flag("tls-cert-file", &pki.cert("apiserver")))
        .arg(flag("tls-private-key-file", &pki.key("apiserver")))
        .arg(flag(
            "kubelet-client-certificate",
            &pki.cert("apiserver-kubelet-client"),
        ))
        .arg(flag(
            "kubelet-client-key",
            &pki.key("apiserver-kubelet-client"),
        ))
        .arg(flag("kubelet-certificate-authority", &pki.cert(CA)))
        .arg("--kubelet-preferred-address-types=InternalIP")
        .arg(flag(
            "service-account-key-file",
            &pki.service_account_public(),
        ))
        .arg(flag(
            "service-account-signing-key-file",
            &pki.key(SERVICE_ACCOUNT),
        ))
        .arg("--service-account-issuer=https://kubernetes.default.svc.cluster.local")
        // The aggregation layer, for metrics-server's APIService.
        .arg(flag(
            "requestheader-client-ca-file",
            &pki.cert(FRONT_PROXY_CA),
        ))
        .args([
            "--requestheader-allowed-names=front-proxy-client",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        ])
        .args([
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-username-headers=X-Remote-User",
        ])
        .arg(flag(
            "proxy-client-cert-file",
            &pki.cert("front-proxy-client"),
        ))
        .arg(flag(
            "proxy-client-key-file",
            &pki.key("front-proxy-client"),
        ))
        .arg("--enable-aggregator-routing=true")
        .arg(format!(
            "--cert-dir={}",
            cluster.data_dir(node).join("apiserver").display()
        ));
    command
}

fn controller_manager(cluster: &Cluster, _node: usize) -> Command {
    let pki = super::pki(cluster);
    let config = super::kubeconfig(cluster, "controller-manager");
    let mut command = bin::command("kube-controller-manager");
    command
        .arg(flag("kubeconfig", &config))
        .arg(flag("authentication-kubeconfig", &config))
        .arg(flag("authorization-kubeconfig", &config))
        .arg(format!("--bind-address={}", ControlPlane::address(cluster)))
        .arg(flag("cluster-signing-cert-file", &pki.cert(CA)))
        .arg(flag("cluster-signing-key-file", &pki.key(CA)))
        .arg(flag("root-ca-file", &pki.cert(CA)))
        .arg(flag(
            "service-account-private-key-file",
            &pki.key(SERVICE_ACCOUNT),
        ))
        .args([
            "--use-service-account-credentials=true",
            "--leader-elect=false",
        ])
        .arg(format!("--cluster-cidr={}", super::POD_CIDR))
        .arg(format!("--service-cluster-ip-range={SERVICE_CIDR}"))
        .arg(format!(
            "--node-monitor-grace-period={NODE_MONITOR_GRACE_SECONDS}s"
        ));
    command
}

fn scheduler(cluster: &Cluster, _node: usize) -> Command {
    let config = super::kubeconfig(cluster, "scheduler");
    let mut command = bin::command("kube-scheduler");
    command
        .arg(flag("kubeconfig", &config))
        .arg(flag("authentication-kubeconfig", &config))
        .arg(flag("authorization-kubeconfig", &config))
        .arg(format!("--bind-address={}", ControlPlane::address(cluster)))
        .arg("--leader-elect=false");
    command
}

/// `--name=path`.
fn flag(name: &str, path: &std::path::Path) -> String {
    format!("--{name}={}", path.display())
}
