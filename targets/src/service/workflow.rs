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
