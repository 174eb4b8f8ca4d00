//! Seed-format flows (original ContainerOps Gen-3, SPEC §4), converted to the workflow model.
//!
//! Conversion rules:
//! - `start`/`end` stages are markers and are skipped; every `normal` stage becomes a stage.
//! - Every job becomes one action named `stage.action.job` (a job without a `name` is named
//!   after its action, or `ACTION-N` when the action has several jobs); its label is the job
//!   name. It runs its `endpoint` image, is `legacy` (no `CO_DATA` is generated) and gets its
//!   `environments` verbatim, in order.
//! - Order is made explicit with `needs`: the jobs of one action run one after another; the
//!   actions of a `sequence` stage run one after another, those of a `parallel` stage side by
//!   side; each stage waits for the previous one (its last job in a `sequence` stage, the last
//!   job of every action in a `parallel` one).
//! - `subscriptions` (`SOURCE[KEY]: ENV_VAR`) become `env` entries holding the expression
//!   `actions.SOURCE.outputs.KEY`, validated like any reference. SOURCE is the full
//!   `stage.action.job` name or, as old flows write it, any unambiguous shorter form
//!   (`action.job`, `job`, `stage.action` or `action`, the last two meaning the action's last
//!   job).
//! - Fields the model has no use for (`version`, `tag`, `title`, `kubectl`, `status`, `type`
//!   of a job, …) are accepted and ignored, so old files load unchanged.

use std::collections::HashMap;

use co_expr::{Expr, ExprKind, Template};
use indexmap::IndexMap;

use crate::decode::{Cx, Field, Loc};
use crate::model::{Action, Format, Resources, Retry, Runs};
use crate::suggest::did_you_mean;
use crate::workflow::{ActionSrc, Parsed, Site, Tpl};
use crate::yaml::{Kind, Node, Pos, Value};

struct Job {
    full: String,
    label: String,
    stage: String,
    action: String,
}

struct Subscription {
    /// Index of the subscribing job in `Parsed::actions`.
    index: usize,
    source: String,
    key: String,
    var: String,
    pos: Pos,
}

/// The workflow name for a seed uri: its last segment, made to match `[a-z0-9][a-z0-9-]*` and cut
/// to [`crate::MAX_NAME_LEN`] characters.
pub(crate) fn flow_name(uri: &str) -> String {
    let last = uri
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    let mut out = String::new();
    for c in last.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out: String = out
        .trim_start_matches('-')
        .chars()
        .take(crate::MAX_NAME_LEN)
        .collect();
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "flow".to_string()
    } else {
        out
    }
}

pub(crate) fn decode(cx: &mut Cx, root: &Node) -> Parsed {
    let mut p = Parsed {
        name: String::new(),
        description: None,
        format: Format::Seed { uri: String::new() },
        inputs: IndexMap::new(),
        env: IndexMap::new(),
        env_templates: Vec::new(),
        stages: Vec::new(),
        actions: Vec::new(),
        triggers: Vec::new(),
        concurrency: None,
        notify: Vec::new(),
    };
    let Some(m) = cx.map(root, root.pos, "a seed-format flow") else {
        return p;
    };
    let what = "the flow";
    if let Some(uri) = cx.required(&m, "uri", what).and_then(|f| cx.string(f)) {
        p.name = flow_name(&uri);
        p.format = Format::Seed { uri };
    }
    p.description = cx.opt_string(m.get("title"));

    let mut jobs: Vec<Job> = Vec::new();
    let mut subs: Vec<Subscription> = Vec::new();
    // What the next stage waits for.
    let mut prev_exit: Vec<String> = Vec::new();

    let Some(sf) = cx.required(&m, "stages", what) else {
        return p;
    };
    let Some(stages) = cx.seq(sf.value, sf.value_pos(), "`stages`") else {
        return p;
    };
    for (si, stage) in stages.iter().enumerate() {
        if stage.is_null() {
            continue;
        }
        let fallback = format!("stage #{}", si + 1);
        let Some(sm) = cx.map(stage, stage.pos, &fallback) else {
            continue;
        };
        match sm.get("type").and_then(|f| f.value.text().map(|t| (f, t))) {
            Some((_, "start" | "end")) => continue,
            Some((_, "normal" | "")) | None => {}
            Some((f, other)) => {
                cx.error(
                    f.value_pos(),
                    format!(
                        "unknown stage type `{other}`{}; stage types are start, normal and end",
                        did_you_mean(other, ["start", "normal", "end"])
                    ),
                );
                continue;
            }
        }
        let Some(stage_name) = cx
            .required(&sm, "name", &fallback)
            .and_then(|f| cx.string(f))
        else {
            continue;
        };
        let sequence = match sm.get("sequencing") {
            None => false,
            Some(f) if f.value.is_null() => false,
            Some(f) => match f.value.text() {
                Some("sequence") => true,
                Some("parallel") => false,
                _ => {
                    cx.error(
                        f.value_pos(),
                        format!(
                            "`sequencing` must be `sequence` or `parallel`, found {}",
                            f.value.describe()
                        ),
                    );
                    false
                }
            },
        };
        let stage_index = p.stages.len();
        p.stages.push((
            stage_name.clone(),
            sm.get("name").map(|f| f.value.pos).unwrap_or(stage.pos),
        ));
        let mut stage_exit: Vec<String> = Vec::new();
        let mut seq_prev = prev_exit.clone();
        let actions: &[Node] = match sm.get("actions") {
            None => &[],
            Some(f) if f.value.is_null() => &[],
            Some(f) => cx.seq(f.value, f.value_pos(), "`actions`").unwrap_or(&[]),
        };
        for (ai, action) in actions.iter().enumerate() {
            if action.is_null() {
                continue;
            }
            let afallback = format!("action #{} of stage `{stage_name}`", ai + 1);
            let Some(am) = cx.map(action, action.pos, &afallback) else {
                continue;
            };
            let Some(action_name) = cx
                .required(&am, "name", &afallback)
                .and_then(|f| cx.string(f))
            else {
                continue;
            };
            let job_nodes: &[Node] = match am.get("jobs") {
                None => {
                    cx.error(am.node.pos, format!("action `{action_name}` has no `jobs`"));
                    &[]
                }
                Some(f) if f.value.is_null() => &[],
                Some(f) => cx.seq(f.value, f.value_pos(), "`jobs`").unwrap_or(&[]),
            };
            let real_jobs: Vec<&Node> = job_nodes.iter().filter(|j| !j.is_null()).collect();
            let single = real_jobs.len() == 1;
            let mut prev_job: Option<String> = None;
            for (ji, job) in real_jobs.into_iter().enumerate() {
                let jfallback = format!("job #{} of action `{action_name}`", ji + 1);
                let Some(jm) = cx.map(job, job.pos, &jfallback) else {
                    continue;
                };
                let label = match jm.get("name").filter(|f| !f.value.is_null()) {
                    Some(f) => match cx.string(f) {
                        Some(n) => n,
                        None => continue,
                    },
                    None if single => action_name.clone(),
                    None => format!("{action_name}-{}", ji + 1),
                };
                let full = format!("{stage_name}.{action_name}.{label}");
                let needs = match &prev_job {
                    Some(pj) => vec![pj.clone()],
                    None if sequence => seq_prev.clone(),
                    None => prev_exit.clone(),
                };
                let index = p.actions.len();
                let what = format!("job `{full}`");
                let runs = cx
                    .required(&jm, "endpoint", &what)
                    .and_then(|f| crate::component::image(cx, f))
                    .map(Runs::Image)
                    .unwrap_or_else(|| Runs::Image(String::new()));
                let resources = jm
                    .get("resources")
                    .map(|f| resources(cx, f))
                    .unwrap_or_default();
                let timeout = jm.get("timeout").and_then(|f| timeout(cx, f));
                let env = jm
                    .get("environments")
                    .map(|f| environments(cx, f))
                    .unwrap_or_default();
                let legacy_outputs = match jm.get("outputs").or_else(|| jm.get("output")) {
                    Some(f) if !f.value.is_null() => cx
                        .string_list(f, false)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(s, _)| s)
                        .collect(),
                    _ => Vec::new(),
                };
                if let Some(f) = jm.get("subscriptions") {
                    subscriptions(cx, f, index, &mut subs);
                }
                let src = ActionSrc {
                    name_pos: jm.get("name").map(|f| f.value.pos).unwrap_or(job.pos),
                    stage: Some(stage_index),
                    needs: needs.iter().map(|n| (n.clone(), job.pos)).collect(),
                    templates: Vec::new(),
                    condition: None,
                    component_pos: None,
                    with_pos: None,
                    with_items: Vec::new(),
                };
                let a = Action {
                    name: full.clone(),
                    label: label.clone(),
                    span: cx.span(job.pos),
                    runs,
                    uses: None,
                    command: None,
                    with: IndexMap::new(),
                    env,
                    needs: Some(needs),
                    condition: None,
                    timeout,
                    retry: Retry::default(),
                    resources,
                    matrix: None,
                    legacy: true,
                    legacy_outputs,
                    own_artifacts: Vec::new(),
                };
                p.actions.push((a, src));
                jobs.push(Job {
                    full: full.clone(),
                    label,
                    stage: stage_name.clone(),
                    action: action_name.clone(),
                });
                prev_job = Some(full);
            }
            if let Some(last) = prev_job {
                if sequence {
                    seq_prev = vec![last.clone()];
                    stage_exit = vec![last];
                } else {
                    stage_exit.push(last);
                }
            }
        }
        if !stage_exit.is_empty() {
            prev_exit = stage_exit;
        }
    }

    if p.actions.is_empty() && cx.diags.is_empty() {
        cx.error(
            sf.value_pos(),
            "the flow has no jobs to run; add a `normal` stage with actions and jobs",
        );
    }
    for s in subs {
        let Some(source) = resolve_source(cx, &jobs, &s) else {
            continue;
        };
        let template = Template::expr(output_ref(&source, &s.key));
        if let Some((a, src)) = p.actions.get_mut(s.index) {
            a.env.insert(s.var.clone(), template.clone());
            src.templates.push((
                Site::Env(s.var.clone()),
                Tpl {
                    template,
                    text: String::new(),
                    loc: Loc::Fixed(s.pos),
                },
            ));
        }
    }
    p
}

/// `actions.NAME.outputs.KEY`, built directly (seed names contain dots).
fn output_ref(name: &str, key: &str) -> Expr {
    let node = |kind| Expr { kind, offset: 0 };
    let root = node(ExprKind::Ident("actions".to_string()));
    let action = node(ExprKind::Member(Box::new(root), name.to_string()));
    let outputs = node(ExprKind::Member(Box::new(action), "outputs".to_string()));
    node(ExprKind::Member(Box::new(outputs), key.to_string()))
}

fn resolve_source(cx: &mut Cx, jobs: &[Job], s: &Subscription) -> Option<String> {
    if jobs.iter().any(|j| j.full == s.source) {
        return Some(s.source.clone());
    }
    // Shorter forms: `action.job`, `job`, `stage.action` / `action` (the action's last job).
    let mut found: Vec<&str> = Vec::new();
    let mut last_of_action: HashMap<(&str, &str), &str> = HashMap::new();
    for j in jobs {
        last_of_action.insert((j.stage.as_str(), j.action.as_str()), j.full.as_str());
    }
    for j in jobs {
        let short = format!("{}.{}", j.action, j.label);
        let stage_action = format!("{}.{}", j.stage, j.action);
        let is_last =
            last_of_action.get(&(j.stage.as_str(), j.action.as_str())) == Some(&j.full.as_str());
        let matches = short == s.source
            || j.label == s.source
            || (is_last && (stage_action == s.source || j.action == s.source));
        if matches && !found.contains(&j.full.as_str()) {
            found.push(j.full.as_str());
        }
    }
    match found.as_slice() {
        [one] => Some((*one).to_string()),
        [] => {
            let names = jobs.iter().map(|j| j.full.as_str());
            cx.error(
                s.pos,
                format!(
                    "subscription `{}[{}]` names an unknown job `{}`{}",
                    s.source,
                    s.key,
                    s.source,
                    did_you_mean(&s.source, names)
                ),
            );
            None
        }
        many => {
            cx.error(
                s.pos,
                format!(
                    "subscription source `{}` is ambiguous; write the full `stage.action.job` \
                     name: {}",
                    s.source,
                    many.join(", ")
                ),
            );
            None
        }
    }
}

/// The entries of a seed-format list of single-entry mappings (`- KEY: value`), also accepted as
/// one mapping. `item` and `whole` describe the expected form for the error messages.
fn single_entries<'n>(
    cx: &mut Cx,
    f: Field<'n>,
    item_form: &str,
    list_form: &str,
) -> Vec<(&'n Node, &'n Node)> {
    let mut entries: Vec<(&Node, &Node)> = Vec::new();
    match &f.value.kind {
        Kind::Seq(items) => {
            for item in items {
                match &item.kind {
                    Kind::Map(es) => entries.extend(es.iter().map(|(k, v)| (k, v))),
                    _ if item.is_null() => {}
                    _ => cx.error(item.pos, format!("{item_form}, found {}", item.describe())),
                }
            }
        }
        Kind::Map(es) => entries.extend(es.iter().map(|(k, v)| (k, v))),
        _ if f.value.is_null() => {}
        _ => cx.error(
            f.value_pos(),
            format!("{list_form}, found {}", f.value.describe()),
        ),
    }
    entries
}

fn subscriptions(cx: &mut Cx, f: Field<'_>, index: usize, out: &mut Vec<Subscription>) {
    let entries = single_entries(
        cx,
        f,
        "a subscription looks like `stage.action.job[OUTPUT]: ENV_VAR`",
        "`subscriptions` must be a list like `- stage.action.job[OUTPUT]: ENV_VAR`",
    );
    for (k, v) in entries {
        let key_text = k.text().unwrap_or("");
        let parsed = key_text
            .strip_suffix(']')
            .and_then(|s| s.split_once('['))
            .filter(|(src, key)| !src.is_empty() && !key.is_empty());
        let Some((source, key)) = parsed else {
            cx.error(
                k.pos,
                format!(
                    "subscription `{}` must look like `stage.action.job[OUTPUT]: ENV_VAR`",
                    crate::yaml::shorten(key_text)
                ),
            );
            continue;
        };
        let var = match v.scalar() {
            Some(s) if s.value() != Value::Null && !s.text.contains('=') => s.text.clone(),
            _ => {
                cx.error(
                    if v.is_null() { k.pos } else { v.pos },
                    format!(
                        "subscription `{key_text}` must name the environment variable that \
                         receives the output, like `{key_text}: {key}`"
                    ),
                );
                continue;
            }
        };
        out.push(Subscription {
            index,
            source: source.to_string(),
            key: key.to_string(),
            var,
            pos: k.pos,
        });
    }
}

/// `environments:` — a list of single-entry mappings (or one mapping), values verbatim.
fn environments(cx: &mut Cx, f: Field<'_>) -> IndexMap<String, Template> {
    let mut env = IndexMap::new();
    let entries = single_entries(
        cx,
        f,
        "items of `environments` must look like `NAME: value`",
        "`environments` must be a list like `- CO_DATA: \"key=value\"`",
    );
    for (k, v) in entries {
        let Some(name) = k.text().filter(|n| !n.is_empty() && !n.contains('=')) else {
            cx.error(
                k.pos,
                "environment variable names must be non-empty strings without `=`",
            );
            continue;
        };
        let value = match &v.kind {
            Kind::Scalar(s) if s.value() == Value::Null => String::new(),
            Kind::Scalar(s) => s.text.clone(),
            _ => v.to_json().to_string(),
        };
        env.insert(name.to_string(), Template::literal(value));
    }
    env
}

fn is_zero(node: &Node) -> bool {
    match node.scalar().map(|s| s.value()) {
        Some(Value::Int(0) | Value::Null) => true,
        Some(Value::Float(f)) => f == 0.0,
        Some(Value::Str(t)) => t.trim() == "0",
        _ => false,
    }
}

/// Seed resources: like native ones, but `0` means "no limit" (old flows write `cpu: 0`).
fn resources(cx: &mut Cx, f: Field<'_>) -> Resources {
    let mut r = Resources::default();
    if f.value.is_null() {
        return r;
    }
    let Some(m) = cx.map(f.value, f.value_pos(), "`resources`") else {
        return r;
    };
    if let Some(c) = m.get("cpu").filter(|c| !is_zero(c.value)) {
        r.cpu_millis = crate::component::quantity_text(cx, c).and_then(|t| {
            crate::parse_cpu(&t)
                .map_err(|e| cx.error(c.value_pos(), format!("invalid `cpu`: {e}")))
                .ok()
        });
    }
    if let Some(mem) = m.get("memory").filter(|c| !is_zero(c.value)) {
        r.memory_bytes = crate::component::quantity_text(cx, mem).and_then(|t| {
            crate::parse_memory(&t)
                .map_err(|e| cx.error(mem.value_pos(), format!("invalid `memory`: {e}")))
                .ok()
        });
    }
    r
}

/// Seed timeout: seconds (`0`: none); a duration with a unit is accepted too.
fn timeout(cx: &mut Cx, f: Field<'_>) -> Option<std::time::Duration> {
    if is_zero(f.value) {
        return None;
    }
    match f.value.scalar().map(|s| s.value()) {
        Some(Value::Int(n)) if n > 0 => Some(std::time::Duration::from_secs(n.unsigned_abs())),
        Some(Value::Str(t)) => match t.trim().parse::<u64>() {
            Ok(n) => Some(std::time::Duration::from_secs(n)),
            Err(_) => match crate::parse_duration(t) {
                Ok(d) => Some(d),
                Err(e) => {
                    cx.error(f.value_pos(), format!("invalid `timeout`: {e}"));
                    None
                }
            },
        },
        _ => {
            cx.error(
                f.value_pos(),
                format!(
                    "`timeout` must be a number of seconds (0: no timeout), found {}",
                    f.value.describe()
                ),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::flow_name;

    #[test]
    fn flow_names() {
        assert_eq!(flow_name("demo/ci/build-flow"), "build-flow");
        assert_eq!(
            flow_name("containerops/component/Python_Pep8 Test/"),
            "python-pep8-test"
        );
        assert_eq!(flow_name("x/--"), "flow");
        assert_eq!(flow_name(""), "flow");
        let long = flow_name(&format!("a/b/{}", "x-".repeat(200)));
        assert_eq!(long.len(), crate::MAX_NAME_LEN - 1, "{long}");
        assert!(crate::NameKind::Workflow.is_valid(&long));
    }
}
