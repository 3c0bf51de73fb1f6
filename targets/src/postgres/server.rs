//! PostgreSQL 15 (Debian): a primary (`n1`) and two streaming standbys,
//! commits synchronous to at least one standby, transactions SERIALIZABLE
//! by default.
//!
//! This is also how the lab exercises its CockroachDB client: CockroachDB
//! speaks PostgreSQL's protocol and no CockroachDB binary can be installed
//! here. The servers run as the `postgres` user (PostgreSQL refuses root);
//! standbys are copied from the running primary with `pg_basebackup`.

use cluster::command::run;
use cluster::faketime;
use cluster::ClusterError;
use cluster::{Cluster, Server};
use std::io::Write;
use std::path::Path;
use std::process::Command;

/// The PostgreSQL server kind.
pub struct Postgres;

/// Where Debian puts PostgreSQL 15's programs.
pub const BIN: &str = "/usr/lib/postgresql/15/bin";
/// The port every node listens on (each on its own address).
pub const PORT: u16 = 5432;

/// A connection string for `node` (`host=10.47.0.21 port=5432 user=postgres`).
pub fn url(cluster: &Cluster, node: usize) -> String {
    format!(
        "host={} port={PORT} user=postgres dbname=postgres connect_timeout=2",
        cluster.host(node).address
    )
}

/// `program` run as the `postgres` user (setpriv execs in place, so the
/// pid the lab records is the server's).
fn as_postgres(program: &str) -> Command {
    let mut command = Command::new("setpriv");
    command
        .args(["--reuid=postgres", "--regid=postgres", "--init-groups"])
        .arg(format!("{BIN}/{program}"));
    command
}

/// A server that runs as its own `user` (PostgreSQL as `postgres`, MariaDB
/// as `mysql`) must be able to walk to its data folder: every folder above
/// it must be searchable by others.
pub(crate) fn reachable_by_others(
    dir: &Path,
    server: &str,
    user: &str,
) -> Result<(), ClusterError> {
    use std::os::unix::fs::PermissionsExt;
    for folder in dir.ancestors().skip(1) {
        let Ok(meta) = std::fs::metadata(folder) else {
            continue;
        };
        if meta.permissions().mode() & 0o001 == 0 {
            return Err(ClusterError(format!(
                "{server} runs as the {user} user, which cannot enter {} (mode {:o}); \
                 put the lab's state folder (--state) where it can, or `chmod o+x {}`",
                folder.display(),
                meta.permissions().mode() & 0o777,
                folder.display()
            )));
        }
    }
    Ok(())
}

fn append(path: &Path, text: &str) -> Result<(), ClusterError> {
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| ClusterError(format!("cannot write {}: {e}", path.display())))
}

impl Server for Postgres {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn stem(&self) -> &'static str {
        "pg"
    }

    fn first_address(&self) -> u8 {
        21
    }

    fn check_installed(&self, _cluster: &Cluster) -> Result<(), ClusterError> {
        if Path::new(&format!("{BIN}/postgres")).exists() {
            Ok(())
        } else {
            Err(ClusterError(format!(
                "PostgreSQL 15 is not installed ({BIN}/postgres is missing); install it with `apt-get install postgresql-15`, or run ./test.sh, which installs what the lab needs"
            )))
        }
    }

    fn prepare(&self, cluster: &Cluster, node: usize) -> Result<(), ClusterError> {
        let dir = cluster.dir(node);
        reachable_by_others(&dir, "PostgreSQL", "postgres")?;
        let data = cluster.data_dir(node);
        let _ = std::fs::remove_dir_all(&data);
        run(Command::new("chown").arg("postgres:postgres").arg(&dir))?;
        if node == 0 {
            run(as_postgres("initdb")
                .args(["--auth=trust", "--username=postgres", "--no-sync", "-D"])
                .arg(&data))?;
            let subnet = format!("{}/24", cluster.net().address(0));
            append(
                &data.join("pg_hba.conf"),
                &format!("host all all {subnet} trust\nhost replication all {subnet} trust\n"),
            )?;
            let standbys = (1..cluster.nodes())
                .map(|n| format!("n{}", n + 1))
                .collect::<Vec<_>>()
                .join(", ");
            append(
                &data.join("postgresql.conf"),
                &format!(
                    "\n# The lab's settings.\nwal_level = replica\nmax_wal_senders = 10\nhot_standby = on\n\
                     default_transaction_isolation = 'serializable'\n\
                     synchronous_standby_names = 'ANY 1 ({standbys})'\nsynchronous_commit = on\n\
                     # kill -9 keeps the page cache; fsync only matters for power loss,\n\
                     # which the lab does not inject.\nfsync = off\n"
                ),
            )?;
        } else {
            // Copied from the primary over the lab's network, from this
            // node's own namespace.
            let primary = cluster.host(0).address.to_string();
            let host = cluster.host(node);
            let mut copy = cluster::netns::in_ns(&host.namespace, "setpriv");
            copy.args(["--reuid=postgres", "--regid=postgres", "--init-groups"])
                .arg(format!("{BIN}/pg_basebackup"))
                .args(["-h", &primary, "-p", &PORT.to_string(), "-U", "postgres"])
                .args(["-X", "stream", "-R", "-D"])
                .arg(&data);
            run(&mut copy)?;
            append(
                &data.join("postgresql.auto.conf"),
                &format!(
                    "primary_conninfo = 'host={primary} port={PORT} user=postgres application_name=n{}'\n",
                    node + 1
                ),
            )?;
        }
        Ok(())
    }

    fn command(&self, cluster: &Cluster, node: usize) -> Command {
        let mut command = Command::new("setpriv");
        command
            .args([
                "--reuid=postgres",
                "--regid=postgres",
                "--init-groups",
                "env",
            ])
            .args(faketime::env(&cluster.clock_file(node)))
            .arg(format!("{BIN}/postgres"))
            .arg("-D")
            .arg(cluster.data_dir(node))
            .args([
                "-c",
                &format!("listen_addresses={}", cluster.host(node).address),
            ])
            .args(["-c", &format!("port={PORT}")])
            .arg("-c")
            .arg(format!(
                "unix_socket_directories={}",
                cluster.dir(node).display()
            ));
        if node > 0 {
            // A hot standby refuses SERIALIZABLE; its reads are snapshots.
            command.args(["-c", "default_transaction_isolation=repeatable read"]);
        }
        command
    }

    fn ready(&self, cluster: &Cluster, node: usize) -> bool {
        cluster::command::succeeds(
            Command::new(format!("{BIN}/pg_isready"))
                .args(["-q", "-h", &cluster.host(node).address.to_string()])
                .args(["-p", &PORT.to_string()]),
        )
    }

    fn one_by_one(&self) -> bool {
        true
    }

    fn fakes_clock(&self) -> bool {
        true
    }

    /// The primary; standbys never take over here (no failover manager).
    fn leader(&self, _cluster: &Cluster) -> Option<usize> {
        Some(0)
    }
}
