//! Machine-readable results of a check: `results.json` and Jepsen-style `results.edn`.
//!
//! Both carry the same fields. `:valid?` is `true`, `false` or `:unknown`
//! (`"unknown"` in JSON), as Jepsen's web UI and elle-cli read it.

use crate::linearizable::{Analysis, PartitionVerdict};
use serde_json::{json, Map, Value as Json};

/// The result as JSON.
pub fn to_json(analysis: &Analysis) -> Json {
    let mut map = Map::new();
    map.insert("valid?".into(), analysis.verdict.json());
    if let crate::Verdict::Unknown(cause) = analysis.verdict {
        map.insert("cause".into(), Json::String(cause.to_string()));
    }
    map.insert("checker".into(), json!("linearizable"));
    map.insert("model".into(), json!(analysis.model));
    map.insert("op-count".into(), json!(analysis.operations));
    map.insert("partition-count".into(), json!(analysis.partitions.len()));
    map.insert(
        "time-ms".into(),
        json!(analysis.elapsed.as_secs_f64() * 1e3),
    );
    let keys_with = |want: fn(&PartitionVerdict) -> bool| -> Vec<Json> {
        analysis
            .partitions
            .iter()
            .filter(|p| want(&p.verdict))
            .map(|p| {
                p.key
                    .as_ref()
                    .map_or(Json::Null, history::json::value_to_json)
            })
            .collect()
    };
    map.insert(
        "failures".into(),
        Json::Array(keys_with(|v| *v == PartitionVerdict::Invalid)),
    );
    map.insert(
        "unknown".into(),
        Json::Array(keys_with(|v| matches!(v, PartitionVerdict::Unknown(_)))),
    );
    map.insert(
        "skipped".into(),
        Json::Array(keys_with(|v| *v == PartitionVerdict::Skipped)),
    );
    let counterexamples: Vec<Json> = analysis
        .explanations()
        .map(|e| {
            let op = |i: usize| {
                let o = &e.ops[i];
                json!({"process": o.process, "index": o.index, "op": o.description, "type": o.outcome})
            };
            json!({
                "key": e.key,
                "linearized-count": e.linearized.len(),
                "previous-ok": e.linearized.last().map(|s| op(s.op)),
                "op": op(e.blocked),
                "state": e.state,
                "explanation": e.to_string(),
            })
        })
        .collect();
    map.insert("counterexamples".into(), Json::Array(counterexamples));
    Json::Object(map)
}

/// The result as EDN, with keyword keys, for Jepsen tooling.
pub fn to_edn(analysis: &Analysis) -> String {
    edn_of_json(&to_json(analysis))
}

/// Any JSON result as Jepsen-style EDN: object keys become keywords (or
/// numbers, for numeric keys), and `"unknown"` under `valid?` becomes `:unknown`.
pub fn edn_of_json(json: &Json) -> String {
    let mut out = String::new();
    json_to_edn(&mut out, json, true);
    out.push('\n');
    out
}

/// Writes JSON as EDN: object keys become keywords, or numbers when they
/// are numbers (quantiles, integer account ids), or strings when they are
/// neither; `"unknown"` under `valid?` becomes `:unknown`.
fn json_to_edn(out: &mut String, v: &Json, top: bool) {
    match v {
        Json::Null => out.push_str("nil"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => out.push_str(&n.to_string()),
        Json::String(s) => out.push_str(&history::Value::Str(s.clone()).to_string()),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                json_to_edn(out, item, false);
            }
            out.push(']');
        }
        Json::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(if top { ",\n " } else { ", " });
                }
                edn_key(out, k);
                out.push(' ');
                if k == "valid?" && item.as_str() == Some("unknown") {
                    out.push_str(":unknown");
                } else {
                    json_to_edn(out, item, false);
                }
            }
            out.push('}');
        }
    }
}

/// A JSON object key as an EDN map key.
fn edn_key(out: &mut String, k: &str) {
    let numeric = !k.is_empty()
        && (k.parse::<i64>().is_ok()
            || (k.parse::<f64>().is_ok_and(f64::is_finite)
                && k.bytes()
                    .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')));
    let keyword = k
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || "*+!-_?<>=".contains(c))
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || "*+!-_?<>=./".contains(c));
    if numeric {
        out.push_str(k);
    } else if keyword {
        out.push(':');
        out.push_str(k);
    } else {
        out.push_str(&history::Value::Str(k.to_string()).to_string());
    }
}
