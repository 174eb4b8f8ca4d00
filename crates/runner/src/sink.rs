//! Where a running step's output goes: lines → `[COUT]` collector, masking, store, observer.

use std::sync::{Arc, Mutex, RwLock};

use co_backend::{OutputSink, Stream};
use co_protocol::{Collected, Line, LineSplitter, Masker, OutputCollector};
use co_spec::NodeId;
use co_store::{LogRecord, LogWriter};
use tokio::sync::mpsc;

use crate::{format_time, now_millis, Event, Observer, Ownership};

/// Longest log line stored or shown; the rest is replaced by a note (outputs keep up to 1 MiB).
const MAX_LOG_LINE: usize = 16 * 1024;

pub(crate) struct LogTarget {
    pub run_id: String,
    pub step_key: String,
    pub action: String,
    pub attempt: u32,
    pub writer: LogWriter,
    /// The run's log sequence counter; held while a line is pushed so sequence order is commit order.
    pub seq: Arc<Mutex<i64>>,
    pub masker: Arc<RwLock<Masker>>,
    pub observer: Arc<dyn Observer>,
    /// Lines of this attempt already stored by an earlier process (a reattached attempt's output
    /// is replayed from the start): they feed the `[COUT]` collector but are not stored or shown
    /// again.
    pub already_stored: i64,
    /// A server's hold on the run: while its lease is in doubt, lines are held back (stored once
    /// it is renewed; dropped with the step if another server took the run over).
    pub ownership: Option<Ownership>,
    /// Lines held back meanwhile (at most [`MAX_HELD_BACK`]; the rest are counted).
    pub held_back: Vec<Line>,
    pub dropped_while_held: usize,
}

/// Most lines one step holds back while its server's lease is in doubt.
const MAX_HELD_BACK: usize = 10_000;

impl LogTarget {
    fn line(&mut self, line: &Line) {
        if self.already_stored > 0 {
            self.already_stored -= 1;
            return;
        }
        if self.ownership.as_ref().is_some_and(|o| !o.held_now()) {
            if self.held_back.len() < MAX_HELD_BACK {
                self.held_back.push(line.clone());
            } else {
                self.dropped_while_held += 1;
            }
            return;
        }
        self.store_held();
        self.store(line);
    }

    /// Store the lines held back, in order.
    fn store_held(&mut self) {
        for held in std::mem::take(&mut self.held_back) {
            self.store(&held);
        }
        if self.dropped_while_held > 0 {
            let note = format!(
                "… {} more line(s) not stored: the server's hold on the run was in doubt",
                self.dropped_while_held
            );
            self.dropped_while_held = 0;
            self.store(&Line {
                stream: Stream::Stderr,
                text: note,
                truncated_bytes: 0,
            });
        }
    }

    /// The lines held back, stored once the lease surely holds (never, if the server stops).
    async fn release_held(&mut self) {
        if self.held_back.is_empty() && self.dropped_while_held == 0 {
            return;
        }
        let held = match &mut self.ownership {
            Some(ownership) => ownership.wait_held().await,
            None => true,
        };
        if held {
            self.store_held();
        }
    }

    fn store(&mut self, line: &Line) {
        let masked = match self.masker.read() {
            Ok(masker) => masker.mask(&line.text).into_owned(),
            // A poisoned lock means a panic elsewhere: never let an unmasked line through.
            Err(_) => "*** (line withheld: masking unavailable)".to_string(),
        };
        let text = shorten(masked, line.truncated_bytes);
        let stream = match line.stream {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        };
        if let Ok(mut seq) = self.seq.lock() {
            *seq += 1;
            let pushed = self.writer.push(LogRecord {
                run_id: self.run_id.clone(),
                seq: *seq,
                step_key: self.step_key.clone(),
                attempt: i64::from(self.attempt),
                stream: stream.into(),
                ts: format_time(now_millis()),
                text: text.clone(),
            });
            if let Err(e) = pushed {
                tracing::warn!(run = %self.run_id, step = %self.step_key, error = %e, "log line not stored");
            }
        }
        self.observer.log_line(
            &self.step_key,
            &self.action,
            self.attempt,
            line.stream,
            &text,
        );
    }
}

/// Cut a very long line for the log (on a char boundary) and say how much was left out.
fn shorten(mut text: String, truncated: usize) -> String {
    if text.len() <= MAX_LOG_LINE && truncated == 0 {
        return text;
    }
    let mut cut = MAX_LOG_LINE.min(text.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let dropped = text.len() - cut + truncated;
    text.truncate(cut);
    text.push_str(&format!(" … ({dropped} more bytes not shown)"));
    text
}

/// Whom to tell that the attempt's container started.
pub(crate) struct Started {
    pub events: mpsc::UnboundedSender<Event>,
    pub node: NodeId,
    pub attempt: u32,
}

/// The [`OutputSink`] handed to the backend for one attempt.
pub(crate) struct StepSink {
    started: Started,
    target: LogTarget,
    splitter: LineSplitter,
    collector: OutputCollector,
    container_id: Option<String>,
    first: FirstLine,
}

/// The attempt's first line, while it is the only one (to recognise a command that never ran).
#[derive(Default)]
struct FirstLine {
    lines: u64,
    first: Option<(Stream, String)>,
}

/// Longest line kept to recognise a start failure.
const MAX_START_FAILURE: usize = 2048;

impl FirstLine {
    fn see(&mut self, line: &Line) {
        self.lines += 1;
        if self.lines == 1 && line.text.len() <= MAX_START_FAILURE {
            self.first = Some((line.stream, line.text.clone()));
        } else {
            self.first = None;
        }
    }

    /// The container runtime's words when the command could not be started: the whole output
    /// was one stderr line as runc (`exec /bin/sh: argument list too long`) or crun (`… exec
    /// container process `/bin/app`: Exec format error`) write it when the exec fails.
    fn start_failure(&self) -> Option<&str> {
        let (stream, text) = self.first.as_ref()?;
        let text = text.trim();
        let runc = text.starts_with("exec ") && text.contains(": ");
        let crun = text.contains("exec container process");
        (*stream == Stream::Stderr && (runc || crun)).then_some(text)
    }
}

/// What a step's output said, once it ended.
pub(crate) struct Finished {
    pub collected: Collected,
    pub container_id: Option<String>,
    /// The runtime's message if the output was only that the command could not start.
    pub start_failure: Option<String>,
}

impl StepSink {
    pub fn new(started: Started, target: LogTarget) -> StepSink {
        StepSink {
            started,
            target,
            splitter: LineSplitter::new(),
            collector: OutputCollector::new(),
            container_id: None,
            first: FirstLine::default(),
        }
    }

    /// End of output: what the component reported, its container id, a start failure (once
    /// every line is stored, or dropped because the server no longer holds the run).
    pub async fn finish(mut self) -> Finished {
        let (target, collector, first) = (&mut self.target, &mut self.collector, &mut self.first);
        self.splitter.finish(&mut |line| {
            first.see(&line);
            collector.feed(&line);
            target.line(&line);
        });
        self.target.release_held().await;
        Finished {
            start_failure: self.first.start_failure().map(str::to_string),
            collected: self.collector.finish(),
            container_id: self.container_id,
        }
    }
}

impl OutputSink for StepSink {
    fn started(&mut self, container_id: &str) {
        self.container_id = Some(container_id.to_string());
        let _ = self.started.events.send(Event::Started {
            node: self.started.node,
            attempt: self.started.attempt,
        });
    }

    fn output(&mut self, stream: Stream, bytes: &[u8]) {
        let (target, collector, first) = (&mut self.target, &mut self.collector, &mut self.first);
        self.splitter.push(stream, bytes, &mut |line| {
            first.see(&line);
            collector.feed(&line);
            target.line(&line);
        });
    }
}
