//! A run's log lines from the server: the stored pages (`GET …/logs`), and the live stream
//! (`GET …/logs/stream`, Server-Sent Events) followed across dropped connections with
//! `Last-Event-ID`, without gaps or duplicates.

use std::io::Write;
use std::time::Duration;

use co_store::RunStatus;
use futures::StreamExt;
use serde_json::Value;

use super::sse::{Event, Parser};
use super::{text_field, Client, ClientError};

/// Lines asked for per page.
const PAGE: i64 = 1000;
/// A stream that brings nothing at all (not even a keep-alive comment) for this long is taken
/// as dead and reopened.
const IDLE: Duration = Duration::from_secs(90);
/// Reconnections in a row without a new line before giving up.
const MAX_RECONNECTS: u32 = 20;
/// The longest wait between two reconnections.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// One stored log line as the server shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub seq: i64,
    pub step: String,
    pub action: String,
    pub attempt: i64,
    pub stream: String,
    pub ts: String,
    pub text: String,
}

impl LogLine {
    /// From the server's JSON; `id` (the SSE event id) stands in for a missing `seq`.
    pub fn from_json(value: &Value, id: Option<&str>) -> LogLine {
        let step = text_field(value, "step");
        let action = match text_field(value, "action") {
            a if a.is_empty() => step.clone(),
            a => a,
        };
        LogLine {
            seq: value
                .get("seq")
                .and_then(Value::as_i64)
                .or_else(|| id.and_then(|i| i.trim().parse().ok()))
                .unwrap_or(0),
            step,
            action,
            attempt: value.get("attempt").and_then(Value::as_i64).unwrap_or(1),
            stream: text_field(value, "stream"),
            ts: text_field(value, "ts"),
            text: text_field(value, "text"),
        }
    }
}

/// Where lines go: `ACTION | TEXT` for a whole run, bare text for one action; stdout, or stderr
/// when stdout is reserved for JSON.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    pub bare: bool,
    pub to_stderr: bool,
}

impl Printer {
    /// Print one line; `false` once the output is closed (e.g. `| head`).
    pub fn print(&self, line: &LogLine) -> bool {
        let text = if self.bare {
            line.text.clone()
        } else {
            format!("{} | {}", line.action, line.text)
        };
        let written = if self.to_stderr {
            writeln!(std::io::stderr().lock(), "{text}")
        } else {
            writeln!(crate::out::Stdout, "{text}")
        };
        written.is_ok()
    }
}

/// Where a followed stream's events go: [`Printer`] (`logs -f`), or the run's progress view
/// (`runs start --wait`, [`super::progress::Progress`]).
pub trait Sink {
    /// One log line; `false` once our output is closed (e.g. `| head`).
    fn line(&self, line: &LogLine) -> bool;
    /// Whether to ask the server for `step` events (`?steps=true`).
    fn wants_steps(&self) -> bool {
        false
    }
    /// One `step` event: a step as `GET /api/v1/runs/{id}` shows it.
    fn step(&self, _step: &Value) {}
}

impl Sink for Printer {
    fn line(&self, line: &LogLine) -> bool {
        self.print(line)
    }
}

/// How following a stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Followed {
    /// The run finished with this status (`None`: the stream did not say).
    Ended(Option<RunStatus>),
    /// Our own output was closed; we stopped reading.
    OutputClosed,
}

/// Every stored line of run `run_id` (of one action with `step`) after sequence number `after`.
pub async fn pages(
    client: &Client,
    run_id: &str,
    step: Option<&str>,
    after: i64,
    printer: Printer,
) -> Result<Followed, ClientError> {
    let mut after = after;
    loop {
        let page = client
            .get(
                &["runs", run_id, "logs"],
                &[
                    ("step", step.unwrap_or_default().to_string()),
                    ("after", after.to_string()),
                    ("limit", PAGE.to_string()),
                ],
            )
            .await?;
        let lines = page
            .get("lines")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let before = after;
        for value in &lines {
            let line = LogLine::from_json(value, None);
            if line.seq != 0 && line.seq <= after {
                continue;
            }
            if !printer.print(&line) {
                return Ok(Followed::OutputClosed);
            }
            after = after.max(line.seq);
        }
        // A short page is the last one.
        let full = i64::try_from(lines.len()).is_ok_and(|n| n >= PAGE);
        match page.get("next_after").and_then(Value::as_i64) {
            Some(n) if full && n > before => after = after.max(n),
            _ => return Ok(Followed::Ended(None)),
        }
    }
}

/// Follow run `run_id`'s live log stream from after sequence number `after` until the run ends,
/// printing every line exactly once. A dropped connection is reopened with `Last-Event-ID`.
pub async fn follow(
    client: &Client,
    run_id: &str,
    step: Option<&str>,
    after: i64,
    sink: &dyn Sink,
) -> Result<Followed, ClientError> {
    let mut last = after;
    let mut failures: u32 = 0;
    let query = [
        ("step", step.unwrap_or_default().to_string()),
        (
            "steps",
            if sink.wants_steps() { "true" } else { "" }.to_string(),
        ),
    ];
    loop {
        let resume_from = (last > 0).then_some(last);
        let opened = client
            .open_stream(&["runs", run_id, "logs", "stream"], &query, resume_from)
            .await;
        let response = match opened {
            Ok(r) => r,
            // The first connection's failure is the answer (unknown run, bad token, no server).
            Err(e) if failures == 0 && last == after => return Err(e),
            Err(e) if e.is_transient() && failures < MAX_RECONNECTS => {
                failures += 1;
                warn_and_wait(failures, &e.lines().join(" "), last).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        let mut parser = Parser::new();
        let mut body = response.bytes_stream();
        let broke = loop {
            match tokio::time::timeout(IDLE, body.next()).await {
                Err(_) => break format!("nothing received for {}s", IDLE.as_secs()),
                Ok(None) => break "the server closed the stream".to_string(),
                Ok(Some(Err(e))) => break super::root_cause(&e),
                Ok(Some(Ok(chunk))) => {
                    for event in parser.push(&chunk) {
                        match handle(&event, &mut last, sink)? {
                            Step::Continue => {}
                            Step::Progress => failures = 0,
                            Step::Done(end) => return Ok(end),
                        }
                    }
                }
            }
        };
        failures += 1;
        if failures > MAX_RECONNECTS {
            return Err(ClientError::Transport {
                url: client.shown_url().to_string(),
                reason: format!("the log stream broke {MAX_RECONNECTS} times in a row: {broke}"),
            });
        }
        warn_and_wait(failures, &broke, last).await;
    }
}

enum Step {
    Continue,
    Progress,
    Done(Followed),
}

fn handle(event: &Event, last: &mut i64, sink: &dyn Sink) -> Result<Step, ClientError> {
    match event.event.as_str() {
        "log" => {
            let value: Value = serde_json::from_str(&event.data).map_err(|e| {
                ClientError::Protocol(format!(
                    "the server sent a log event that is not JSON ({e}): {}",
                    event.data
                ))
            })?;
            let line = LogLine::from_json(&value, event.id.as_deref());
            if line.seq != 0 && line.seq <= *last {
                return Ok(Step::Continue); // already printed (a replay after reconnecting)
            }
            if !sink.line(&line) {
                return Ok(Step::Done(Followed::OutputClosed));
            }
            *last = (*last).max(line.seq);
            Ok(Step::Progress)
        }
        "step" => {
            let value: Value = serde_json::from_str(&event.data).map_err(|e| {
                ClientError::Protocol(format!(
                    "the server sent a step event that is not JSON ({e}): {}",
                    event.data
                ))
            })?;
            sink.step(&value);
            Ok(Step::Continue)
        }
        "end" => {
            let word = serde_json::from_str::<Value>(&event.data)
                .map(|v| text_field(&v, "status"))
                .unwrap_or_else(|_| event.data.trim().to_string());
            let status = word.parse().map_err(|e| {
                ClientError::Protocol(format!("the server ended the log stream with an {e}"))
            })?;
            Ok(Step::Done(Followed::Ended(Some(status))))
        }
        "error" => {
            let value: Value =
                serde_json::from_str(&event.data).unwrap_or(Value::String(event.data.clone()));
            let message = value
                .get("error")
                .unwrap_or(&value)
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| event.data.clone());
            Err(ClientError::Protocol(format!(
                "the server ended the log stream: {message}"
            )))
        }
        _ => Ok(Step::Continue),
    }
}

/// The first reconnection is immediate and quiet (a proxy's idle cut, a server restart); later
/// ones are announced and back off (250 ms, doubling, at most [`MAX_BACKOFF`]).
async fn warn_and_wait(failures: u32, reason: &str, last: i64) {
    if failures <= 1 {
        return;
    }
    eprintln!("warning: lost the log stream ({reason}); reconnecting after line {last}…");
    let delay = Duration::from_millis(250)
        .saturating_mul(1 << (failures - 2).min(8))
        .min(MAX_BACKOFF);
    tokio::time::sleep(delay).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, id: Option<&str>, data: &str) -> Event {
        Event {
            event: kind.into(),
            data: data.into(),
            id: id.map(str::to_string),
        }
    }

    const QUIET: Printer = Printer {
        bare: true,
        to_stderr: true,
    };

    #[test]
    fn replayed_lines_are_skipped_and_new_ones_advance() {
        let mut last = 5;
        let old = event(
            "log",
            Some("5"),
            r#"{"seq":5,"step":"a","action":"a","text":"x"}"#,
        );
        assert!(matches!(
            handle(&old, &mut last, &QUIET),
            Ok(Step::Continue)
        ));
        let new = event("log", Some("6"), r#"{"step":"a","text":"y"}"#);
        assert!(matches!(
            handle(&new, &mut last, &QUIET),
            Ok(Step::Progress)
        ));
        assert_eq!(last, 6);
    }

    #[test]
    fn the_end_event_carries_the_status() {
        let mut last = 0;
        match handle(
            &event("end", None, r#"{"status":"failed"}"#),
            &mut last,
            &QUIET,
        ) {
            Ok(Step::Done(Followed::Ended(s))) => assert_eq!(s, Some(RunStatus::Failed)),
            _ => panic!("not the end"),
        }
        assert!(handle(&event("ping", None, ""), &mut last, &QUIET).is_ok());
        assert!(handle(&event("log", None, "not json"), &mut last, &QUIET).is_err());
    }

    #[test]
    fn lines_read_the_server_shape() {
        let v = serde_json::json!({"seq": 3, "step": "build[os=l]", "action": "build[os=l]",
            "attempt": 2, "stream": "stderr", "ts": "t", "text": "hi"});
        let line = LogLine::from_json(&v, None);
        assert_eq!((line.seq, line.attempt, line.text.as_str()), (3, 2, "hi"));
        assert_eq!(
            LogLine::from_json(&serde_json::json!({"step": "s"}), None).action,
            "s"
        );
    }
}
