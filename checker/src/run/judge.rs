//! Judging a recorded run: every check of the workload applied to the
//! history, as report sections and machine-readable results.

use crate::report::Section;
use consistency::checker::{Checker, Details, Report};
use consistency::linearizable::Options;
use consistency::Verdict;
use history::History;
use serde_json::{json, Map, Value as Json};

/// The verdicts of a run.
pub struct Judgement {
    /// All checks combined (invalid beats unknown beats valid).
    pub verdict: Verdict,
    /// What each checker found (the checkers that could not run are
    /// missing here, and present in `sections` as unknown).
    pub reports: Vec<Report>,
    /// One section per check, for the report page.
    pub sections: Vec<Section>,
    /// `{"valid?": …, "<check>": {…}, …}`, for results.json / results.edn.
    pub results: Json,
}

impl Judgement {
    /// Marks a run whose tasks panicked: what was recorded may still show
    /// an anomaly, but cannot show that there is none, as the run did not
    /// finish; `results.json` lists the crashes under `crashed`.
    pub fn crashed(&mut self, crashes: &[super::Crash]) {
        if crashes.is_empty() {
            return;
        }
        self.verdict = self
            .verdict
            .clone()
            .and(Verdict::Unknown(consistency::Unknown::Error));
        if let Json::Object(results) = &mut self.results {
            results.insert("valid?".into(), self.verdict.json());
            results.insert(
                "crashed".into(),
                crashes.iter().map(|c| c.to_string()).collect(),
            );
        }
    }

    /// Adds the load's section: its figures, and whether Prometheus counted what Locust and
    /// the checker sent (valid within 1 %, invalid outside it, unknown when it could not tell).
    pub fn loaded(&mut self, load: &crate::load::LoadReport, history: &History) {
        let verdict = match load.agreement.as_ref().and_then(|a| a.agrees()) {
            Some(true) => Verdict::Valid,
            Some(false) => Verdict::Invalid,
            None => Verdict::Unknown(consistency::Unknown::Error),
        };
        self.verdict = self.verdict.clone().and(verdict.clone());
        self.sections.push(Section {
            title: "load and metrics".into(),
            verdict: verdict.clone(),
            summary: load.summary(),
            body_html: crate::report::load::fragment(load, history),
        });
        if let Json::Object(results) = &mut self.results {
            let mut entry = serde_json::to_value(load).unwrap_or(Json::Null);
            if let Json::Object(map) = &mut entry {
                // The panels are for drawing; run.json keeps them.
                map.remove("panels");
                map.insert("valid?".into(), verdict.json());
            }
            results.insert("load".into(), entry);
            results.insert("valid?".into(), self.verdict.json());
        }
    }

    /// Adds the target's own checks: a section each, an entry of the results, and their
    /// verdicts in the run's.
    pub fn audited(&mut self, audits: &[workloads::Audit]) {
        for audit in audits {
            self.verdict = self.verdict.clone().and(audit.verdict.clone());
            let mut details = abridge(&audit.details);
            if let Json::Object(map) = &mut details {
                map.insert("valid?".into(), audit.verdict.json());
            }
            self.sections.push(Section {
                title: audit.name.clone(),
                verdict: audit.verdict.clone(),
                summary: audit.summary.clone(),
                body_html: format!(
                    "<pre>{}</pre>",
                    crate::report::html::escape(
                        &serde_json::to_string_pretty(&details).unwrap_or_default()
                    )
                ),
            });
            if let Json::Object(results) = &mut self.results {
                results.insert(audit.name.clone(), details);
                results.insert("valid?".into(), self.verdict.json());
            }
        }
    }
}

/// The key of a report in `results.json`, and its section's title.
fn names(report: &Report) -> (String, String) {
    match &report.details {
        Details::Linearizable(_) => (
            format!("linearizable ({})", report.checker),
            format!("Linearizability ({}, key by key)", report.checker),
        ),
        _ => (report.checker.to_string(), report.checker.to_string()),
    }
}

/// Applies every checker of `checks` to `history`.
pub fn judge(checks: &[Box<dyn Checker>], history: &History, options: &Options) -> Judgement {
    let mut verdict = Verdict::Valid;
    let mut sections = Vec::new();
    let mut reports = Vec::new();
    let mut results = Map::new();
    for checker in checks {
        let section = match checker.check(history, options) {
            Ok(report) => {
                let (key, title) = names(&report);
                let details = abridge(&report.to_json());
                let body_html = match &report.details {
                    Details::Linearizable(analysis) => {
                        crate::report::counterexample::fragment(analysis)
                    }
                    Details::Txn(analysis) => format!(
                        "{}<pre>{}</pre>",
                        crate::report::cycles::fragment(analysis),
                        crate::report::html::escape(
                            &serde_json::to_string_pretty(&details).unwrap_or_default()
                        )
                    ),
                    _ => format!(
                        "<pre>{}</pre>",
                        crate::report::html::escape(
                            &serde_json::to_string_pretty(&details).unwrap_or_default()
                        )
                    ),
                };
                results.insert(key, details);
                let section = Section {
                    title,
                    verdict: report.verdict.clone(),
                    summary: report.summary.clone(),
                    body_html,
                };
                reports.push(report);
                section
            }
            Err(e) => error_section(checker.name(), &e.to_string(), &mut results),
        };
        verdict = verdict.and(section.verdict.clone());
        sections.push(section);
    }
    let mut top = Map::new();
    top.insert("valid?".into(), verdict.json());
    top.extend(results);
    Judgement {
        verdict,
        reports,
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
        body_html: format!("<p>{}</p>", crate::report::html::escape(error)),
    }
}
