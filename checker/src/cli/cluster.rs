//! `checker cluster up|down|status|logs` and `checker nemesis heal`: real
//! servers on this machine, one network namespace per node.

use ::cluster::netns::Net;
use ::cluster::{Cluster, Server as _};
use std::path::PathBuf;
use std::time::Instant;

use super::EXIT_BAD_INPUT;

/// The examples, and the servers with their addresses, from [`targets::SYSTEMS`].
fn after_help() -> String {
    let mut text = String::from(
        "Examples:
  checker cluster up etcd          # three etcd members, 10.47.0.11-13, one namespace each
  checker cluster up cassandra     # three Cassandra 5.0 nodes from Maven Central's jars (~1 min)
  checker cluster up system --replicas 5 --workers 3   # the service system and every store it uses
  checker cluster up observability # Prometheus (10.47.0.81:9090) scraping whatever runs, with exporters
  checker cluster up kube          # Kubernetes: a control plane and three nodes (KUBECONFIG=.lab/kube/admin.kubeconfig)
  checker cluster status all
  checker cluster logs postgres --node 2 --lines 100
  checker cluster down all

Servers (addresses on 10.47.0.0/24):
",
    );
    for system in targets::SYSTEMS {
        let own: Vec<String> = system
            .servers
            .iter()
            .map(|server| {
                let first = server.first_address();
                let last = first as usize + server.nodes() - 1;
                format!("{} .{first}-{last}", server.name())
            })
            .collect();
        if !own.is_empty() {
            text.push_str(&format!(
                "  {:<10} {:<14} {}\n",
                system.name,
                own.join(", "),
                system.about
            ));
        }
    }
    text.push_str(
        "
Each node is a real server in its own network namespace on the bridge lab0, so iptables
partitions cut the servers' own traffic. State and logs live under .lab/<server>/n<i>/.
Needs root. `up` is idempotent: running nodes are left as they are. Cassandra and Kafka need
java and mvn (./test.sh installs them); their jars are fetched once into ~/.m2.",
    );
    text
}

#[derive(clap::Args)]
#[command(after_help = after_help())]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Create the namespaces, start the servers, wait until they are ready.
    Up {
        #[command(flatten)]
        which: Which,
        #[command(flatten)]
        size: Size,
    },
    /// Stop the servers, delete their namespaces and data (logs stay).
    Down(Which),
    /// Show each node: address, process, ready, paused, partition rules.
    Status(Which),
    /// Print the last lines of each node's log.
    Logs {
        #[command(flatten)]
        which: Which,
        /// Only this node (1-based).
        #[arg(long)]
        node: Option<usize>,
        /// How many lines per node.
        #[arg(long, default_value = "30")]
        lines: usize,
    },
}

/// The real systems' names, comma-separated.
fn server_names() -> String {
    targets::SYSTEMS
        .iter()
        .filter(|s| s.is_real())
        .map(|s| s.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The service system's size (`up system` only).
#[derive(clap::Args)]
struct Size {
    /// How many api replicas (1-9; default 3), until `checker cluster down`.
    #[arg(long)]
    replicas: Option<usize>,
    /// How many workers (1-9; default 2), until `checker cluster down`.
    #[arg(long)]
    workers: Option<usize>,
}

impl Size {
    /// The count asked for `cluster`'s kind, if any.
    fn of(&self, cluster: &Cluster) -> Option<usize> {
        use targets::service::server::{API, WORKER};
        match cluster.name() {
            name if name == API.role => self.replicas,
            name if name == WORKER.role => self.workers,
            _ => None,
        }
    }
}

#[derive(clap::Args)]
struct Which {
    /// The server (see `checker cluster --help`), or all.
    server: String,
    /// The lab's state folder.
    #[arg(long, default_value = ".lab")]
    state: PathBuf,
}

impl Which {
    fn clusters(&self) -> Result<Vec<Cluster>, String> {
        let net = Net::from_env().map_err(|e| e.to_string())?;
        if self.server == "all" {
            return Ok(targets::servers()
                .into_iter()
                .map(|s| Cluster::new(s, net.clone(), &self.state))
                .collect());
        }
        let system = targets::real_system(&self.server).ok_or_else(|| {
            format!(
                "unknown server `{}`; choose one of: {}, all",
                self.server,
                server_names()
            )
        })?;
        // A system's own servers after those of the systems it runs on.
        Ok(system
            .all_servers()
            .into_iter()
            .map(|s| Cluster::new(s, net.clone(), &self.state))
            .collect())
    }
}

/// Runs `checker cluster …`.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let which = match &args.action {
        Action::Up { which, .. } | Action::Logs { which, .. } => which,
        Action::Down(w) | Action::Status(w) => w,
    };
    let mut clusters = match which.clusters() {
        // Down in the reverse order: the services before the stores they use.
        Ok(mut c) if matches!(args.action, Action::Down(_)) => {
            c.reverse();
            c
        }
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(EXIT_BAD_INPUT);
        }
    };
    if let Action::Up { size, .. } = &args.action {
        let asked = size.replicas.is_some() || size.workers.is_some();
        if asked && !clusters.iter().any(|c| size.of(c).is_some()) {
            eprintln!("error: --replicas and --workers size the service system: `checker cluster up system`");
            return Ok(EXIT_BAD_INPUT);
        }
        for cluster in &mut clusters {
            if let Some(nodes) = size.of(cluster) {
                if let Err(e) = cluster.scale(nodes) {
                    eprintln!("error: {e}");
                    return Ok(EXIT_BAD_INPUT);
                }
            }
        }
    }
    for cluster in &clusters {
        match &args.action {
            Action::Up { .. } => {
                let started = Instant::now();
                eprintln!("{}: starting {} nodes…", cluster.name(), cluster.nodes());
                let name = cluster.name();
                cluster.up_reporting(&mut |event| eprintln!("{name}: {event}"))?;
                let addresses: Vec<String> = cluster
                    .hosts()
                    .iter()
                    .map(|h| h.address.to_string())
                    .collect();
                println!(
                    "{}: up in {:.1} s at {}",
                    cluster.name(),
                    started.elapsed().as_secs_f64(),
                    addresses.join(", ")
                );
            }
            Action::Down(_) => {
                cluster.down()?;
                println!("{}: down", cluster.name());
            }
            Action::Status(_) => {
                println!("{}:", cluster.name());
                let rules = nemesis::local::rules(cluster)?;
                for node in cluster.status()? {
                    let process = match node.pid {
                        Some(pid) if node.paused => format!("paused (pid {pid})"),
                        Some(pid) => format!("running (pid {pid})"),
                        None => "not running".into(),
                    };
                    let companions: String = node
                        .companions
                        .iter()
                        .map(|(name, pid)| match pid {
                            Some(pid) => format!(", {name} (pid {pid})"),
                            None => format!(", {name} not running"),
                        })
                        .collect();
                    println!(
                        "  n{}  {:<12} {:<11} {:<24} {}{}{}",
                        node.node + 1,
                        node.host.address,
                        node.host.namespace,
                        process,
                        if node.ready { "ready" } else { "not ready" },
                        companions,
                        if rules[node.node] > 0 {
                            format!(", {} partition rule(s)", rules[node.node])
                        } else {
                            String::new()
                        }
                    );
                }
            }
            Action::Logs { node, lines, .. } => {
                for n in 0..cluster.nodes() {
                    if node.is_some_and(|k| k != n + 1) {
                        continue;
                    }
                    let companions = cluster.server().companions().iter();
                    let logs = std::iter::once(cluster.log(n))
                        .chain(companions.map(|c| cluster.companion_log(n, c.name)));
                    for log in logs {
                        println!("==> {} <==", log.display());
                        println!("{}", ::cluster::process::tail(&log, *lines));
                    }
                }
            }
        }
    }
    if let (Action::Up { .. }, Some(last)) = (&args.action, clusters.last()) {
        if last.name() == targets::kube::node::Node.name() {
            let config = std::path::absolute(targets::kube::admin_kubeconfig(last))?;
            println!("kubeconfig: {}", config.display());
            println!(
                "  export KUBECONFIG={}; export PATH={}:$PATH",
                config.display(),
                targets::kube::bin::folder()?.display()
            );
        }
    }
    // Prometheus scrapes what the lab runs: the lab just changed, so its targets do too.
    if let (Action::Up { .. } | Action::Down(_), Some(any)) = (&args.action, clusters.first()) {
        let lab = ::cluster::Lab {
            net: any.net().clone(),
            state: which.state.clone(),
        };
        targets::observability::refresh(&lab)?;
    }
    Ok(0)
}

#[derive(clap::Args)]
#[command(after_help = "Examples:
  checker nemesis heal             # after a crash or kill -9 of a run

Removes every partition rule in the lab's namespaces, resumes paused servers and restarts crashed
ones. Runs heal on their own at the end of every run, on Ctrl-C and on error; this is for the rest.")]
pub struct NemesisArgs {
    #[command(subcommand)]
    action: NemesisAction,
}

#[derive(clap::Subcommand)]
enum NemesisAction {
    /// Undo every fault the lab left behind.
    Heal {
        /// The lab's state folder.
        #[arg(long, default_value = ".lab")]
        state: PathBuf,
    },
}

/// Runs `checker nemesis …`.
pub fn nemesis(args: NemesisArgs) -> anyhow::Result<u8> {
    let NemesisAction::Heal { state } = args.action;
    let done = nemesis::local::heal_lab(&Net::from_env()?, &state, &targets::servers())?;
    if done.is_empty() {
        println!("nothing to heal");
    }
    for line in done {
        println!("{line}");
    }
    Ok(0)
}
