//! Serving the web UI (the single-page app built from `web/` into `web/dist`).
//!
//! - `/` redirects to `/ui/`. `/ui/` and every deep link `/ui/…` whose last segment has no `.`
//!   answer `index.html` (the app routes in the browser) with `Cache-Control: no-cache`.
//! - `/ui/assets/…` (Vite's content-hashed files) are `public, max-age=31536000, immutable`;
//!   other files at the top of `web/dist` are `no-cache`. Every file has a strong ETag
//!   (`If-None-Match` → 304) and its Content-Type; a missing file is 404, never `index.html`.
//! - Compression: a `FILE.br` / `FILE.gz` the UI build wrote next to `FILE` is served to clients
//!   that accept it; otherwise text files of at least [`GZIP_MIN_BYTES`] are gzipped here (once,
//!   for embedded files). `Vary: Accept-Encoding`; each encoding has its own ETag.
//! - HTML gets a strict Content-Security-Policy ([`CSP`]: only this origin's scripts, styles,
//!   workers and connections, no inline scripts, no framing). The app's page also allows
//!   `<style>` elements carrying a nonce that is new for every response and given to the app in
//!   `<meta name="csp-nonce">` (its editor, CodeMirror, inserts styles at run time); that page
//!   has no ETag (every answer differs). Every answer gets `X-Content-Type-Options: nosniff` and
//!   `Referrer-Policy: no-referrer`.
//!
//! Where the files come from ([`UiSource`]): release builds embed `web/dist` (build.rs) when it
//! was built before `cargo build`; debug builds read `web/dist` from disk on every request (so a
//! `vite build --watch` shows up on reload); `--ui-dir DIR` serves a directory instead. Without a
//! built UI, `/ui/` answers 503 with a page saying how to build it.

use std::borrow::Cow;
use std::io::Write as _;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::error::ApiError;

/// The Content-Security-Policy of the UI's HTML pages other than the app (the app's own adds a
/// nonce for styles: [`app_csp`]).
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
                       img-src 'self' data:; font-src 'self'; connect-src 'self'; \
                       worker-src 'self'; object-src 'none'; base-uri 'none'; \
                       form-action 'self'; frame-ancestors 'none'";

/// The app's CSP: [`CSP`] with `style-src 'self' 'nonce-NONCE'`. The nonce is new for every
/// response and is also in the page as `<meta name="csp-nonce" content="NONCE">`, where the app
/// reads it for the `<style>` elements its editor (CodeMirror) inserts. Scripts stay `'self'`
/// only: no inline script can run.
pub fn app_csp(nonce: &str) -> String {
    CSP.replace(
        "style-src 'self';",
        &format!("style-src 'self' 'nonce-{nonce}';"),
    )
}

/// `index.html` with the nonce's `<meta>` as the first element of `<head>` (or first of all).
fn with_nonce(html: &[u8], nonce: &str) -> Vec<u8> {
    let meta = format!("<meta name=\"csp-nonce\" content=\"{nonce}\">");
    let text = String::from_utf8_lossy(html);
    let at = text
        .to_ascii_lowercase()
        .find("<head")
        .and_then(|start| text.get(start..)?.find('>').map(|end| start + end + 1))
        .unwrap_or(0);
    let (before, after) = text.split_at(at);
    format!("{before}{meta}{after}").into_bytes()
}

/// A fresh nonce: 16 random bytes, base64.
fn new_nonce() -> Option<String> {
    use base64::Engine as _;
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).ok()?;
    Some(base64::engine::general_purpose::STANDARD.encode(bytes))
}
/// Text files smaller than this are sent uncompressed.
pub const GZIP_MIN_BYTES: usize = 1024;
/// `Cache-Control` of content-hashed assets.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// The prefix the UI is served under.
pub const PREFIX: &str = "/ui/";
/// How to build the UI (shown when there is none).
pub const BUILD_HINT: &str = "npm --prefix web ci && npm --prefix web run build";

/// One file of `web/dist` embedded by build.rs.
pub(crate) struct EmbeddedFile {
    pub path: &'static str,
    pub body: &'static [u8],
    pub etag: &'static str,
    pub br: Option<&'static [u8]>,
    pub gzip: Option<&'static [u8]>,
}

include!(concat!(env!("OUT_DIR"), "/ui_assets.rs"));

/// Where the UI's files come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UiSource {
    /// Compiled into the binary (release builds made after building the UI).
    Embedded,
    /// Read from this directory on every request.
    Dir(PathBuf),
    /// No UI: `/ui/` explains how to build one.
    None,
}

impl UiSource {
    /// The default: the embedded UI if this build has one; else, in debug builds, the
    /// workspace's `web/dist` on disk; else none.
    pub fn default_for_build() -> UiSource {
        if !EMBEDDED.is_empty() {
            UiSource::Embedded
        } else if cfg!(debug_assertions) {
            UiSource::Dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/dist"))
        } else {
            UiSource::None
        }
    }

    /// Words for the start-up log line.
    pub fn describe(&self) -> String {
        match self {
            UiSource::Embedded => format!("embedded ({} files)", EMBEDDED.len()),
            UiSource::Dir(dir) => format!("from {}", dir.display()),
            UiSource::None => format!("not built (build it with: {BUILD_HINT})"),
        }
    }
}

/// The UI being served, with the gzip forms of embedded files computed on first use.
pub struct Ui {
    source: UiSource,
    gzipped: Vec<OnceLock<Option<Bytes>>>,
}

impl Ui {
    pub fn new(source: UiSource) -> Ui {
        let gzipped = match source {
            UiSource::Embedded => EMBEDDED.iter().map(|_| OnceLock::new()).collect(),
            _ => Vec::new(),
        };
        Ui { source, gzipped }
    }

    pub fn source(&self) -> &UiSource {
        &self.source
    }

    fn file(&self, path: &str) -> Option<File> {
        match &self.source {
            UiSource::Embedded => {
                let index = EMBEDDED.iter().position(|f| f.path == path)?;
                let f = EMBEDDED.get(index)?;
                let compressible = compressible(content_type(path));
                Some(File {
                    body: Bytes::from_static(f.body),
                    etag: f.etag.to_string(),
                    br: f.br.map(Bytes::from_static),
                    gzip: f.gzip.map(Bytes::from_static).or_else(|| {
                        compressible
                            .then(|| {
                                self.gzipped
                                    .get(index)
                                    .and_then(|cell| cell.get_or_init(|| gzip(f.body)).clone())
                            })
                            .flatten()
                    }),
                })
            }
            UiSource::Dir(dir) => {
                let full = dir.join(path);
                let body = Bytes::from(std::fs::read(&full).ok()?);
                let read = |ext: &str| {
                    let mut name = full.as_os_str().to_owned();
                    name.push(format!(".{ext}"));
                    std::fs::read(PathBuf::from(name)).ok().map(Bytes::from)
                };
                let gzip_file = read("gz").or_else(|| {
                    compressible(content_type(path))
                        .then(|| gzip(&body))
                        .flatten()
                });
                Some(File {
                    etag: etag_of(&body),
                    br: read("br"),
                    gzip: gzip_file,
                    body,
                })
            }
            UiSource::None => None,
        }
    }
}

/// A file and its encodings.
struct File {
    body: Bytes,
    etag: String,
    br: Option<Bytes>,
    gzip: Option<Bytes>,
}

fn etag_of(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// gzip of `bytes` if that is smaller and `bytes` is worth it.
fn gzip(bytes: &[u8]) -> Option<Bytes> {
    if bytes.len() < GZIP_MIN_BYTES {
        return None;
    }
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).ok()?;
    let out = encoder.finish().ok()?;
    (out.len() < bytes.len()).then(|| Bytes::from(out))
}

/// The Content-Type of a file, by extension.
pub fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("webmanifest") => "application/manifest+json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        Some("ttf") => "font/ttf",
        Some("wasm") => "application/wasm",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn compressible(content_type: &str) -> bool {
    content_type.starts_with("text/")
        || content_type.starts_with("application/json")
        || content_type.starts_with("application/manifest+json")
        || content_type == "image/svg+xml"
        || content_type == "application/wasm"
}

/// `GET /`: to the UI.
pub async fn root() -> Redirect {
    Redirect::temporary(PREFIX)
}

/// `GET /ui/…`.
pub async fn serve(State(state): State<AppState>, request: Request) -> Response {
    let path = request.uri().path();
    if path == "/ui" {
        return Redirect::temporary(PREFIX).into_response();
    }
    let Some(rest) = path.strip_prefix(PREFIX).and_then(clean_path) else {
        return ApiError::not_found(format!("no such file: {path}")).into_response();
    };
    let ui = state.ui();
    // A file of the build if there is one; else a missing file (under assets/, or named like a
    // file the UI could have: `x.js`, `x.svg`) is 404, and anything else is a page of the app
    // (`/ui/runs/ID/steps/build.compile.cc`, `/ui/workflows/W/revisions/1...3`).
    let found = match rest.as_str() {
        "" => None,
        file => ui.file(file).map(|f| (file, f)),
    };
    let (wanted, file) = match found {
        Some(found) => found,
        None if rest.starts_with("assets/") || is_file_name(&rest) => {
            return ApiError::not_found(format!("no such file: {path}")).into_response();
        }
        None => match ui.file("index.html") {
            Some(index) => ("index.html", index),
            None => return not_built(ui.source()),
        },
    };
    if wanted == "index.html" {
        return app_page(&file.body);
    }
    let cache = if wanted.starts_with("assets/") {
        IMMUTABLE
    } else {
        "no-cache"
    };
    respond(request.headers(), wanted, file, cache)
}

/// The app's page: `index.html` with a new style nonce (so no ETag: every answer differs).
fn app_page(html: &[u8]) -> Response {
    let Some(nonce) = new_nonce() else {
        return ApiError::internal("no randomness for the page's nonce").into_response();
    };
    let mut response = (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        with_nonce(html, &nonce),
    )
        .into_response();
    let h = response.headers_mut();
    security_headers(h, true);
    if let Ok(csp) = HeaderValue::from_str(&app_csp(&nonce)) {
        h.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    response
}

/// Whether the last segment of a path names a file of a kind the UI build makes.
fn is_file_name(path: &str) -> bool {
    let last = path.rsplit('/').next().unwrap_or_default();
    last.contains('.') && content_type(last) != "application/octet-stream"
}

/// A path under `/ui/` without `..`, empty or hidden segments, backslashes or NUL.
fn clean_path(rest: &str) -> Option<String> {
    if rest.contains(['\\', '\0']) {
        return None;
    }
    let path = Path::new(rest);
    let ok = path.components().all(|c| match c {
        Component::Normal(s) => s.to_str().is_some_and(|s| !s.starts_with('.')),
        _ => false,
    });
    ok.then(|| rest.trim_end_matches('/').to_string())
}

/// Which encoding to send: `br`, then `gzip`, among those the client accepts (q > 0).
fn accepted(headers: &HeaderMap, encoding: &str) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            name.eq_ignore_ascii_case(encoding) && !refused
        })
}

fn respond(headers: &HeaderMap, path: &str, file: File, cache: &'static str) -> Response {
    let content_type = content_type(path);
    let (body, encoding, etag) = match (&file.br, &file.gzip) {
        (Some(br), _) if accepted(headers, "br") => {
            (br.clone(), Some("br"), format!("\"{}.br\"", file.etag))
        }
        (_, Some(gz)) if accepted(headers, "gzip") => {
            (gz.clone(), Some("gzip"), format!("\"{}.gz\"", file.etag))
        }
        _ => (file.body.clone(), None, format!("\"{}\"", file.etag)),
    };
    let not_modified = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*");
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
            Body::from(body),
        )
            .into_response()
    };
    let h = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, value);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if let Some(encoding) = encoding {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }
    security_headers(h, content_type.starts_with("text/html"));
    response
}

fn security_headers(h: &mut HeaderMap, html: bool) {
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if html {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
}

/// 503 with a page that says how to build the UI.
fn not_built(source: &UiSource) -> Response {
    let whence: Cow<'static, str> = match source {
        UiSource::Dir(dir) => format!(
            "This server serves the UI from <code>{}</code>, which has no <code>index.html</code>.",
            html_escape(&dir.display().to_string())
        )
        .into(),
        _ => "This <code>containerops</code> binary was built without the web UI.".into(),
    };
    let page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>ContainerOps: the UI is not built</title></head><body>\
         <h1>The ContainerOps web UI is not built</h1><p>{whence}</p>\
         <p>Build it, then rebuild <code>containerops</code> (release builds embed it; debug \
         builds read <code>web/dist</code> at every request):</p>\
         <pre>{BUILD_HINT}\ncargo build --release -p containerops</pre>\
         <p>or run the demo, which does all of it: <code>scripts/demo.sh</code>. \
         <code>containerops server --ui-dir DIR</code> serves a UI built elsewhere. The API is \
         available as usual under <code>/api/v1</code>.</p></body></html>\n"
    );
    let mut response = (
        StatusCode::SERVICE_UNAVAILABLE,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        page,
    )
        .into_response();
    security_headers(response.headers_mut(), true);
    response
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_confined_to_the_ui() {
        assert_eq!(
            clean_path("runs/01/steps/x").as_deref(),
            Some("runs/01/steps/x")
        );
        assert_eq!(clean_path("").as_deref(), Some(""));
        assert_eq!(clean_path("assets/a.js").as_deref(), Some("assets/a.js"));
        for bad in [
            "../x",
            "a/../../b",
            "/etc/passwd",
            ".env",
            "a\\b",
            "a/.git/x",
        ] {
            assert_eq!(clean_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_nonce_goes_first_into_head() {
        assert_eq!(
            String::from_utf8(with_nonce(
                b"<!doctype html><HTML><Head lang=x><title>",
                "n"
            ))
            .unwrap(),
            "<!doctype html><HTML><Head lang=x><meta name=\"csp-nonce\" content=\"n\"><title>"
        );
        assert_eq!(
            String::from_utf8(with_nonce(b"<p>", "n")).unwrap(),
            "<meta name=\"csp-nonce\" content=\"n\"><p>"
        );
        let csp = app_csp("abc");
        assert!(csp.contains("style-src 'self' 'nonce-abc';"), "{csp}");
        assert!(csp.contains("script-src 'self';"), "{csp}");
    }

    #[test]
    fn file_names_are_told_from_pages() {
        for file in ["assets/a.js", "favicon.svg", "robots.txt", "x/y.woff2"] {
            assert!(is_file_name(file), "{file}");
        }
        for page in [
            "",
            "login",
            "runs/01/steps/build.compile.cc",
            "w/x/revisions/1...3",
        ] {
            assert!(!is_file_name(page), "{page}");
        }
    }

    #[test]
    fn encodings_respect_q_zero() {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip, deflate, br;q=0"),
        );
        assert!(accepted(&h, "gzip"));
        assert!(!accepted(&h, "br"));
        assert!(!accepted(&HeaderMap::new(), "gzip"));
    }

    #[test]
    fn types_and_compression() {
        assert_eq!(
            content_type("assets/index-abc.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type("favicon.svg"), "image/svg+xml");
        assert_eq!(content_type("x.bin"), "application/octet-stream");
        assert!(compressible(content_type("a.css")) && !compressible(content_type("a.png")));
        assert!(gzip(b"small").is_none());
        let big = "all work and no play ".repeat(200);
        let gz = gzip(big.as_bytes()).unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut text)
            .unwrap();
        assert_eq!(text, big);
    }
}
