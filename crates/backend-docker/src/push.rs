//! Tag an image and push it to a registry through the engine's API (Docker and Podman).

use http_body_util::BodyExt;

use co_backend::BackendError;

use crate::error;
use crate::inventory::image_path;
use crate::raw::encode_query;
use crate::DockerBackend;

/// How to reach the registry.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    /// The `X-Registry-Auth` header's value (base64url JSON of `username`, `password`,
    /// `serveraddress`); `None`: no credentials (`{}`).
    pub registry_auth: Option<String>,
    /// A plain-HTTP registry (Docker Engine takes loopback registries as such by itself; Podman
    /// is told with `tlsVerify=false`, which Docker ignores).
    pub insecure: bool,
}

impl DockerBackend {
    /// Tag `image` as `repo:tag`, push it, and return the digest the registry gave it
    /// (`sha256:…`). `progress` gets the engine's status lines.
    pub async fn push_image(
        &self,
        image: &str,
        repo: &str,
        tag: &str,
        options: &PushOptions,
        progress: &mut (dyn FnMut(&str) + Send),
    ) -> Result<String, BackendError> {
        let raw = &self.inner.conn.raw;
        let tag_path = format!(
            "/images/{}/tag?repo={}&tag={}",
            image_path(image),
            encode_query(repo),
            encode_query(tag)
        );
        let resp = raw
            .post(&tag_path, &[])
            .await
            .map_err(|e| error::raw(&format!("tagging {image} as {repo}:{tag}"), &e))?;
        let _ = resp.into_body().collect().await;

        let mut push_path = format!(
            "/images/{}/push?tag={}",
            image_path(repo),
            encode_query(tag)
        );
        if options.insecure {
            push_path.push_str("&tlsVerify=false");
        }
        let auth = options.registry_auth.as_deref().unwrap_or("e30=");
        let what = format!("pushing {repo}:{tag}");
        let resp = raw
            .post(&push_path, &[("X-Registry-Auth", auth)])
            .await
            .map_err(|e| error::raw(&what, &e))?;
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| BackendError::Other(format!("{what}: {e}")))?
            .to_bytes();
        let mut digest = None;
        for line in body.split(|b| *b == b'\n') {
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(line) else {
                continue;
            };
            if let Some(e) = v.get("error").and_then(serde_json::Value::as_str) {
                return Err(BackendError::Other(format!("{what} failed: {e}")));
            }
            if let Some(d) = v.pointer("/aux/Digest").and_then(serde_json::Value::as_str) {
                digest = Some(d.to_string());
            }
            if let Some(status) = v.get("status").and_then(serde_json::Value::as_str) {
                progress(status);
                if let Some(d) = digest_in_status(status) {
                    digest.get_or_insert(d);
                }
            }
        }
        digest.ok_or_else(|| {
            BackendError::Other(format!(
                "{what}: the engine reported no digest for the pushed image"
            ))
        })
    }
}

/// Whether a registry (`HOST[:PORT]`) is on loopback, where engines expect plain HTTP (Docker
/// Engine takes 127.0.0.0/8 as insecure by default; Podman is told with `tlsVerify=false`).
pub fn is_loopback_registry(registry: &str) -> bool {
    let host = registry
        .rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map_or(registry, |(h, _)| h);
    host == "localhost" || host.starts_with("127.") || host == "[::1]"
}

/// The registry an image reference names (`127.0.0.1:5000/a@sha256:…` → `127.0.0.1:5000`), if any.
pub fn image_registry(image: &str) -> Option<&str> {
    let (first, _) = image.split_once('/')?;
    (first.contains('.') || first.contains(':') || first == "localhost").then_some(first)
}

/// Pull an image from a plain-HTTP loopback registry on Podman (its Docker-compatible pull
/// cannot be told to skip TLS; its own API can). `Ok(false)`: not such a case, pull as usual.
pub(crate) async fn pull_from_loopback(
    conn: &crate::discovery::Connection,
    image: &str,
) -> Result<bool, BackendError> {
    // Bare `localhost/…` is how Podman names images built locally, not a registry to pull from.
    let loopback =
        image_registry(image).is_some_and(|r| r != "localhost" && is_loopback_registry(r));
    if !loopback || conn.info.kind != crate::discovery::EngineKind::Podman {
        return Ok(false);
    }
    let what = format!("pulling {image}");
    let path = format!(
        "/libpod/images/pull?reference={}&tlsVerify=false&quiet=true",
        encode_query(image)
    );
    let body = conn
        .raw
        .post(&path, &[])
        .await
        .map_err(|e| error::raw(&what, &e))?
        .into_body()
        .collect()
        .await
        .map_err(|e| BackendError::Other(format!("{what}: {e}")))?
        .to_bytes();
    for line in body.split(|b| *b == b'\n') {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(line) {
            if let Some(e) = v.get("error").and_then(serde_json::Value::as_str) {
                return Err(BackendError::ImageNotFound {
                    image: image.to_string(),
                    detail: format!(
                        "not present locally and the pull failed: {}; build it locally or check the name",
                        error::shorten(e, 200)
                    ),
                });
            }
        }
    }
    Ok(true)
}

/// `TAG: digest: sha256:HEX size: N` (the engines' last status line of a push).
fn digest_in_status(status: &str) -> Option<String> {
    let rest = status.split("digest: ").nth(1)?;
    let d = rest.split_whitespace().next()?;
    let hex = d.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit())).then(|| d.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_registries() {
        assert!(is_loopback_registry("127.0.0.1:5000"));
        assert!(is_loopback_registry("localhost"));
        assert!(!is_loopback_registry("registry.example.com:5000"));
        assert_eq!(
            image_registry("127.0.0.1:5000/a@sha256:0"),
            Some("127.0.0.1:5000")
        );
        assert_eq!(image_registry("library/a:1"), None);
    }

    #[test]
    fn digest_from_the_status_line() {
        let d = "sha256:3ede9ef0cf1b8ce94b05dd57e5d724278015acf6f05f3f707db604ff5d878ec7";
        assert_eq!(
            digest_in_status(&format!("0.1.0: digest: {d} size: 737")).as_deref(),
            Some(d)
        );
        assert_eq!(digest_in_status("Pushing"), None);
    }
}
