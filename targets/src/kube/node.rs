//! The nodes: containerd (each node's main program), then the kubelet and kube-proxy beside it,
//! in the node's own namespace of the lab, with its own state under `.lab/kube-node/n<i>/`.
//!
//! Pods get addresses from a CNI bridge (`cni0`) inside the node's namespace, node `i` (from 1)
//! from `10.244.<i>.0/24`; every namespace of the cluster routes each other node's pod range to
//! that node's address, so pods reach each other, the apiserver and the Services (kube-proxy's
//! iptables rules in each node's namespace) without touching the machine's own routes or rules.
//!
//! What cannot be kept inside the lab's folders is recorded and undone at `down`
//! ([`Server::clean`]): the kubelet sets three global sysctls (restored to what they were), it
//! and CNI create `/var/lib/kubelet/device-plugins`, `/var/log/containers` and `/var/lib/cni`
//! (removed if they did not exist), its cgroups (`/sys/fs/cgroup/*/lab-knode<i>`) and mounts
//! (volumes, overlay root file systems, pod namespaces) are removed, and any process left in a
//! node's namespace or cgroups (containerd's shims, containers) is killed. The sockets live in
//! [`RUNTIME_ROOT`], since the lab's state folder may be too deep for a socket's path; it goes
//! at `down` too.

use super::control_plane::ControlPlane;
use super::pki::{kubeconfig, Leaf};
use super::{bin, write, DNS_SERVICE_IP};
use cluster::{netns, Cluster, ClusterError, Companion, Server};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The nodes' server kind.
pub struct Node;

/// The global sysctls the kubelet sets (it wants them so, and they are not per namespace).
pub const SYSCTLS: &[&str] = &[
    "vm.overcommit_memory",
    "kernel.panic",
    "kernel.panic_on_oops",
];

/// Folders outside the lab's own that the kubelet and CNI create.
/// (`/run/containerd` holds containerd's shim sockets, wherever its state is configured.)
pub const MACHINE_FOLDERS: &[&str] = &[
    "/var/lib/kubelet/device-plugins",
    "/var/log/containers",
    "/var/lib/cni",
    "/run/containerd",
];

/// The file in the shared folder recording the machine as it was before the first node started.
const MACHINE_FILE: &str = "machine-before.json";

/// The node that holds the stores (`knode3`): tainted, so that only pods that tolerate
/// [`STORE_TAINT`] run there, and labelled `lab.consistency/role=stores` for them to select it.
pub const STORE_NODE: usize = 2;
/// The label that says what a node is for (`stores` or `services`).
pub const ROLE_LABEL: &str = "lab.consistency/role";
/// The store node's taint.
pub const STORE_TAINT: &str = "lab.consistency/stores=true:NoSchedule";

/// What node `node` is for: `stores` or `services`.
pub fn role(node: usize) -> &'static str {
    if node == STORE_NODE {
        "stores"
    } else {
        "services"
    }
}

/// Node `node`'s name in Kubernetes (`knode1`).
pub fn name(node: usize) -> String {
    format!("knode{}", node + 1)
}

/// Node `node`'s pod range (`10.244.1.0/24`).
pub fn pod_cidr(node: usize) -> String {
    format!("10.244.{}.0/24", node + 1)
}

/// Where the nodes keep what holds sockets: the kubelet's root folder (its plugin and
/// pod-resources sockets) and containerd's sockets. Not in the lab's state folder: a socket's
/// path has at most 107 bytes, and the kubelet's would overflow under a deep state folder.
/// Removed at `down`.
pub const RUNTIME_ROOT: &str = "/var/lib/lab-kube";

/// `node`'s folder under [`RUNTIME_ROOT`] (`/var/lib/lab-kube/lab-knode1`).
pub fn runtime_dir(cluster: &Cluster, node: usize) -> PathBuf {
    Path::new(RUNTIME_ROOT).join(cluster.host(node).namespace)
}

/// containerd's socket on `node`.
pub fn containerd_socket(cluster: &Cluster, node: usize) -> PathBuf {
    runtime_dir(cluster, node).join("containerd.sock")
}

/// The cgroup every pod of `node` lives under (the kubelet's `cgroupRoot`), in every hierarchy.
pub fn cgroup_root(cluster: &Cluster, node: usize) -> String {
    format!("/{}", cluster.host(node).namespace)
}

/// `ctr` (containerd's client, Debian's) talking to `node`'s containerd in Kubernetes' namespace.
pub fn ctr(cluster: &Cluster, node: usize) -> Command {
    let mut command = Command::new("ctr");
    command
        .arg("--address")
        .arg(containerd_socket(cluster, node))
        .args(["--namespace", "k8s.io"]);
    command
}

impl Server for Node {
    fn name(&self) -> &'static str {
        "kube-node"
    }

    fn stem(&self) -> &'static str {
        "knode"
    }

    fn first_address(&self) -> u8 {
        92
    }

    fn max_nodes(&self) -> usize {
        6
    }

    /// Pods send from their own addresses, which the lab's partition rules (by the nodes'
    /// addresses) do not cut.
    fn partitionable(&self) -> bool {
        false
    }

    fn check_installed(&self, _cluster: &Cluster) -> Result<(), ClusterError> {
        bin::folder()?;
        let needed = [
            ("/usr/bin/containerd", "containerd"),
            ("/usr/sbin/runc", "runc"),
            ("/usr/lib/cni/bridge", "containernetworking-plugins"),
            ("/usr/sbin/conntrack", "conntrack"),
            ("/bin/busybox", "busybox-static"),
            ("/usr/bin/podman", "podman"),
        ];
        let missing: Vec<&str> = needed
            .iter()
            .filter(|(path, _)| !Path::new(path).exists())
            .map(|(_, p)| *p)
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(ClusterError(format!(
                "Kubernetes nodes need Debian's {}: apt-get install {}",
                missing.join(", "),
                missing.join(" ")
            )))
        }
    }

    fn prepare(&self, cluster: &Cluster, node: usize) -> Result<(), ClusterError> {
        record_machine(cluster)?;
        let host = cluster.host(node);
        let dir = cluster.data_dir(node);
        let runtime = runtime_dir(cluster, node);
        std::fs::create_dir_all(&runtime)
            .map_err(|e| ClusterError(format!("cannot create {}: {e}", runtime.display())))?;
        let pki = super::pki(cluster);
        let user = format!("kubelet-{}", name(node));
        pki.issue(&Leaf::client(
            &user,
            &format!("system:node:{}", name(node)),
            Some("system:nodes"),
        ))?;
        pki.issue(&Leaf::server(
            &format!("{user}-serving"),
            &name(node),
            vec![host.address],
            vec![name(node)],
        ))?;
        write(
            &super::kubeconfig(cluster, &user),
            &kubeconfig(&pki, &super::api_url(cluster), &user),
        )?;
        write(
            &dir.join("containerd.toml"),
            &containerd_config(cluster, node),
        )?;
        write(&dir.join("kubelet.yaml"), &kubelet_config(cluster, node))?;
        write(&dir.join("kube-proxy.yaml"), &proxy_config(cluster, node))?;
        write(&dir.join("cni/10-lab.conflist"), &cni_config(cluster, node))?;
        // What pods with `dnsPolicy: Default` see: nothing to forward to (nothing leaves the machine).
        write(
            &dir.join("resolv.conf"),
            &format!("nameserver {DNS_SERVICE_IP}\n"),
        )?;
        create_cgroups(&cgroup_root(cluster, node))?;
        // Inside the node's namespace only: it routes its pods' traffic, and bridged traffic
        // meets kube-proxy's iptables rules.
        for sysctl in [
            "net.ipv4.ip_forward=1",
            "net.bridge.bridge-nf-call-iptables=1",
        ] {
            cluster::command::run(
                netns::in_ns(&host.namespace, "sysctl").args(["-q", "-w", sysctl]),
            )?;
        }
        // Pods reach the rest of the lab (its store clusters) from the node's address: those
        // hosts have no route back to the pod ranges. Pod to pod stays routed, unmasqueraded.
        let masquerade = [
            "POSTROUTING",
            "-s",
            super::POD_CIDR,
            "!",
            "-d",
            super::POD_CIDR,
            "-m",
            "comment",
            "--comment",
            "lab pods to the lab",
            "-j",
            "MASQUERADE",
        ];
        let iptables = || netns::in_ns(&host.namespace, "iptables");
        if !cluster::command::succeeds(iptables().args(["-t", "nat", "-C"]).args(masquerade)) {
            cluster::command::run(iptables().args(["-t", "nat", "-A"]).args(masquerade))?;
        }
        Ok(())
    }

    fn command(&self, cluster: &Cluster, node: usize) -> Command {
        let mut command = Command::new("containerd");
        command
            .arg("--config")
            .arg(cluster.data_dir(node).join("containerd.toml"));
        command
    }

    fn companions(&self) -> &'static [Companion] {
        &[
            Companion {
                name: "kubelet",
                command: kubelet,
                may_start: containerd_answers,
            },
            Companion {
                name: "kube-proxy",
                command: kube_proxy,
                may_start: |_, _| true,
            },
        ]
    }

    /// Whether the node is `Ready` in the apiserver.
    fn ready(&self, cluster: &Cluster, node: usize) -> bool {
        let control = crate::service::server::beside(cluster, &ControlPlane);
        let path = "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}";
        super::kubectl_run(&control, &["get", "node", &name(node), "-o", path])
            .is_ok_and(|s| s.trim() == "True")
    }

    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(120)
    }

    /// Routes between the nodes' pod ranges, then the images and the add-ons.
    fn after_up(
        &self,
        cluster: &Cluster,
        report: &mut dyn FnMut(&str),
    ) -> Result<(), ClusterError> {
        route_pods(cluster)?;
        super::addons::install(cluster, report)
    }

    fn clean(&self, cluster: &Cluster) -> Result<(), ClusterError> {
        for node in 0..cluster.nodes().max(self.nodes()) {
            clean_node(cluster, node)?;
            let _ = std::fs::remove_file(super::kubeconfig(
                cluster,
                &format!("kubelet-{}", name(node)),
            ));
        }
        super::addons::remove_files(cluster);
        restore_machine(cluster)
    }
}

/// Every namespace of the cluster (the control plane's and each node's) routes node `j`'s pod
/// range to node `j`'s address; `ip route replace`, so it is idempotent.
fn route_pods(cluster: &Cluster) -> Result<(), ClusterError> {
    let control = crate::service::server::beside(cluster, &ControlPlane);
    let namespaces: Vec<String> = std::iter::once(control.host(0).namespace)
        .chain(cluster.hosts().into_iter().map(|h| h.namespace))
        .collect();
    for namespace in &namespaces {
        for node in 0..cluster.nodes() {
            let host = cluster.host(node);
            if &host.namespace == namespace {
                continue;
            }
            let via = host.address.to_string();
            cluster::command::run(netns::in_ns(namespace, "ip").args([
                "route",
                "replace",
                &pod_cidr(node),
                "via",
                &via,
            ]))?;
        }
    }
    Ok(())
}

fn containerd_answers(cluster: &Cluster, node: usize) -> bool {
    std::os::unix::net::UnixStream::connect(containerd_socket(cluster, node)).is_ok()
}

fn kubelet(cluster: &Cluster, node: usize) -> Command {
    let dir = cluster.data_dir(node);
    let host = cluster.host(node);
    let mut command = bin::command("kubelet");
    command
        .arg(format!("--config={}", dir.join("kubelet.yaml").display()))
        .arg(format!(
            "--kubeconfig={}",
            super::kubeconfig(cluster, &format!("kubelet-{}", name(node))).display()
        ))
        .arg(format!(
            "--root-dir={}",
            runtime_dir(cluster, node).join("kubelet").display()
        ))
        .arg(format!("--hostname-override={}", name(node)))
        .arg(format!("--node-ip={}", host.address))
        .arg(format!(
            "--node-labels=topology.kubernetes.io/zone=zone-{},{ROLE_LABEL}={}",
            node + 1,
            role(node)
        ));
    if node == STORE_NODE {
        command.arg(format!("--register-with-taints={STORE_TAINT}"));
    }
    command
}

fn kube_proxy(cluster: &Cluster, node: usize) -> Command {
    let mut command = bin::command("kube-proxy");
    command.arg(format!(
        "--config={}",
        cluster.data_dir(node).join("kube-proxy.yaml").display()
    ));
    command
}

fn containerd_config(cluster: &Cluster, node: usize) -> String {
    let dir = cluster.data_dir(node);
    let d = |p: &str| dir.join(p).display().to_string();
    format!(
        r#"version = 2
root = "{root}"
state = "{state}"
# Snapshotters this machine cannot use; they would only log errors.
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]

[grpc]
  address = "{socket}"

[plugins."io.containerd.internal.v1.opt"]
  path = "{opt}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause}"
  # This machine denies CAP_SYS_RESOURCE: without this, runc fails to lower oom_score_adj and
  # every pod sandbox fails ("can't get final child's PID from pipe").
  restrict_oom_score_adj = true
  # Pods' network namespaces under the node's own folder, not /var/run/netns.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        # runc's state beside the node's own, not in the machine's /run/containerd/runc.
        Root = "{runc}"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{cni}"
"#,
        root = d("containerd/root"),
        state = d("containerd/state"),
        socket = containerd_socket(cluster, node).display(),
        opt = d("containerd/opt"),
        pause = super::image::PAUSE.reference,
        cni = d("cni"),
        runc = d("runc"),
    )
}

fn kubelet_config(cluster: &Cluster, node: usize) -> String {
    let dir = cluster.data_dir(node);
    let pki = super::pki(cluster);
    let serving = format!("kubelet-{}-serving", name(node));
    let address = cluster.host(node).address;
    format!(
        r#"apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: "{address}"
port: 10250
readOnlyPort: 0
healthzBindAddress: "{address}"
healthzPort: 10248
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: "{ca}"
authorization:
  mode: Webhook
tlsCertFile: "{cert}"
tlsPrivateKeyFile: "{key}"
containerRuntimeEndpoint: "unix://{socket}"
cgroupDriver: cgroupfs
cgroupRoot: "{cgroup}"
failSwapOn: false
clusterDomain: cluster.local
clusterDNS: ["{DNS_SERVICE_IP}"]
resolvConf: "{resolv}"
podLogsDir: "{logs}"
# The machine's disk is shared with everything else: evict only when it is nearly full, and never
# collect images (they cannot be pulled back: there is no registry).
evictionHard:
  memory.available: "200Mi"
  nodefs.available: "1%"
  imagefs.available: "1%"
  nodefs.inodesFree: "1%"
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
# Each node reports the whole machine; keep a little for the rest of the lab.
systemReserved:
  memory: "512Mi"
"#,
        ca = pki.cert(super::pki::CA).display(),
        cert = pki.cert(&serving).display(),
        key = pki.key(&serving).display(),
        socket = containerd_socket(cluster, node).display(),
        cgroup = cgroup_root(cluster, node),
        resolv = dir.join("resolv.conf").display(),
        logs = dir.join("pod-logs").display(),
    )
}

fn proxy_config(cluster: &Cluster, node: usize) -> String {
    let address = cluster.host(node).address;
    format!(
        r#"apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: "{config}"
mode: iptables
clusterCIDR: "{cidr}"
hostnameOverride: "{name}"
bindAddress: "{address}"
healthzBindAddress: "{address}:10256"
metricsBindAddress: "{address}:10249"
nodePortAddresses: ["{address}/32"]
conntrack:
  # 0: leave the machine's conntrack sysctls alone (they are global).
  maxPerCore: 0
  min: 0
"#,
        config = super::kubeconfig(cluster, "kube-proxy").display(),
        cidr = super::POD_CIDR,
        name = name(node),
    )
}

fn cni_config(cluster: &Cluster, node: usize) -> String {
    serde_json::json!({
        "cniVersion": "1.0.0",
        "name": "lab",
        "plugins": [
            {
                "type": "bridge",
                "bridge": "cni0",
                "isGateway": true,
                // Routed, not masqueraded: every namespace of the cluster routes the pod ranges.
                "ipMasq": false,
                "hairpinMode": true,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": pod_cidr(node)}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": cluster.data_dir(node).join("cni-ipam").display().to_string(),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": true}},
        ],
    })
    .to_string()
}

/// The machine as it was before the first node started: the global sysctls' values and which of
/// [`MACHINE_FOLDERS`] existed. Written once; [`restore_machine`] undoes the difference.
fn record_machine(cluster: &Cluster) -> Result<(), ClusterError> {
    let file = super::shared_dir(cluster).join(MACHINE_FILE);
    if file.exists() {
        return Ok(());
    }
    let mut sysctls = serde_json::Map::new();
    for name in SYSCTLS {
        let value = cluster::command::run(Command::new("sysctl").args(["-n", name]))?;
        sysctls.insert(name.to_string(), value.trim().into());
    }
    let existed: Vec<&str> = MACHINE_FOLDERS
        .iter()
        .copied()
        .filter(|f| Path::new(f).exists())
        .collect();
    let record = serde_json::json!({"sysctls": sysctls, "folders_that_existed": existed});
    write(&file, &record.to_string())
}

fn restore_machine(cluster: &Cluster) -> Result<(), ClusterError> {
    let file = super::shared_dir(cluster).join(MACHINE_FILE);
    let Ok(text) = std::fs::read_to_string(&file) else {
        return Ok(());
    };
    let record: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| ClusterError(format!("{} is not what the lab wrote: {e}", file.display())))?;
    if let Some(sysctls) = record["sysctls"].as_object() {
        for (name, value) in sysctls {
            let value = value.as_str().unwrap_or_default();
            cluster::command::run(Command::new("sysctl").args([
                "-q",
                "-w",
                &format!("{name}={value}"),
            ]))?;
        }
    }
    let existed: Vec<&str> = record["folders_that_existed"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str())
        .collect();
    for folder in MACHINE_FOLDERS.iter().filter(|f| !existed.contains(f)) {
        let _ = std::fs::remove_dir_all(folder);
    }
    // /var/lib/kubelet itself, if the device-plugins folder was all the kubelet put there.
    let _ = std::fs::remove_dir("/var/lib/kubelet");
    let _ = std::fs::remove_file(&file);
    Ok(())
}

/// Kills what `node` left running (containerd's shims in its namespace, containers in its
/// cgroups), unmounts what it mounted under its folder, and removes its cgroups.
fn clean_node(cluster: &Cluster, node: usize) -> Result<(), ClusterError> {
    let host = cluster.host(node);
    let cgroup = format!("{}/", cgroup_root(cluster, node));
    let leftovers: Vec<u32> = processes()
        .filter(|&pid| netns::contains(&host.namespace, pid) || in_cgroup(pid, &cgroup))
        .collect();
    for &pid in &leftovers {
        cluster::process::signal(pid, libc::SIGKILL)?;
    }
    for pid in leftovers {
        if !cluster::process::wait_gone(pid, Duration::from_secs(10)) {
            return Err(ClusterError(format!(
                "process {pid} of {} survived SIGKILL for 10 s",
                name(node)
            )));
        }
    }
    unmount_under(&cluster.dir(node))?;
    unmount_under(&runtime_dir(cluster, node))?;
    let _ = std::fs::remove_dir_all(runtime_dir(cluster, node));
    let _ = std::fs::remove_dir(RUNTIME_ROOT);
    remove_cgroups(&cgroup_root(cluster, node));
    Ok(())
}

fn processes() -> impl Iterator<Item = u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
}

/// Whether `pid` is in a cgroup under `prefix` (`/lab-knode1/`) in any hierarchy.
fn in_cgroup(pid: u32, prefix: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup")).is_ok_and(|text| {
        text.lines()
            .filter_map(|line| line.splitn(3, ':').nth(2))
            .any(|path| format!("{path}/").starts_with(prefix))
    })
}

/// Unmounts every mount point under `dir`, deepest first (detached, so a busy one goes too).
fn unmount_under(dir: &Path) -> Result<(), ClusterError> {
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| ClusterError(format!("cannot read /proc/self/mountinfo: {e}")))?;
    let mut points: Vec<PathBuf> = mounts
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|point| PathBuf::from(unescape_mount_path(point)))
        .filter(|point| point.starts_with(&dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    points.dedup();
    for point in points {
        let Ok(c_path) = std::ffi::CString::new(point.as_os_str().as_encoded_bytes()) else {
            continue;
        };
        // SAFETY: a valid NUL-terminated path; umount2 has no other preconditions.
        let rc = unsafe { libc::umount2(c_path.as_ptr(), libc::MNT_DETACH) };
        let error = std::io::Error::last_os_error();
        // EINVAL: not a mount point any more (a parent's detach took it).
        if rc != 0
            && error.raw_os_error() != Some(libc::EINVAL)
            && error.raw_os_error() != Some(libc::ENOENT)
        {
            return Err(ClusterError(format!(
                "cannot unmount {}: {error}",
                point.display()
            )));
        }
    }
    Ok(())
}

/// mountinfo escapes spaces, tabs, newlines and backslashes as octal (`\040`).
fn unescape_mount_path(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let value =
                (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0');
            out.push(value);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Creates the cgroup `root` in every hierarchy: the kubelet wants its `cgroupRoot` to exist.
/// A new cpuset cgroup has no CPUs or memory nodes until it is given its parent's.
fn create_cgroups(root: &str) -> Result<(), ClusterError> {
    let hierarchies = std::fs::read_dir("/sys/fs/cgroup")
        .map_err(|e| ClusterError(format!("cannot list /sys/fs/cgroup: {e}")))?;
    for hierarchy in hierarchies.flatten() {
        let dir = hierarchy.path().join(root.trim_start_matches('/'));
        std::fs::create_dir_all(&dir).map_err(|e| {
            ClusterError(format!("cannot create the cgroup {}: {e}", dir.display()))
        })?;
        for inherited in ["cpuset.cpus", "cpuset.mems"] {
            if let (Ok(value), true) = (
                std::fs::read_to_string(hierarchy.path().join(inherited)),
                dir.join(inherited).exists(),
            ) {
                std::fs::write(dir.join(inherited), value.trim()).map_err(|e| {
                    ClusterError(format!(
                        "cannot write {}: {e}",
                        dir.join(inherited).display()
                    ))
                })?;
            }
        }
    }
    Ok(())
}

/// Removes the cgroup `root` and everything under it in every hierarchy (children first; a
/// cgroup with no process left can be removed with rmdir).
fn remove_cgroups(root: &str) {
    let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    for hierarchy in hierarchies.flatten() {
        let top = hierarchy.path().join(root.trim_start_matches('/'));
        remove_cgroup_tree(&top);
    }
}

fn remove_cgroup_tree(dir: &Path) {
    if let Ok(children) = std::fs::read_dir(dir) {
        for child in children.flatten() {
            if child.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup_tree(&child.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_paths_are_unescaped_as_mountinfo_escapes_them() {
        assert_eq!(unescape_mount_path(r"/a\040b/c"), "/a b/c");
        assert_eq!(unescape_mount_path(r"/plain"), "/plain");
        assert_eq!(unescape_mount_path(r"/end\04"), r"/end\04");
    }

    #[test]
    fn a_cgroup_prefix_matches_the_root_and_below_only() {
        let me = std::process::id();
        assert!(in_cgroup(me, "/"), "every process is under the root");
        assert!(!in_cgroup(me, "/lab-knode-never/"));
    }
}
