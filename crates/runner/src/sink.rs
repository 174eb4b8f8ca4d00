//! Where a running step's output goes: lines → `[COUT]` collector, log caps, masking, store,
//! observer.
//!
//! Every line feeds the `[COUT]` collector. A line is stored (and shown) only while the step's
//! and the run's log caps allow ([`LogBudget`]); beyond them lines are only counted, and the log
//! says so: a note when the cap is reached, and at the end `… N lines (M bytes) not stored: the
//! step's log cap of X was reached`. Storing waits for room in the log writer's bounded queue,
//! which is what slows a flooding step down (backpressure). On a server whose hold on the run is
//! in doubt (its lease lapsed: frozen, cut off), storing waits for the renewal the same way —
//! nothing is held in memory meanwhile — and if the lease is never renewed, nothing more is
//! stored (the server that took the run over replays the container's output).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use async_trait::async_trait;
use co_artifacts::size_text;
use co_backend::{ArtifactSource, OutputSink, StepExit, Stream};
use co_protocol::{Collected, Line, LineSplitter, Masker, OutputCollector};
use co_spec::NodeId;
use co_store::{LogRecord, LogWriter};
use tokio::sync::mpsc;

use crate::collect::{Collection, StepArtifacts};
use crate::{format_time, now_millis, Event, Observer, Ownership};

/// Longest log line stored or shown; the rest is replaced by a note (outputs keep up to 1 MiB).
const MAX_LOG_LINE: usize = 16 * 1024;

/// How much of a step's and of a run's output may be stored (bytes of lines, a newline each).
#[derive(Debug, Clone)]
pub(crate) struct LogBudget {
    pub step_cap: u64,
    pub run_cap: u64,
    /// Bytes of the step's lines stored so far (every attempt).
    pub step_used: Arc<AtomicU64>,
    /// Bytes of the run's lines stored so far.
    pub run_used: Arc<AtomicU64>,
}

/// Which cap stopped the storing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cap {
    Step(u64),
    Run(u64),
}

impl Cap {
    /// `the step's log cap of 64 MiB`.
    fn describe(self) -> String {
        match self {
            Cap::Step(n) => format!("the step's log cap of {}", size_text(n)),
            Cap::Run(n) => format!("the run's log cap of {}", size_text(n)),
        }
    }
}

impl LogBudget {
    /// Take `size` bytes from both caps, or say which one has no room left.
    fn take(&self, size: u64) -> Result<(), Cap> {
        if self.step_used.load(Ordering::Relaxed).saturating_add(size) > self.step_cap {
            return Err(Cap::Step(self.step_cap));
        }
        self.run_used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(size).filter(|n| *n <= self.run_cap)
            })
            .map_err(|_| Cap::Run(self.run_cap))?;
        self.step_used.fetch_add(size, Ordering::Relaxed);
        Ok(())
    }

    /// Count `size` bytes stored earlier (a reattached attempt's replayed lines).
    fn count(&self, size: u64) {
        self.step_used.fetch_add(size, Ordering::Relaxed);
        self.run_used.fetch_add(size, Ordering::Relaxed);
    }
}

/// What a line counts against the caps: its bytes as printed, and its newline.
fn line_bytes(line: &Line) -> u64 {
    u64::try_from(line.text.len() + line.truncated_bytes + 1).unwrap_or(u64::MAX)
}

pub(crate) struct LogTarget {
    pub run_id: String,
    pub step_key: String,
    pub action: String,
    pub attempt: u32,
    pub writer: LogWriter,
    /// The run's log sequence counter; held while a line is queued so sequence order is commit
    /// order.
    pub seq: Arc<Mutex<i64>>,
    pub masker: Arc<RwLock<Masker>>,
    pub observer: Arc<dyn Observer>,
    /// Lines of this attempt already stored by an earlier process (a reattached attempt's output
    /// is replayed from the start): they feed the `[COUT]` collector but are not stored or shown
    /// again.
    pub already_stored: i64,
    /// A server's hold on the run (see [`Ownership`]): lines are stored only while it surely
    /// holds.
    pub ownership: Option<Ownership>,
    pub budget: LogBudget,
    /// When the engine logged the output being split (output replayed from its log), else
    /// `None`: now.
    pub at: Option<i64>,
}

/// Lines of one attempt not stored because a cap was reached.
#[derive(Debug, Default)]
struct Dropped {
    cap: Option<Cap>,
    lines: u64,
    bytes: u64,
}

impl LogTarget {
    async fn line(&mut self, line: &Line, dropped: &mut Dropped) {
        let size = line_bytes(line);
        if self.already_stored > 0 {
            self.already_stored -= 1;
            self.budget.count(size);
            return;
        }
        if dropped.cap.is_none() {
            if let Err(cap) = self.budget.take(size) {
                dropped.cap = Some(cap);
                let note = format!(
                    "… {} was reached: further lines are counted, not stored",
                    cap.describe()
                );
                self.store(Stream::Stderr, note).await;
            }
        }
        if dropped.cap.is_some() {
            dropped.lines += 1;
            dropped.bytes = dropped.bytes.saturating_add(size);
            return;
        }
        let masked = match self.masker.read() {
            Ok(masker) => masker.mask(&line.text).into_owned(),
            // A poisoned lock means a panic elsewhere: never let an unmasked line through.
            Err(_) => "*** (line withheld: masking unavailable)".to_string(),
        };
        self.store(line.stream, shorten(masked, line.truncated_bytes))
            .await;
    }

    /// The last line of an attempt that reached a cap: how much was not stored.
    async fn finish(&mut self, dropped: &Dropped) {
        let Some(cap) = dropped.cap else {
            return;
        };
        let lines = if dropped.lines == 1 { "line" } else { "lines" };
        let note = format!(
            "… {} {lines} ({} bytes) not stored: {} was reached",
            dropped.lines,
            dropped.bytes,
            cap.describe()
        );
        self.store(Stream::Stderr, note).await;
    }

    /// Store and show one (masked) line. Waits for the server's hold on the run to be sure, and
    /// for room in the writer's queue.
    async fn store(&mut self, stream: Stream, text: String) {
        if let Some(ownership) = &mut self.ownership {
            if !ownership.held_now() && !ownership.wait_held().await {
                // Never renewed: the server stops driving the run; the new owner stores it.
                return;
            }
        }
        let slot = match self.writer.reserve().await {
            Ok(slot) => slot,
            Err(e) => {
                tracing::warn!(run = %self.run_id, step = %self.step_key, error = %e, "log line not stored");
                return;
            }
        };
        let stream_name = match stream {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        };
        {
            let mut seq = match self.seq.lock() {
                Ok(seq) => seq,
                Err(poisoned) => poisoned.into_inner(),
            };
            *seq += 1;
            slot.push(LogRecord {
                run_id: self.run_id.clone(),
                seq: *seq,
                step_key: self.step_key.clone(),
                attempt: i64::from(self.attempt),
                stream: stream_name.into(),
                ts: format_time(self.at.unwrap_or_else(now_millis)),
                text: text.clone(),
            });
        }
        self.observer
            .log_line(&self.step_key, &self.action, self.attempt, stream, &text);
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
    /// What `[COUT]` said, once the output has ended (set by `collect` or `finish`).
    ended: Option<Collected>,
    /// The step's artifacts to keep, if it declares any (taken by `collect`).
    artifacts: Option<StepArtifacts>,
    collection: Option<Collection>,
    container_id: Option<String>,
    dropped: Dropped,
    /// The lines of the chunk being handled (kept to reuse its allocation).
    lines: Vec<Line>,
}

/// What a step's output said, once it ended.
pub(crate) struct Finished {
    pub collected: Collected,
    pub container_id: Option<String>,
    /// The artifacts kept and why others were not (`None`: the step declares none, or they were
    /// not collected).
    pub artifacts: Option<Collection>,
}

impl StepSink {
    pub fn new(started: Started, target: LogTarget, artifacts: Option<StepArtifacts>) -> StepSink {
        StepSink {
            started,
            target,
            splitter: LineSplitter::new(),
            collector: OutputCollector::new(),
            ended: None,
            artifacts,
            collection: None,
            container_id: None,
            dropped: Dropped::default(),
            lines: Vec::new(),
        }
    }

    /// Collect, count and store the lines split off so far.
    async fn handle_lines(&mut self) {
        let mut lines = std::mem::take(&mut self.lines);
        for line in lines.drain(..) {
            self.collector.feed(&line);
            self.target.line(&line, &mut self.dropped).await;
        }
        self.lines = lines;
    }

    /// Split `bytes` into lines, and collect, count and store the complete ones.
    async fn split(&mut self, stream: Stream, bytes: &[u8]) {
        let lines = &mut self.lines;
        self.splitter
            .push(stream, bytes, &mut |line| lines.push(line));
        self.handle_lines().await;
    }

    /// The output has ended: handle its last line and learn what `[COUT]` said (once).
    async fn end_output(&mut self) -> Collected {
        if let Some(collected) = &self.ended {
            return collected.clone();
        }
        let lines = &mut self.lines;
        self.splitter.finish(&mut |line| lines.push(line));
        self.handle_lines().await;
        let collected = std::mem::take(&mut self.collector).finish();
        self.ended = Some(collected.clone());
        collected
    }

    /// End of output: what the component reported, its container id, and its artifacts.
    /// `ran`: the backend ran the attempt to its end (so the artifacts it did not collect were
    /// not collectable: the log says so).
    pub async fn finish(mut self, ran: bool) -> Finished {
        let collected = self.end_output().await;
        self.target.finish(&self.dropped).await;
        if let (true, Some(artifacts)) = (ran, self.artifacts.take()) {
            let names: Vec<&str> = artifacts.decls.iter().map(|d| d.name.as_str()).collect();
            let note = format!(
                "artifacts not kept ({}): this backend cannot read a finished step's files yet",
                names.join(", ")
            );
            self.target.store(Stream::Stderr, note).await;
        }
        Finished {
            collected,
            container_id: self.container_id,
            artifacts: self.collection,
        }
    }
}

#[async_trait]
impl OutputSink for StepSink {
    fn started(&mut self, container_id: &str) {
        self.container_id = Some(container_id.to_string());
        let _ = self.started.events.send(Event::Started {
            node: self.started.node,
            attempt: self.started.attempt,
        });
    }

    async fn output(&mut self, stream: Stream, bytes: &[u8]) {
        self.target.at = None;
        self.split(stream, bytes).await;
    }

    /// Lines these bytes complete are stored with the time the engine logged them (and a last
    /// line without a newline, at the end, with the time of the last bytes replayed).
    async fn output_at(&mut self, stream: Stream, bytes: &[u8], at: i64) {
        self.target.at = Some(at);
        self.split(stream, bytes).await;
    }

    async fn collect(&mut self, exit: &StepExit, files: &mut dyn ArtifactSource) {
        let Some(artifacts) = self.artifacts.take() else {
            return;
        };
        let collected = self.end_output().await;
        let outcome = co_engine::Outcome {
            exit_code: exit.exit_code,
            stopped: exit.stopped,
            oom_killed: exit.oom_killed,
            collected,
            ..co_engine::Outcome::default()
        };
        let succeeded = co_engine::attempt_succeeded(&outcome, &artifacts.action);
        let collection = artifacts.collect(succeeded, files).await;
        for (stream, note) in &collection.notes {
            self.target.store(*stream, note.clone()).await;
        }
        self.collection = Some(collection);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(step_cap: u64, run_cap: u64, run_used: &Arc<AtomicU64>) -> LogBudget {
        LogBudget {
            step_cap,
            run_cap,
            step_used: Arc::new(AtomicU64::new(0)),
            run_used: run_used.clone(),
        }
    }

    #[test]
    fn a_budget_takes_from_the_step_and_the_run() {
        let run = Arc::new(AtomicU64::new(0));
        let a = budget(10, 15, &run);
        let b = budget(10, 15, &run);
        assert_eq!(a.take(6), Ok(()));
        assert_eq!(a.take(5), Err(Cap::Step(10)), "the step's cap");
        assert_eq!(a.take(4), Ok(()));
        assert_eq!(b.take(6), Err(Cap::Run(15)), "the run's cap, shared");
        assert_eq!(b.take(5), Ok(()));
        assert_eq!(run.load(Ordering::Relaxed), 15);
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size_text(64 << 20), "64 MiB");
        assert_eq!(size_text(512 << 10), "512 KiB");
        assert_eq!(size_text(1000), "1000 bytes");
        assert_eq!(
            Cap::Run(256 << 20).describe(),
            "the run's log cap of 256 MiB"
        );
    }
}
