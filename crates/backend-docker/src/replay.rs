//! A step's whole output, from the start, for `reattach`: read from the engine's log of the
//! container, kept complete and live while the container runs.
//!
//! Why not the obvious endpoints (measured on Podman 4.3.1, k8s-file log driver, see the README):
//! - `GET /containers/{id}/logs?follow=true` loses output: when its file tail meets a line that is
//!   still being written it passes the fragment on and jumps to the end of the file, so a
//!   container writing fast loses most of it (5 of 5 runs of `seq 1 300000` lost 81–95 % of the
//!   bytes, with torn numbers in what remained).
//! - `POST /containers/{id}/attach?logs=true&stream=true` frames every replayed full line with a
//!   length one byte short (the newline it appends is not counted), which desynchronises any
//!   demultiplexer; on a container that has exited it never ends; and its replay (the log file)
//!   and live part (conmon's socket) share no position, so the seam can lose or double output.
//! - `GET /containers/{id}/logs` without `follow` is exact: every read was a byte-exact prefix of
//!   the final log, per stream, also while the container wrote fast (49 reads, 0 differences).
//!
//! So the output comes from non-following reads of the log only, and a live attach stream
//! (`stream=true`, no `logs`) is used as a doorbell: its bytes are dropped, its activity says
//! "read again". Each read passes on what lies beyond the bytes already passed on, per stream, so
//! nothing is lost or doubled whatever the reads overlap. The last frame of a read made while the
//! container runs is held back until a later read shows it again unchanged (a read could meet a
//! log line while it is being written), or until the final read.
//!
//! The final read starts once the engine reports the container exited (the die event or `wait`
//! through [`OutputSource::container_exited`], or, after the doorbell ended, an inspect every
//! 50 ms): by then the log is complete on both engines (Podman's conmon logs each chunk before it
//! sends it to attach streams and drains the pipes before it reports the exit; Docker's log copier
//! may lag behind its attach streams but is done before the container counts as exited).
//!
//! Cost: each read goes through the whole log (Podman parses ~110,000 lines/s); reads are
//! coalesced and spaced by at least the duration of the previous one, so the engine spends at most
//! about half its time on them however chatty the step. A reattach is a recovery path.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptionsBuilder;
use bollard::Docker;
use bytes::Bytes;
use co_backend::{BackendError, Stream};
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use tokio::time::{Instant, Sleep};

use crate::error;
use crate::inventory::{inspect_container, Inspected};
use crate::raw::RawClient;
use crate::step::{chunk, Chunk, OutputSource};

/// After output (or a held-back frame), read again this much later even without a doorbell: the
/// engine may ring before its log write lands, and a held-back frame needs a second look.
const TRAIL: Duration = Duration::from_millis(100);
/// Least time between the end of one read and the start of the next.
const MIN_GAP: Duration = Duration::from_millis(50);
/// Without a doorbell (the attach failed or broke), read and ask whether the container exited
/// this often.
const POLL_WITHOUT_DOORBELL: Duration = Duration::from_secs(1);
/// After the doorbell ended, ask this often whether the engine reports the exit yet.
const EXIT_CHECK: Duration = Duration::from_millis(50);

type Frames = BoxStream<'static, Result<LogOutput, bollard::errors::Error>>;
/// An inspect: `None` when the container is gone.
type ExitCheck = BoxFuture<'static, Result<Option<Inspected>, BackendError>>;

/// A piece of one stream at a byte offset of that stream, and when the engine logged it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Frame {
    stream: Stream,
    start: u64,
    bytes: Bytes,
    at: Option<i64>,
}

/// Split the engine's timestamp off a log frame read with `timestamps=true`
/// (`2026-12-03T13:56:41.430261858Z text`; Podman 4.3 gives whole seconds): the time in ms since
/// the Unix epoch, and the bytes the step wrote.
pub(crate) fn split_timestamp(bytes: Bytes) -> (Option<i64>, Bytes) {
    let Some(space) = bytes
        .iter()
        .take(co_backend::LOG_TIME_MAX)
        .position(|&b| b == b' ')
    else {
        return (None, bytes);
    };
    let Some(ms) = co_backend::parse_log_time(&bytes[..space]) else {
        return (None, bytes);
    };
    (Some(ms).filter(|&ms| ms > 0), bytes.slice(space + 1..))
}

/// What rings for new output.
enum Doorbell {
    /// The live attach stream (and its input half, kept open with it).
    Live {
        frames: Frames,
        _input: Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
    },
    /// No attach stream: poll the log until the container exits.
    Absent,
    /// The attach stream ended (or the container had exited): the output ends once the engine
    /// reports the exit.
    Ended,
}

/// One read of the log in progress.
struct Read {
    frames: Frames,
    /// Started after the output was complete: everything in it is passed on.
    last: bool,
    /// Started because the doorbell rang (or first): another read follows it in any case.
    rung: bool,
    started: Instant,
    /// Bytes of each stream seen in this read.
    pos: [u64; 2],
    /// The latest frame beyond what was passed on, waiting for the next one.
    pending: Option<Frame>,
    /// Frames beyond what was passed on before this read.
    fresh: u32,
}

/// The output of a container started by an earlier process, from its log.
pub(crate) struct Replay {
    docker: Docker,
    raw: RawClient,
    id: String,
    name: String,
    /// Bytes of each stream passed on.
    delivered: [u64; 2],
    doorbell: Doorbell,
    read: Option<Read>,
    /// Output arrived since the last read started.
    rung: bool,
    /// The engine reports the container exited: its log is complete, the next read is final.
    complete: bool,
    /// An inspect in flight, asking whether the container exited (without a live doorbell).
    check: Option<ExitCheck>,
    /// When to ask next.
    check_at: Option<Instant>,
    /// The read after completion has been passed on.
    done: bool,
    /// The last frame of the previous read, not yet passed on.
    held: Option<Frame>,
    /// A read is due at this time even without a doorbell.
    due: Option<Instant>,
    /// No read starts before this.
    not_before: Instant,
    timer: Pin<Box<Sleep>>,
    /// The next chunk to hand out.
    out: Option<Chunk>,
}

fn index(s: Stream) -> usize {
    match s {
        Stream::Stdout => 0,
        Stream::Stderr => 1,
    }
}

impl Replay {
    /// Replay container `id` (`name` for messages) beyond `delivered` (bytes of each stream
    /// already passed on). `attach`: a live attach stream of the running container (output and
    /// input halves); `None` when the container has `exited` (then one read passes on
    /// everything) or could not be attached (then the log and the container's state are polled
    /// until it exits).
    pub(crate) fn new(
        docker: Docker,
        raw: RawClient,
        id: &str,
        name: &str,
        attach: Option<(Frames, Pin<Box<dyn tokio::io::AsyncWrite + Send>>)>,
        exited: bool,
        delivered: [u64; 2],
    ) -> Self {
        let now = Instant::now();
        let doorbell = match attach {
            Some((frames, input)) if !exited => Doorbell::Live {
                frames,
                _input: input,
            },
            _ if exited => Doorbell::Ended,
            _ => Doorbell::Absent,
        };
        Replay {
            docker,
            raw,
            id: id.to_string(),
            name: name.to_string(),
            delivered,
            doorbell,
            read: None,
            // The first read starts at once and is followed by another (the attach may have
            // become live after the first read began).
            rung: true,
            complete: exited,
            check: None,
            check_at: None,
            done: false,
            held: None,
            due: None,
            not_before: now,
            timer: Box::pin(tokio::time::sleep_until(now)),
            out: None,
        }
    }

    /// Take note of everything the doorbell has to say.
    fn poll_doorbell(&mut self, cx: &mut Context<'_>) {
        loop {
            let Doorbell::Live { frames, .. } = &mut self.doorbell else {
                return;
            };
            match frames.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(_))) => self.rung = true,
                Poll::Ready(Some(Err(e))) => {
                    tracing::debug!(container = %self.name, error = %error::describe(&e), "the attach stream broke; polling the log until the container exits");
                    self.doorbell = Doorbell::Absent;
                    self.rung = true;
                }
                Poll::Ready(None) => {
                    // The process ended. Podman's conmon logs each chunk before it sends it to
                    // attach streams, but Docker's log copier may still be writing: read now,
                    // and finally once the engine reports the exit (Docker's copier is done
                    // by then).
                    self.doorbell = Doorbell::Ended;
                    self.rung = true;
                }
                Poll::Pending => return,
            }
        }
    }

    /// Without a live doorbell, ask the engine whether the container has exited.
    fn poll_exit_check(&mut self, cx: &mut Context<'_>) {
        if self.complete || matches!(self.doorbell, Doorbell::Live { .. }) {
            self.check = None;
            return;
        }
        loop {
            if let Some(check) = self.check.as_mut() {
                let Poll::Ready(r) = check.poll_unpin(cx) else {
                    return;
                };
                self.check = None;
                match r {
                    Ok(Some(c)) if !c.state.has_exited() => {}
                    // Exited, or gone (then the final read says so).
                    Ok(_) => {
                        self.complete = true;
                        return;
                    }
                    Err(e) => {
                        tracing::debug!(container = %self.name, error = %e, "cannot inspect the container; asking again")
                    }
                }
                let every = match self.doorbell {
                    Doorbell::Absent => POLL_WITHOUT_DOORBELL,
                    _ => EXIT_CHECK,
                };
                self.check_at = Some(Instant::now() + every);
                return;
            }
            if self.check_at.is_some_and(|t| t > Instant::now()) {
                return;
            }
            let (raw, id) = (self.raw.clone(), self.id.clone());
            self.check = Some(async move { inspect_container(&raw, &id).await }.boxed());
        }
    }

    fn start_read(&mut self, now: Instant) {
        // With the engine's timestamps: replayed lines keep the time they were written.
        let opts = LogsOptionsBuilder::default()
            .follow(false)
            .stdout(true)
            .stderr(true)
            .timestamps(true)
            .build();
        self.read = Some(Read {
            frames: self.docker.logs(&self.id, Some(opts)).boxed(),
            last: self.complete,
            rung: self.rung,
            started: now,
            pos: [0, 0],
            pending: None,
            fresh: 0,
        });
        self.rung = false;
        self.due = None;
    }

    /// Pass `f` on; it must start where the stream's output passed on so far ends.
    fn emit(&mut self, f: Frame) {
        let i = index(f.stream);
        if f.start != self.delivered[i] {
            // Cannot happen (frames are cut at what was passed on); never pass on a gap or an
            // overlap silently.
            tracing::error!(container = %self.name, "log replay out of step; dropping a frame");
            return;
        }
        self.delivered[i] += f.bytes.len() as u64;
        if !f.bytes.is_empty() {
            self.out = Some((f.stream, f.bytes, f.at));
        }
    }

    /// A frame of the read in progress.
    fn on_frame(&mut self, item: LogOutput) {
        let Some((stream, bytes, _)) = chunk(item) else {
            return;
        };
        let (at, bytes) = split_timestamp(bytes);
        let Some(read) = self.read.as_mut() else {
            return;
        };
        let i = index(stream);
        let start = read.pos[i];
        read.pos[i] += bytes.len() as u64;
        if read.pos[i] <= self.delivered[i] {
            return;
        }
        let skip = usize::try_from(self.delivered[i].saturating_sub(start)).unwrap_or(usize::MAX);
        let frame = Frame {
            stream,
            start: start + skip as u64,
            bytes: bytes.slice(skip.min(bytes.len())..),
            at,
        };
        read.fresh += 1;
        if let Some(previous) = read.pending.replace(frame) {
            self.emit(previous);
        }
    }

    /// The read in progress ended.
    fn on_read_end(&mut self, now: Instant) {
        let Some(read) = self.read.take() else {
            return;
        };
        self.not_before = now + MIN_GAP.max(now.saturating_duration_since(read.started));
        let mut quiet = !read.rung;
        match read.pending {
            Some(last) if read.last => self.emit(last),
            Some(last) if self.held.as_ref() == Some(&last) => {
                // Seen twice unchanged: complete.
                self.held = None;
                quiet &= read.fresh == 1;
                self.emit(last);
            }
            Some(last) => {
                self.held = Some(last);
                quiet = false;
            }
            None => self.held = None,
        }
        if read.last {
            self.done = true;
        } else if matches!(self.doorbell, Doorbell::Absent) {
            self.due = Some(now + POLL_WITHOUT_DOORBELL);
        } else if !quiet {
            self.due = Some(now + TRAIL);
        }
    }
}

impl futures::Stream for Replay {
    type Item = Result<Chunk, BackendError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(c) = this.out.take() {
                return Poll::Ready(Some(Ok(c)));
            }
            if this.done {
                return Poll::Ready(None);
            }
            this.poll_doorbell(cx);
            if this.read.is_some() {
                this.poll_exit_check(cx);
            }
            if let Some(read) = this.read.as_mut() {
                match read.frames.poll_next_unpin(cx) {
                    Poll::Ready(Some(Ok(item))) => this.on_frame(item),
                    Poll::Ready(Some(Err(e))) => {
                        this.read = None;
                        this.done = true;
                        let msg = if error::status(&e) == Some(404) {
                            format!(
                                "container {} was removed while its output was being replayed; \
                                 the step's output is incomplete",
                                this.name
                            )
                        } else {
                            format!(
                                "reading the log of container {}: {}; the step's output is incomplete",
                                this.name,
                                error::describe(&e)
                            )
                        };
                        return Poll::Ready(Some(Err(BackendError::Other(msg))));
                    }
                    Poll::Ready(None) => this.on_read_end(Instant::now()),
                    Poll::Pending => return Poll::Pending,
                }
                continue;
            }
            this.poll_exit_check(cx);
            let now = Instant::now();
            let wanted = this.complete || this.rung || this.due.is_some_and(|d| d <= now);
            if wanted && now >= this.not_before {
                this.start_read(now);
                continue;
            }
            let mut wake = if wanted {
                Some(this.not_before)
            } else {
                this.due
            };
            if this.check.is_none() {
                if let Some(at) = this.check_at.filter(|_| !this.complete) {
                    wake = Some(wake.map_or(at, |w| w.min(at)));
                }
            }
            let Some(wake) = wake else {
                // Quiet: the doorbell or the exit check (both polled above) wakes us.
                return Poll::Pending;
            };
            this.timer.as_mut().reset(wake);
            match this.timer.as_mut().poll(cx) {
                Poll::Ready(()) => continue,
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl OutputSource for Replay {
    fn container_exited(&mut self) {
        if !self.complete {
            self.complete = true;
            // An attach stream that stays open after the exit (Podman does that when the attach
            // raced with the exit) has nothing more to say.
            if matches!(self.doorbell, Doorbell::Live { .. }) {
                self.doorbell = Doorbell::Ended;
            }
        }
    }

    /// The read after the exit ends when the log does, however long that takes.
    fn drain_limit(&self) -> Option<Duration> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replay() -> Replay {
        let docker =
            Docker::connect_with_http("tcp://127.0.0.1:9", 1, bollard::API_DEFAULT_VERSION)
                .unwrap();
        let doorbell: (Frames, Pin<Box<dyn tokio::io::AsyncWrite + Send>>) = (
            futures::stream::pending().boxed(),
            Box::pin(tokio::io::sink()),
        );
        let raw = RawClient::new(crate::raw::Transport::Tcp("127.0.0.1:9".into()), "1.41");
        Replay::new(docker, raw, "id", "name", Some(doorbell), false, [0, 0])
    }

    fn read(
        r: &mut Replay,
        frames: &[(Stream, &'static str)],
        last: bool,
    ) -> Vec<(Stream, String)> {
        r.due = None;
        r.read = Some(Read {
            frames: futures::stream::empty().boxed(),
            last,
            rung: false,
            started: Instant::now(),
            pos: [0, 0],
            pending: None,
            fresh: 0,
        });
        let mut out = Vec::new();
        for (s, text) in frames {
            let item = match s {
                Stream::Stdout => LogOutput::StdOut {
                    message: Bytes::from_static(text.as_bytes()),
                },
                Stream::Stderr => LogOutput::StdErr {
                    message: Bytes::from_static(text.as_bytes()),
                },
            };
            r.on_frame(item);
            if let Some((s, b, _)) = r.out.take() {
                out.push((s, String::from_utf8_lossy(&b).into_owned()));
            }
        }
        r.on_read_end(Instant::now());
        if let Some((s, b, _)) = r.out.take() {
            out.push((s, String::from_utf8_lossy(&b).into_owned()));
        }
        out
    }

    #[test]
    fn the_engines_timestamp_is_split_off_each_frame() {
        let (at, bytes) = split_timestamp(Bytes::from_static(
            b"2026-12-03T13:56:41.430261858Z hello world\n",
        ));
        assert_eq!(at, Some(1_796_306_201_430));
        assert_eq!(&bytes[..], b"hello world\n");
        // Podman 4.3: whole seconds.
        let (at, bytes) = split_timestamp(Bytes::from_static(b"2026-12-03T13:56:41Z partial"));
        assert_eq!(at, Some(1_796_306_201_000));
        assert_eq!(&bytes[..], b"partial");
        // An empty payload, and no timestamp at all.
        let (at, bytes) = split_timestamp(Bytes::from_static(b"2026-12-03T13:56:41Z "));
        assert_eq!((at, bytes.len()), (Some(1_796_306_201_000), 0));
        let (at, bytes) = split_timestamp(Bytes::from_static(b"no time here\n"));
        assert_eq!((at, &bytes[..]), (None, &b"no time here\n"[..]));
    }

    use Stream::{Stderr as E, Stdout as O};

    #[tokio::test]
    async fn overlapping_reads_pass_each_byte_on_once_and_hold_the_last_frame() {
        let mut r = replay();
        // The last frame ("hal") may be cut: held back.
        let a = read(&mut r, &[(O, "a\n"), (E, "x\n"), (O, "hal")], false);
        assert_eq!(a, [(O, "a\n".into()), (E, "x\n".into())]);
        assert!(r.due.is_some(), "a held frame needs another read");
        // It was cut: the next read shows more; now "f-" is the last frame, held.
        let b = read(&mut r, &[(O, "a\n"), (E, "x\n"), (O, "half-")], false);
        assert_eq!(b, []);
        // Seen again unchanged: passed on.
        let c = read(&mut r, &[(O, "a\n"), (E, "x\n"), (O, "half-")], false);
        assert_eq!(c, [(O, "half-".into())]);
        assert!(r.due.is_none(), "quiet after a confirmed frame");
        // More output; the log splits differently than what was passed on: only new bytes go.
        let d = read(
            &mut r,
            &[
                (O, "a\n"),
                (E, "x\n"),
                (O, "half-"),
                (O, "rest\n"),
                (E, "y\n"),
                (O, "z"),
            ],
            false,
        );
        assert_eq!(d, [(O, "rest\n".into()), (E, "y\n".into())]);
        // The final read passes everything on, also a last line without a newline.
        let e = read(
            &mut r,
            &[(O, "a\nhalf-rest\n"), (E, "x\ny\n"), (O, "zz")],
            true,
        );
        assert_eq!(e, [(O, "zz".into())]);
        assert!(r.done);
        assert_eq!(r.delivered, [14, 4]);
    }
}
