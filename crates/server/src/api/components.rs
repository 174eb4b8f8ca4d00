//! `/api/v1/components`: register `component.yaml` versions (immutable), list them, get one.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use co_spec::NameKind;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{check_name, diagnostics_error, display_file, FileQuery};
use crate::app::AppState;
use crate::catalog::{parse_component, COMPONENT_FILE};
use crate::error::{ApiError, ErrorBody, OrNotFound};
use crate::extract::Document;

/// A registered component version and its contract.
#[derive(Debug, Serialize, ToSchema)]
pub struct ComponentSummary {
    pub name: String,
    pub version: String,
    pub created_at: String,
    pub description: Option<String>,
    pub image: String,
    /// Declared inputs, in the order written.
    pub inputs: IndexMap<String, ParamView>,
    /// Declared outputs, in the order written.
    pub outputs: IndexMap<String, ParamView>,
}

impl ComponentSummary {
    /// A registered version (stored texts validated when they were registered; one that does
    /// not parse any more shows no contract).
    pub fn of(record: &co_store::ComponentRecord) -> ComponentSummary {
        let file = crate::catalog::StoreCatalog::display_path(&record.name, &record.version);
        let parsed = parse_component(&record.yaml, &file.display().to_string()).ok();
        let params = |decls: Option<&IndexMap<String, co_spec::ParamDecl>>| {
            decls
                .map(|d| {
                    d.iter()
                        .map(|(k, d)| (k.clone(), ParamView::of(d)))
                        .collect()
                })
                .unwrap_or_default()
        };
        ComponentSummary {
            name: record.name.clone(),
            version: record.version.clone(),
            created_at: record.created_at.clone(),
            description: parsed.as_ref().and_then(|c| c.description.clone()),
            image: parsed.as_ref().map(|c| c.image.clone()).unwrap_or_default(),
            inputs: params(parsed.as_ref().map(|c| &c.inputs)),
            outputs: params(parsed.as_ref().map(|c| &c.outputs)),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ComponentList {
    /// By name, then version (in the order registered).
    pub components: Vec<ComponentSummary>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionSummary {
    pub version: String,
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ComponentVersions {
    pub name: String,
    pub versions: Vec<VersionSummary>,
}

/// A declared input or output.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ParamView {
    /// `string`, `int`, `float`, `bool`, `json` or `secret`.
    #[serde(rename = "type")]
    pub ty: String,
    pub required: bool,
    #[schema(value_type = Object, nullable = true)]
    pub default: Option<Value>,
    pub description: Option<String>,
}

impl ParamView {
    pub fn of(decl: &co_spec::ParamDecl) -> ParamView {
        ParamView {
            ty: decl.ty.name().to_string(),
            required: decl.required,
            default: decl.default.clone(),
            description: decl.description.clone(),
        }
    }
}

/// One component version with its text and what it declares.
#[derive(Debug, Serialize, ToSchema)]
pub struct ComponentView {
    #[serde(flatten)]
    pub summary: ComponentSummary,
    /// The `component.yaml` as registered.
    pub yaml: String,
}

/// Register a component version from its `component.yaml`.
///
/// `name@version` is immutable: registering the same text again answers 200, different text 409.
#[utoipa::path(
    post,
    operation_id = "registerComponent",
    path = "/api/v1/components",
    tag = "components",
    params(FileQuery),
    request_body(
        content = String,
        content_type = "application/yaml",
        description = "The component.yaml text (or JSON {\"yaml\": \"...\", \"file\": \"...\"})"
    ),
    responses(
        (status = 201, description = "Registered", body = ComponentSummary),
        (status = 200, description = "Already registered with the same text", body = ComponentSummary),
        (status = 400, description = "The document has problems (diagnostics in details)", body = ErrorBody),
        (status = 409, description = "name@version is registered with a different text", body = ErrorBody),
    )
)]
pub async fn register(
    State(state): State<AppState>,
    Query(query): Query<FileQuery>,
    doc: Document,
) -> Result<(StatusCode, Json<ComponentSummary>), ApiError> {
    let file = display_file(doc.file, query.file, COMPONENT_FILE);
    let component = parse_component(&doc.text, &file)
        .and_then(|c| {
            state
                .coordinator()
                .policy()
                .check_component(c, &doc.text, &file)
        })
        .map_err(|d| diagnostics_error("the component", &d))?;
    let (name, version) = (component.name, component.version);
    let conflict = || {
        ApiError::conflict(format!(
            "component {name}@{version} is already registered with a different text; versions \
             are immutable, register a new version"
        ))
    };
    match state.store().get_component(&name, &version).await {
        Ok(existing) if existing.yaml == doc.text => {
            return Ok((StatusCode::OK, Json(ComponentSummary::of(&existing))))
        }
        Ok(_) => return Err(conflict()),
        Err(co_store::StoreError::NotFound(_)) => {}
        Err(e) => return Err(e.into()),
    }
    let record = match state
        .store()
        .put_component(&name, &version, &doc.text)
        .await
    {
        Ok(r) => r,
        Err(co_store::StoreError::Conflict(_)) => return Err(conflict()),
        Err(e) => return Err(e.into()),
    };
    tracing::info!(component = %name, version = %version, "component registered");
    Ok((StatusCode::CREATED, Json(ComponentSummary::of(&record))))
}

/// Every registered component version with its contract (the palette of the UI's editor).
#[utoipa::path(
    get,
    operation_id = "listComponents",
    path = "/api/v1/components",
    tag = "components",
    responses((status = 200, body = ComponentList))
)]
pub async fn list(State(state): State<AppState>) -> Result<Json<ComponentList>, ApiError> {
    let components = state
        .store()
        .list_components()
        .await?
        .iter()
        .map(ComponentSummary::of)
        .collect();
    Ok(Json(ComponentList { components }))
}

/// The registered versions of one component.
#[utoipa::path(
    get,
    operation_id = "listComponentVersions",
    path = "/api/v1/components/{name}",
    tag = "components",
    params(("name" = String, Path, description = "Component name")),
    responses(
        (status = 200, body = ComponentVersions),
        (status = 404, description = "No version of this component is registered", body = ErrorBody),
    )
)]
pub async fn versions(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<ComponentVersions>, ApiError> {
    check_name(NameKind::Component, &name)?;
    let versions: Vec<VersionSummary> = state
        .store()
        .list_components()
        .await?
        .into_iter()
        .filter(|r| r.name == name)
        .map(|r| VersionSummary {
            version: r.version,
            created_at: r.created_at,
        })
        .collect();
    if versions.is_empty() {
        return Err(ApiError::not_found(format!(
            "no component named {name:?} is registered"
        )));
    }
    Ok(Json(ComponentVersions { name, versions }))
}

/// One component version.
#[utoipa::path(
    get,
    operation_id = "getComponentVersion",
    path = "/api/v1/components/{name}/{version}",
    tag = "components",
    params(
        ("name" = String, Path, description = "Component name"),
        ("version" = String, Path, description = "Version (semver)"),
    ),
    responses(
        (status = 200, body = ComponentView),
        (status = 404, body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<ComponentView>, ApiError> {
    check_name(NameKind::Component, &name)?;
    let record = state
        .store()
        .get_component(&name, &version)
        .await
        .or_not_found(|| format!("component {name}@{version} is not registered"))?;
    Ok(Json(ComponentView {
        summary: ComponentSummary::of(&record),
        yaml: record.yaml,
    }))
}
