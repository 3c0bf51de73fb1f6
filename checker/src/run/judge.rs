//! Judging a recorded run: every check of the workload applied to the
//! history, as report sections and machine-readable results.

use consistency::checker as checks;
use consistency::linearizable::{self, Options};
use crate::report::Section;
use consistency::Verdict;
use history::{History, Op};
use serde_json::{json, Map, Value as Json};
use workloads::Check;

/// The verdicts of a run.
pub struct Judgement {
    /// All checks combined (invalid beats unknown beats valid).
    pub verdict: Verdict,
    /// One section per check, for the report page.
    pub sections: Vec<Section>,
    /// `{"valid?": …, "<check>": {…}, …}`, for results.json / results.edn.
    pub results: Json,
}

/// The history as the non-convergence checks see it: final reads are reads.
fn reads_view(history: &History) -> History {
    History::from_ops(history.ops().iter().map(|op| {
        if op.f == "final-read" {
            Op {
                f: "read".into(),
                ..op.clone()
            }
        } else {
            op.clone()
        }
    }))
}

/// Applies `checks` to `history`.
pub fn judge(checks: &[Check], history: &History, options: &Options) -> Judgement {
    let view = reads_view(history);
    let mut verdict = Verdict::Valid;
    let mut sections = Vec::new();
    let mut results = Map::new();
    for check in checks {
        let section = match check {
            Check::Linearizable(model) => match linearizable::check_named(model, &view, options) {
                Ok(analysis) => {
                    results.insert(
                        format!("linearizable ({model})"),
                        abridge(&consistency::results::to_json(&analysis)),
                    );
                    let failing = analysis.explanations().count();
                    Section {
                        title: format!("Linearizability ({model}, key by key)"),
                        verdict: analysis.verdict.clone(),
                        summary: format!(
                            "{} operations, {} keys, {failing} not linearizable, {:.1} ms",
                            analysis.operations,
                            analysis.partitions.len(),
                            analysis.elapsed.as_secs_f64() * 1e3
                        ),
                        body_html: crate::html::linearizability_fragment(&analysis),
                    }
                }
                Err(e) => error_section(
                    &format!("Linearizability ({model})"),
                    &e.to_string(),
                    &mut results,
                ),
            },
            Check::Named(name) => {
                let input = if *name == "convergence" {
                    history
                } else {
                    &view
                };
                match checks::check_named(name, input) {
                    Some(Ok(report)) => {
                        let details = abridge(&report.to_json());
                        results.insert((*name).to_string(), details.clone());
                        Section {
                            title: (*name).to_string(),
                            verdict: report.verdict.clone(),
                            summary: report.summary.clone(),
                            body_html: format!(
                                "<pre>{}</pre>",
                                crate::html::escape(
                                    &serde_json::to_string_pretty(&details).unwrap_or_default()
                                )
                            ),
                        }
                    }
                    Some(Err(e)) => error_section(name, &e.to_string(), &mut results),
                    None => error_section(name, "no such checker", &mut results),
                }
            }
        };
        verdict = verdict.and(section.verdict.clone());
        sections.push(section);
    }
    let mut top = Map::new();
    top.insert("valid?".into(), verdict.json());
    top.extend(results);
    Judgement {
        verdict,
        sections,
        results: Json::Object(top),
    }
}

/// Lists longer than this are cut in results and reports (their counts
/// are separate fields and stay exact).
const LIST_LIMIT: usize = 20;

/// The details with every list cut to [`LIST_LIMIT`] items, and a note
/// of how many were left out, so that a run with 50,000 stale reads still
/// has a readable report.
fn abridge(details: &Json) -> Json {
    match details {
        Json::Array(items) if items.len() > LIST_LIMIT => {
            let mut kept: Vec<Json> = items[..LIST_LIMIT].iter().map(abridge).collect();
            kept.push(json!(format!("… {} more", items.len() - LIST_LIMIT)));
            Json::Array(kept)
        }
        Json::Array(items) => Json::Array(items.iter().map(abridge).collect()),
        Json::Object(map) => {
            Json::Object(map.iter().map(|(k, v)| (k.clone(), abridge(v))).collect())
        }
        other => other.clone(),
    }
}

/// A check that could not run is `unknown`, with the reason.
fn error_section(title: &str, error: &str, results: &mut Map<String, Json>) -> Section {
    results.insert(
        title.to_string(),
        json!({"valid?": "unknown", "error": error}),
    );
    Section {
        title: title.to_string(),
        verdict: Verdict::Unknown(consistency::Unknown::Error),
        summary: format!("could not check: {error}"),
        body_html: format!("<p>{}</p>", crate::html::escape(error)),
    }
}
