//! The Grafana dashboards under deploy/grafana, parsed as data: every PromQL expression in them
//! (panel queries and variable queries) names only metrics the server exposes
//! (`co_server::METRIC_FAMILIES`: a histogram as its `_bucket`, `_sum` and `_count` series), every
//! exposed family is shown somewhere, and the panels are well-formed (unique ids, Prometheus
//! queries through the dashboard's data source variable, no two panels on the same cells).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use co_deploy_tests::grafana_dir;
use co_deploy_tests::promql::{metric_names, variable_query_metric_names};
use serde_json::Value;

/// Every `*.json` file under deploy/grafana, parsed, by file name.
fn dashboards() -> BTreeMap<String, Value> {
    let dir = grafana_dir();
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).unwrap();
            let doc: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: invalid JSON: {e}", path.display()));
            out.insert(
                path.file_name().unwrap().to_string_lossy().into_owned(),
                doc,
            );
        }
    }
    assert!(!out.is_empty(), "no dashboard in {}", dir.display());
    out
}

/// Every panel, rows' nested panels included.
fn panels(dashboard: &Value) -> Vec<&Value> {
    fn walk<'a>(list: &'a Value, out: &mut Vec<&'a Value>) {
        for panel in list.as_array().into_iter().flatten() {
            out.push(panel);
            walk(&panel["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

/// `(where, expression)` of every PromQL expression: the panels' `targets[].expr` and the query
/// variables' queries (a string, or an object with `query`).
fn expressions(dashboard: &Value) -> Vec<(String, String, bool)> {
    let mut out = Vec::new();
    for panel in panels(dashboard) {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"]
                .as_str()
                .unwrap_or_else(|| panic!("panel {:?}: a target without expr", panel["title"]));
            out.push((format!("panel {}", panel["title"]), expr.to_string(), false));
        }
    }
    for variable in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if variable["type"] == "query" {
            let query = match &variable["query"] {
                Value::String(q) => q.clone(),
                q => q["query"].as_str().unwrap().to_string(),
            };
            out.push((format!("variable {}", variable["name"]), query, true));
        }
    }
    out
}

/// The series names the server exposes.
fn exposed() -> BTreeSet<String> {
    co_server::METRIC_FAMILIES
        .iter()
        .flat_map(|f| f.sample_names())
        .collect()
}

#[test]
fn every_expression_names_only_metrics_the_server_exposes() {
    let exposed = exposed();
    for (file, dashboard) in dashboards() {
        let mut used = BTreeSet::new();
        let exprs = expressions(&dashboard);
        assert!(!exprs.is_empty(), "{file}: no queries");
        for (place, expr, variable) in exprs {
            let names = if variable {
                variable_query_metric_names(&expr)
            } else {
                metric_names(&expr)
            }
            .unwrap_or_else(|e| panic!("{file}, {place}: {e}"));
            assert!(!names.is_empty(), "{file}, {place}: no metric in {expr}");
            for name in names {
                assert!(
                    exposed.contains(&name),
                    "{file}, {place}: {name} is not a metric the server exposes ({expr})"
                );
                used.insert(name);
            }
        }
        // And the dashboard shows every family.
        for family in co_server::METRIC_FAMILIES {
            assert!(
                family.sample_names().iter().any(|n| used.contains(n)),
                "{file}: no panel shows {}",
                family.name
            );
        }
    }
}

#[test]
fn panels_are_well_formed() {
    for (file, dashboard) in dashboards() {
        assert!(dashboard["title"].is_string(), "{file}: no title");
        assert!(dashboard["uid"].is_string(), "{file}: no uid");
        let variables = dashboard["templating"]["list"].as_array().unwrap();
        let datasource = variables
            .iter()
            .find(|v| v["type"] == "datasource")
            .unwrap_or_else(|| panic!("{file}: no data source variable"));
        assert_eq!(datasource["query"], "prometheus", "{file}");
        let uses = format!("${{{}}}", datasource["name"].as_str().unwrap());
        let mut ids = BTreeSet::new();
        let mut cells: Vec<(String, [i64; 4])> = Vec::new();
        for panel in panels(&dashboard) {
            let title = panel["title"].as_str().unwrap_or("");
            assert!(!title.is_empty(), "{file}: a panel without a title");
            let id = panel["id"].as_i64().unwrap();
            assert!(ids.insert(id), "{file}: panel id {id} twice");
            let pos = &panel["gridPos"];
            let [x, y, w, h] = ["x", "y", "w", "h"].map(|k| pos[k].as_i64().unwrap());
            assert!(
                x >= 0 && w > 0 && h > 0 && x + w <= 24,
                "{file}: {title}: {pos}"
            );
            for (other, [ox, oy, ow, oh]) in &cells {
                let apart = x + w <= *ox || *ox + ow <= x || y + h <= *oy || *oy + oh <= y;
                assert!(apart, "{file}: panels {title:?} and {other:?} overlap");
            }
            cells.push((title.to_string(), [x, y, w, h]));
            if panel["type"] == "row" {
                continue;
            }
            assert_eq!(panel["datasource"]["type"], "prometheus", "{file}: {title}");
            assert_eq!(panel["datasource"]["uid"], uses.as_str(), "{file}: {title}");
            let targets = panel["targets"].as_array().unwrap();
            assert!(!targets.is_empty(), "{file}: {title}: no query");
            let refs: BTreeSet<&str> = targets
                .iter()
                .map(|t| t["refId"].as_str().unwrap())
                .collect();
            assert_eq!(refs.len(), targets.len(), "{file}: {title}: refIds repeat");
        }
    }
}
