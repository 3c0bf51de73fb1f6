//! Real clusters on one machine: each node a real server process in its
//! own network namespace ([`crate::netns`]), its state under the lab's
//! folder (`.lab/<kind>/n<i>/`: data, `server.log`, `pid`), so that one
//! `checker` invocation can bring a cluster up and another can fault it,
//! inspect it or tear it down (Jepsen's `db`).
//!
//! A [`Server`] says how one kind of server is prepared, started and
//! probed; a [`Cluster`] does the rest the same way for every kind.

pub mod cassandra;
pub mod etcd;
pub mod kafka;
pub mod postgres;
pub mod probe;

use crate::netns::{self, Host, Net};
use crate::{faketime, iptables, process, NemesisError};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

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
    /// Whether what it needs is installed, fetching what the lab can fetch
    /// itself into `cluster`'s state (Kafka's jars); the error names the
    /// setup step.
    fn check_installed(&self, cluster: &Cluster) -> Result<(), NemesisError>;
    /// Prepares `node`'s data folder before its first start (the nodes
    /// before it are already up when [`Server::one_by_one`] holds).
    fn prepare(&self, cluster: &Cluster, node: usize) -> Result<(), NemesisError>;
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
}

/// The servers `checker cluster` knows, by name.
pub fn server(name: &str) -> Option<Box<dyn Server>> {
    match name {
        "etcd" => Some(Box::new(etcd::Etcd)),
        "postgres" => Some(Box::new(postgres::Postgres)),
        "kafka" => Some(Box::new(kafka::Kafka)),
        "cassandra" => Some(Box::new(cassandra::Cassandra)),
        _ => None,
    }
}

/// The names [`server`] accepts.
pub const SERVERS: &[&str] = &["etcd", "postgres", "cassandra", "kafka"];

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
    /// Rules in its INPUT chain (partitions in force).
    pub rules: usize,
}

/// One cluster of one kind of server.
pub struct Cluster {
    net: Net,
    state: PathBuf,
    server: Box<dyn Server>,
}

impl Cluster {
    /// The cluster of `server` on `net`, with its state under `state`
    /// (the lab's folder, `.lab` by default).
    pub fn new(server: Box<dyn Server>, net: Net, state: &Path) -> Cluster {
        Cluster {
            net,
            // Absolute: servers resolve paths from their own working folder.
            state: std::path::absolute(state).unwrap_or_else(|_| state.to_path_buf()),
            server,
        }
    }

    /// The server kind's name.
    pub fn name(&self) -> &'static str {
        self.server.name()
    }

    /// How many nodes.
    pub fn nodes(&self) -> usize {
        self.server.nodes()
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
    pub fn up(&self) -> Result<(), NemesisError> {
        self.up_reporting(&mut |_| {})
    }

    /// [`Cluster::up`], telling `report` what happens (`n1 started`,
    /// `n1 ready after 12.3 s`): JVM servers take tens of seconds.
    pub fn up_reporting(&self, report: &mut dyn FnMut(&str)) -> Result<(), NemesisError> {
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
            if self.pid(node).is_some() {
                continue;
            }
            let dir = self.dir(node);
            std::fs::create_dir_all(&dir)
                .map_err(|e| NemesisError(format!("cannot create {}: {e}", dir.display())))?;
            let prepared = dir.join("prepared");
            if !prepared.exists() {
                self.server.prepare(self, node)?;
                std::fs::write(&prepared, "").map_err(|e| {
                    NemesisError(format!("cannot write {}: {e}", prepared.display()))
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
        Ok(())
    }

    fn wait_ready(&self, node: usize, since: Instant) -> Result<(), NemesisError> {
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

    fn failed(&self, node: usize, what: &str) -> NemesisError {
        let log = self.log(node);
        NemesisError(format!(
            "{} node n{} {what}; last lines of {}:\n{}",
            self.name(),
            node + 1,
            log.display(),
            process::tail(&log, 15)
        ))
    }

    /// Starts `node`'s server in its namespace (it must be prepared).
    pub fn start(&self, node: usize) -> Result<u32, NemesisError> {
        let host = self.host(node);
        let inner = self.server.command(self, node);
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
        if self.server.fakes_clock() {
            faketime::ensure(&self.clock_file(node))?;
        }
        process::spawn(&mut command, &self.log(node), &self.pid_file(node))
    }

    /// Crashes `node` (SIGKILL) and waits until it is gone.
    pub fn kill(&self, node: usize) -> Result<(), NemesisError> {
        if let Some(pid) = self.pid(node) {
            process::signal(pid, libc::SIGKILL)?;
            process::wait_gone(pid, Duration::from_secs(10));
        }
        Ok(())
    }

    /// Starts `node` again if it is not running.
    pub fn restart(&self, node: usize) -> Result<(), NemesisError> {
        if self.pid(node).is_none() {
            self.start(node)?;
        }
        Ok(())
    }

    /// Freezes `node` (SIGSTOP).
    pub fn pause(&self, node: usize) -> Result<(), NemesisError> {
        match self.pid(node) {
            Some(pid) => process::signal(pid, libc::SIGSTOP),
            None => Ok(()),
        }
    }

    /// Resumes a frozen `node` (SIGCONT).
    pub fn resume(&self, node: usize) -> Result<(), NemesisError> {
        match self.pid(node) {
            Some(pid) => process::signal(pid, libc::SIGCONT),
            None => Ok(()),
        }
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
    pub fn skew_clock(&self, node: usize, offset_ns: i64) -> Result<(), NemesisError> {
        if !self.server.fakes_clock() {
            return Err(NemesisError(format!(
                "clock skew is not supported on {} (libfaketime cannot move a Go binary's clock)",
                self.name()
            )));
        }
        faketime::set(&self.clock_file(node), offset_ns)
    }

    /// Cuts every link between different groups of nodes.
    pub fn partition(&self, groups: &[Vec<usize>]) -> Result<(), NemesisError> {
        iptables::partition(&self.hosts(), groups)
    }

    /// Cuts the directed links `(from, to)`.
    pub fn cut(&self, links: &[(usize, usize)]) -> Result<(), NemesisError> {
        for &(from, to) in links {
            iptables::cut(&self.host(from), &self.host(to))?;
        }
        Ok(())
    }

    /// Removes every partition rule on every node.
    pub fn heal_network(&self) -> Result<(), NemesisError> {
        for host in self.hosts() {
            if self.net.namespaces()?.contains(&host.namespace) {
                iptables::heal(&host)?;
            }
        }
        Ok(())
    }

    /// Undoes every fault: network healed, paused nodes resumed, crashed
    /// nodes restarted. Idempotent.
    pub fn heal_all(&self) -> Result<(), NemesisError> {
        self.heal_network()?;
        for node in 0..self.nodes() {
            self.resume(node)?;
            if self.server.fakes_clock() && self.clock_file(node).exists() {
                self.skew_clock(node, 0)?;
            }
            if self.dir(node).join("prepared").exists() {
                self.restart(node)?;
            }
        }
        Ok(())
    }

    /// Each node's state.
    pub fn status(&self) -> Result<Vec<NodeStatus>, NemesisError> {
        let namespaces = self.net.namespaces()?;
        (0..self.nodes())
            .map(|node| {
                let host = self.host(node);
                let pid = self.pid(node);
                let exists = namespaces.contains(&host.namespace);
                Ok(NodeStatus {
                    node,
                    pid,
                    paused: pid.is_some_and(process::stopped),
                    ready: pid.is_some() && self.server.ready(self, node),
                    rules: if exists { iptables::rules(&host)? } else { 0 },
                    host,
                })
            })
            .collect()
    }

    /// Whether every node runs and answers.
    pub fn is_up(&self) -> bool {
        (0..self.nodes()).all(|n| self.pid(n).is_some() && self.server.ready(self, n))
    }

    /// Stops every node (SIGTERM, then SIGKILL after 10 s), deletes its
    /// namespace and data (logs stay, for post-mortems), and deletes the
    /// bridge when no namespace of the lab is left. Idempotent.
    pub fn down(&self) -> Result<(), NemesisError> {
        netns::require_root(&format!("stopping the {} cluster", self.name()))?;
        for node in 0..self.nodes() {
            if let Some(pid) = self.pid(node) {
                process::stop(pid, Duration::from_secs(10))?;
            }
            let _ = std::fs::remove_file(self.pid_file(node));
            self.net.remove_host(&self.host(node).namespace)?;
            for stale in [self.data_dir(node), self.dir(node).join("prepared")] {
                let _ = std::fs::remove_dir_all(&stale).or_else(|_| std::fs::remove_file(&stale));
            }
        }
        if self.net.namespaces()?.is_empty() {
            self.net.remove_bridge()?;
        }
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

/// Undoes every fault the lab may have left on this machine, whatever
/// run left it: flushes the partition rules of every namespace of the
/// lab's, resumes paused nodes and restarts crashed ones of every cluster
/// with state under `state`. Returns what it did, a line per action.
pub fn heal_lab(net: &Net, state: &Path) -> Result<Vec<String>, NemesisError> {
    netns::require_root("healing the lab's faults")?;
    let mut done = Vec::new();
    for namespace in net.namespaces()? {
        let host = Host {
            namespace: namespace.clone(),
            address: net.bridge_address(),
        };
        let rules = iptables::rules(&host)?;
        if rules > 0 {
            iptables::heal(&host)?;
            done.push(format!("removed {rules} rule(s) in namespace {namespace}"));
        }
    }
    for name in SERVERS {
        let Some(server) = server(name) else { continue };
        let cluster = Cluster::new(server, net.clone(), state);
        for node in 0..cluster.nodes() {
            if !cluster.dir(node).join("prepared").exists() {
                continue;
            }
            if cluster.fakes_clock() && cluster.clock_file(node).exists() {
                let skewed = std::fs::read_to_string(cluster.clock_file(node))
                    .is_ok_and(|t| t.trim() != faketime::offset_text(0));
                if skewed {
                    cluster.skew_clock(node, 0)?;
                    done.push(format!("reset the clock of {name} n{}", node + 1));
                }
            }
            match cluster.pid(node) {
                Some(pid) if process::stopped(pid) => {
                    cluster.resume(node)?;
                    done.push(format!("resumed {name} n{}", node + 1));
                }
                Some(_) => {}
                None => {
                    cluster.restart(node)?;
                    done.push(format!("restarted {name} n{}", node + 1));
                }
            }
        }
    }
    Ok(done)
}
