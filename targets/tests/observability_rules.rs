//! The repository's Prometheus configuration and rules, checked by Prometheus's own `promtool`
//! (Debian's `prometheus` package; `test.sh` installs it): the configuration and rules load, and
//! every alert fires on the series that should fire it and stays silent on those that should not
//! (`observability/rules/tests/alerts.test.yml`).

use std::path::Path;
use std::process::Command;

fn observability() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../observability"))
}

fn promtool(args: &[&str]) -> String {
    let output = Command::new("promtool")
        .args(args)
        .current_dir(observability())
        .output()
        .expect("promtool runs (apt-get install prometheus; ./test.sh installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

#[test]
fn the_configuration_and_rules_load() {
    let text = promtool(&["check", "config", "prometheus.yml"]);
    assert!(text.contains("SUCCESS"), "{text}");
    let text = promtool(&[
        "check",
        "rules",
        "rules/golden-signals.yml",
        "rules/alerts.yml",
    ]);
    assert!(
        text.contains("17 rules found") && text.contains("8 rules found"),
        "{text}"
    );
}

#[test]
fn every_alert_fires_when_it_should_and_only_then() {
    let tests = std::fs::read_to_string(observability().join("rules/tests/alerts.test.yml"))
        .expect("the rule tests");
    let alerts =
        std::fs::read_to_string(observability().join("rules/alerts.yml")).expect("the alerts");
    for alert in alerts
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
    {
        // At least one case that fires it and one that does not.
        let cases = tests.matches(&format!("alertname: {alert}\n")).count();
        assert!(
            cases >= 2,
            "{alert} needs a test that fires it and one that does not"
        );
    }
    let text = promtool(&["test", "rules", "rules/tests/alerts.test.yml"]);
    assert!(text.contains("SUCCESS"), "{text}");
}
