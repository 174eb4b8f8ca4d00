//! The batching log writer for the hot path: `push` is a channel send; one background task commits
//! whatever has queued up in one transaction, then looks again (group commit without timers: while
//! one batch is being written, the next one accumulates).
//!
//! The queue is bounded ([`LOG_QUEUE`] lines): when the database is behind, `push` waits. That
//! wait is the backpressure of a step that floods its output — the driver reads the container's
//! output more slowly, the engine's stream fills up, the step's writes block — so memory stays
//! bounded whatever a step prints.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::{LogRecord, Result, Store, StoreError};

/// Most messages taken into one batch (bounds one transaction's size; more simply wait for the next).
const MAX_BATCH: usize = 4096;
/// Most lines queued and not yet taken by the writer; `push` waits beyond this.
pub const LOG_QUEUE: usize = 1024;

enum Message {
    Line(LogRecord),
    Flush(oneshot::Sender<Result<()>>),
    Close(oneshot::Sender<Result<()>>),
}

/// Handle to a background task that stores log lines in group commits. Cheap to clone; all clones
/// feed the same task. Created by [`Store::log_writer`].
///
/// Ordering: lines are committed in the order they were pushed. Durability: a line is stored once a
/// later [`flush`](LogWriter::flush) (or [`close`](LogWriter::close)) has returned `Ok`; a crash
/// loses at most the lines that were queued or in the transaction being written.
///
/// While the store is unavailable ([`crate::StoreError::Unavailable`]) a batch is tried again until
/// it is stored; lines pushed meanwhile wait for the next batch. Other failures (e.g. a line of a
/// run that is not recorded) are logged with `tracing` when they happen and returned by the next
/// `flush`/`close`. One failing run does not cost other runs their lines:
/// a failed batch is retried run by run.
///
/// Dropping every clone also lets the task write what is queued and end, but only `close` says when
/// that is done: call it before the process exits.
#[derive(Debug, Clone)]
pub struct LogWriter {
    tx: mpsc::Sender<Message>,
    counters: Arc<Counters>,
}

/// What a [`LogWriter`] has done so far (for metrics and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogWriterStats {
    /// Lines committed.
    pub lines_written: u64,
    /// Transactions that committed lines (each holds one or more lines).
    pub batches_written: u64,
    /// Lines that could not be stored (see the errors returned by `flush`).
    pub lines_failed: u64,
}

#[derive(Debug, Default)]
struct Counters {
    lines_written: AtomicU64,
    batches_written: AtomicU64,
    lines_failed: AtomicU64,
}

impl Counters {
    fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(u64::try_from(n).unwrap_or(u64::MAX), Ordering::Relaxed);
    }
}

impl LogWriter {
    pub(crate) fn spawn(store: Store) -> LogWriter {
        let (tx, rx) = mpsc::channel(LOG_QUEUE);
        let counters = Arc::new(Counters::default());
        tokio::spawn(write_loop(store, rx, counters.clone()));
        LogWriter { tx, counters }
    }

    /// Counts so far (shared by all clones).
    pub fn stats(&self) -> LogWriterStats {
        LogWriterStats {
            lines_written: self.counters.lines_written.load(Ordering::Relaxed),
            batches_written: self.counters.batches_written.load(Ordering::Relaxed),
            lines_failed: self.counters.lines_failed.load(Ordering::Relaxed),
        }
    }

    /// Queues a line, waiting while [`LOG_QUEUE`] lines are queued (the database is behind).
    /// Fails only after [`close`](LogWriter::close) ([`StoreError::WriterClosed`]).
    pub async fn push(&self, line: LogRecord) -> Result<()> {
        self.reserve().await?.push(line);
        Ok(())
    }

    /// Waits for room for one line in the queue. Take the room first and decide the line (its
    /// sequence number) after: lines are committed in the order their rooms are used.
    pub async fn reserve(&self) -> Result<LineSlot<'_>> {
        self.tx
            .reserve()
            .await
            .map(LineSlot)
            .map_err(|_| StoreError::WriterClosed)
    }

    /// Returns once every line pushed before this call is committed. `Err` if storing any line
    /// failed since the previous `flush` returned (that error is then reported only once).
    pub async fn flush(&self) -> Result<()> {
        let (done, answer) = oneshot::channel();
        self.tx
            .send(Message::Flush(done))
            .await
            .map_err(|_| StoreError::WriterClosed)?;
        answer.await.map_err(|_| StoreError::WriterClosed)?
    }

    /// Stops accepting lines (for every clone), commits everything accepted so far, and ends the
    /// task. Returns like [`flush`](LogWriter::flush). Closing a closed writer returns `Ok`.
    pub async fn close(&self) -> Result<()> {
        let (done, answer) = oneshot::channel();
        if self.tx.send(Message::Close(done)).await.is_err() {
            return Ok(());
        }
        answer.await.map_err(|_| StoreError::WriterClosed)?
    }
}

/// Room for one line in a [`LogWriter`]'s queue ([`LogWriter::reserve`]).
#[derive(Debug)]
pub struct LineSlot<'a>(mpsc::Permit<'a, Message>);

impl LineSlot<'_> {
    /// Queue `line` in the room taken; never waits.
    pub fn push(self, line: LogRecord) {
        self.0.send(Message::Line(line));
    }
}

async fn write_loop(store: Store, mut rx: mpsc::Receiver<Message>, counters: Arc<Counters>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut lines = Vec::new();
    let mut flushes = Vec::new();
    let mut closes = Vec::new();
    let mut failure: Option<StoreError> = None;
    // `recv_many` waits for at least one message, then takes everything queued (up to MAX_BATCH).
    // After `rx.close()` it still yields what was queued, then 0.
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        for message in batch.drain(..) {
            match message {
                Message::Line(line) => lines.push(line),
                Message::Flush(done) => flushes.push(done),
                Message::Close(done) => {
                    closes.push(done);
                    rx.close();
                }
            }
        }
        if !lines.is_empty() {
            if let Err(e) = write(&store, &lines, &counters).await {
                failure.get_or_insert(e);
            }
            lines.clear();
        }
        if !flushes.is_empty() {
            let outcome = failure.take();
            for done in flushes.drain(..) {
                let _ = done.send(outcome.clone().map_or(Ok(()), Err));
            }
        }
    }
    let outcome = failure.take();
    for done in closes {
        let _ = done.send(outcome.clone().map_or(Ok(()), Err));
    }
}

/// Everything in one transaction, tried again for as long as the store is unavailable (the lines
/// wait in memory: a database restart or a full disk loses none); if it fails otherwise, once
/// more run by run, so that the lines of other runs still land.
async fn write(store: &Store, lines: &[LogRecord], counters: &Counters) -> Result<()> {
    let stored =
        crate::retry_while_unavailable("storing log lines", || store.append_logs(lines)).await;
    let Err(err) = stored else {
        Counters::add(&counters.lines_written, lines.len());
        Counters::add(&counters.batches_written, 1);
        return Ok(());
    };
    tracing::warn!(error = %err, lines = lines.len(), "storing a batch of log lines failed; retrying run by run");
    let mut by_run = lines.to_vec();
    by_run.sort_by(|a, b| a.run_id.cmp(&b.run_id)); // stable: keeps each run's order
    let mut first_failure = None;
    for run_lines in by_run.chunk_by(|a, b| a.run_id == b.run_id) {
        match store.append_logs(run_lines).await {
            Ok(()) => {
                Counters::add(&counters.lines_written, run_lines.len());
                Counters::add(&counters.batches_written, 1);
            }
            Err(e) => {
                tracing::error!(
                    run_id = %run_lines[0].run_id,
                    lines = run_lines.len(),
                    error = %e,
                    "log lines could not be stored"
                );
                Counters::add(&counters.lines_failed, run_lines.len());
                first_failure.get_or_insert(e);
            }
        }
    }
    first_failure.map_or(Ok(()), Err)
}
