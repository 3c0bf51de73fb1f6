//! The lab's named things, listed from their tables: workloads
//! ([`workloads::WORKLOADS`]), systems and their targets
//! ([`targets::SYSTEMS`]), models and checkers
//! ([`consistency::checker::CHECKERS`]). `--help` texts and the README's
//! lists are written from here, so a name exists in one place only.

use consistency::checker::{Family, CHECKERS};
use std::fmt::Write as _;

/// The checkers of `family`, comma-separated.
pub fn checker_names(family: Family) -> String {
    CHECKERS
        .iter()
        .filter(|c| c.family() == family)
        .map(|c| c.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The families, with their headings.
const FAMILIES: [(Family, &str); 3] = [
    (Family::Linearizability, "Linearizability models"),
    (
        Family::Workload,
        "Jepsen's workload checkers (one pass, Jepsen's output fields)",
    ),
    (
        Family::Transactional,
        "Transactional isolation (Elle's dependency cycles and models)",
    ),
];

/// The models and checkers, as `checker check --help` lists them.
pub fn checkers_text() -> String {
    let mut text = String::new();
    for (family, title) in FAMILIES {
        let _ = writeln!(text, "\n{title}:");
        for c in CHECKERS.iter().filter(|c| c.family() == family) {
            let _ = writeln!(text, "  {:<17} {}", c.name(), c.about());
        }
    }
    text
}

/// The workloads and the targets, with the workloads each runs, as
/// `checker run --help` and `checker compare --help` list them.
pub fn runs_text() -> String {
    let mut text = String::from("Workloads:\n");
    for w in workloads::WORKLOADS {
        let _ = writeln!(text, "  {:<10} {}", w.name, w.about);
    }
    text.push_str("\nTargets (a real cluster first needs `checker cluster up <system>`):\n");
    for (_, target) in targets::targets() {
        let _ = writeln!(
            text,
            "  {:<23} {}; runs {}",
            target.name,
            target.about,
            target.workload_names()
        );
    }
    text
}

/// Every list, as the README shows them (Markdown).
pub fn markdown() -> String {
    let mut md = String::from("| workload | what |\n|---|---|\n");
    for w in workloads::WORKLOADS {
        let _ = writeln!(md, "| `{}` | {} |", w.name, w.about);
    }
    md.push_str("\n| target | system | what | workloads |\n|---|---|---|---|\n");
    for (system, target) in targets::targets() {
        let _ = writeln!(
            md,
            "| `{}` | {} | {} | {} |",
            target.name,
            system.about,
            target.about,
            target.workload_names()
        );
    }
    md.push_str("\n| `--model` | kind | what |\n|---|---|---|\n");
    for (family, _) in FAMILIES {
        let kind = match family {
            Family::Linearizability => "linearizability",
            Family::Workload => "workload checker",
            Family::Transactional => "transactional (Elle)",
        };
        for c in CHECKERS.iter().filter(|c| c.family() == family) {
            let _ = writeln!(md, "| `{}` | {kind} | {} |", c.name(), c.about());
        }
    }
    md
}
