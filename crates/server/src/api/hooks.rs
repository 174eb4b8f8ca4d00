//! `POST /api/v1/hooks/{workflow}/{github|gitlab|webhook}`: webhook deliveries. No bearer token:
//! each delivery is checked against the workflow's triggers of that kind (GitHub HMAC signature,
//! GitLab token, generic token; secrets compared in constant time by `co-triggers`). A delivery
//! id that was seen before, for the same workflow and trigger kind, starts no second run.
//!
//! Nothing is told to a sender that cannot authenticate: a delivery to a workflow that does not
//! exist, that has no trigger of this kind, or whose trigger's secret is not set (or empty) is
//! checked against a secret nobody knows, so it gets exactly the answer a delivery with a wrong
//! signature or token gets (`401`, the same message), and workflow names cannot be enumerated.

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use co_expr::ValueContext;
use co_spec::NameKind;
use co_spec::{Trigger, TriggerKind};
use co_triggers::{Delivery, Rejection};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::catalog::parse_revision;
use crate::coordinator::{HookDelivery, RunRequest};
use crate::error::{ApiError, ErrorBody};

/// A delivery that started a run (201), or a redelivery of one that did (200, `duplicate`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HookAccepted {
    pub run_id: String,
    pub duplicate: bool,
}

/// A valid delivery of an event the trigger does not run for (202).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HookIgnored {
    pub ignored: String,
}

/// `co_triggers::Headers` over axum's headers (names are case-insensitive there).
struct HttpHeaders<'a>(&'a HeaderMap);

impl co_triggers::Headers for HttpHeaders<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    GitHub,
    GitLab,
    Webhook,
}

impl Kind {
    fn parse(text: &str) -> Option<Kind> {
        match text {
            "github" => Some(Kind::GitHub),
            "gitlab" => Some(Kind::GitLab),
            "webhook" => Some(Kind::Webhook),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::GitHub => "github",
            Kind::GitLab => "gitlab",
            Kind::Webhook => "webhook",
        }
    }

    fn matches(self, trigger: &TriggerKind) -> bool {
        matches!(
            (self, trigger),
            (Kind::GitHub, TriggerKind::GitHub { .. })
                | (Kind::GitLab, TriggerKind::GitLab { .. })
                | (Kind::Webhook, TriggerKind::Webhook { .. })
        )
    }
}

/// Receive a webhook delivery for a workflow's `github`, `gitlab` or `webhook` trigger.
#[utoipa::path(
    post,
    operation_id = "receiveWebhook",
    path = "/api/v1/hooks/{workflow}/{kind}",
    tag = "webhooks",
    security(()),
    params(
        ("workflow" = String, Path, description = "Workflow name"),
        ("kind" = String, Path, description = "`github`, `gitlab` or `webhook`"),
        ("X-Hub-Signature-256" = Option<String>, Header, description = "GitHub: sha256=<hex HMAC-SHA256 of the body>"),
        ("X-GitHub-Event" = Option<String>, Header, description = "GitHub: the event"),
        ("X-GitHub-Delivery" = Option<String>, Header, description = "GitHub: the delivery id"),
        ("X-Gitlab-Token" = Option<String>, Header, description = "GitLab: the secret"),
        ("X-Gitlab-Event" = Option<String>, Header, description = "GitLab: the event"),
        ("X-ContainerOps-Token" = Option<String>, Header, description = "Generic webhook: the secret"),
        ("X-ContainerOps-Delivery" = Option<String>, Header, description = "Generic webhook: a delivery id"),
    ),
    request_body(content = Object, description = "The sender's JSON payload (signed as sent)"),
    responses(
        (status = 201, description = "A run was queued", body = HookAccepted),
        (status = 200, description = "A redelivery: the run it started before", body = HookAccepted),
        (status = 202, description = "Valid, but not an event this trigger runs for", body = HookIgnored),
        (status = 400, description = "A malformed delivery, or trigger inputs that do not evaluate", body = ErrorBody),
        (status = 401, description = "Signature or token check failed (also the answer for a workflow that does not exist or has no trigger of this kind)", body = ErrorBody),
        (status = 404, description = "No such webhook kind", body = ErrorBody),
    )
)]
pub async fn receive(
    State(state): State<AppState>,
    Path((workflow, kind)): Path<(String, String)>,
    request: Request,
) -> Result<Response, ApiError> {
    let kind = Kind::parse(&kind).ok_or_else(|| {
        ApiError::not_found(format!(
            "no webhook kind {kind:?}: use github, gitlab or webhook"
        ))
    })?;
    let headers = request.headers().clone();
    let body = crate::extract::read_body(request, &state).await?;

    let Some((revision, triggers)) = hook_triggers(&state, &workflow, kind).await? else {
        // Answer as a delivery with a wrong signature would be answered.
        let refused = decoy(kind, &headers, &body)?;
        return Ok(refusal(&workflow, kind, vec![refused]));
    };

    // The first trigger that accepts the delivery wins; otherwise the most telling refusal.
    let mut accepted: Option<(&Trigger, Delivery)> = None;
    let mut refusals: Vec<Rejection> = Vec::new();
    for trigger in &triggers {
        match check(&state, &workflow, trigger, &headers, &body).await? {
            Ok(delivery) => {
                accepted = Some((trigger, delivery));
                break;
            }
            Err(rejection) => refusals.push(rejection),
        }
    }
    let Some((trigger, delivery)) = accepted else {
        return Ok(refusal(&workflow, kind, refusals));
    };

    let context = delivery.context();
    let scope = ValueContext::new(json!({ "trigger": context }));
    let mut inputs: IndexMap<String, Value> = IndexMap::new();
    for (name, template) in &trigger.inputs {
        let value = template
            .eval(&scope)
            .map_err(|e| ApiError::bad_request(format!("trigger input {name:?}: {e}")))?;
        inputs.insert(name.clone(), value);
    }
    // Commit statuses: what to report on, kept with the run (see `crate::forge`).
    let mut context = context;
    let status = match &trigger.kind {
        TriggerKind::GitHub {
            status: Some(s), ..
        } => Some((co_triggers::status::Forge::GitHub, s)),
        TriggerKind::GitLab {
            status: Some(s), ..
        } => Some((co_triggers::status::Forge::GitLab, s)),
        _ => None,
    };
    if let Some((forge, status)) = status {
        let options = state.coordinator().status_options();
        if let (Some(target), Some(object)) = (
            crate::forge::target(forge, status, &workflow, &delivery.payload, options),
            context.as_object_mut(),
        ) {
            object.insert(crate::forge::TARGET_KEY.to_string(), target.to_json());
        }
    }
    let submitted = state
        .coordinator()
        .submit(RunRequest {
            workflow: workflow.clone(),
            revision: Some(revision),
            inputs,
            trigger: context,
            delivery: delivery.delivery.clone().map(|id| HookDelivery {
                kind: kind.name(),
                id,
            }),
        })
        .await?;
    tracing::info!(
        workflow = %workflow,
        kind = kind.name(),
        event = %delivery.event,
        delivery = delivery.delivery.as_deref().unwrap_or(""),
        run = %submitted.run_id,
        duplicate = submitted.duplicate,
        "webhook accepted"
    );
    let status = if submitted.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        Json(HookAccepted {
            run_id: submitted.run_id,
            duplicate: submitted.duplicate,
        }),
    )
        .into_response())
}

/// The latest revision of `workflow` and its triggers of `kind`; `None` if there is no such
/// workflow (or the name cannot be one), it has no trigger of this kind, or its latest revision no
/// longer validates (logged: the sender cannot fix that).
async fn hook_triggers(
    state: &AppState,
    workflow: &str,
    kind: Kind,
) -> Result<Option<(i64, Vec<Trigger>)>, ApiError> {
    if !NameKind::Workflow.is_valid(workflow) {
        return Ok(None);
    }
    let stored = match state.store().get_workflow_revision(workflow, None).await {
        Ok(stored) => stored,
        Err(co_store::StoreError::NotFound(_)) => {
            tracing::info!(workflow = ?workflow, kind = kind.name(), "webhook for no stored workflow");
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    let parsed = match parse_revision(state.store(), &stored).await? {
        Ok(parsed) => parsed,
        Err(d) => {
            tracing::error!(
                workflow = %workflow,
                revision = stored.revision,
                problem = %d.0.first().map(|d| d.to_string()).unwrap_or_default(),
                "a webhook delivery was refused: the workflow's latest revision does not validate \
                 any more"
            );
            return Ok(None);
        }
    };
    let triggers: Vec<Trigger> = parsed
        .triggers
        .into_iter()
        .filter(|t| kind.matches(&t.kind))
        .collect();
    if triggers.is_empty() {
        tracing::info!(workflow = %workflow, kind = kind.name(), "webhook for a workflow without such a trigger");
        return Ok(None);
    }
    Ok(Some((stored.revision, triggers)))
}

/// Check one delivery against one trigger. A trigger whose secret is not set, or empty, is checked
/// against a random secret instead: it accepts nothing, and says so as it would for a wrong
/// signature.
async fn check(
    state: &AppState,
    workflow: &str,
    trigger: &Trigger,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Result<Delivery, Rejection>, ApiError> {
    let secret_name = match &trigger.kind {
        TriggerKind::GitHub { secret, .. }
        | TriggerKind::GitLab { secret, .. }
        | TriggerKind::Webhook { secret } => secret,
        TriggerKind::Cron { .. } => {
            return Ok(Err(Rejection::Unauthorized("not a webhook trigger".into())))
        }
    };
    let secret = match state.secrets().read(state.store(), secret_name).await? {
        Some(secret) if !secret.is_empty() => secret.into_bytes(),
        unusable => {
            tracing::warn!(
                workflow = %workflow,
                secret = %secret_name,
                "a webhook trigger's secret is {} (PUT /api/v1/secrets/NAME); deliveries are refused",
                if unusable.is_some() { "empty" } else { "not set" }
            );
            unguessable_secret()?
        }
    };
    Ok(verify(&trigger.kind, &secret, headers, body))
}

/// What `co-triggers` says about a delivery to a trigger of this kind with this secret.
fn verify(
    kind: &TriggerKind,
    secret: &[u8],
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Delivery, Rejection> {
    let headers = HttpHeaders(headers);
    match kind {
        TriggerKind::GitHub {
            events, branches, ..
        } => co_triggers::github(secret, &headers, body, events, branches),
        TriggerKind::GitLab {
            events, branches, ..
        } => co_triggers::gitlab(secret, &headers, body, events, branches),
        TriggerKind::Webhook { .. } => co_triggers::generic(secret, &headers, body),
        TriggerKind::Cron { .. } => Err(Rejection::Unauthorized("not a webhook trigger".into())),
    }
}

/// The refusal a delivery gets from a trigger of `kind` whose secret nobody knows: for a
/// trigger that does not exist, exactly what a wrong signature or token gets from one that does.
fn decoy(kind: Kind, headers: &HeaderMap, body: &[u8]) -> Result<Rejection, ApiError> {
    let secret = unguessable_secret()?;
    let trigger = match kind {
        Kind::GitHub => TriggerKind::GitHub {
            secret: String::new(),
            events: Vec::new(),
            branches: Vec::new(),
            status: None,
        },
        Kind::GitLab => TriggerKind::GitLab {
            secret: String::new(),
            events: Vec::new(),
            branches: Vec::new(),
            status: None,
        },
        Kind::Webhook => TriggerKind::Webhook {
            secret: String::new(),
        },
    };
    Ok(match verify(&trigger, &secret, headers, body) {
        Err(rejection) => rejection,
        // 2^-256: a delivery signed with 32 random bytes it never saw.
        Ok(_) => Rejection::Unauthorized("the delivery was refused".into()),
    })
}

/// 32 fresh random bytes: a secret nobody knows.
fn unguessable_secret() -> Result<Vec<u8>, ApiError> {
    let mut secret = vec![0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| crate::crypto::CryptoError::Random(e.to_string()))?;
    Ok(secret)
}

/// The answer when no trigger accepted: ignored (202) if any signature matched, else invalid
/// (400), else unauthorized (401).
fn refusal(workflow: &str, kind: Kind, refusals: Vec<Rejection>) -> Response {
    let mut ignored = None;
    let mut invalid = None;
    let mut unauthorized = None;
    for r in refusals {
        match r {
            Rejection::Ignored(m) => ignored = ignored.or(Some(m)),
            Rejection::Invalid(m) => invalid = invalid.or(Some(m)),
            Rejection::Unauthorized(m) => unauthorized = unauthorized.or(Some(m)),
        }
    }
    if let Some(reason) = ignored {
        tracing::info!(workflow = ?workflow, kind = kind.name(), reason = %reason, "webhook ignored");
        return (StatusCode::ACCEPTED, Json(HookIgnored { ignored: reason })).into_response();
    }
    if let Some(message) = invalid {
        tracing::info!(workflow = ?workflow, kind = kind.name(), reason = %message, "webhook invalid");
        return ApiError::bad_request(message).into_response();
    }
    let message = unauthorized.unwrap_or_else(|| "the delivery was refused".into());
    tracing::warn!(workflow = ?workflow, kind = kind.name(), reason = %message, "webhook unauthorized");
    ApiError::unauthorized(message).into_response()
}
