//! `workflow.yaml` (SPEC §3) decoding into the model, keeping the source positions validation
//! needs (see [`Parsed`]).

use std::collections::HashSet;

use co_expr::{Expr, Template};
use indexmap::IndexMap;

use crate::component::{self, ParamKind};
use crate::decode::{Cx, Field, Loc, Map, NameRule, EXTENSIONS};
use crate::loader::{Resolved, Resolver};
use crate::model::{Action, Format, Matrix, ParamDecl, Retry, Runs};
use crate::triggers::TriggerSrc;
use crate::yaml::{Kind, Node, Pos, Value};

/// Most matrix combinations one action may expand to.
pub(crate) const MAX_MATRIX_COMBINATIONS: usize = 256;
/// Most tries `retry.attempts` may ask for (with the doubling backoff, the tenth try waits
/// `backoff · 512`).
pub(crate) const MAX_RETRY_ATTEMPTS: u32 = 10;

const WORKFLOW_FIELDS: &[&str] = &[
    "name",
    "description",
    "inputs",
    "env",
    "stages",
    "finally",
    "triggers",
    "concurrency",
    "notify",
    EXTENSIONS,
];
const STAGE_FIELDS: &[&str] = &["name", "actions"];
const ACTION_FIELDS: &[&str] = &[
    "name",
    "image",
    "component",
    "command",
    "with",
    "env",
    "needs",
    "if",
    "timeout",
    "retry",
    "resources",
    "matrix",
    "max-parallel",
    "artifacts",
];

/// A template and where its text came from.
#[derive(Debug, Clone)]
pub(crate) struct Tpl {
    pub template: Template,
    pub text: String,
    pub loc: Loc,
}

/// Where in an action a template sits (what it may refer to depends on it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Site {
    With(String),
    Env(String),
    Command,
    If,
}

/// One `with:` entry's positions.
#[derive(Debug, Clone)]
pub(crate) struct WithItem {
    pub key: String,
    pub key_pos: Pos,
    pub value_pos: Pos,
}

/// Source positions of one action, for validation.
#[derive(Debug, Clone)]
pub(crate) struct ActionSrc {
    /// The action's `name` value (or the action itself).
    pub name_pos: Pos,
    /// Index into [`Parsed::stages`]; `None` for `finally`.
    pub stage: Option<usize>,
    /// `needs:` entries as written.
    pub needs: Vec<(String, Pos)>,
    pub templates: Vec<(Site, Tpl)>,
    /// `if:` as parsed, with its text and position.
    pub condition: Option<(Expr, String, Loc)>,
    /// The `component:` value.
    pub component_pos: Option<Pos>,
    /// The `with:` key.
    pub with_pos: Option<Pos>,
    pub with_items: Vec<WithItem>,
}

/// A decoded workflow (either format) before cross-action validation.
pub(crate) struct Parsed {
    pub name: String,
    pub description: Option<String>,
    pub format: Format,
    pub inputs: IndexMap<String, ParamDecl>,
    pub env: IndexMap<String, Template>,
    pub env_templates: Vec<(String, Tpl)>,
    /// Stage names and positions.
    pub stages: Vec<(String, Pos)>,
    /// Every action in declaration order (stage actions, then `finally`).
    pub actions: Vec<(Action, ActionSrc)>,
    /// `triggers:` (native workflows only).
    pub triggers: Vec<TriggerSrc>,
    /// `concurrency:`.
    pub concurrency: Option<u32>,
    /// `notify:`.
    pub notify: Vec<crate::model::Notify>,
}

/// Decode a native workflow. Problems go to `cx`; component files' problems to `resolver`.
pub(crate) fn decode(cx: &mut Cx, root: &Node, resolver: &mut Resolver<'_>) -> Parsed {
    let mut p = Parsed {
        name: String::new(),
        description: None,
        format: Format::Native,
        inputs: IndexMap::new(),
        env: IndexMap::new(),
        env_templates: Vec::new(),
        stages: Vec::new(),
        actions: Vec::new(),
        triggers: Vec::new(),
        concurrency: None,
        notify: Vec::new(),
    };
    let Some(m) = cx.map(root, root.pos, "a workflow file") else {
        return p;
    };
    let what = "the workflow";
    cx.check_keys_hint(&m, WORKFLOW_FIELDS, what, |k| match k {
        "title" | "version" | "tag" | "timeout" => Some(
            "this looks like a seed-format flow, which needs a top-level `uri:` (SPEC §4)"
                .to_string(),
        ),
        "jobs" | "steps" => Some("a workflow lists its actions under `stages:`".to_string()),
        "on" | "schedule" | "webhooks" | "hooks" => Some(
            "runs are started on a server by `triggers:` (`cron`, `github`, `gitlab`, \
             `webhook`), see docs/triggers.md"
                .to_string(),
        ),
        "max-concurrency" | "max_concurrency" | "parallel" | "max-parallel" => {
            Some("did you mean `concurrency`?".to_string())
        }
        _ => None,
    });
    if let Some(n) = cx
        .required(&m, "name", what)
        .and_then(|f| cx.stored_name(f, crate::NameKind::Workflow))
    {
        p.name = n;
    }
    p.description = cx.opt_string(m.get("description"));
    if let Some(f) = m.get("inputs") {
        p.inputs = component::params(cx, f, ParamKind::WorkflowInput);
    }
    if let Some(f) = m.get("env") {
        let (env, tpls) = env_block(cx, f);
        p.env = env;
        p.env_templates = tpls;
    }
    if let Some(f) = cx.required(&m, "stages", what) {
        stages(cx, f, resolver, &mut p);
    }
    if let Some(f) = m.get("triggers") {
        p.triggers = crate::triggers::decode(cx, f);
    }
    if let Some(f) = m.get("concurrency") {
        p.concurrency = crate::triggers::concurrency(cx, f);
    }
    if let Some(f) = m.get("notify") {
        p.notify = crate::notify::decode(cx, f);
    }
    if let Some(f) = m.get("finally").filter(|f| !f.value.is_null()) {
        if let Some(items) = cx.seq(f.value, f.value_pos(), "`finally`") {
            for (i, item) in items.iter().enumerate() {
                let label = format!("action #{} of `finally`", i + 1);
                if let Some(a) = action(cx, item, None, &label, resolver) {
                    p.actions.push(a);
                }
            }
        }
    }
    p
}

fn stages(cx: &mut Cx, f: Field<'_>, resolver: &mut Resolver<'_>, p: &mut Parsed) {
    let Some(items) = cx.seq(f.value, f.value_pos(), "`stages`") else {
        return;
    };
    if items.is_empty() {
        cx.error(
            f.value_pos(),
            "a workflow needs at least one stage under `stages:`",
        );
    }
    for (i, item) in items.iter().enumerate() {
        let fallback = format!("stage #{}", i + 1);
        let Some(m) = cx.map(item, item.pos, &fallback) else {
            continue;
        };
        let name_field = m.get("name");
        let (name, what) = required_name(cx, &m, "stage", &fallback);
        cx.check_keys_hint(&m, STAGE_FIELDS, &what, |k| match k {
            "type" | "sequencing" | "title" => Some(
                "this looks like a seed-format flow, which needs a top-level `uri:` (SPEC §4)"
                    .to_string(),
            ),
            "image" | "component" | "with" | "needs" => Some(
                "a stage holds `name` and `actions`; put this in one of its actions".to_string(),
            ),
            _ => None,
        });
        let index = p.stages.len();
        p.stages.push((
            name.clone().unwrap_or_default(),
            name_field.map(|f| f.value.pos).unwrap_or(item.pos),
        ));
        let Some(af) = cx.required(&m, "actions", &what) else {
            continue;
        };
        let Some(actions) = cx.seq(af.value, af.value_pos(), "`actions`") else {
            continue;
        };
        if actions.is_empty() {
            cx.error(af.value_pos(), format!("{what} has no actions"));
        }
        for (j, a) in actions.iter().enumerate() {
            let label = format!("action #{} of {what}", j + 1);
            if let Some(a) = action(cx, a, Some(index), &label, resolver) {
                p.actions.push(a);
            }
        }
    }
}

/// `env:` mapping of variable name → template.
/// The `name` of a stage or action (reported when missing), and how to refer to the thing in
/// messages (`stage `build``, or `fallback` without a valid name).
fn required_name(cx: &mut Cx, m: &Map<'_>, kind: &str, fallback: &str) -> (Option<String>, String) {
    let name = match m.get("name") {
        Some(nf) => cx.name(nf, NameRule::Ident),
        None => {
            cx.error(
                m.node.pos,
                format!("missing required field `name` in {fallback}"),
            );
            None
        }
    };
    let what = match &name {
        Some(n) => format!("{kind} `{n}`"),
        None => fallback.to_string(),
    };
    (name, what)
}

fn env_block(cx: &mut Cx, f: Field<'_>) -> (IndexMap<String, Template>, Vec<(String, Tpl)>) {
    let mut env = IndexMap::new();
    let mut tpls = Vec::new();
    if f.value.is_null() {
        return (env, tpls);
    }
    let Some(m) = cx.map(f.value, f.value_pos(), "`env`") else {
        return (env, tpls);
    };
    for e in m.fields() {
        let Some(key) = e.key.text() else {
            cx.error(e.key.pos, "`env` keys must be variable names");
            continue;
        };
        if !NameRule::EnvVar.matches(key) {
            cx.error(
                e.key.pos,
                format!(
                    "invalid environment variable name `{key}`: {}",
                    NameRule::EnvVar.describe()
                ),
            );
            continue;
        }
        if let Some(t) = template_value(cx, e) {
            env.insert(key.to_string(), t.template.clone());
            tpls.push((key.to_string(), t));
        }
    }
    (env, tpls)
}

/// One entry of an input-name → value map (an action's `with:`, a trigger's `inputs:`).
#[derive(Debug, Clone)]
pub(crate) struct InputItem {
    pub key: String,
    pub key_pos: Pos,
    pub value_pos: Pos,
    pub tpl: Tpl,
}

/// The entries of an input-name → value map (`what` names it in messages, e.g. "`with`"): every
/// key must be an input name, every value is parsed as a template. Bad entries are reported and
/// left out; a null map is empty.
pub(crate) fn input_map(cx: &mut Cx, f: Field<'_>, what: &str) -> Vec<InputItem> {
    let mut out = Vec::new();
    if f.value.is_null() {
        return out;
    }
    let Some(m) = cx.map(f.value, f.value_pos(), what) else {
        return out;
    };
    for e in m.fields() {
        let Some(key) = e.key.text() else {
            cx.error(e.key.pos, format!("{what} keys must be input names"));
            continue;
        };
        if !NameRule::Ident.matches(key) {
            cx.error(
                e.key.pos,
                format!("invalid input name `{key}`: {}", NameRule::Ident.describe()),
            );
            continue;
        }
        if let Some(tpl) = template_value(cx, e) {
            out.push(InputItem {
                key: key.to_string(),
                key_pos: e.key.pos,
                value_pos: e.value_pos(),
                tpl,
            });
        }
    }
    out
}

/// A template from a value of `with`, `env` or `command`.
///
/// A plain scalar that is a number or boolean keeps that type when writing the value back gives
/// exactly the text (`12`, `1.5`, `true`); anything that would change (`1.10`, `007`, `True`) stays
/// the text as written, so no value is silently altered. A mapping or list keeps its structure (as
/// JSON). Empty (or `null`) is `""`. Everything else is a string template that may contain `${{ }}`.
pub(crate) fn template_value(cx: &mut Cx, f: Field<'_>) -> Option<Tpl> {
    let typed = |value: serde_json::Value, text: String| Tpl {
        template: Template::expr(Expr {
            kind: co_expr::ExprKind::Literal(value),
            offset: 0,
        }),
        text,
        loc: Loc::Fixed(f.value.pos),
    };
    match &f.value.kind {
        Kind::Scalar(s) => {
            let plain = s.style == crate::yaml::Style::Plain && !s.forced_string;
            match s.value() {
                Value::Null if plain => Some(parse_template(cx, String::new(), Loc::of(f.value))),
                Value::Bool(_) | Value::Int(_) | Value::Float(_) if plain => {
                    let value = crate::yaml::scalar_json(s);
                    if co_protocol::value_text(&value) == s.text {
                        Some(typed(value, s.text.clone()))
                    } else {
                        Some(parse_template(cx, s.text.clone(), Loc::of(f.value)))
                    }
                }
                _ => Some(parse_template(cx, s.text.clone(), Loc::of(f.value))),
            }
        }
        _ => {
            let value = f.value.to_json();
            let text = value.to_string();
            Some(typed(value, text))
        }
    }
}

/// Parse a template, reporting a syntax error at its exact position.
pub(crate) fn parse_template(cx: &mut Cx, text: String, loc: Loc) -> Tpl {
    let template = match Template::parse(&text) {
        Ok(t) => t,
        Err(e) => {
            let pos = cx.locate(loc, &text, e.offset);
            cx.error(pos, format!("invalid expression: {}", e.message));
            Template::literal(text.clone())
        }
    };
    Tpl {
        template,
        text,
        loc,
    }
}

fn action(
    cx: &mut Cx,
    node: &Node,
    stage: Option<usize>,
    fallback: &str,
    resolver: &mut Resolver<'_>,
) -> Option<(Action, ActionSrc)> {
    let m = cx.map(node, node.pos, fallback)?;
    let name_field = m.get("name");
    let (name, what) = required_name(cx, &m, "action", fallback);
    cx.check_keys_hint(&m, ACTION_FIELDS, &what, |k| match k {
        "run" | "script" | "entrypoint" | "args" => {
            Some("use `command` (a list) together with `image`".to_string())
        }
        "depends_on" | "depends-on" | "dependsOn" | "after" => {
            Some("did you mean `needs`?".to_string())
        }
        "inputs" | "params" | "parameters" => Some("did you mean `with`?".to_string()),
        "uses" => Some("did you mean `component`?".to_string()),
        "retries" | "attempts" => {
            Some("did you mean `retry`? (like `retry: { attempts: 3, backoff: 1s }`)".to_string())
        }
        "environment" | "environments" | "variables" => Some("did you mean `env`?".to_string()),
        "outputs" => Some(
            "outputs are declared by components (in component.yaml); image steps keep every \
             output they print"
                .to_string(),
        ),
        "stages" | "actions" => Some("actions cannot be nested".to_string()),
        _ => None,
    });

    let mut src = ActionSrc {
        name_pos: name_field.map(|f| f.value.pos).unwrap_or(node.pos),
        stage,
        needs: Vec::new(),
        templates: Vec::new(),
        condition: None,
        component_pos: None,
        with_pos: None,
        with_items: Vec::new(),
    };

    // image XOR component
    let image_f = m.get("image");
    let comp_f = m.get("component");
    let runs = match (image_f, comp_f) {
        (Some(i), Some(c)) => {
            let second = if c.key.pos > i.key.pos { c } else { i };
            cx.error(
                second.key.pos,
                format!(
                    "{what} has both `image` and `component`; an action runs either a plain \
                     image or a component, not both"
                ),
            );
            None
        }
        (None, None) => {
            cx.error(
                m.node.pos,
                format!(
                    "{what} needs either `image` (a container image) or `component` (a \
                     component directory, file or `name@version`)"
                ),
            );
            None
        }
        (Some(i), None) => component::image(cx, i).map(Runs::Image),
        (None, Some(c)) => {
            src.component_pos = Some(c.value_pos());
            component_ref(cx, c, resolver)
        }
    };

    // The `component:` reference as written (for clients showing it, and servers binding paths).
    let uses = match &runs {
        Some(Runs::Component(_)) => comp_f.and_then(|c| c.value.scalar().map(|s| s.text.clone())),
        _ => None,
    };

    let command = m.get("command").and_then(|f| {
        if comp_f.is_some() && image_f.is_none() {
            cx.error(
                f.key.pos,
                "`command` can only be set on `image:` steps; a component's command is part of \
                 the component (set it in its component.yaml)",
            );
            return None;
        }
        command_templates(cx, f, &mut src)
    });

    let mut with = IndexMap::new();
    if let Some(f) = m.get("with") {
        src.with_pos = Some(f.key.pos);
        for item in input_map(cx, f, "`with`") {
            with.insert(item.key.clone(), item.tpl.template.clone());
            src.with_items.push(WithItem {
                key: item.key.clone(),
                key_pos: item.key_pos,
                value_pos: item.value_pos,
            });
            src.templates.push((Site::With(item.key), item.tpl));
        }
    }

    let mut env = IndexMap::new();
    if let Some(f) = m.get("env") {
        let (e, tpls) = env_block(cx, f);
        env = e;
        for (k, t) in tpls {
            src.templates.push((Site::Env(k), t));
        }
    }

    let needs = match m.get("needs") {
        None => None,
        Some(f) if stage.is_none() => {
            cx.error(
                f.key.pos,
                "`needs` is not allowed in `finally`: finally actions always wait for every \
                 stage action",
            );
            None
        }
        Some(f) => {
            let list = cx.string_list(f, true).unwrap_or_default();
            let mut names = Vec::new();
            let mut seen = HashSet::new();
            for (n, node) in list {
                if !seen.insert(n.clone()) {
                    cx.error(node.pos, format!("`{n}` is listed twice in `needs`"));
                    continue;
                }
                names.push(n.clone());
                src.needs.push((n, node.pos));
            }
            Some(names)
        }
    };

    let condition = m.get("if").and_then(|f| condition(cx, f, &mut src));

    let timeout = m
        .get("timeout")
        .filter(|f| !f.value.is_null())
        .and_then(|f| cx.duration(f, true));

    let retry = m.get("retry").map(|f| retry(cx, f)).unwrap_or_default();

    let resources = m
        .get("resources")
        .map(|f| component::resources(cx, f))
        .unwrap_or_default();

    let mut matrix = m.get("matrix").and_then(|f| matrix(cx, f));
    if let Some(f) = m.get("max-parallel") {
        let n = cx.int_at_least(f, 1);
        match (&mut matrix, m.get("matrix")) {
            (Some(mx), _) => mx.max_parallel = n,
            (None, None) => cx.error(
                f.key.pos,
                format!(
                    "`max-parallel` only applies to actions with a `matrix`, and {what} has none"
                ),
            ),
            (None, Some(_)) => {}
        }
    }

    let own_artifacts = m
        .get("artifacts")
        .map(|f| crate::artifacts::decode(cx, f))
        .unwrap_or_default();

    let name = name?;
    Some((
        Action {
            label: name.clone(),
            name,
            span: cx.span(node.pos),
            runs: runs.unwrap_or_else(|| Runs::Image(String::new())),
            uses,
            command,
            with,
            env,
            needs,
            condition,
            timeout,
            retry,
            resources,
            matrix,
            legacy: false,
            legacy_outputs: Vec::new(),
            own_artifacts,
        },
        src,
    ))
}

fn component_ref(cx: &mut Cx, f: Field<'_>, resolver: &mut Resolver<'_>) -> Option<Runs> {
    let reference = cx.string(f)?;
    match resolver.resolve(&reference) {
        Resolved::Found(c) => Some(Runs::Component(c)),
        Resolved::Invalid => None,
        Resolved::Missing(msg) => {
            cx.error(f.value_pos(), msg);
            None
        }
    }
}

fn command_templates(cx: &mut Cx, f: Field<'_>, src: &mut ActionSrc) -> Option<Vec<Template>> {
    if f.value.is_null() {
        return None;
    }
    let Kind::Seq(items) = &f.value.kind else {
        cx.error(
            f.value_pos(),
            format!(
                "`command` must be a list of strings, like `[\"sh\", \"-c\", \"echo hi\"]`, found {}",
                f.value.describe()
            ),
        );
        return None;
    };
    if items.is_empty() {
        cx.error(
            f.value_pos(),
            "`command` must not be empty; leave it out to use the image's entrypoint",
        );
        return None;
    }
    let mut out = Vec::new();
    for item in items {
        match item.scalar() {
            Some(s) if s.value() != Value::Null => {
                let t = parse_template(cx, s.text.clone(), Loc::of(item));
                out.push(t.template.clone());
                src.templates.push((Site::Command, t));
            }
            _ => cx.error(
                item.pos,
                format!(
                    "items of `command` must be strings, found {}",
                    item.describe()
                ),
            ),
        }
    }
    Some(out)
}

fn condition(cx: &mut Cx, f: Field<'_>, src: &mut ActionSrc) -> Option<Expr> {
    let s = match f.value.scalar() {
        Some(s) if s.value() != Value::Null => s,
        _ => {
            cx.error(
                f.value_pos(),
                format!(
                    "`if` must be an expression like `${{{{ failure() }}}}`, found {}",
                    f.value.describe()
                ),
            );
            return None;
        }
    };
    let loc = Loc::of(f.value);
    match co_expr::parse_condition(&s.text) {
        Ok(e) => {
            src.condition = Some((e.clone(), s.text.clone(), loc));
            Some(e)
        }
        Err(e) => {
            let pos = cx.locate(loc, &s.text, e.offset);
            cx.error(pos, format!("invalid `if` expression: {}", e.message));
            None
        }
    }
}

fn retry(cx: &mut Cx, f: Field<'_>) -> Retry {
    let mut r = Retry::default();
    if f.value.is_null() {
        return r;
    }
    let Kind::Map(_) = f.value.kind else {
        cx.error(
            f.value_pos(),
            format!(
                "`retry` must be a mapping like `{{ attempts: 3, backoff: 1s }}`, found {}",
                f.value.describe()
            ),
        );
        return r;
    };
    let Some(m) = cx.map(f.value, f.value_pos(), "`retry`") else {
        return r;
    };
    cx.check_keys(&m, &["attempts", "backoff"], "`retry`");
    if let Some(a) = cx.required(&m, "attempts", "`retry`") {
        if let Some(n) = cx.int_at_least(a, 1) {
            if n > MAX_RETRY_ATTEMPTS {
                cx.error(
                    a.value_pos(),
                    format!(
                        "`retry.attempts` is {n}; at most {MAX_RETRY_ATTEMPTS} tries are allowed \
                         (attempts counts every try, the first one included)"
                    ),
                );
            } else {
                r.attempts = n;
            }
        }
    }
    if let Some(b) = m.get("backoff").filter(|b| !b.value.is_null()) {
        if let Some(d) = cx.duration(b, false) {
            r.backoff = d;
        }
    }
    r
}

fn matrix(cx: &mut Cx, f: Field<'_>) -> Option<Matrix> {
    if f.value.is_null() {
        cx.error(
            f.value_pos(),
            "`matrix` must not be empty; give at least one axis, like `{ os: [linux, mac] }`",
        );
        return None;
    }
    let m: Map<'_> = cx.map(f.value, f.value_pos(), "`matrix`")?;
    if m.entries.is_empty() {
        cx.error(
            f.value_pos(),
            "`matrix` must not be empty; give at least one axis, like `{ os: [linux, mac] }`",
        );
        return None;
    }
    let mut axes = IndexMap::new();
    let mut ok = true;
    let mut combinations: usize = 1;
    for e in m.fields() {
        let Some(axis) = e.key.text().filter(|a| NameRule::Ident.matches(a)) else {
            cx.error(
                e.key.pos,
                format!("invalid matrix axis name: {}", NameRule::Ident.describe()),
            );
            ok = false;
            continue;
        };
        let Kind::Seq(items) = &e.value.kind else {
            cx.error(
                e.value_pos(),
                format!(
                    "matrix axis `{axis}` must be a list of values, like `[a, b]`, found {}",
                    e.value.describe()
                ),
            );
            ok = false;
            continue;
        };
        if items.is_empty() {
            cx.error(e.value_pos(), format!("matrix axis `{axis}` has no values"));
            ok = false;
            continue;
        }
        let mut values = Vec::new();
        let mut seen = HashSet::new();
        for item in items {
            match item.scalar() {
                Some(s) if s.value() != Value::Null => {
                    let v = crate::yaml::scalar_json(s);
                    let text = co_protocol::value_text(&v);
                    if !seen.insert(text.clone()) {
                        cx.error(
                            item.pos,
                            format!("matrix axis `{axis}` lists `{text}` twice"),
                        );
                        ok = false;
                        continue;
                    }
                    values.push(v);
                }
                _ => {
                    cx.error(
                        item.pos,
                        format!(
                            "matrix values must be strings, numbers or booleans, found {}",
                            item.describe()
                        ),
                    );
                    ok = false;
                }
            }
        }
        combinations = combinations.saturating_mul(values.len().max(1));
        axes.insert(axis.to_string(), values);
    }
    if combinations > MAX_MATRIX_COMBINATIONS {
        cx.error(
            f.value_pos(),
            format!(
                "`matrix` expands to {combinations} copies; at most {MAX_MATRIX_COMBINATIONS} \
                 are allowed"
            ),
        );
        ok = false;
    }
    ok.then_some(Matrix {
        axes,
        max_parallel: None,
    })
}
