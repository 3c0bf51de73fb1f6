//! Real clusters on one machine (Jepsen's `db` and `control`): each node a
//! real server process (and its [`Companion`]s, if any) in its own network
//! namespace ([`netns`]), its state under the lab's folder (`.lab/<kind>/n<i>/`:
//! data, `server.log`, `pid`, a log and pid file per companion),
//! so that one `checker` invocation can bring a cluster up and another can
//! fault it, inspect it or tear it down.
//!
//! - [`Server`]: how one kind of server is prepared, started and probed
//!   (the kinds themselves live with their clients, in the `targets` crate).
//! - [`Cluster`]: the rest, the same way for every kind: up, down, status,
//!   and the process control that faults use (kill, restart, pause,
//!   resume, clock offsets).
//! - [`netns`]: the bridge, namespaces and veths; [`process`]: detached
//!   processes and pid files; [`faketime`]: clock offsets through
//!   libfaketime; [`probe`]: readiness probes; [`command`]: running tools
//!   with errors that say what failed.
//!
//! The faults themselves (iptables partitions, and the `Nemesis` over a
//! cluster) are the `nemesis` crate's.

#![warn(missing_docs)]

pub mod command;
pub mod faketime;
pub mod netns;
pub mod probe;
pub mod process;

use netns::{Host, Net};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Why a cluster could not be brought up, inspected, controlled or taken
/// down; the message names the node, the command and what it printed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ClusterError(pub String);

/// Where the lab's real clusters live: its network and its state folder
/// (`checker cluster up` puts clusters there; runs and faults find them
/// there).
#[derive(Debug, Clone)]
pub struct Lab {
    /// The lab's network.
    pub net: Net,
    /// The lab's state folder.
    pub state: PathBuf,
}

impl Default for Lab {
    /// The defaults of `checker cluster`: `lab0`, 10.47.0.0/24, `.lab`.
    fn default() -> Lab {
        Lab {
            net: Net::default(),
            state: PathBuf::from(".lab"),
        }
    }
}

/// One kind of real server, as the lab runs it.
pub trait Server: Send + Sync {
    /// Its name on the command line (`etcd`).
    fn name(&self) -> &'static str;
    /// The stem of its hosts' names, short enough for link names (`etcd`
    /// gives `lab-etcd1`).
    fn stem(&self) -> &'static str;
    /// The last octet of node 0's address; nodes follow it.
    fn first_address(&self) -> u8;
    /// How many nodes a cluster has.
    fn nodes(&self) -> usize {
        3
    }
    /// The most nodes a cluster of this kind may be scaled to ([`Cluster::scale`]): addresses
    /// from [`Server::first_address`] up to it are this kind's. The default: no scaling.
    fn max_nodes(&self) -> usize {
        self.nodes()
    }
    /// Whether what it needs is installed, fetching what the lab can fetch
    /// itself into `cluster`'s state (Kafka's jars); the error names the
    /// setup step.
    fn check_installed(&self, cluster: &Cluster) -> Result<(), ClusterError>;
    /// Prepares `node`'s data folder before its first start (the nodes
    /// before it are already up when [`Server::one_by_one`] holds).
    fn prepare(&self, cluster: &Cluster, node: usize) -> Result<(), ClusterError>;
    /// The command that runs `node` in the foreground; the cluster runs it
    /// inside the node's namespace.
    fn command(&self, cluster: &Cluster, node: usize) -> Command;
    /// Whether `node` serves requests now.
    fn ready(&self, cluster: &Cluster, node: usize) -> bool;
    /// Whether each node must be ready before the next one starts
    /// (standbys copy the primary; Cassandra nodes join one at a time).
    fn one_by_one(&self) -> bool {
        false
    }
    /// Whether the lab's partitions cut all of its nodes' traffic: they drop packets from the
    /// other nodes' own addresses, so not for a node that forwards traffic of addresses of its
    /// own (a Kubernetes node's pods).
    fn partitionable(&self) -> bool {
        true
    }
    /// Whether it reads the clock through libc, so it runs under
    /// libfaketime and the `clock` fault can skew it (not Go binaries).
    /// Such a server's [`Server::command`] runs its program under
    /// `env` [`faketime::env`]`(cluster.clock_file(node))`.
    fn fakes_clock(&self) -> bool {
        false
    }
    /// The node that leads now, if this kind has a leader and can tell.
    fn leader(&self, _cluster: &Cluster) -> Option<usize> {
        None
    }
    /// How long a whole cluster may take to become ready.
    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(60)
    }
    /// The port on each node's address where it serves Prometheus metrics at `/metrics`, if
    /// it does (the lab's Prometheus scrapes every prepared node of such a kind).
    fn metrics_port(&self) -> Option<u16> {
        None
    }
    /// The programs each node runs beside its main one ([`Server::command`]), started after it
    /// in this order in the same namespace (a Kubernetes node: the kubelet and kube-proxy beside
    /// containerd). Killing, pausing, resuming and stopping a node do the same to all of them.
    fn companions(&self) -> &'static [Companion] {
        &[]
    }
    /// Undoes what the nodes did to the machine beyond their own folders and namespaces
    /// (mounts, cgroups, global sysctls, processes they left), once every node's programs are
    /// stopped and before the namespaces are deleted. Called by every [`Cluster::down`], so it
    /// must be idempotent.
    fn clean(&self, _cluster: &Cluster) -> Result<(), ClusterError> {
        Ok(())
    }
    /// What is done once every node is ready, at the end of each [`Cluster::up`] (Kubernetes'
    /// add-ons: images imported into each node, CoreDNS and metrics-server applied); idempotent.
    fn after_up(
        &self,
        _cluster: &Cluster,
        _report: &mut dyn FnMut(&str),
    ) -> Result<(), ClusterError> {
        Ok(())
    }
}

/// A program a node runs beside its server's main one ([`Server::companions`]), with a pid
/// file and a log of its own in the node's folder (`<name>.pid`, `<name>.log`).
pub struct Companion {
    /// Its name, in file names and messages (`kubelet`).
    pub name: &'static str,
    /// The command that runs it in the foreground on `node`; run inside the node's namespace.
    pub command: fn(&Cluster, usize) -> Command,
    /// Whether what it needs on `node` is there, so that it may start (containerd's socket
    /// answers, for the kubelet); it starts when this holds, or fails after
    /// [`Server::ready_timeout`].
    pub may_start: fn(&Cluster, usize) -> bool,
}

/// The state of one node, as [`Cluster::status`] sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStatus {
    /// Index from 0.
    pub node: usize,
    /// Its namespace and address.
    pub host: Host,
    /// Its process, if one is recorded and alive.
    pub pid: Option<u32>,
    /// Whether the process is frozen (SIGSTOP).
    pub paused: bool,
    /// Whether it answers its readiness probe.
    pub ready: bool,
    /// Whether its namespace exists.
    pub exists: bool,
    /// Its [`Server::companions`], each with its process if alive.
    pub companions: Vec<(&'static str, Option<u32>)>,
}

/// One cluster of one kind of server.
pub struct Cluster {
    net: Net,
    state: PathBuf,
    server: &'static dyn Server,
    /// [`Server::nodes`], or the count [`Cluster::scale`] recorded in the state folder.
    nodes: usize,
}

/// The file in a kind's folder that records the node count it was scaled to.
const SCALE_FILE: &str = "nodes";

impl Cluster {
    /// The cluster of `server` on `net`, with its state under `state`
    /// (the lab's folder, `.lab` by default).
    pub fn new(server: &'static dyn Server, net: Net, state: &Path) -> Cluster {
        // Absolute: servers resolve paths from their own working folder.
        let state = std::path::absolute(state).unwrap_or_else(|_| state.to_path_buf());
        let recorded = std::fs::read_to_string(state.join(server.name()).join(SCALE_FILE))
            .ok()
            .and_then(|text| text.trim().parse::<usize>().ok())
            .filter(|&n| (1..=server.max_nodes()).contains(&n));
        Cluster {
            net,
            state,
            server,
            nodes: recorded.unwrap_or_else(|| server.nodes()),
        }
    }

    /// Makes it `nodes` nodes from now on (every later [`Cluster::new`] on the same state
    /// folder sees it, until [`Cluster::down`]). Growing a running cluster is what `up` does
    /// next; shrinking one that runs nodes beyond `nodes` is refused (take it down first).
    pub fn scale(&mut self, nodes: usize) -> Result<(), ClusterError> {
        let max = self.server.max_nodes();
        if !(1..=max).contains(&nodes) {
            return Err(ClusterError(format!(
                "{} runs 1 to {max} nodes, not {nodes}",
                self.name()
            )));
        }
        if let Some(extra) = (nodes..self.nodes).find(|&n| self.pid(n).is_some()) {
            return Err(ClusterError(format!(
                "{} n{} runs; shrinking a running cluster to {nodes} would orphan it: run \
                 `checker cluster down` first",
                self.name(),
                extra + 1
            )));
        }
        std::fs::create_dir_all(self.kind_dir())
            .and_then(|()| std::fs::write(self.kind_dir().join(SCALE_FILE), format!("{nodes}\n")))
            .map_err(|e| ClusterError(format!("cannot record {}'s size: {e}", self.name())))?;
        self.nodes = nodes;
        Ok(())
    }

    /// The server kind's name.
    pub fn name(&self) -> &'static str {
        self.server.name()
    }

    /// How many nodes.
    pub fn nodes(&self) -> usize {
        self.nodes
    }

    /// The lab's network.
    pub fn net(&self) -> &Net {
        &self.net
    }

    /// Where `node` lives.
    pub fn host(&self, node: usize) -> Host {
        let last = self.server.first_address() + node as u8;
        self.net
            .host(&format!("{}{}", self.server.stem(), node + 1), last)
    }

    /// Every node's host, in order.
    pub fn hosts(&self) -> Vec<Host> {
        (0..self.nodes()).map(|n| self.host(n)).collect()
    }

    /// The folder of this kind's clusters (`.lab/etcd`): the nodes'
    /// folders, and what they share.
    pub fn kind_dir(&self) -> PathBuf {
        self.state.join(self.server.name())
    }

    /// `node`'s folder (`.lab/etcd/n1`).
    pub fn dir(&self, node: usize) -> PathBuf {
        self.kind_dir().join(format!("n{}", node + 1))
    }

    /// `node`'s data folder.
    pub fn data_dir(&self, node: usize) -> PathBuf {
        self.dir(node).join("data")
    }

    /// `node`'s log: the server's stdout and stderr.
    pub fn log(&self, node: usize) -> PathBuf {
        self.dir(node).join("server.log")
    }

    fn pid_file(&self, node: usize) -> PathBuf {
        self.dir(node).join("pid")
    }

    fn companion_pid_file(&self, node: usize, name: &str) -> PathBuf {
        self.dir(node).join(format!("{name}.pid"))
    }

    /// The log of `node`'s companion `name` (`.lab/kube-node/n1/kubelet.log`).
    pub fn companion_log(&self, node: usize, name: &str) -> PathBuf {
        self.dir(node).join(format!("{name}.log"))
    }

    /// The live process of `node`'s companion `name`, checked as [`Cluster::pid`] checks the
    /// main one.
    pub fn companion_pid(&self, node: usize, name: &str) -> Option<u32> {
        let namespace = self.host(node).namespace;
        process::read_pid(&self.companion_pid_file(node, name))
            .filter(|&pid| process::alive(pid) && netns::contains(&namespace, pid))
    }

    /// Every live process of `node`: the main one, then its companions in start order.
    pub fn pids(&self, node: usize) -> Vec<u32> {
        let companions = self.server.companions().iter();
        self.pid(node)
            .into_iter()
            .chain(companions.filter_map(|c| self.companion_pid(node, c.name)))
            .collect()
    }

    /// The programs of `node` that do not run: the kind's name for the main one, then the
    /// companions' names.
    pub fn missing(&self, node: usize) -> Vec<&'static str> {
        let main = self.pid(node).is_none().then(|| self.name());
        let companions = self.server.companions().iter();
        main.into_iter()
            .chain(
                companions
                    .filter(|c| self.companion_pid(node, c.name).is_none())
                    .map(|c| c.name),
            )
            .collect()
    }

    /// `node`'s live process, if any: the recorded pid, alive, and still
    /// inside the node's namespace (so a recycled pid is never mistaken
    /// for the server, and never signalled).
    pub fn pid(&self, node: usize) -> Option<u32> {
        let namespace = self.host(node).namespace;
        process::read_pid(&self.pid_file(node))
            .filter(|&pid| process::alive(pid) && netns::contains(&namespace, pid))
    }

    /// Creates the network, prepares and starts every node that is not
    /// running, and waits until all are ready. Idempotent: a cluster that
    /// is up stays as it is.
    pub fn up(&self) -> Result<(), ClusterError> {
        self.up_reporting(&mut |_| {})
    }

    /// [`Cluster::up`], telling `report` what happens (`n1 started`,
    /// `n1 ready after 12.3 s`): JVM servers take tens of seconds.
    pub fn up_reporting(&self, report: &mut dyn FnMut(&str)) -> Result<(), ClusterError> {
        netns::require_root(&format!("starting the {} cluster", self.name()))?;
        self.server.check_installed(self)?;
        if self.server.fakes_clock() {
            faketime::library()?;
        }
        self.net.ensure_bridge()?;
        let started = Instant::now();
        let mut waiting = Vec::new();
        for node in 0..self.nodes() {
            self.net.add_host(&self.host(node))?;
            if self.missing(node).is_empty() {
                continue;
            }
            let dir = self.dir(node);
            std::fs::create_dir_all(&dir)
                .map_err(|e| ClusterError(format!("cannot create {}: {e}", dir.display())))?;
            let prepared = dir.join("prepared");
            if !prepared.exists() {
                self.server.prepare(self, node)?;
                std::fs::write(&prepared, "").map_err(|e| {
                    ClusterError(format!("cannot write {}: {e}", prepared.display()))
                })?;
            }
            self.start(node)?;
            report(&format!("n{} started", node + 1));
            if self.server.one_by_one() {
                self.wait_ready(node, started)?;
                report(&ready_after(node, started));
            } else {
                waiting.push(node);
            }
        }
        for node in waiting {
            self.wait_ready(node, started)?;
            report(&ready_after(node, started));
        }
        self.server.after_up(self, report)
    }

    fn wait_ready(&self, node: usize, since: Instant) -> Result<(), ClusterError> {
        let limit = self.server.ready_timeout();
        while !self.server.ready(self, node) {
            // Not `self.pid`: a process just spawned may not have entered
            // its namespace yet.
            if !process::read_pid(&self.pid_file(node)).is_some_and(process::alive) {
                return Err(self.failed(node, "exited during start-up"));
            }
            if since.elapsed() > limit {
                return Err(
                    self.failed(node, &format!("was not ready after {} s", limit.as_secs()))
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    fn failed(&self, node: usize, what: &str) -> ClusterError {
        let companions = self.server.companions().iter();
        let logs = std::iter::once(self.log(node))
            .chain(companions.map(|c| self.companion_log(node, c.name)))
            .filter(|log| log.exists());
        let tails: Vec<String> = logs
            .map(|log| {
                format!(
                    "last lines of {}:\n{}",
                    log.display(),
                    process::tail(&log, 15)
                )
            })
            .collect();
        ClusterError(format!(
            "{} node n{} {what}; {}",
            self.name(),
            node + 1,
            tails.join("\n")
        ))
    }

    /// Starts `node`'s programs that do not run, in its namespace (it must be prepared): the
    /// main one, then each companion once it [may start](Companion::may_start).
    pub fn start(&self, node: usize) -> Result<(), ClusterError> {
        if self.pid(node).is_none() {
            if self.server.fakes_clock() {
                faketime::ensure(&self.clock_file(node))?;
            }
            let mut command = self.in_namespace(node, self.server.command(self, node));
            process::spawn(&mut command, &self.log(node), &self.pid_file(node))?;
        }
        for companion in self.server.companions() {
            if self.companion_pid(node, companion.name).is_some() {
                continue;
            }
            let since = Instant::now();
            while !(companion.may_start)(self, node) {
                if since.elapsed() > self.server.ready_timeout() {
                    return Err(self.failed(
                        node,
                        &format!(
                            "could not start {}: what it needs was not there",
                            companion.name
                        ),
                    ));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let mut command = self.in_namespace(node, (companion.command)(self, node));
            let log = self.companion_log(node, companion.name);
            process::spawn(
                &mut command,
                &log,
                &self.companion_pid_file(node, companion.name),
            )?;
        }
        Ok(())
    }

    /// `inner` run in `node`'s namespace, with its arguments, environment and folder.
    fn in_namespace(&self, node: usize, inner: Command) -> Command {
        let host = self.host(node);
        let mut command = netns::in_ns(&host.namespace, &inner.get_program().to_string_lossy());
        command.args(inner.get_args());
        for (key, value) in inner.get_envs() {
            match value {
                Some(value) => command.env(key, value),
                None => command.env_remove(key),
            };
        }
        if let Some(dir) = inner.get_current_dir() {
            command.current_dir(dir);
        }
        command
    }

    /// Crashes `node` (SIGKILL to each of its programs, companions first) and waits until they
    /// are gone.
    pub fn kill(&self, node: usize) -> Result<(), ClusterError> {
        for pid in self.pids(node).into_iter().rev() {
            self.kill_pid(node, pid)?;
        }
        Ok(())
    }

    /// Crashes `node`'s companion `name` alone (SIGKILL), and waits until it is gone: the
    /// kubelet of a Kubernetes node whose containers go on running.
    pub fn kill_companion(&self, node: usize, name: &str) -> Result<(), ClusterError> {
        match self.companion_pid(node, name) {
            Some(pid) => self.kill_pid(node, pid),
            None => Ok(()),
        }
    }

    fn kill_pid(&self, node: usize, pid: u32) -> Result<(), ClusterError> {
        process::signal(pid, libc::SIGKILL)?;
        if !process::wait_gone(pid, Duration::from_secs(10)) {
            // Restarting now would race it for its ports; say so instead.
            return Err(ClusterError(format!(
                "{} node {} (pid {pid}) survived SIGKILL for 10 s",
                self.server.name(),
                node + 1
            )));
        }
        Ok(())
    }

    /// Starts `node`'s programs that are not running.
    pub fn restart(&self, node: usize) -> Result<(), ClusterError> {
        if !self.missing(node).is_empty() {
            self.start(node)?;
        }
        Ok(())
    }

    /// Freezes `node` (SIGSTOP to each of its programs).
    pub fn pause(&self, node: usize) -> Result<(), ClusterError> {
        for pid in self.pids(node) {
            process::signal(pid, libc::SIGSTOP)?;
        }
        Ok(())
    }

    /// Resumes a frozen `node` (SIGCONT to each of its programs).
    pub fn resume(&self, node: usize) -> Result<(), ClusterError> {
        for pid in self.pids(node) {
            process::signal(pid, libc::SIGCONT)?;
        }
        Ok(())
    }

    /// The node that leads now, if the server kind can tell.
    pub fn leader(&self) -> Option<usize> {
        self.server.leader(self)
    }

    /// Whether the `clock` fault can skew this kind of server.
    pub fn fakes_clock(&self) -> bool {
        self.server.fakes_clock()
    }

    /// The file that holds `node`'s clock offset; a server that
    /// [`Server::fakes_clock`] starts its program under
    /// [`faketime::env`] of this file.
    pub fn clock_file(&self, node: usize) -> PathBuf {
        self.dir(node).join("clock-offset")
    }

    /// Moves `node`'s wall clock by `offset_ns` (0 puts it back); the
    /// server sees it within a second.
    pub fn skew_clock(&self, node: usize, offset_ns: i64) -> Result<(), ClusterError> {
        if !self.server.fakes_clock() {
            return Err(ClusterError(format!(
                "clock skew is not supported on {} (libfaketime cannot move a Go binary's clock)",
                self.name()
            )));
        }
        faketime::set(&self.clock_file(node), offset_ns)
    }

    /// Whether `node` was ever prepared (its cluster was brought up and not
    /// taken down since), so that healing knows to restart it.
    pub fn is_prepared(&self, node: usize) -> bool {
        self.dir(node).join("prepared").exists()
    }

    /// The server kind.
    pub fn server(&self) -> &'static dyn Server {
        self.server
    }

    /// Each node's state.
    pub fn status(&self) -> Result<Vec<NodeStatus>, ClusterError> {
        let namespaces = self.net.namespaces()?;
        (0..self.nodes())
            .map(|node| {
                let host = self.host(node);
                let pid = self.pid(node);
                let exists = namespaces.contains(&host.namespace);
                let companions = self.server.companions().iter();
                Ok(NodeStatus {
                    node,
                    pid,
                    paused: pid.is_some_and(process::stopped),
                    ready: pid.is_some() && self.server.ready(self, node),
                    exists,
                    companions: companions
                        .map(|c| (c.name, self.companion_pid(node, c.name)))
                        .collect(),
                    host,
                })
            })
            .collect()
    }

    /// Whether every node runs all its programs and answers.
    pub fn is_up(&self) -> bool {
        (0..self.nodes()).all(|n| self.missing(n).is_empty() && self.server.ready(self, n))
    }

    /// Whether every node runs and answers, waiting up to `limit` for
    /// nodes that run but do not answer yet (a member that was just
    /// resumed, or a cluster electing a leader after a partition healed).
    /// A node that does not run at all fails at once.
    pub fn wait_up(&self, limit: Duration) -> bool {
        let started = Instant::now();
        loop {
            if (0..self.nodes()).any(|n| !self.missing(n).is_empty()) {
                return false;
            }
            if self.is_up() {
                return true;
            }
            if started.elapsed() >= limit {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops every node (each program SIGTERM, companions first, then SIGKILL after 10 s),
    /// undoes what they did to the machine ([`Server::clean`]), deletes their namespaces and
    /// data (logs stay, for post-mortems), and deletes the bridge when no namespace of the
    /// lab is left. Idempotent.
    pub fn down(&self) -> Result<(), ClusterError> {
        netns::require_root(&format!("stopping the {} cluster", self.name()))?;
        for node in 0..self.nodes() {
            for pid in self.pids(node).into_iter().rev() {
                process::stop(pid, Duration::from_secs(10))?;
            }
        }
        self.server.clean(self)?;
        for node in 0..self.nodes() {
            let _ = std::fs::remove_file(self.pid_file(node));
            for companion in self.server.companions() {
                let _ = std::fs::remove_file(self.companion_pid_file(node, companion.name));
            }
            self.net.remove_host(&self.host(node).namespace)?;
            for stale in [self.data_dir(node), self.dir(node).join("prepared")] {
                let _ = std::fs::remove_dir_all(&stale).or_else(|_| std::fs::remove_file(&stale));
            }
        }
        if self.net.namespaces()?.is_empty() {
            self.net.remove_bridge()?;
        }
        // Down, it is back to its default size.
        let _ = std::fs::remove_file(self.kind_dir().join(SCALE_FILE));
        Ok(())
    }
}

fn ready_after(node: usize, since: Instant) -> String {
    format!(
        "n{} ready after {:.1} s",
        node + 1,
        since.elapsed().as_secs_f64()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A kind that scales to 5 nodes; nothing of it ever runs here.
    struct Scalable;

    impl Server for Scalable {
        fn name(&self) -> &'static str {
            "scalable"
        }
        fn stem(&self) -> &'static str {
            "scl"
        }
        fn first_address(&self) -> u8 {
            200
        }
        fn max_nodes(&self) -> usize {
            5
        }
        fn check_installed(&self, _: &Cluster) -> Result<(), ClusterError> {
            Ok(())
        }
        fn prepare(&self, _: &Cluster, _: usize) -> Result<(), ClusterError> {
            Ok(())
        }
        fn command(&self, _: &Cluster, _: usize) -> Command {
            Command::new("true")
        }
        fn ready(&self, _: &Cluster, _: usize) -> bool {
            false
        }
    }

    #[test]
    fn a_scaled_size_is_seen_by_every_later_cluster_on_the_same_state_and_bounded() {
        let state = std::env::temp_dir().join(format!("cluster-scale-{}", std::process::id()));
        let net = Net::default();
        let mut cluster = Cluster::new(&Scalable, net.clone(), &state);
        assert_eq!(cluster.nodes(), 3, "the kind's default");
        cluster.scale(5).expect("within bounds");
        assert_eq!(Cluster::new(&Scalable, net.clone(), &state).nodes(), 5);
        assert_eq!(cluster.hosts().len(), 5);
        let refused = cluster.scale(6).unwrap_err().to_string();
        assert!(refused.contains("1 to 5"), "{refused}");
        assert!(cluster.scale(0).is_err());
        cluster
            .scale(2)
            .expect("nothing runs, so shrinking is fine");
        assert_eq!(Cluster::new(&Scalable, net, &state).nodes(), 2);
        let _ = std::fs::remove_dir_all(&state);
    }
}
