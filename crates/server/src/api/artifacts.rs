//! `/api/v1/runs/{id}/artifacts`: what a run's steps kept (`artifacts:`), listed and downloaded
//! from the server's artifact store (`<data-dir>/artifacts`).
//!
//! A download is streamed from the blob (never read whole into memory) with `Content-Length`,
//! `ETag` (the quoted SHA-256: the content's address, so it never changes), `Accept-Ranges:
//! bytes`; `Range: bytes=A-B` (one range, `A-`, `-N` too) answers 206 with `Content-Range`, an
//! unsatisfiable one 416; `If-None-Match` with the ETag answers 304. An artifact the retention
//! expired answers 410 with a message saying so.

use std::io::SeekFrom;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use co_artifacts::file_name;
use co_store::ArtifactRecord;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use utoipa::ToSchema;

use super::runs::load_run;
use crate::app::AppState;
use crate::error::{ApiError, ErrorBody};

/// Bytes read from a blob at a time while streaming it.
const CHUNK: usize = 64 * 1024;

/// One artifact a step kept.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ArtifactView {
    /// The step key (`build`, `build[os=linux]`).
    pub step: String,
    /// The artifact's name (`artifacts:` key).
    pub name: String,
    /// The attempt that kept it.
    pub attempt: u32,
    /// The path or glob as declared.
    pub path: String,
    /// `file` (one file: its bytes) or `tar` (a directory or glob: one tar archive).
    pub kind: String,
    /// SHA-256 of the bytes, 64 hex digits (also the download's ETag).
    pub sha256: String,
    /// Bytes.
    pub size: u64,
    /// The file name a download suggests (`Content-Disposition`).
    pub file_name: String,
    pub created_at: String,
    /// When the retention expired it (its download answers 410); `null` while it is kept.
    pub expired_at: Option<String>,
    /// Where to download it (relative to the server).
    pub download: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ArtifactList {
    pub artifacts: Vec<ArtifactView>,
}

fn view(run_id: &str, a: &ArtifactRecord) -> ArtifactView {
    ArtifactView {
        step: a.step_key.clone(),
        name: a.name.clone(),
        attempt: a.attempt,
        path: a.path.clone(),
        kind: a.kind.as_str().to_string(),
        sha256: a.sha256.to_string(),
        size: a.size,
        file_name: file_name(&a.name, &a.path, a.kind),
        created_at: a.created_at.clone(),
        expired_at: a.expired_at.clone(),
        download: format!(
            "/api/v1/runs/{run_id}/artifacts/{}/{}",
            encode(&a.step_key),
            encode(&a.name)
        ),
    }
}

/// Percent-encode a path segment (step keys hold `[`, `=`, `,`, `]`).
fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The artifacts a run's steps kept, by creation time.
#[utoipa::path(
    get,
    operation_id = "listRunArtifacts",
    path = "/api/v1/runs/{id}/artifacts",
    tag = "runs",
    params(("id" = String, Path, description = "Run id or a unique prefix")),
    responses(
        (status = 200, body = ArtifactList),
        (status = 404, body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ArtifactList>, ApiError> {
    let detail = load_run(&state, &id).await?;
    let artifacts = state.store().list_artifacts(&detail.run.id).await?;
    Ok(Json(ArtifactList {
        artifacts: artifacts.iter().map(|a| view(&detail.run.id, a)).collect(),
    }))
}

/// A `Range: bytes=…` header, resolved against `size`: `Ok(None)` for the whole, `Err(())` when
/// it cannot be satisfied. Several ranges are answered with the whole (allowed by RFC 9110).
fn byte_range(headers: &HeaderMap, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(value) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((first, last)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (first, last) = (first.trim(), last.trim());
    let range = match (first.parse::<u64>(), last.parse::<u64>()) {
        // `-N`: the last N bytes.
        (Err(_), Ok(n)) if first.is_empty() => {
            if n == 0 || size == 0 {
                return Err(());
            }
            (size.saturating_sub(n), size - 1)
        }
        (Ok(a), Err(_)) if last.is_empty() => (a, size.saturating_sub(1)),
        (Ok(a), Ok(b)) if a <= b => (a, b.min(size.saturating_sub(1))),
        _ => return Ok(None),
    };
    if range.0 >= size {
        return Err(());
    }
    Ok(Some(range))
}

/// Download one artifact (streamed).
#[utoipa::path(
    get,
    operation_id = "getRunArtifact",
    path = "/api/v1/runs/{id}/artifacts/{step}/{name}",
    tag = "runs",
    params(
        ("id" = String, Path, description = "Run id or a unique prefix"),
        ("step" = String, Path, description = "Step key (percent-encoded)"),
        ("name" = String, Path, description = "Artifact name"),
        ("Range" = Option<String>, Header, description = "One byte range, `bytes=A-B`, `bytes=A-` or `bytes=-N`"),
        ("If-None-Match" = Option<String>, Header, description = "The ETag of a copy you have"),
    ),
    responses(
        (status = 200, description = "The artifact's bytes (Content-Length, ETag = quoted SHA-256, Accept-Ranges)", content_type = "application/octet-stream"),
        (status = 206, description = "The requested range (Content-Range)", content_type = "application/octet-stream"),
        (status = 304, description = "Not modified (If-None-Match matched the ETag)"),
        (status = 404, body = ErrorBody),
        (status = 410, description = "The artifact expired (retention) and is no longer kept", body = ErrorBody),
        (status = 416, description = "The range cannot be satisfied", body = ErrorBody),
    )
)]
pub async fn download(
    State(state): State<AppState>,
    Path((id, step, name)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let detail = load_run(&state, &id).await?;
    let run_id = detail.run.id;
    let artifacts = state.store().list_artifacts(&run_id).await?;
    let Some(a) = artifacts
        .into_iter()
        .find(|a| a.step_key == step && a.name == name)
    else {
        return Err(ApiError::not_found(format!(
            "run {run_id} has no artifact {name:?} of step {step:?}"
        )));
    };
    if let Some(at) = &a.expired_at {
        return Err(expired(&run_id, &a, at));
    }
    let Some(blobs) = state.coordinator().artifact_store() else {
        return Err(ApiError::not_found("this server keeps no artifacts"));
    };
    let etag = format!("\"{}\"", a.sha256);
    let etag_value = HeaderValue::from_str(&etag).map_err(|e| ApiError::internal(e.to_string()))?;
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        return response(StatusCode::NOT_MODIFIED, Body::empty(), |h| {
            h.insert(header::ETAG, etag_value.clone());
        });
    }
    let path = blobs.blob_path(&a.sha256);
    let mut file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ApiError::new(
                StatusCode::GONE,
                "gone",
                format!(
                    "artifact {}/{} of run {run_id} is no longer in the artifact store",
                    a.step_key, a.name
                ),
            ))
        }
        Err(e) => return Err(ApiError::internal(format!("opening the artifact: {e}"))),
    };
    let range = match byte_range(&headers, a.size) {
        Ok(r) => r,
        Err(()) => {
            let mut resp = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range_not_satisfiable",
                format!(
                    "the artifact has {} bytes; that range is outside it",
                    a.size
                ),
            )
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{}", a.size)) {
                resp.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(resp);
        }
    };
    let (status, start, len) = match range {
        Some((first, last)) => (StatusCode::PARTIAL_CONTENT, first, last - first + 1),
        None => (StatusCode::OK, 0, a.size),
    };
    if start > 0 {
        file.seek(SeekFrom::Start(start))
            .await
            .map_err(|e| ApiError::internal(format!("reading the artifact: {e}")))?;
    }
    let stream = futures::stream::unfold((file, len), |(mut file, left)| async move {
        if left == 0 {
            return None;
        }
        let want = usize::try_from(left).unwrap_or(CHUNK).min(CHUNK);
        let mut buf = vec![0u8; want];
        match file.read(&mut buf).await {
            Ok(0) => Some((
                Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the artifact's blob is shorter than recorded",
                )),
                (file, 0),
            )),
            Ok(n) => {
                buf.truncate(n);
                let read = u64::try_from(n).unwrap_or(left);
                Some((
                    Ok(bytes::Bytes::from(buf)),
                    (file, left.saturating_sub(read)),
                ))
            }
            Err(e) => Some((Err(e), (file, 0))),
        }
    });
    let disposition = format!(
        "attachment; filename=\"{}\"",
        file_name(&a.name, &a.path, a.kind).replace(['"', '\\'], "_")
    );
    response(status, Body::from_stream(stream), |h| {
        h.insert(header::ETAG, etag_value.clone());
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(match a.kind {
                co_artifacts::ArtifactKind::File => "application/octet-stream",
                co_artifacts::ArtifactKind::Tar => "application/x-tar",
            }),
        );
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        if let Ok(v) = HeaderValue::from_str(&disposition) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
        if let Some((first, last)) = range {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {first}-{last}/{}", a.size)) {
                h.insert(header::CONTENT_RANGE, v);
            }
        }
    })
}

fn expired(run_id: &str, a: &ArtifactRecord, at: &str) -> ApiError {
    ApiError::new(
        StatusCode::GONE,
        "gone",
        format!(
            "artifact {}/{} of run {run_id} expired at {at}: the server keeps artifacts for a \
             limited number of days (artifact_retention_days)",
            a.step_key, a.name
        ),
    )
}

fn response(
    status: StatusCode,
    body: Body,
    headers: impl FnOnce(&mut HeaderMap),
) -> Result<Response, ApiError> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    headers(response.headers_mut());
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranged(value: &str, size: u64) -> Result<Option<(u64, u64)>, ()> {
        let mut h = HeaderMap::new();
        h.insert(header::RANGE, HeaderValue::from_str(value).unwrap());
        byte_range(&h, size)
    }

    #[test]
    fn ranges_resolve_against_the_size() {
        assert_eq!(byte_range(&HeaderMap::new(), 10), Ok(None));
        assert_eq!(ranged("bytes=0-3", 10), Ok(Some((0, 3))));
        assert_eq!(ranged("bytes=4-", 10), Ok(Some((4, 9))));
        assert_eq!(ranged("bytes=-3", 10), Ok(Some((7, 9))));
        assert_eq!(ranged("bytes=-30", 10), Ok(Some((0, 9))));
        assert_eq!(ranged("bytes=5-100", 10), Ok(Some((5, 9))));
        assert_eq!(ranged("bytes=10-", 10), Err(()));
        assert_eq!(ranged("bytes=-0", 10), Err(()));
        assert_eq!(ranged("bytes=0-1,3-4", 10), Ok(None));
        assert_eq!(ranged("items=0-1", 10), Ok(None));
        assert_eq!(ranged("bytes=5-2", 10), Ok(None));
    }

    #[test]
    fn step_keys_are_encoded_for_urls() {
        assert_eq!(
            encode("build[os=linux,n=1]"),
            "build%5Bos%3Dlinux%2Cn%3D1%5D"
        );
        assert_eq!(encode("pkg-1.0_x"), "pkg-1.0_x");
    }
}
