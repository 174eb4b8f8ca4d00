//! Cross-action validation of a decoded workflow: names, `needs`, cycles, expression references
//! and component inputs. Every problem is reported; nothing stops early.

use std::collections::{HashMap, VecDeque};

use co_expr::RefUse;
use co_protocol::ValueType;

use crate::decode::Cx;
use crate::model::{Action, Format, Runs};
use crate::suggest::did_you_mean;
use crate::workflow::{ActionSrc, Parsed, Site};
use crate::yaml::Pos;
use crate::ValidateOptions;

const ROOTS: &[&str] = &[
    "inputs", "actions", "secrets", "env", "matrix", "run", "trigger",
];

/// Most steps (actions, counting every matrix copy) one workflow may have. Validation and planning
/// are linear in the workflow's size (plus the edges between stages), so this is a sanity limit.
pub(crate) const MAX_STEPS: usize = 50_000;

pub(crate) fn validate(cx: &mut Cx, p: &Parsed, options: &ValidateOptions) {
    let mut steps = 0usize;
    for (a, src) in &p.actions {
        let copies = a
            .matrix
            .as_ref()
            .map(|m| m.axes.values().map(Vec::len).product::<usize>())
            .unwrap_or(1);
        steps = steps.saturating_add(copies);
        if steps > MAX_STEPS {
            cx.error(
                src.name_pos,
                format!(
                    "the workflow has more than {MAX_STEPS} steps (every matrix copy counts); split it into several workflows"
                ),
            );
            return;
        }
    }
    let v = Validator::new(p, options);
    v.check_stage_names(cx);
    v.check_action_names(cx);
    let deps = v.resolve_deps(cx);
    v.check_cycles(cx, &deps);
    for (i, (action, src)) in p.actions.iter().enumerate() {
        // What an action waits for only matters when it refers to other actions; computing it
        // only then keeps validation linear for large workflows without references.
        let waits = if refers_to_actions(src) {
            ancestors(&deps, i)
        } else {
            Vec::new()
        };
        v.check_references(cx, i, action, src, &waits);
        v.check_component_inputs(cx, action, src);
    }
    for (key, t) in &p.env_templates {
        for r in t.template.references() {
            let pos = cx.locate(t.loc, &t.text, r.offset);
            v.check_workflow_env_ref(cx, key, &r, pos);
        }
    }
    crate::triggers::check_inputs(cx, &p.triggers, &p.inputs);
}

struct Validator<'a> {
    p: &'a Parsed,
    options: &'a ValidateOptions,
    /// Action name → index of its first definition.
    by_name: HashMap<&'a str, usize>,
}

impl<'a> Validator<'a> {
    fn new(p: &'a Parsed, options: &'a ValidateOptions) -> Self {
        let mut by_name = HashMap::new();
        for (i, (a, _)) in p.actions.iter().enumerate() {
            by_name.entry(a.name.as_str()).or_insert(i);
        }
        Validator {
            p,
            options,
            by_name,
        }
    }

    fn seed(&self) -> bool {
        matches!(self.p.format, Format::Seed { .. })
    }

    fn noun(&self) -> &'static str {
        if self.seed() {
            "job"
        } else {
            "action"
        }
    }

    fn name(&self, i: usize) -> &str {
        self.p
            .actions
            .get(i)
            .map(|(a, _)| a.name.as_str())
            .unwrap_or("?")
    }

    fn stage_of(&self, i: usize) -> Option<usize> {
        self.p.actions.get(i).and_then(|(_, s)| s.stage)
    }

    fn stage_name(&self, s: usize) -> &str {
        self.p.stages.get(s).map(|(n, _)| n.as_str()).unwrap_or("?")
    }

    fn check_stage_names(&self, cx: &mut Cx) {
        let mut seen: HashMap<&str, Pos> = HashMap::new();
        for (name, pos) in &self.p.stages {
            if name.is_empty() {
                continue;
            }
            if name == "finally" {
                cx.error(
                    *pos,
                    "`finally` cannot be used as a stage name; it names the actions under \
                     `finally:`",
                );
            }
            match seen.get(name.as_str()) {
                Some(first) => cx.error(
                    *pos,
                    format!(
                        "duplicate stage name `{name}` (first defined at line {}); stage names \
                         must be unique",
                        first.line
                    ),
                ),
                None => {
                    seen.insert(name, *pos);
                }
            }
        }
    }

    fn check_action_names(&self, cx: &mut Cx) {
        for (i, (a, src)) in self.p.actions.iter().enumerate() {
            if let Some(&first) = self.by_name.get(a.name.as_str()) {
                if first != i {
                    let line = self
                        .p
                        .actions
                        .get(first)
                        .map(|(_, s)| s.name_pos.line)
                        .unwrap_or(0);
                    let msg = if self.seed() {
                        format!(
                            "duplicate job `{}` (first defined at line {line}); jobs are named \
                             `stage.action.job` and these names must be unique",
                            a.name
                        )
                    } else {
                        format!(
                            "duplicate action name `{}` (first defined at line {line}); action \
                             names must be unique in the workflow, across stages and `finally`",
                            a.name
                        )
                    };
                    cx.error(src.name_pos, msg);
                }
            }
        }
    }

    /// The actions each action directly waits for.
    fn resolve_deps(&self, cx: &mut Cx) -> Vec<Vec<usize>> {
        let actions = &self.p.actions;
        let mut by_stage: Vec<Vec<usize>> = vec![Vec::new(); self.p.stages.len()];
        let mut stage_actions = Vec::new();
        for j in 0..actions.len() {
            if let Some(s) = self.stage_of(j) {
                stage_actions.push(j);
                if let Some(list) = by_stage.get_mut(s) {
                    list.push(j);
                }
            }
        }
        let mut deps = Vec::with_capacity(actions.len());
        for (i, (a, src)) in actions.iter().enumerate() {
            let mut d = Vec::new();
            match (src.stage, &a.needs) {
                (None, _) => d.extend(stage_actions.iter().copied()),
                (Some(s), Some(_)) => {
                    for (n, pos) in &src.needs {
                        match self.by_name.get(n.as_str()) {
                            None => {
                                let names = actions.iter().map(|(a, _)| a.name.as_str());
                                cx.error(
                                    *pos,
                                    format!(
                                        "`needs` names an unknown action `{n}`{}",
                                        did_you_mean(n, names)
                                    ),
                                );
                            }
                            Some(&j) if j == i => {
                                cx.error(*pos, format!("action `{n}` cannot need itself"))
                            }
                            Some(&j) => match self.stage_of(j) {
                                None => cx.error(
                                    *pos,
                                    format!(
                                        "`{n}` is a `finally` action; stage actions cannot wait \
                                         for `finally` actions"
                                    ),
                                ),
                                Some(t) if t > s => cx.error(
                                    *pos,
                                    format!(
                                        "`{n}` is in a later stage (`{}`); `needs` can name \
                                         actions of earlier stages or of the same stage",
                                        self.stage_name(t)
                                    ),
                                ),
                                Some(_) => d.push(j),
                            },
                        }
                    }
                }
                (Some(s), None) => {
                    if let Some(previous) = s.checked_sub(1).and_then(|p| by_stage.get(p)) {
                        d.extend(previous.iter().copied());
                    }
                }
            }
            d.sort_unstable();
            d.dedup();
            deps.push(d);
        }
        deps
    }

    fn check_cycles(&self, cx: &mut Cx, deps: &[Vec<usize>]) {
        // One report per strongly connected component that holds a cycle, from its first action.
        for scc in cyclic_components(deps) {
            let Some(&start) = scc.iter().min() else {
                continue;
            };
            let Some(path) = shortest_cycle(deps, start) else {
                continue;
            };
            let names: Vec<&str> = path.iter().map(|&j| self.name(j)).collect();
            let next = path.get(1).copied().unwrap_or(start);
            let pos = self
                .p
                .actions
                .get(start)
                .and_then(|(_, src)| {
                    src.needs
                        .iter()
                        .find(|(n, _)| n == self.name(next))
                        .map(|(_, p)| *p)
                        .or(Some(src.name_pos))
                })
                .unwrap_or_default();
            cx.error(pos, format!("cycle in needs: {}", names.join(" → ")));
        }
    }

    fn check_references(
        &self,
        cx: &mut Cx,
        i: usize,
        action: &Action,
        src: &ActionSrc,
        waits: &[bool],
    ) {
        for (site, t) in &src.templates {
            for r in t.template.references() {
                let pos = cx.locate(t.loc, &t.text, r.offset);
                self.check_action_ref(cx, i, action, src, site, waits, &r, pos);
            }
        }
        if let Some((expr, text, loc)) = &src.condition {
            for r in expr.references() {
                let pos = cx.locate(*loc, text, r.offset);
                self.check_action_ref(cx, i, action, src, &Site::If, waits, &r, pos);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn check_action_ref(
        &self,
        cx: &mut Cx,
        i: usize,
        action: &Action,
        src: &ActionSrc,
        site: &Site,
        waits: &[bool],
        r: &RefUse,
        pos: Pos,
    ) {
        let shown = r.path.join(".");
        let root = r.path.first().map(String::as_str).unwrap_or("");
        let arg = r.path.get(1).map(String::as_str);
        match root {
            "inputs" => self.check_input_ref(cx, &shown, arg, pos),
            "secrets" => self.check_secret_ref(cx, &shown, arg, pos),
            "trigger" => {}
            "run" => match arg {
                Some("id") if r.path.len() == 2 => {}
                Some("status") if r.path.len() == 2 => {
                    if src.stage.is_some() {
                        cx.error(
                            pos,
                            format!(
                                "`run.status` is only known in `finally` actions, and `{}` is a \
                                 stage action",
                                action.name
                            ),
                        );
                    }
                }
                _ => cx.error(
                    pos,
                    format!("unknown reference `{shown}`; use `run.id` or `run.status`"),
                ),
            },
            "env" => {
                let Some(x) = arg else {
                    cx.error(
                        pos,
                        "`env` must be followed by a variable name, like `env.NAME`",
                    );
                    return;
                };
                let workflow_keys = self.p.env.keys().map(String::as_str);
                if let Site::Env(own) = site {
                    if self.p.env.contains_key(x) {
                        return;
                    }
                    let msg = if action.env.contains_key(x) {
                        format!(
                            "`{shown}`: inside an action's `env`, only variables of the \
                             workflow's `env` can be used (`{x}` is set by this action{})",
                            if own == x { " itself" } else { "" }
                        )
                    } else {
                        format!(
                            "`{shown}`: the workflow's `env` has no variable `{x}`{}",
                            did_you_mean(x, workflow_keys)
                        )
                    };
                    cx.error(pos, msg);
                    return;
                }
                if self.p.env.contains_key(x) || action.env.contains_key(x) {
                    return;
                }
                let all = workflow_keys.chain(action.env.keys().map(String::as_str));
                cx.error(
                    pos,
                    format!(
                        "`{shown}`: no variable `{x}` is set in the workflow's or this action's \
                         `env`{}",
                        did_you_mean(x, all)
                    ),
                );
            }
            "matrix" => {
                let Some(x) = arg else {
                    cx.error(
                        pos,
                        "`matrix` must be followed by an axis name, like `matrix.os`",
                    );
                    return;
                };
                match &action.matrix {
                    None => cx.error(
                        pos,
                        format!("`{shown}`: action `{}` has no `matrix`", action.name),
                    ),
                    Some(m) if !m.axes.contains_key(x) => cx.error(
                        pos,
                        format!(
                            "`{shown}`: the matrix of `{}` has no axis `{x}`{}",
                            action.name,
                            did_you_mean(x, m.axes.keys().map(String::as_str))
                        ),
                    ),
                    Some(_) => {}
                }
            }
            "actions" => self.check_actions_ref(cx, i, r, &shown, waits, pos),
            other => {
                cx.error(
                    pos,
                    format!(
                        "unknown name `{other}` in expression{} (references start with one of: {})",
                        did_you_mean(other, ROOTS.iter().copied()),
                        ROOTS.join(", ")
                    ),
                );
            }
        }
    }

    fn check_input_ref(&self, cx: &mut Cx, shown: &str, arg: Option<&str>, pos: Pos) {
        let Some(x) = arg else {
            cx.error(
                pos,
                "`inputs` must be followed by an input name, like `inputs.NAME`",
            );
            return;
        };
        if self.p.inputs.contains_key(x) {
            return;
        }
        if self.p.inputs.is_empty() {
            cx.error(
                pos,
                format!(
                    "`{shown}`: the workflow declares no inputs; declare `{x}` under `inputs:`"
                ),
            );
        } else {
            cx.error(
                pos,
                format!(
                    "`{shown}`: the workflow has no input `{x}`{}",
                    did_you_mean(x, self.p.inputs.keys().map(String::as_str))
                ),
            );
        }
    }

    fn check_secret_ref(&self, cx: &mut Cx, shown: &str, arg: Option<&str>, pos: Pos) {
        let Some(x) = arg else {
            cx.error(
                pos,
                "`secrets` must be followed by a secret name, like `secrets.TOKEN`",
            );
            return;
        };
        if let Some(known) = &self.options.secrets {
            if !known.iter().any(|k| k == x) {
                cx.error(
                    pos,
                    format!(
                        "`{shown}`: no secret `{x}` is provided{}",
                        did_you_mean(x, known.iter().map(String::as_str))
                    ),
                );
            }
        }
    }

    fn check_actions_ref(
        &self,
        cx: &mut Cx,
        i: usize,
        r: &RefUse,
        shown: &str,
        waits: &[bool],
        pos: Pos,
    ) {
        let me = self.name(i);
        let noun = self.noun();
        let Some(target) = r.path.get(1) else {
            cx.error(
                pos,
                "`actions` must be followed by an action name, like `actions.NAME.outputs.KEY` \
                 or `actions.NAME.status`",
            );
            return;
        };
        let Some(&j) = self.by_name.get(target.as_str()) else {
            let names = self.p.actions.iter().map(|(a, _)| a.name.as_str());
            cx.error(
                pos,
                format!(
                    "`{shown}`: there is no {noun} `{target}`{}",
                    did_you_mean(target, names)
                ),
            );
            return;
        };
        let Some((ta, _)) = self.p.actions.get(j) else {
            return;
        };
        let what = r.path.get(2).map(String::as_str);
        let key = r.path.get(3).map(String::as_str);
        match (what, key) {
            (Some("status"), None) => {}
            (Some("outputs"), Some(_)) => {}
            (Some("artifacts"), Some(art)) => {
                let declared = ta.artifacts();
                if !declared.iter().any(|a| a.name == art) {
                    let list: Vec<&str> = declared.iter().map(|a| a.name.as_str()).collect();
                    let dym = did_you_mean(art, list.iter().copied());
                    let tail = if !dym.is_empty() {
                        dym
                    } else if list.is_empty() {
                        " (it declares none)".to_string()
                    } else {
                        format!(" (it declares: {})", list.join(", "))
                    };
                    cx.error(
                        pos,
                        format!("`{shown}`: {noun} `{target}` declares no artifact `{art}`{tail}"),
                    );
                    return;
                }
                match r.path.get(4).map(String::as_str) {
                    None | Some("sha256" | "size" | "name") if r.path.len() <= 5 => {}
                    _ => {
                        cx.error(
                            pos,
                            format!(
                                "`{shown}`: an artifact has the fields `sha256`, `size` and \
                         `name`, like `actions.{target}.artifacts.{art}.sha256`"
                            ),
                        );
                        return;
                    }
                }
            }
            (Some("artifacts"), None) => {
                cx.error(
                    pos,
                    format!(
                        "`{shown}` must name an artifact, like \
                         `actions.{target}.artifacts.NAME.sha256`"
                    ),
                );
                return;
            }
            (Some("outputs"), None) => {
                cx.error(
                    pos,
                    format!("`{shown}` must name an output, like `actions.{target}.outputs.KEY`"),
                );
                return;
            }
            (Some("status"), Some(_)) => {
                cx.error(
                    pos,
                    format!("`{shown}`: `actions.{target}.status` has no fields"),
                );
                return;
            }
            (Some(other), _) => {
                cx.error(
                    pos,
                    format!(
                        "`{shown}`: expected `outputs`, `status` or `artifacts` after \
                         `actions.{target}`{}",
                        did_you_mean(other, ["outputs", "status", "artifacts"])
                    ),
                );
                return;
            }
            (None, _) => {
                cx.error(
                    pos,
                    format!("`{shown}` must be followed by `.outputs.KEY` or `.status`"),
                );
                return;
            }
        }
        if j == i {
            cx.error(
                pos,
                format!("`{shown}`: {noun} `{me}` cannot refer to itself"),
            );
            return;
        }
        if matches!(what, Some("outputs" | "artifacts")) && ta.matrix.is_some() {
            let kind = if what == Some("outputs") {
                "output value"
            } else {
                "artifact"
            };
            cx.error(
                pos,
                format!(
                    "`{shown}`: `{target}` runs once per matrix combination, so it has no single \
                     {kind}; only `actions.{target}.status` (the combined status) can be used"
                ),
            );
            return;
        }
        if !waits.get(j).copied().unwrap_or(false) {
            cx.error(pos, format!("`{shown}`: {}", self.not_waiting(i, j)));
            return;
        }
        if let (Some("outputs"), Some(key)) = (what, key) {
            let declared = ta.declared_outputs();
            if !declared.is_empty() && !declared.contains_key(key) {
                let owner = match &ta.runs {
                    Runs::Component(c) => format!("component `{}` (used by `{target}`)", c.name),
                    Runs::Image(_) => format!("{noun} `{target}`"),
                };
                let list: Vec<&str> = declared.keys().map(String::as_str).collect();
                let dym = did_you_mean(key, list.iter().copied());
                let tail = if dym.is_empty() {
                    format!(" (it declares: {})", list.join(", "))
                } else {
                    dym
                };
                cx.error(
                    pos,
                    format!("`{shown}`: {owner} declares no output `{key}`{tail}"),
                );
            }
        }
    }

    /// Why action `i` may not refer to action `j`.
    fn not_waiting(&self, i: usize, j: usize) -> String {
        let (a, b) = (self.name(i), self.name(j));
        if self.seed() {
            return format!(
                "job `{b}` does not run before `{a}`, so its outputs are not available"
            );
        }
        match (self.stage_of(i), self.stage_of(j)) {
            (Some(si), Some(sj)) if sj > si => format!(
                "action `{a}` cannot use `{b}`, which runs in a later stage (`{}`)",
                self.stage_name(sj)
            ),
            (Some(_), Some(_)) => {
                format!("action `{a}` does not wait for `{b}`; add `{b}` to the `needs` of `{a}`")
            }
            (Some(_), None) => format!(
                "action `{a}` cannot use `{b}`, a `finally` action that runs after every stage"
            ),
            (None, _) => format!(
                "`finally` action `{a}` cannot use `{b}`, another `finally` action (finally \
                 actions run side by side after the stages)"
            ),
        }
    }

    fn check_workflow_env_ref(&self, cx: &mut Cx, key: &str, r: &RefUse, pos: Pos) {
        let shown = r.path.join(".");
        let root = r.path.first().map(String::as_str).unwrap_or("");
        let arg = r.path.get(1).map(String::as_str);
        match root {
            "inputs" => self.check_input_ref(cx, &shown, arg, pos),
            "secrets" => self.check_secret_ref(cx, &shown, arg, pos),
            "trigger" => {}
            "run" if arg == Some("id") && r.path.len() == 2 => {}
            "actions" | "matrix" | "env" | "run" => cx.error(
                pos,
                format!(
                    "`{shown}` cannot be used in the workflow's `env` (`{key}`); it may refer to \
                     `inputs`, `secrets`, `run.id` and `trigger` — set per-action values in the \
                     action's `env`"
                ),
            ),
            other => cx.error(
                pos,
                format!(
                    "unknown name `{other}` in expression{} (references start with one of: {})",
                    did_you_mean(other, ROOTS.iter().copied()),
                    ROOTS.join(", ")
                ),
            ),
        }
    }

    fn check_component_inputs(&self, cx: &mut Cx, action: &Action, src: &ActionSrc) {
        let Runs::Component(c) = &action.runs else {
            return;
        };
        for item in &src.with_items {
            let Some(decl) = c.inputs.get(&item.key) else {
                let msg = if c.inputs.is_empty() {
                    format!(
                        "component `{}` has no inputs, so `{}` cannot be set",
                        c.name, item.key
                    )
                } else {
                    let dym = did_you_mean(&item.key, c.inputs.keys().map(String::as_str));
                    let tail = if dym.is_empty() {
                        format!(
                            " (its inputs: {})",
                            c.inputs.keys().cloned().collect::<Vec<_>>().join(", ")
                        )
                    } else {
                        dym
                    };
                    format!("component `{}` has no input `{}`{tail}", c.name, item.key)
                };
                cx.error(item.key_pos, msg);
                continue;
            };
            if !matches!(
                decl.ty,
                ValueType::Int | ValueType::Float | ValueType::Bool | ValueType::Json
            ) {
                continue;
            }
            let Some(t) = action.with.get(&item.key) else {
                continue;
            };
            let Some(value) = t.constant() else {
                continue;
            };
            if let Err(e) = co_protocol::coerce(&value, decl.ty) {
                cx.error(
                    item.value_pos,
                    format!(
                        "wrong type for input `{}` of component `{}`: {e}",
                        item.key, c.name
                    ),
                );
            }
        }
        let missing: Vec<&str> = c
            .inputs
            .iter()
            .filter(|(k, d)| d.required && d.default.is_none() && !action.with.contains_key(*k))
            .map(|(k, _)| k.as_str())
            .collect();
        if !missing.is_empty() {
            let pos = src.with_pos.or(src.component_pos).unwrap_or(src.name_pos);
            let list: Vec<String> = missing.iter().map(|m| format!("`{m}`")).collect();
            let (s, verb) = if missing.len() == 1 {
                ("", "it")
            } else {
                ("s", "them")
            };
            cx.error(
                pos,
                format!(
                    "action `{}` does not set the required input{s} {} of component `{}`; set \
                     {verb} under `with:`",
                    action.name,
                    list.join(", "),
                    c.name
                ),
            );
        }
    }
}

/// Whether any expression of the action refers to `actions.…`.
fn refers_to_actions(src: &ActionSrc) -> bool {
    let refers = |refs: Vec<co_expr::RefUse>| {
        refs.iter()
            .any(|r| r.path.first().is_some_and(|root| root == "actions"))
    };
    src.templates
        .iter()
        .any(|(_, t)| refers(t.template.references()))
        || src
            .condition
            .as_ref()
            .is_some_and(|(expr, _, _)| refers(expr.references()))
}

/// `waits[j]`: action `i` (transitively) waits for `j`.
fn ancestors(deps: &[Vec<usize>], i: usize) -> Vec<bool> {
    let mut seen = vec![false; deps.len()];
    let mut queue: VecDeque<usize> = deps.get(i).cloned().unwrap_or_default().into();
    while let Some(j) = queue.pop_front() {
        match seen.get_mut(j) {
            Some(s) if !*s => {
                *s = true;
                queue.extend(deps.get(j).into_iter().flatten().copied());
            }
            _ => {}
        }
    }
    seen
}

/// The strongly connected components that contain a cycle (more than one action, or an action
/// that waits for itself), found with an iterative Tarjan walk (no recursion: deep chains are fine).
fn cyclic_components(deps: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let n = deps.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<usize> = Vec::new();
    let mut next = 0usize;
    let mut out = Vec::new();
    for root in 0..n {
        if index.get(root).copied() != Some(usize::MAX) {
            continue;
        }
        // (node, position in its dependency list)
        let mut work: Vec<(usize, usize)> = vec![(root, 0)];
        while let Some(&mut (v, ref mut pos)) = work.last_mut() {
            if *pos == 0 && index.get(v).copied() == Some(usize::MAX) {
                if let (Some(iv), Some(lv), Some(sv)) =
                    (index.get_mut(v), low.get_mut(v), on_stack.get_mut(v))
                {
                    *iv = next;
                    *lv = next;
                    *sv = true;
                }
                next += 1;
                stack.push(v);
            }
            let edges = deps.get(v).map(Vec::as_slice).unwrap_or(&[]);
            if let Some(&w) = edges.get(*pos) {
                *pos += 1;
                match index.get(w).copied() {
                    Some(usize::MAX) => work.push((w, 0)),
                    Some(iw) if on_stack.get(w).copied().unwrap_or(false) => {
                        if let Some(lv) = low.get_mut(v) {
                            *lv = (*lv).min(iw);
                        }
                    }
                    _ => {}
                }
                continue;
            }
            work.pop();
            let lv = low.get(v).copied().unwrap_or(0);
            if let Some(&(parent, _)) = work.last() {
                if let Some(lp) = low.get_mut(parent) {
                    *lp = (*lp).min(lv);
                }
            }
            if index.get(v).copied() == Some(lv) {
                let mut scc = Vec::new();
                while let Some(w) = stack.pop() {
                    if let Some(sw) = on_stack.get_mut(w) {
                        *sw = false;
                    }
                    scc.push(w);
                    if w == v {
                        break;
                    }
                }
                let self_loop = deps.get(v).is_some_and(|d| d.contains(&v));
                if scc.len() > 1 || self_loop {
                    out.push(scc);
                }
            }
        }
    }
    out.sort_by_key(|scc| scc.iter().min().copied());
    out
}

/// The shortest cycle through `start`, as `[start, …, start]`.
fn shortest_cycle(deps: &[Vec<usize>], start: usize) -> Option<Vec<usize>> {
    let n = deps.len();
    let mut prev: Vec<Option<usize>> = vec![None; n];
    let mut queue = VecDeque::new();
    for &d in deps.get(start)? {
        if d == start {
            return Some(vec![start, start]);
        }
        if let Some(p) = prev.get_mut(d) {
            if p.is_none() {
                *p = Some(start);
                queue.push_back(d);
            }
        }
    }
    while let Some(j) = queue.pop_front() {
        for &d in deps.get(j).into_iter().flatten() {
            if d == start {
                let mut path = vec![start];
                let mut cur = j;
                let mut back = vec![j];
                while let Some(Some(p)) = prev.get(cur) {
                    if *p == start {
                        break;
                    }
                    back.push(*p);
                    cur = *p;
                }
                back.reverse();
                path.extend(back);
                path.push(start);
                return Some(path);
            }
            if let Some(p) = prev.get_mut(d) {
                if p.is_none() {
                    *p = Some(j);
                    queue.push_back(d);
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{cyclic_components, shortest_cycle};

    #[test]
    fn cycles() {
        // 0 → 1 → 2 → 0, 3 → 3
        let deps = vec![vec![1], vec![2], vec![0], vec![3]];
        assert_eq!(shortest_cycle(&deps, 0), Some(vec![0, 1, 2, 0]));
        assert_eq!(shortest_cycle(&deps, 3), Some(vec![3, 3]));
        let dag = vec![vec![], vec![0], vec![0, 1]];
        assert_eq!(shortest_cycle(&dag, 2), None);
        assert!(cyclic_components(&dag).is_empty());
        let mut found = cyclic_components(&deps);
        for scc in &mut found {
            scc.sort_unstable();
        }
        assert_eq!(found, vec![vec![0, 1, 2], vec![3]]);
    }
}
