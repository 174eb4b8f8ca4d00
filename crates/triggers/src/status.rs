//! Commit statuses, without IO: which commit a GitHub or GitLab delivery is about, and the
//! request (URL, JSON body, auth header) that reports a run's state on it through GitHub's
//! statuses API (`POST {api}/repos/{owner}/{repo}/statuses/{sha}`) or GitLab's commit status
//! API (`POST {api}/projects/{id}/statuses/{sha}`).

use serde_json::{json, Value};

/// The default API base URLs (github.com, gitlab.com).
pub const GITHUB_API: &str = "https://api.github.com";
pub const GITLAB_API: &str = "https://gitlab.com/api/v4";

/// GitHub refuses a description longer than this (characters).
pub const MAX_DESCRIPTION: usize = 140;

/// Which forge's API a status goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forge {
    GitHub,
    GitLab,
}

impl Forge {
    /// `github` or `gitlab` (as in the trigger kind).
    pub fn name(self) -> &'static str {
        match self {
            Forge::GitHub => "github",
            Forge::GitLab => "gitlab",
        }
    }

    pub fn parse(text: &str) -> Option<Forge> {
        match text {
            "github" => Some(Forge::GitHub),
            "gitlab" => Some(Forge::GitLab),
            _ => None,
        }
    }

    /// The API base URL of github.com / gitlab.com.
    pub fn default_api(self) -> &'static str {
        match self {
            Forge::GitHub => GITHUB_API,
            Forge::GitLab => GITLAB_API,
        }
    }
}

/// A run's state as a commit status shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitState {
    /// The run is queued.
    Pending,
    Running,
    Success,
    Failure,
    Cancelled,
}

impl CommitState {
    /// Whether this is the run's last state (nothing is reported after it).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            CommitState::Success | CommitState::Failure | CommitState::Cancelled
        )
    }

    /// The forge's word: GitHub has `pending`, `success`, `failure`, `error` (running is
    /// `pending`, cancelled is `error`); GitLab has `pending`, `running`, `success`, `failed`,
    /// `canceled`.
    pub fn word(self, forge: Forge) -> &'static str {
        match (forge, self) {
            (_, CommitState::Pending) => "pending",
            (Forge::GitHub, CommitState::Running) => "pending",
            (Forge::GitLab, CommitState::Running) => "running",
            (_, CommitState::Success) => "success",
            (Forge::GitHub, CommitState::Failure) => "failure",
            (Forge::GitLab, CommitState::Failure) => "failed",
            (Forge::GitHub, CommitState::Cancelled) => "error",
            (Forge::GitLab, CommitState::Cancelled) => "canceled",
        }
    }

    /// The status's description when nothing more is known (`queued`, `running`, …).
    pub fn description(self) -> &'static str {
        match self {
            CommitState::Pending => "queued",
            CommitState::Running => "running",
            CommitState::Success => "succeeded",
            CommitState::Failure => "failed",
            CommitState::Cancelled => "cancelled",
        }
    }
}

/// The commit a delivery is about: the repository (GitHub `owner/name`, GitLab the numeric
/// project id) and the full commit SHA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitRef {
    pub repository: String,
    pub sha: String,
}

/// The commit of a GitHub delivery: `pull_request.head.sha` (pull request events), else `after`
/// (pushes; a deleted branch's all-zero `after` has none), else `head_commit.id`; the repository
/// is `repository.full_name`. `None` when the payload names no such commit.
pub fn github_commit(payload: &Value) -> Option<CommitRef> {
    let repository = text(payload.pointer("/repository/full_name"))?;
    let sha = [
        "/pull_request/head/sha",
        "/after",
        "/head_commit/id",
        "/check_suite/head_sha",
    ]
    .iter()
    .find_map(|p| text(payload.pointer(p)).filter(|s| is_sha(s)))?;
    let mut parts = repository.split('/');
    let valid = parts.next().is_some_and(is_path_name)
        && parts.next().is_some_and(is_path_name)
        && parts.next().is_none();
    valid.then_some(CommitRef { repository, sha })
}

/// The commit of a GitLab delivery: `object_attributes.last_commit.id` (merge requests),
/// `object_attributes.sha` (pipelines), else `checkout_sha` / `after` (pushes); the repository is
/// the numeric `project.id` (else `project_id`). `None` when the payload names no such commit.
pub fn gitlab_commit(payload: &Value) -> Option<CommitRef> {
    let project = payload
        .pointer("/project/id")
        .or_else(|| payload.get("project_id"))
        .and_then(Value::as_u64)?;
    let sha = [
        "/object_attributes/last_commit/id",
        "/object_attributes/sha",
        "/checkout_sha",
        "/after",
    ]
    .iter()
    .find_map(|p| text(payload.pointer(p)).filter(|s| is_sha(s)))?;
    Some(CommitRef {
        repository: project.to_string(),
        sha,
    })
}

/// What a delivery of `forge` is about (see [`github_commit`], [`gitlab_commit`]).
pub fn commit_of(forge: Forge, payload: &Value) -> Option<CommitRef> {
    match forge {
        Forge::GitHub => github_commit(payload),
        Forge::GitLab => gitlab_commit(payload),
    }
}

/// One commit status to post.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusPost {
    pub url: String,
    pub body: Value,
    /// The header that carries the token: `Authorization` (value `Bearer TOKEN`) for GitHub,
    /// `PRIVATE-TOKEN` (the token itself) for GitLab.
    pub auth_header: &'static str,
}

impl StatusPost {
    /// The auth header's value for `token`.
    pub fn auth_value(&self, token: &str) -> String {
        if self.auth_header == "Authorization" {
            format!("Bearer {token}")
        } else {
            token.to_string()
        }
    }
}

/// The request that reports `state` on `commit`. `api` is the API base URL (a trailing `/` is
/// ignored), `context` the status's name (GitHub `context`, GitLab `name`), `link` the run's
/// page. The description is cut to [`MAX_DESCRIPTION`] characters.
pub fn status_post(
    forge: Forge,
    api: &str,
    commit: &CommitRef,
    state: CommitState,
    context: &str,
    description: &str,
    link: Option<&str>,
) -> StatusPost {
    let api = api.trim_end_matches('/');
    let description: String = description.chars().take(MAX_DESCRIPTION).collect();
    let mut body = json!({
        "state": state.word(forge),
        "description": description,
    });
    if let Some(link) = link {
        body["target_url"] = json!(link);
    }
    match forge {
        Forge::GitHub => {
            body["context"] = json!(context);
            StatusPost {
                url: format!("{api}/repos/{}/statuses/{}", commit.repository, commit.sha),
                body,
                auth_header: "Authorization",
            }
        }
        Forge::GitLab => {
            body["name"] = json!(context);
            StatusPost {
                url: format!(
                    "{api}/projects/{}/statuses/{}",
                    commit.repository, commit.sha
                ),
                body,
                auth_header: "PRIVATE-TOKEN",
            }
        }
    }
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::to_string)
}

/// 40 (SHA-1) or 64 (SHA-256) hex digits, not all zero (GitHub's `after` of a deleted branch).
fn is_sha(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64)
        && s.bytes().all(|b| b.is_ascii_hexdigit())
        && s.bytes().any(|b| b != b'0')
}

/// An owner or repository name that is safe as one URL path segment.
fn is_path_name(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn github_commits() {
        let push = json!({"after": SHA, "repository": {"full_name": "o/r"}});
        assert_eq!(
            github_commit(&push),
            Some(CommitRef {
                repository: "o/r".into(),
                sha: SHA.into()
            })
        );
        let pr = json!({"after": "x", "pull_request": {"head": {"sha": SHA}}, "repository": {"full_name": "o/r"}});
        assert_eq!(github_commit(&pr).map(|c| c.sha), Some(SHA.to_string()));
        let deleted = json!({"after": "0".repeat(40), "repository": {"full_name": "o/r"}});
        assert_eq!(github_commit(&deleted), None);
        for bad in ["o/r/x", "../r", "o", "o/r?x"] {
            let p = json!({"after": SHA, "repository": {"full_name": bad}});
            assert_eq!(github_commit(&p), None, "{bad}");
        }
        assert_eq!(github_commit(&json!(null)), None);
    }

    #[test]
    fn gitlab_commits() {
        let push = json!({"checkout_sha": SHA, "project": {"id": 42}});
        assert_eq!(
            gitlab_commit(&push),
            Some(CommitRef {
                repository: "42".into(),
                sha: SHA.into()
            })
        );
        let mr = json!({"object_attributes": {"last_commit": {"id": SHA}}, "project": {"id": 7}});
        assert_eq!(gitlab_commit(&mr).map(|c| c.repository), Some("7".into()));
        assert_eq!(
            gitlab_commit(&json!({"checkout_sha": SHA, "project": {"id": "x"}})),
            None
        );
    }

    #[test]
    fn posts() {
        let c = CommitRef {
            repository: "o/r".into(),
            sha: SHA.into(),
        };
        let p = status_post(
            Forge::GitHub,
            "https://ghe.example/api/v3/",
            &c,
            CommitState::Cancelled,
            "containerops/ci",
            &"x".repeat(200),
            Some("https://co/ui/runs/1"),
        );
        assert_eq!(
            p.url,
            format!("https://ghe.example/api/v3/repos/o/r/statuses/{SHA}")
        );
        assert_eq!(p.body["state"], "error");
        assert_eq!(p.body["context"], "containerops/ci");
        assert_eq!(p.body["target_url"], "https://co/ui/runs/1");
        assert_eq!(p.body["description"].as_str().map(str::len), Some(140));
        assert_eq!(p.auth_value("t"), "Bearer t");
        let c = CommitRef {
            repository: "42".into(),
            sha: SHA.into(),
        };
        let p = status_post(
            Forge::GitLab,
            GITLAB_API,
            &c,
            CommitState::Running,
            "ci",
            "running",
            None,
        );
        assert_eq!(
            p.url,
            format!("https://gitlab.com/api/v4/projects/42/statuses/{SHA}")
        );
        assert_eq!(p.body["state"], "running");
        assert_eq!(p.body["name"], "ci");
        assert!(p.body.get("target_url").is_none());
        assert_eq!(p.auth_value("t"), "t");
    }
}
