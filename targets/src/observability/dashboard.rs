//! The Grafana dashboards of `observability/grafana/dashboards/`, checked against Grafana's
//! dashboard schema and read into what the lab needs of them: each panel's title, unit and
//! PromQL queries (the suite runs every query against the real Prometheus).
//!
//! Grafana itself cannot be installed here (its licence), so [`parse`] holds a dashboard to the
//! constraints of Grafana's dashboard kind (`kinds/dashboard/dashboard_kind.cue`: the required
//! properties and their types, `graphTooltip` in 0–2, grid positions inside the 24-column
//! grid, a non-empty panel type, `fieldConfig` with defaults and overrides) and to what a
//! provisioned dashboard needs besides (a uid of 8 to 40 characters, unique panel ids and
//! query refIds, panels that do not overlap, every query on the provisioned data source).

use serde_json::Value;

/// The uid of the Prometheus data source the provisioning file declares
/// (`observability/grafana/datasources/lab.yml`), which every query must name.
pub const DATASOURCE_UID: &str = "lab-prometheus";

/// Every dashboard, by file name, as the repository has it.
pub const DASHBOARDS: &[(&str, &str)] = &[
    (
        "overview.json",
        include_str!("../../../observability/grafana/dashboards/overview.json"),
    ),
    (
        "api.json",
        include_str!("../../../observability/grafana/dashboards/api.json"),
    ),
    (
        "worker.json",
        include_str!("../../../observability/grafana/dashboards/worker.json"),
    ),
    (
        "stores.json",
        include_str!("../../../observability/grafana/dashboards/stores.json"),
    ),
];

/// Grafana's grid is 24 columns wide.
const GRID_COLUMNS: u64 = 24;

/// A dashboard, as far as the lab reads it.
#[derive(Debug, Clone)]
pub struct Dashboard {
    /// Its uid.
    pub uid: String,
    /// Its title.
    pub title: String,
    /// Its panels, in file order.
    pub panels: Vec<Panel>,
}

/// A panel: what it is called, its unit, and its queries.
#[derive(Debug, Clone)]
pub struct Panel {
    /// Its id within the dashboard.
    pub id: u64,
    /// Its title.
    pub title: String,
    /// Grafana's unit of its values (`reqps`, `s`, `bytes`, `percentunit`, `short`).
    pub unit: String,
    /// Its queries.
    pub queries: Vec<Query>,
}

/// One PromQL query of a panel.
#[derive(Debug, Clone)]
pub struct Query {
    /// Its refId (`A`).
    pub ref_id: String,
    /// The PromQL.
    pub expr: String,
    /// Grafana's legend template (`{{job}}`).
    pub legend: String,
}

/// What is wrong with a dashboard, and where.
#[derive(Debug, thiserror::Error)]
#[error("{dashboard}: {path}: {problem}")]
pub struct DashboardError {
    /// The dashboard's file.
    pub dashboard: String,
    /// Where in it (`panels[3].gridPos.w`).
    pub path: String,
    /// What is wrong.
    pub problem: String,
}

/// Every dashboard of the repository, checked.
pub fn all() -> Result<Vec<Dashboard>, DashboardError> {
    DASHBOARDS
        .iter()
        .map(|(name, text)| parse(name, text))
        .collect()
}

/// Checks the dashboard `name` holds and reads it.
pub fn parse(name: &str, text: &str) -> Result<Dashboard, DashboardError> {
    let fail = |path: &str, problem: &str| DashboardError {
        dashboard: name.to_string(),
        path: path.to_string(),
        problem: problem.to_string(),
    };
    let json: Value = serde_json::from_str(text).map_err(|e| fail("(file)", &e.to_string()))?;
    let root = Node {
        value: &json,
        path: String::new(),
        fail: &fail,
    };
    root.require("editable")?.boolean()?;
    let tooltip = root.require("graphTooltip")?.unsigned()?;
    if tooltip > 2 {
        return Err(fail("graphTooltip", "must be 0, 1 or 2"));
    }
    let schema = root.require("schemaVersion")?.unsigned()?;
    if schema > u64::from(u16::MAX) {
        return Err(fail("schemaVersion", "must fit 16 bits"));
    }
    if let Some(style) = root.optional("style") {
        if !matches!(style.string()?, "light" | "dark") {
            return Err(fail("style", "must be light or dark"));
        }
    }
    let uid = root.require("uid")?.string()?.to_string();
    if !(8..=40).contains(&uid.chars().count()) {
        return Err(fail("uid", "must be 8 to 40 characters"));
    }
    let title = root.require("title")?.string()?.to_string();
    if let Some(tags) = root.optional("tags") {
        for tag in tags.array()? {
            tag.string()?;
        }
    }
    if let Some(time) = root.optional("time") {
        time.require("from")?.string()?;
        time.require("to")?.string()?;
    }
    let mut panels = Vec::new();
    let mut boxes: Vec<(u64, [u64; 4])> = Vec::new();
    for panel in root.require("panels")?.array()? {
        let (read, grid) = read_panel(&panel)?;
        if panels.iter().any(|p: &Panel| p.id == read.id) {
            return Err(fail(
                &panel.path,
                &format!("a second panel with id {}", read.id),
            ));
        }
        if let Some((other, _)) = boxes.iter().find(|(_, b)| overlaps(b, &grid)) {
            return Err(fail(
                &panel.path,
                &format!("overlaps panel {other} on the grid"),
            ));
        }
        boxes.push((read.id, grid));
        panels.push(read);
    }
    Ok(Dashboard { uid, title, panels })
}

/// One panel of Grafana's `#Panel`, and its grid box (x, y, w, h).
fn read_panel(panel: &Node) -> Result<(Panel, [u64; 4]), DashboardError> {
    let kind = panel.require("type")?.string()?;
    if kind.is_empty() {
        return Err(panel.error("type", "may not be empty"));
    }
    let id = panel.require("id")?.unsigned()?;
    let title = panel.require("title")?.string()?.to_string();
    panel.require("options")?.object()?;
    panel.require("transformations")?.array()?;
    panel.require("transparent")?.boolean()?;
    let field_config = panel.require("fieldConfig")?;
    let defaults = field_config.require("defaults")?;
    defaults.object()?;
    field_config.require("overrides")?.array()?;
    let unit = match defaults.optional("unit") {
        Some(unit) => unit.string()?.to_string(),
        None => "short".to_string(),
    };
    let grid = panel.require("gridPos")?;
    let [x, y, w, h] = ["x", "y", "w", "h"].map(|k| grid.require(k).and_then(|n| n.unsigned()));
    let (x, y, w, h) = (x?, y?, w?, h?);
    if h == 0 || w == 0 || w > GRID_COLUMNS || x >= GRID_COLUMNS || x + w > GRID_COLUMNS {
        return Err(grid.error(
            "",
            "must lie inside the 24-column grid, with a width and height",
        ));
    }
    check_datasource(panel)?;
    let mut queries: Vec<Query> = Vec::new();
    for target in panel.require("targets")?.array()? {
        check_datasource(&target)?;
        let ref_id = target.require("refId")?.string()?.to_string();
        if queries.iter().any(|q| q.ref_id == ref_id) {
            return Err(target.error("refId", &format!("a second query {ref_id}")));
        }
        let expr = target.require("expr")?.string()?.trim().to_string();
        if expr.is_empty() {
            return Err(target.error("expr", "may not be empty"));
        }
        let legend = match target.optional("legendFormat") {
            Some(l) => l.string()?.to_string(),
            None => String::new(),
        };
        queries.push(Query {
            ref_id,
            expr,
            legend,
        });
    }
    if queries.is_empty() {
        return Err(panel.error("targets", "a panel needs a query"));
    }
    let read = Panel {
        id,
        title,
        unit,
        queries,
    };
    Ok((read, [x, y, w, h]))
}

/// A panel's or a query's data source must be the provisioned Prometheus.
fn check_datasource(node: &Node) -> Result<(), DashboardError> {
    let source = node.require("datasource")?;
    if source.require("type")?.string()? != "prometheus" {
        return Err(source.error("type", "must be prometheus"));
    }
    if source.require("uid")?.string()? != DATASOURCE_UID {
        return Err(source.error(
            "uid",
            &format!("must be the provisioned data source, {DATASOURCE_UID}"),
        ));
    }
    Ok(())
}

fn overlaps(a: &[u64; 4], b: &[u64; 4]) -> bool {
    let ([ax, ay, aw, ah], [bx, by, bw, bh]) = (a, b);
    ax < &(bx + bw) && bx < &(ax + aw) && ay < &(by + bh) && by < &(ay + ah)
}

/// A place in the dashboard's JSON, for errors that say where.
struct Node<'a> {
    value: &'a Value,
    path: String,
    fail: &'a dyn Fn(&str, &str) -> DashboardError,
}

impl<'a> Node<'a> {
    fn at(&self, key: &str) -> String {
        match (self.path.is_empty(), key.is_empty()) {
            (true, _) => key.to_string(),
            (false, true) => self.path.clone(),
            (false, false) => format!("{}.{key}", self.path),
        }
    }

    fn error(&self, key: &str, problem: &str) -> DashboardError {
        (self.fail)(&self.at(key), problem)
    }

    fn optional(&self, key: &str) -> Option<Node<'a>> {
        self.value.get(key).map(|value| Node {
            value,
            path: self.at(key),
            fail: self.fail,
        })
    }

    fn require(&self, key: &str) -> Result<Node<'a>, DashboardError> {
        self.optional(key)
            .ok_or_else(|| self.error(key, "is required"))
    }

    fn string(&self) -> Result<&'a str, DashboardError> {
        self.value
            .as_str()
            .ok_or_else(|| self.error("", "must be a string"))
    }

    fn unsigned(&self) -> Result<u64, DashboardError> {
        self.value
            .as_u64()
            .ok_or_else(|| self.error("", "must be a whole number, 0 or more"))
    }

    fn boolean(&self) -> Result<bool, DashboardError> {
        self.value
            .as_bool()
            .ok_or_else(|| self.error("", "must be true or false"))
    }

    fn object(&self) -> Result<(), DashboardError> {
        self.value
            .as_object()
            .map(|_| ())
            .ok_or_else(|| self.error("", "must be an object"))
    }

    fn array(&self) -> Result<Vec<Node<'a>>, DashboardError> {
        let items = self
            .value
            .as_array()
            .ok_or_else(|| self.error("", "must be a list"))?;
        Ok(items
            .iter()
            .enumerate()
            .map(|(i, value)| Node {
                value,
                path: format!("{}[{i}]", self.path),
                fail: self.fail,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dashboard_of_the_repository_is_valid_and_has_queries() {
        let dashboards = all().expect("valid dashboards");
        assert_eq!(dashboards.len(), DASHBOARDS.len());
        for d in &dashboards {
            assert!(d.panels.len() >= 8, "{}: {} panels", d.uid, d.panels.len());
        }
        // The panels, on the overview or a service's dashboard.
        let titles: Vec<&str> = dashboards
            .iter()
            .flat_map(|d| d.panels.iter().map(|p| p.title.as_str()))
            .collect();
        for wanted in [
            "Request rate",
            "Error ratio",
            "Kafka throughput",
            "Consumer lag",
        ] {
            assert!(titles.contains(&wanted), "{wanted} missing");
        }
    }

    fn broken(edit: impl FnOnce(&mut Value)) -> String {
        let mut json: Value = serde_json::from_str(DASHBOARDS[0].1).expect("JSON");
        edit(&mut json);
        parse("x.json", &json.to_string())
            .expect_err("refused")
            .to_string()
    }

    #[test]
    fn a_broken_dashboard_is_refused_naming_the_place() {
        let e = broken(|d| d["panels"][2]["gridPos"]["w"] = 30.into());
        assert!(
            e.contains("panels[2].gridPos") && e.contains("24-column"),
            "{e}"
        );
        let e = broken(|d| d["panels"][1]["id"] = 1.into());
        assert!(e.contains("a second panel with id 1"), "{e}");
        let e = broken(|d| d["panels"][0]["targets"][0]["datasource"]["uid"] = "other".into());
        assert!(e.contains("panels[0].targets[0].datasource.uid"), "{e}");
        let e = broken(|d| d["graphTooltip"] = 3.into());
        assert!(e.contains("graphTooltip"), "{e}");
        let e = broken(|d| {
            d.as_object_mut().map(|o| o.remove("schemaVersion"));
        });
        assert!(e.contains("schemaVersion: is required"), "{e}");
        let e = broken(|d| d["panels"][3]["gridPos"] = d["panels"][2]["gridPos"].clone());
        assert!(e.contains("overlaps panel 3"), "{e}");
        let e = broken(|d| d["panels"][0]["targets"][0]["expr"] = " ".into());
        assert!(e.contains("expr: may not be empty"), "{e}");
        let e = parse("y.json", "{").unwrap_err().to_string();
        assert!(e.starts_with("y.json: (file)"), "{e}");
    }
}
