//! `POST /api/v1/hooks/{workflow}/{github|gitlab|webhook}`: webhook deliveries. No bearer token:
//! each delivery is checked against the workflow's triggers of that kind (GitHub HMAC signature,
//! GitLab token, generic token; secrets compared in constant time by `co-triggers`). A delivery
//! id that was seen before starts no second run.

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
use crate::catalog::{parse_workflow, StoreCatalog, WORKFLOW_FILE};
use crate::coordinator::RunRequest;
use crate::error::{ApiError, ErrorBody, OrNotFound};

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
        (status = 401, description = "Signature or token check failed", body = ErrorBody),
        (status = 404, description = "No such workflow, or it has no trigger of this kind", body = ErrorBody),
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
    super::check_name(NameKind::Workflow, &workflow)?;
    let headers = request.headers().clone();
    let body = crate::extract::read_body(request, &state).await?;

    let stored = state
        .store()
        .get_workflow_revision(&workflow, None)
        .await
        .or_not_found(|| format!("no workflow named {workflow:?}"))?;
    let catalog = StoreCatalog::load(state.store()).await?;
    let parsed = parse_workflow(&catalog, &stored.yaml, WORKFLOW_FILE).map_err(|d| {
        ApiError::internal(format!(
            "revision {} of workflow {workflow:?} does not validate any more: {}",
            stored.revision,
            d.0.first().map(|d| d.to_string()).unwrap_or_default()
        ))
    })?;
    let triggers: Vec<&Trigger> = parsed
        .triggers
        .iter()
        .filter(|t| kind.matches(&t.kind))
        .collect();
    if triggers.is_empty() {
        return Err(ApiError::not_found(format!(
            "workflow {workflow:?} has no {} trigger",
            kind.name()
        )));
    }

    // The first trigger that accepts the delivery wins; otherwise the most telling refusal.
    let mut accepted: Option<(&Trigger, Delivery)> = None;
    let mut refusals: Vec<Rejection> = Vec::new();
    for trigger in triggers {
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
    let submitted = state
        .coordinator()
        .submit(RunRequest {
            workflow: workflow.clone(),
            revision: Some(stored.revision),
            inputs,
            trigger: context,
            delivery: delivery.delivery.clone(),
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

/// Check one delivery against one trigger.
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
    let Some(secret) = state.secrets().read(state.store(), secret_name).await? else {
        tracing::warn!(
            workflow = %workflow,
            secret = %secret_name,
            "a webhook trigger's secret is not set (PUT /api/v1/secrets/NAME); deliveries are refused"
        );
        return Ok(Err(Rejection::Unauthorized(
            "the delivery's signature or token does not match".into(),
        )));
    };
    let headers = HttpHeaders(headers);
    Ok(match &trigger.kind {
        TriggerKind::GitHub {
            events, branches, ..
        } => co_triggers::github(secret.as_bytes(), &headers, body, events, branches),
        TriggerKind::GitLab {
            events, branches, ..
        } => co_triggers::gitlab(secret.as_bytes(), &headers, body, events, branches),
        TriggerKind::Webhook { .. } => co_triggers::generic(secret.as_bytes(), &headers, body),
        TriggerKind::Cron { .. } => Err(Rejection::Unauthorized("not a webhook trigger".into())),
    })
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
        tracing::info!(workflow = %workflow, kind = kind.name(), reason = %reason, "webhook ignored");
        return (StatusCode::ACCEPTED, Json(HookIgnored { ignored: reason })).into_response();
    }
    if let Some(message) = invalid {
        tracing::info!(workflow = %workflow, kind = kind.name(), reason = %message, "webhook invalid");
        return ApiError::bad_request(message).into_response();
    }
    let message = unauthorized.unwrap_or_else(|| "the delivery was refused".into());
    tracing::warn!(workflow = %workflow, kind = kind.name(), reason = %message, "webhook unauthorized");
    ApiError::unauthorized(message).into_response()
}
