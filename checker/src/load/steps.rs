//! A load's steps: Locust's per-second history (`locust_stats_history.csv`, with
//! `--csv-full-history`) cut where the user count changes, each steady stretch one step with its
//! throughput, failures and latency per operation, and the step where throughput stops growing.

use super::LoadError;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Locust's name for the row summing every operation.
pub const AGGREGATED: &str = "Aggregated";

/// A stretch shorter than this (spawning, stopping) is not a step.
const MIN_STEP_SECONDS: f64 = 4.0;

/// Throughput growing less than this from one step to the next marks saturation.
pub const SATURATION_GROWTH: f64 = 0.10;

/// One operation at one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// The operation (`Aggregated` for all of them).
    pub name: String,
    /// Requests completed in the step.
    pub requests: u64,
    /// Of which failed.
    pub failures: u64,
    /// Requests per second.
    pub per_second: f64,
    /// Latency percentiles at the step's end (Locust's recent window), in milliseconds.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
}

/// One steady stretch of the load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Users during it.
    pub users: u64,
    /// Its start and end, seconds since the epoch.
    pub start: f64,
    /// Its end.
    pub end: f64,
    /// Every operation together.
    pub all: Figures,
    /// Each operation, by name.
    pub operations: Vec<Figures>,
}

/// A row of the history: the columns the lab reads.
struct Row {
    at: f64,
    users: u64,
    name: String,
    total: u64,
    failed: u64,
    p50: f64,
    p95: f64,
    p99: f64,
}

/// Reads the history and cuts it into steps.
pub fn read(path: &Path) -> Result<Vec<Step>, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|e| LoadError::io(path, e))?;
    let rows = parse(&text).map_err(|problem| LoadError::Format {
        path: path.to_path_buf(),
        problem,
    })?;
    Ok(cut(&rows))
}

fn parse(text: &str) -> Result<Vec<Row>, String> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().ok_or("empty file")?.split(',').collect();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or_else(|| format!("no column `{name}` (is this a _stats_history.csv?)"))
    };
    let at = column("Timestamp")?;
    let users = column("User Count")?;
    let name = column("Name")?;
    let total = column("Total Request Count")?;
    let failed = column("Total Failure Count")?;
    let (p50, p95, p99) = (column("50%")?, column("95%")?, column("99%")?);
    let mut rows = Vec::new();
    for (i, line) in lines.enumerate() {
        // Names hold no commas in the lab's locustfile; Locust quotes none of these columns.
        let cells: Vec<&str> = line.split(',').collect();
        let cell = |c: usize| {
            cells.get(c).map(|s| s.trim_matches('"')).ok_or_else(|| {
                format!(
                    "line {}: {} cells, fewer than the header",
                    i + 2,
                    cells.len()
                )
            })
        };
        let number = |c: usize| -> Result<f64, String> {
            let text = cell(c)?;
            // Locust writes N/A for a percentile it has no sample for.
            Ok(text.parse::<f64>().unwrap_or(f64::NAN))
        };
        let whole = |c: usize| -> Result<u64, String> {
            let text = cell(c)?;
            text.parse::<u64>()
                .map_err(|_| format!("line {}: `{text}` is not a count", i + 2))
        };
        rows.push(Row {
            at: number(at)?,
            users: whole(users)?,
            name: cell(name)?.to_string(),
            total: whole(total)?,
            failed: whole(failed)?,
            p50: number(p50)?,
            p95: number(p95)?,
            p99: number(p99)?,
        });
    }
    Ok(rows)
}

/// Consecutive rows with one user count form a stretch; each long enough is a step.
fn cut(rows: &[Row]) -> Vec<Step> {
    let aggregated: Vec<&Row> = rows.iter().filter(|r| r.name == AGGREGATED).collect();
    let mut steps = Vec::new();
    let mut begin = 0;
    while begin < aggregated.len() {
        let users = aggregated[begin].users;
        let mut end = begin;
        while end + 1 < aggregated.len() && aggregated[end + 1].users == users {
            end += 1;
        }
        let (first, last) = (aggregated[begin], aggregated[end]);
        if users > 0 && last.at - first.at >= MIN_STEP_SECONDS {
            steps.push(step(rows, users, first.at, last.at));
        }
        begin = end + 1;
    }
    steps
}

fn step(rows: &[Row], users: u64, start: f64, end: f64) -> Step {
    let mut names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let figures = |name: &str| -> Option<Figures> {
        let within: Vec<&Row> = rows
            .iter()
            .filter(|r| r.name == name && r.at >= start && r.at <= end)
            .collect();
        let (first, last) = (within.first()?, within.last()?);
        let requests = last.total.saturating_sub(first.total);
        Some(Figures {
            name: name.to_string(),
            requests,
            failures: last.failed.saturating_sub(first.failed),
            per_second: requests as f64 / (last.at - first.at).max(1.0),
            p50_ms: last.p50,
            p95_ms: last.p95,
            p99_ms: last.p99,
        })
    };
    let all = figures(AGGREGATED).unwrap_or(Figures {
        name: AGGREGATED.into(),
        requests: 0,
        failures: 0,
        per_second: 0.0,
        p50_ms: f64::NAN,
        p95_ms: f64::NAN,
        p99_ms: f64::NAN,
    });
    let operations = names
        .into_iter()
        .filter(|n| *n != AGGREGATED)
        .filter_map(figures)
        .collect();
    Step {
        users,
        start,
        end,
        all,
        operations,
    }
}

/// The first step whose throughput grew less than [`SATURATION_GROWTH`] over the step before
/// it, or `None` while it still grows (or with fewer than two steps).
pub fn saturation(steps: &[Step]) -> Option<usize> {
    steps
        .windows(2)
        .position(|pair| {
            pair[1].all.per_second < pair[0].all.per_second * (1.0 + SATURATION_GROWTH)
        })
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::{cut, parse, saturation};

    const HEADER: &str = "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,Total Request Count,Total Failure Count";

    /// Rows for `seconds` at `users`, `rate` requests a second from `total`.
    fn rows(out: &mut String, t: &mut u64, users: u64, seconds: u64, rate: u64, total: &mut u64) {
        for _ in 0..seconds {
            for name in ["Aggregated", "GET /kv/{key} strong"] {
                out.push_str(&format!(
                    "\n{t},{users},GET,{name},0,0,3,4,4,5,6,7,8,9,10,10,12,{total},0"
                ));
            }
            *t += 1;
            *total += rate;
        }
    }

    #[test]
    fn steps_are_steady_stretches_and_saturation_is_where_growth_stops() {
        let mut csv = HEADER.to_string();
        let (mut t, mut total) = (1_000, 0);
        rows(&mut csv, &mut t, 5, 2, 50, &mut total); // spawning: too short
        rows(&mut csv, &mut t, 10, 10, 100, &mut total);
        rows(&mut csv, &mut t, 20, 10, 200, &mut total);
        rows(&mut csv, &mut t, 30, 10, 210, &mut total);
        let steps = cut(&parse(&csv).expect("parses"));
        let users: Vec<u64> = steps.iter().map(|s| s.users).collect();
        assert_eq!(users, [10, 20, 30]);
        let rates: Vec<f64> = steps.iter().map(|s| s.all.per_second.round()).collect();
        assert_eq!(rates, [100.0, 200.0, 210.0]);
        assert_eq!(steps[0].operations.len(), 1);
        assert_eq!(steps[0].all.p99_ms, 9.0);
        assert_eq!(saturation(&steps), Some(2));
        assert_eq!(saturation(&steps[..2]), None);
    }

    #[test]
    fn a_file_of_another_kind_is_named() {
        let error = parse("Type,Name,Request Count\nGET,x,1")
            .err()
            .expect("refused");
        assert!(error.contains("Timestamp"), "{error}");
        let error = parse(&format!("{HEADER}\n1,2,GET,x"))
            .err()
            .expect("refused");
        assert!(error.contains("line 2"), "{error}");
    }
}
