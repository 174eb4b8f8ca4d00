//! kube errors as `BackendError`s that say what was being done and what to do about it.

use co_backend::BackendError;

/// The HTTP status of an API error, if the API server answered.
pub(crate) fn status(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}

pub(crate) fn is_not_found(e: &kube::Error) -> bool {
    status(e) == Some(404)
}

pub(crate) fn is_conflict(e: &kube::Error) -> bool {
    status(e) == Some(409)
}

/// `doing` failed with `e`: an error message with a hint where one helps.
pub(crate) fn api(doing: &str, e: &kube::Error) -> BackendError {
    BackendError::Other(format!("{doing}: {}", describe(e)))
}

/// One line about `e`, with a hint for the usual causes.
pub(crate) fn describe(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => {
            let what = if s.message.is_empty() {
                format!("{} {}", s.code, s.reason)
            } else {
                s.message.clone()
            };
            match s.code {
                401 => format!(
                    "{what} (the API server did not accept the credentials: check the kubeconfig user or the service account token)"
                ),
                403 => format!(
                    "{what} (the account lacks a permission: grant the Role in docs/kubernetes.md#rbac)"
                ),
                _ => what,
            }
        }
        other => format!(
            "{other} (is the Kubernetes API server reachable? check the kubeconfig context)"
        ),
    }
}

/// Shorten `s` to about `max` bytes (on a char boundary).
pub(crate) fn shorten(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &s[..cut])
}
