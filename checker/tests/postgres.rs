//! The PostgreSQL client against a real PostgreSQL 15 (Debian's, installed
//! by `test.sh`), started privately on a free port: the bank workload's
//! SERIALIZABLE transfers keep the total and every balance non-negative.

use checker::linearizable::Options;
use checker::run::judge::judge;
use checker::run::{run, RunConfig, Stop};
use checker::Verdict;
use history::OpType;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use workloads::postgres::PostgresTarget;
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
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
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
        let started = Instant::now();
        while !ready(&pg.dir, port) {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "postgres did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
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
    let workload = workloads::by_name("bank", &workloads::Options::default()).expect("workload");
    let checks = workload.checks.clone();
    let config = RunConfig {
        concurrency: 6,
        time_limit: Duration::from_secs(3),
        rate: Some(300.0),
        seed: 4,
        op_timeout: Duration::from_secs(5),
        settle: Duration::from_secs(5),
        history_path: None,
        progress: false,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let recorded = rt
        .block_on(run(target, workload, None, &config, Stop::default()))
        .expect("runs");
    let ops = recorded.history.ops();
    let transfers = ops
        .iter()
        .filter(|o| o.f == "transfer" && o.kind == OpType::Ok)
        .count();
    let reads = ops
        .iter()
        .filter(|o| o.f == "read" && o.kind == OpType::Ok)
        .count();
    assert!(
        transfers > 50 && reads > 20,
        "the workload ran: {transfers} transfers, {reads} reads"
    );
    let judgement = judge(&checks, &recorded.history, &Options::default());
    let why: Vec<String> = judgement
        .sections
        .iter()
        .map(|s| format!("{}: {}", s.title, s.summary))
        .collect();
    assert_eq!(judgement.verdict, Verdict::Valid, "{why:?}");
}
