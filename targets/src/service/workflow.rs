//! The bank's workflow check, after quiescence: every committed transfer (the strong store's
//! `transfers`) appears in both accounts' activity timelines (the eventual store, written by the
//! workers from the relayed outbox) exactly once with its amount, and no timeline holds a
//! transfer that was not committed.

use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// What the check found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Workflow {
    /// Committed transfers.
    pub committed: usize,
    /// Timeline entries seen, over every account of a committed transfer.
    pub recorded: usize,
    /// (transfer, account) pairs committed but missing from the timeline.
    pub missing: Vec<(i64, String)>,
    /// (transfer, account) pairs in a timeline with another amount than committed, or more
    /// than once.
    pub wrong: Vec<(i64, String)>,
    /// Transfers in a timeline that were never committed.
    pub invented: Vec<i64>,
}

impl Workflow {
    /// Whether every committed transfer is in the timelines once and nothing else is.
    pub fn valid(&self) -> bool {
        self.missing.is_empty() && self.wrong.is_empty() && self.invented.is_empty()
    }
}

impl std::fmt::Display for Workflow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} committed transfers, {} timeline entries: {} missing, {} wrong, {} invented",
            self.committed,
            self.recorded,
            self.missing.len(),
            self.wrong.len(),
            self.invented.len()
        )
    }
}

async fn get(http: &reqwest::Client, url: &str) -> Result<Json, String> {
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("{url}: {}", response.status()));
    }
    response.json().await.map_err(|e| format!("{url}: {e}"))
}

/// Runs the check through the api at `base` (`http://10.47.0.51:8080`), over the transfers of
/// accounts whose names start with `prefix`.
pub async fn check(base: &str, prefix: &str) -> Result<Workflow, String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let transfers = get(&http, &format!("{base}/bank/transfers")).await?;
    // (transfer, account) → amount, as committed.
    let mut expected: BTreeMap<(i64, String), i64> = BTreeMap::new();
    let mut accounts = BTreeSet::new();
    let mut committed = BTreeSet::new();
    for t in transfers["transfers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let (Some(id), Some(from), Some(to), Some(amount)) = (
            t["id"].as_i64(),
            t["from"].as_str(),
            t["to"].as_str(),
            t["amount"].as_i64(),
        ) else {
            return Err(format!("a transfer the api listed is malformed: {t}"));
        };
        if !from.starts_with(prefix) {
            continue;
        }
        committed.insert(id);
        expected.insert((id, from.to_string()), -amount);
        expected.insert((id, to.to_string()), amount);
        accounts.extend([from.to_string(), to.to_string()]);
    }
    let mut workflow = Workflow {
        committed: committed.len(),
        ..Workflow::default()
    };
    let mut seen: BTreeMap<(i64, String), Vec<i64>> = BTreeMap::new();
    for account in &accounts {
        let timeline = get(&http, &format!("{base}/bank/timeline/{account}")).await?;
        for entry in timeline["entries"].as_array().cloned().unwrap_or_default() {
            let (Some(transfer), Some(amount)) =
                (entry["transfer"].as_i64(), entry["amount"].as_i64())
            else {
                return Err(format!(
                    "a timeline entry of {account} is malformed: {entry}"
                ));
            };
            workflow.recorded += 1;
            if !committed.contains(&transfer) {
                workflow.invented.push(transfer);
            }
            seen.entry((transfer, account.clone()))
                .or_default()
                .push(amount);
        }
    }
    for (pair, amount) in &expected {
        match seen.get(pair).map(Vec::as_slice) {
            None => workflow.missing.push(pair.clone()),
            Some([once]) if once == amount => {}
            Some(_) => workflow.wrong.push(pair.clone()),
        }
    }
    workflow.invented.sort_unstable();
    workflow.invented.dedup();
    Ok(workflow)
}

impl Workflow {
    /// The findings as `results.json` holds them.
    pub fn to_json(&self) -> Json {
        let pairs = |pairs: &[(i64, String)]| -> Vec<Json> {
            pairs
                .iter()
                .map(|(transfer, account)| serde_json::json!({"transfer": transfer, "account": account}))
                .collect()
        };
        serde_json::json!({
            "committed-count": self.committed,
            "recorded-count": self.recorded,
            "missing-count": self.missing.len(),
            "wrong-count": self.wrong.len(),
            "invented-count": self.invented.len(),
            "missing": pairs(&self.missing),
            "wrong": pairs(&self.wrong),
            "invented": self.invented,
        })
    }
}

/// How long the audit waits without a new timeline entry at least, whatever `--settle` says: the
/// timelines pause while PostgreSQL restarts after a kill, or while a new relay leader is elected
/// (its lease runs out after 3 s) and opens its Kafka transactions.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The check as a run's audit (a section of its report): through the first of `bases` that
/// answers, repeated until it holds, since the timelines catch up only once the relay and the
/// workers have drained the outbox. It gives up once `limit` (at least [`PATIENCE`]) passes
/// without a new timeline entry (stuck, not slow), and after ten times that in all.
pub async fn audit(bases: &[String], prefix: &str, limit: Duration) -> workloads::Audit {
    let limit = limit.max(PATIENCE);
    let started = std::time::Instant::now();
    let mut progressed = started;
    let mut recorded = 0;
    let mut last: Result<Workflow, String> = Err("no api to ask".into());
    loop {
        for base in bases {
            last = check(base, prefix).await;
            if last.is_ok() {
                break;
            }
        }
        if let Ok(workflow) = &last {
            if workflow.valid() {
                break;
            }
            if workflow.recorded > recorded {
                (recorded, progressed) = (workflow.recorded, std::time::Instant::now());
            }
        }
        if progressed.elapsed() >= limit || started.elapsed() >= limit * 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let waited = started.elapsed().as_secs_f64();
    let (verdict, summary, details) = match last {
        Ok(workflow) => {
            let mut details = workflow.to_json();
            details["waited-s"] = serde_json::json!((waited * 10.0).round() / 10.0);
            let verdict = if workflow.valid() {
                consistency::Verdict::Valid
            } else {
                consistency::Verdict::Invalid
            };
            let summary = format!("{workflow} (after {waited:.1} s)");
            (verdict, summary, details)
        }
        Err(e) => (
            consistency::Verdict::Unknown(consistency::Unknown::Error),
            format!("could not check: {e}"),
            serde_json::json!({"error": e}),
        ),
    };
    workloads::Audit {
        name: "workflow".into(),
        verdict,
        summary,
        details,
    }
}
