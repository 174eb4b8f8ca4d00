//! The OpenAPI 3 document of the API, generated from the handlers and their types (utoipa).
//! Served at `/api/v1/openapi.json`; a committed copy lives in `docs/openapi.json` and a test
//! fails when it is stale (refresh: `CONTAINEROPS_UPDATE_OPENAPI=1 cargo test -p co-server openapi`).

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api::{
    artifacts, components, dashboard, graph, health, hooks, logs, runs, secrets, session, tokens,
    workflows,
};
use crate::error::{ErrorBody, ErrorInfo};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ContainerOps API",
        description = "The ContainerOps server: stored workflows and components, runs, logs, \
                       secrets, tokens, webhooks. Every error is `{\"error\": {\"code\", \"message\", \
                       \"details\"}}`. Every endpoint needs `Authorization: Bearer <token>` or a \
                       session cookie (POST /api/v1/session; writes with a cookie also need \
                       `X-CSRF-Token`) except /healthz, /readyz, the webhooks and logging in. \
                       See docs/server.md.",
        license(name = "Apache-2.0"),
    ),
    paths(
        components::register,
        components::list,
        components::versions,
        components::get,
        workflows::put,
        workflows::create,
        workflows::list,
        workflows::latest,
        workflows::revisions,
        workflows::revision,
        workflows::validate,
        graph::of_workflow,
        graph::of_run,
        dashboard::get,
        session::login,
        session::current,
        session::logout,
        runs::start_named,
        runs::start,
        runs::list,
        runs::get,
        runs::cancel,
        runs::rerun,
        runs::resume,
        logs::page,
        logs::stream,
        artifacts::list,
        artifacts::download,
        secrets::put,
        secrets::delete,
        secrets::list,
        tokens::create,
        tokens::list,
        tokens::delete,
        hooks::receive,
        health::healthz,
        health::readyz,
        health::metrics,
        openapi_json,
    ),
    components(schemas(ErrorBody, ErrorInfo, workflows::SaveConflict, logs::LogLineView)),
    modifiers(&BearerAuth),
    security(("bearer" = []), ("session" = [])),
    tags(
        (name = "components", description = "Registered component versions (immutable)"),
        (name = "workflows", description = "Stored workflows: every update is a new immutable revision"),
        (name = "runs", description = "Start, list, inspect, cancel, rerun and resume runs"),
        (name = "logs", description = "Run logs, paged or live (Server-Sent Events)"),
        (name = "secrets", description = "Write-only secrets, stored encrypted"),
        (name = "tokens", description = "API tokens (admin only)"),
        (name = "session", description = "Browser sessions: an API token exchanged for a cookie (the web UI)"),
        (name = "webhooks", description = "GitHub, GitLab and generic webhooks (checked by signature or token, no bearer token)"),
        (name = "health", description = "Health and readiness (no token); metrics (a viewer token)"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.description = Some(
            "An API token: the first admin token comes from configuration (or is printed at \
             first start); more from POST /api/v1/tokens"
                .into(),
        );
        components.add_security_scheme("bearer", SecurityScheme::Http(http));
        let mut cookie = ApiKeyValue::new(crate::session::COOKIE);
        cookie.description = Some(
            "A session cookie from POST /api/v1/session (HttpOnly, SameSite=Strict). Requests \
             other than GET/HEAD made with it need the header X-CSRF-Token (the csrf_token of \
             GET /api/v1/session)."
                .into(),
        );
        components.add_security_scheme("session", SecurityScheme::ApiKey(ApiKey::Cookie(cookie)));
    }
}

/// The document as pretty JSON with a trailing newline (what `docs/openapi.json` holds).
pub fn document() -> String {
    let mut text = ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

/// This document.
#[utoipa::path(
    get,
    operation_id = "getOpenApiDocument",
    path = "/api/v1/openapi.json",
    tag = "health",
    responses((status = 200, description = "The OpenAPI 3 document", content_type = "application/json", body = Object))
)]
pub async fn openapi_json() -> impl IntoResponse {
    static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.get_or_init(document).clone(),
    )
}
