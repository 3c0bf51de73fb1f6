//! MariaDB 10.11 with Galera 4 (Debian's `mariadb-server` and `galera-4`): three nodes, each
//! in its own namespace, replicating every write set to the others synchronously
//! (certification-based, virtually synchronous replication). Any node takes writes.
//!
//! The nodes run as the `mysql` user: Galera's rsync state transfer, which copies the data of
//! a running node to a joining one, fails for a server running as root. Node 1 bootstraps a
//! new cluster when no other node runs; a node that starts while others run joins them
//! (after a kill, too) and catches up by incremental or full state transfer.

use cluster::command::run;
use cluster::faketime;
use cluster::ClusterError;
use cluster::{Cluster, Server};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The MariaDB Galera server kind.
pub struct Galera;

/// The server program.
pub const MARIADBD: &str = "/usr/sbin/mariadbd";
/// Galera's replication library.
pub const PROVIDER: &str = "/usr/lib/galera/libgalera_smm.so";
/// The SQL port every node listens on (each on its own address).
pub const PORT: u16 = 3306;
/// The user clients connect as (no password: the lab's network is private).
pub const USER: &str = "lab";
/// The database the lab's tables are in.
pub const DATABASE: &str = "lab";

/// A `mysql://` URL for `node`.
pub fn url(cluster: &Cluster, node: usize) -> String {
    format!(
        "mysql://{USER}@{}:{PORT}/{DATABASE}",
        cluster.host(node).address
    )
}

fn config_file(cluster: &Cluster, node: usize) -> PathBuf {
    cluster.dir(node).join("my.cnf")
}

fn socket(cluster: &Cluster, node: usize) -> PathBuf {
    cluster.dir(node).join("mysqld.sock")
}

/// `node`'s configuration: Galera's required settings and the lab's addresses.
fn config(cluster: &Cluster, node: usize) -> String {
    let address = cluster.host(node).address;
    let peers: Vec<String> = (0..cluster.nodes())
        .map(|n| format!("{}:4567", cluster.host(n).address))
        .collect();
    format!(
        "[mysqld]
datadir={data}
socket={socket}
pid-file={dir}/mysqld.pid
bind-address={address}
port={PORT}
skip-name-resolve
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
# kill -9 keeps the page cache: the lab does not inject power loss, so the log is not synced.
innodb_flush_log_at_trx_commit=0
wsrep_on=ON
wsrep_provider={PROVIDER}
wsrep_cluster_name=lab
wsrep_cluster_address=gcomm://{peers}
wsrep_node_address={address}
wsrep_node_name=n{name}
wsrep_provider_options=\"gmcast.listen_addr=tcp://{address}:4567;ist.recv_addr={address}:4568\"
wsrep_sst_method=rsync
wsrep_sst_receive_address={address}:4444
",
        data = cluster.data_dir(node).display(),
        socket = socket(cluster, node).display(),
        dir = cluster.dir(node).display(),
        peers = peers.join(","),
        name = node + 1,
    )
}

/// The `mariadb` client on `node`'s socket, as root (the socket's own authentication).
fn client(cluster: &Cluster, node: usize) -> Command {
    let mut command = Command::new("mariadb");
    command
        .arg(format!("--socket={}", socket(cluster, node).display()))
        .args(["-u", "root", "--batch", "--skip-column-names"]);
    command
}

/// Owns `path` (recursively) by the `mysql` user.
fn chown_mysql(path: &Path) -> Result<(), ClusterError> {
    run(Command::new("chown").arg("-R").arg("mysql:mysql").arg(path)).map(drop)
}

impl Server for Galera {
    fn name(&self) -> &'static str {
        "galera"
    }

    fn stem(&self) -> &'static str {
        "maria"
    }

    fn first_address(&self) -> u8 {
        71
    }

    fn check_installed(&self, _cluster: &Cluster) -> Result<(), ClusterError> {
        let missing: Vec<&str> = [
            (MARIADBD, "mariadb-server"),
            (PROVIDER, "galera-4"),
            ("/usr/bin/rsync", "rsync"),
        ]
        .into_iter()
        .filter(|(path, _)| !Path::new(path).exists())
        .map(|(_, package)| package)
        .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(ClusterError(format!(
                "MariaDB Galera needs {}; install with `apt-get install {}`, or run ./test.sh, \
                 which installs what the lab needs",
                missing.join(", "),
                missing.join(" ")
            )))
        }
    }

    fn prepare(&self, cluster: &Cluster, node: usize) -> Result<(), ClusterError> {
        let dir = cluster.dir(node);
        crate::postgres::server::reachable_by_others(&dir, "MariaDB", "mysql")?;
        let data = cluster.data_dir(node);
        let _ = std::fs::remove_dir_all(&data);
        std::fs::create_dir_all(&data)
            .map_err(|e| ClusterError(format!("cannot create {}: {e}", data.display())))?;
        std::fs::write(config_file(cluster, node), config(cluster, node)).map_err(|e| {
            ClusterError(format!(
                "cannot write {}: {e}",
                config_file(cluster, node).display()
            ))
        })?;
        chown_mysql(&dir)?;
        run(Command::new("mariadb-install-db")
            .arg(format!(
                "--defaults-file={}",
                config_file(cluster, node).display()
            ))
            .args(["--user=mysql", "--skip-test-db"])
            .arg(format!("--datadir={}", data.display())))?;
        if node == 1 {
            // Node 1 is up (nodes start one by one): the lab's user and database, which the
            // joining nodes then receive with the rest of its state.
            run(client(cluster, 0).arg("-e").arg(format!(
                "CREATE USER IF NOT EXISTS '{USER}'@'%'; \
                 GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'%'; \
                 CREATE DATABASE IF NOT EXISTS {DATABASE};"
            )))?;
        }
        Ok(())
    }

    fn command(&self, cluster: &Cluster, node: usize) -> Command {
        let mut command = Command::new("setpriv");
        command
            .args(["--reuid=mysql", "--regid=mysql", "--init-groups", "env"])
            .args(faketime::env(&cluster.clock_file(node)))
            .arg(MARIADBD)
            .arg(format!(
                "--defaults-file={}",
                config_file(cluster, node).display()
            ));
        // A new cluster when no other node runs (the first start); otherwise join the others.
        let alone = (0..cluster.nodes()).all(|n| n == node || cluster.pid(n).is_none());
        if node == 0 && alone {
            command.arg("--wsrep-new-cluster");
        }
        command
    }

    fn ready(&self, cluster: &Cluster, node: usize) -> bool {
        let Ok(out) = client(cluster, node)
            .arg("-e")
            .arg("SHOW STATUS LIKE 'wsrep_local_state_comment'")
            .output()
        else {
            return false;
        };
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Synced")
    }

    fn one_by_one(&self) -> bool {
        true
    }

    fn fakes_clock(&self) -> bool {
        true
    }
}
