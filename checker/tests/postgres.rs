//! The PostgreSQL client against a real PostgreSQL 15 (Debian's, installed
//! by `test.sh`), started privately on a free port: the bank workload's
//! SERIALIZABLE transfers keep the total and every balance non-negative.

mod servers;

use consistency::Verdict;
use history::OpType;
use servers::{free_port, run_and_judge, wait_until, why};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use targets::postgres::client::PostgresTarget;
use workloads::Target;

const BIN: &str = "/usr/lib/postgresql/15/bin";

/// A private PostgreSQL server, stopped and removed on drop.
struct Postgres {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `program args…`, as the `postgres` user when running as root (the
/// server refuses to run as root).
fn as_postgres(program: &str) -> Command {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", program]);
        c
    } else {
        Command::new(program)
    }
}

impl Postgres {
    fn start() -> Postgres {
        let dir = std::env::temp_dir().join(format!("checker-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let _ = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&dir)
            .status();
        let data = dir.join("data");
        let init = as_postgres(&format!("{BIN}/initdb"))
            .args(["--auth", "trust", "--username", "postgres", "-D"])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("initdb (test.sh installs Debian's postgresql)");
        assert!(init.success(), "initdb failed");
        let port = free_port();
        let child = as_postgres(&format!("{BIN}/postgres"))
            .arg("-D")
            .arg(&data)
            .args([
                "-p",
                &port.to_string(),
                "-c",
                "listen_addresses=127.0.0.1",
                "-k",
            ])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("postgres");
        let pg = Postgres { child, dir, port };
        wait_until("postgres", || ready(&pg.dir, port));
        pg
    }

    fn url(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres",
            self.port
        )
    }
}

fn ready(dir: &Path, port: u16) -> bool {
    Command::new(format!("{BIN}/pg_isready"))
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .env("PGHOST", dir)
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn the_bank_keeps_its_total_under_serializable_transfers() {
    let pg = Postgres::start();
    let target: Arc<dyn Target> = Arc::new(PostgresTarget::new(&pg.url()));
    let (history, judgement) = run_and_judge(target, "bank", 6, 3, 300.0);
    let ok = |f: &str| {
        history
            .ops()
            .iter()
            .filter(|o| o.f == f && o.kind == OpType::Ok)
            .count()
    };
    let (transfers, reads) = (ok("transfer"), ok("read"));
    assert!(
        transfers > 50 && reads > 20,
        "the workload ran: {transfers} transfers, {reads} reads"
    );
    assert_eq!(judgement.verdict, Verdict::Valid, "{:?}", why(&judgement));
}
