//! Turning engine failures into [`BackendError`]s whose messages say what to do.
//!
//! The crate's one error type is [`co_backend::BackendError`]; these helpers add context.

use bollard::errors::Error as BollardError;
use co_backend::BackendError;

use crate::raw::RawError;

const ENGINE_DOWN: &str =
    "is the container engine still running? (Podman: scripts/setup-engine.sh; \
Docker: `sudo systemctl status docker`)";

/// `what` failed because of `e`.
pub(crate) fn engine(what: &str, e: &BollardError) -> BackendError {
    BackendError::Other(format!("{what}: {}", describe(e)))
}

pub(crate) fn raw(what: &str, e: &RawError) -> BackendError {
    if e.status.is_none() {
        BackendError::Other(format!("{what}: {e}; {ENGINE_DOWN}"))
    } else {
        BackendError::Other(format!("{what}: {e}"))
    }
}

/// A short, human description of a bollard error.
pub(crate) fn describe(e: &BollardError) -> String {
    match e {
        BollardError::DockerResponseServerError {
            status_code,
            message,
        } => format!("{} (HTTP {status_code})", message.trim()),
        BollardError::RequestTimeoutError => {
            format!("the container engine did not answer in time; {ENGINE_DOWN}")
        }
        BollardError::DockerStreamError { error } => error.trim().to_string(),
        BollardError::IOError { .. }
        | BollardError::HyperResponseError { .. }
        | BollardError::HyperLegacyError { .. }
        | BollardError::SocketNotFoundError(_) => format!("{}; {ENGINE_DOWN}", chain(e)),
        other => chain(other),
    }
}

/// The error and its sources, without repeating text.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        src = s.source();
    }
    out
}

/// HTTP status of an engine answer, if it was one.
pub(crate) fn status(e: &BollardError) -> Option<u16> {
    match e {
        BollardError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// The engine's message of an HTTP error answer.
pub(crate) fn message(e: &BollardError) -> String {
    match e {
        BollardError::DockerResponseServerError { message, .. } => message.trim().to_string(),
        other => describe(other),
    }
}

/// Shorten an engine message for display (keeps the end, where the cause usually is).
pub(crate) fn shorten(msg: &str, max: usize) -> String {
    let msg = msg.trim();
    if msg.chars().count() <= max {
        return msg.to_string();
    }
    let chars: Vec<char> = msg.chars().collect();
    let tail: String = chars[chars.len() - max..].iter().collect();
    // Start at a word, not in the middle of one.
    let tail = match tail.find(' ') {
        Some(i) if i + 1 < tail.len() => &tail[i + 1..],
        _ => tail.as_str(),
    };
    format!("…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_show_message_and_status() {
        let e = BollardError::DockerResponseServerError {
            status_code: 404,
            message: "no such container".into(),
        };
        assert_eq!(describe(&e), "no such container (HTTP 404)");
        assert_eq!(status(&e), Some(404));
        let BackendError::Other(m) = engine("removing x", &e) else {
            panic!()
        };
        assert_eq!(m, "removing x: no such container (HTTP 404)");
    }

    #[test]
    fn timeouts_say_what_to_check() {
        assert!(describe(&BollardError::RequestTimeoutError).contains("setup-engine.sh"));
    }

    #[test]
    fn shorten_keeps_the_end() {
        assert_eq!(shorten("abc", 5), "abc");
        assert_eq!(shorten("abcdefgh", 3), "…fgh");
        assert_eq!(shorten("one two three four", 12), "…three four");
    }
}
