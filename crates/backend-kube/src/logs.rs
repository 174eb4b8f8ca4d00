//! A step's output: `GET pods/{name}/log?container=step&follow=true`.
//!
//! A followed read starts at the beginning of the container's log and, while the container runs,
//! goes on with what it writes; it ends once the container has exited and everything was sent.
//! Kubernetes merges stdout and stderr into that one log, so every byte is passed on as stdout.
//!
//! If a followed read ends early (the connection broke while the container still runs), it is
//! opened again from the beginning and the bytes already passed on are skipped: byte counting is
//! exact, unlike `sinceTime`, which the API takes with one-second resolution (lines written within
//! the same second would be doubled or lost). The same mechanism gives `reattach` the whole log
//! from its start with nothing lost or doubled: one followed read from the beginning is the
//! replay and the live part at once, with no seam between them.
//!
//! A reattached Pod's log is read with `timestamps=true`, so that lines written while no process
//! watched keep the time the kubelet logged them (`OutputSink::output_at`), not the time they are
//! read again. The kubelet puts its time (RFC 3339, fixed-width nanoseconds) and a space before
//! every line, once per line (since Kubernetes 1.26, also for lines the runtime split because
//! they were longer than its 16 KiB); [`Decoder`] splits it off. The bytes counted and skipped
//! are the step's own, without the prefixes, so a re-opened read skips exactly what was passed on.
//! A line that does not start with a valid time is passed on whole, at the time it is read.

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{AsyncBufReadExt, FutureExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};

use co_backend::{parse_log_time, LOG_TIME_MAX};

use crate::spec::CONTAINER;

pub(crate) type LogStream = BoxStream<'static, std::io::Result<Bytes>>;

/// Open a followed read of the Pod's log from its beginning (`timestamps`: with the kubelet's
/// time before each line).
pub(crate) fn open(
    api: Api<Pod>,
    name: String,
    timestamps: bool,
) -> BoxFuture<'static, kube::Result<LogStream>> {
    async move {
        let params = LogParams {
            container: Some(CONTAINER.to_string()),
            follow: true,
            timestamps,
            ..LogParams::default()
        };
        let reader = Box::pin(api.log_stream(&name, &params).await?);
        let stream = futures::stream::unfold(Some(reader), |reader| async move {
            let mut reader = reader?;
            let chunk = match reader.fill_buf().await {
                Ok([]) => return None,
                Ok(buf) => Bytes::copy_from_slice(buf),
                // The error ends the stream.
                Err(e) => return Some((Err(e), None)),
            };
            reader.consume_unpin(chunk.len());
            Some((Ok(chunk), Some(reader)))
        });
        Ok(stream.boxed())
    }
    .boxed()
}

/// Drops the first `skip` bytes of what it is given (the part of a re-opened log that was
/// passed on already).
#[derive(Debug, Default)]
pub(crate) struct Skip {
    pub remaining: u64,
}

impl Skip {
    /// What is left of `chunk` after skipping.
    pub fn apply<'a>(&mut self, chunk: &'a [u8]) -> &'a [u8] {
        let len = u64::try_from(chunk.len()).unwrap_or(u64::MAX);
        if self.remaining >= len {
            self.remaining -= len;
            return &[];
        }
        let at = usize::try_from(self.remaining).unwrap_or(0);
        self.remaining = 0;
        &chunk[at..]
    }
}

/// Bytes of the step's output and when the kubelet logged them (`None`: not known; the read has
/// no timestamps or the line had no valid one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Piece {
    pub at: Option<i64>,
    pub bytes: Bytes,
}

/// One read of the log: splits off the kubelet's timestamps (if the read has them) and skips what
/// an earlier read passed on already.
#[derive(Debug)]
pub(crate) struct Decoder {
    skip: Skip,
    stamps: Option<Stamps>,
}

impl Decoder {
    /// For a read that must skip `delivered` bytes of the step's output; `timestamps`: opened with
    /// `timestamps=true`.
    pub fn new(delivered: u64, timestamps: bool) -> Decoder {
        Decoder {
            skip: Skip {
                remaining: delivered,
            },
            stamps: timestamps.then(Stamps::default),
        }
    }

    /// The step's bytes in `chunk` that were not passed on before, each with its line's time.
    pub fn feed(&mut self, chunk: Bytes) -> Vec<Piece> {
        let pieces = match &mut self.stamps {
            Some(stamps) => stamps.split(chunk),
            None => vec![Piece {
                at: None,
                bytes: chunk,
            }],
        };
        self.skipped(pieces)
    }

    /// The read ended with the log complete: the start of a last line that was too short to tell
    /// whether it begins with a time (it had no space), passed on as it is.
    pub fn finish(&mut self) -> Vec<Piece> {
        let head = self
            .stamps
            .as_mut()
            .and_then(|s| s.head.take())
            .filter(|h| !h.is_empty());
        let pieces = head
            .map(|h| Piece {
                at: None,
                bytes: Bytes::from(h),
            })
            .into_iter()
            .collect();
        self.skipped(pieces)
    }

    fn skipped(&mut self, pieces: Vec<Piece>) -> Vec<Piece> {
        pieces
            .into_iter()
            .filter_map(|p| {
                let rest = self.skip.apply(&p.bytes).len();
                let bytes = p.bytes.slice(p.bytes.len() - rest..);
                (!bytes.is_empty()).then_some(Piece { at: p.at, bytes })
            })
            .collect()
    }
}

/// Where a read with timestamps stands.
#[derive(Debug)]
struct Stamps {
    /// At the start of a line: its first bytes, until the space that ends its timestamp (at most
    /// `LOG_TIME_MAX` bytes are held). `None`: within a line.
    head: Option<Vec<u8>>,
    /// The time of the line being passed on.
    at: Option<i64>,
}

impl Default for Stamps {
    fn default() -> Stamps {
        Stamps {
            head: Some(Vec::new()),
            at: None,
        }
    }
}

impl Stamps {
    fn split(&mut self, chunk: Bytes) -> Vec<Piece> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < chunk.len() {
            let rest = &chunk[i..];
            let Some(head) = self.head.as_mut() else {
                // Within a line: up to its end.
                let end = rest.iter().position(|&b| b == b'\n').map(|p| p + 1);
                let len = end.unwrap_or(rest.len());
                out.push(Piece {
                    at: self.at,
                    bytes: chunk.slice(i..i + len),
                });
                i += len;
                if end.is_some() {
                    self.head = Some(Vec::new());
                }
                continue;
            };
            let room = LOG_TIME_MAX.saturating_sub(head.len());
            let window = &rest[..rest.len().min(room)];
            match window.iter().position(|&b| b == b' ' || b == b'\n') {
                Some(p) if window[p] == b' ' => {
                    head.extend_from_slice(&window[..p]);
                    match parse_log_time(head) {
                        Some(ms) => self.at = Some(ms).filter(|&ms| ms > 0),
                        None => {
                            // Not a time: the line's own text, passed on whole.
                            self.at = None;
                            head.push(b' ');
                            out.push(Piece {
                                at: None,
                                bytes: Bytes::from(std::mem::take(head)),
                            });
                        }
                    }
                    self.head = None;
                    i += p + 1;
                }
                Some(p) => {
                    // A line without a space: no time.
                    head.extend_from_slice(&window[..=p]);
                    out.push(Piece {
                        at: None,
                        bytes: Bytes::from(std::mem::take(head)),
                    });
                    i += p + 1;
                }
                None if window.len() < room => {
                    // The chunk ended within what may be a timestamp: wait for more.
                    head.extend_from_slice(window);
                    i += window.len();
                }
                None => {
                    // No space this early: no time; the rest of the line follows as it is.
                    head.extend_from_slice(window);
                    self.at = None;
                    out.push(Piece {
                        at: None,
                        bytes: Bytes::from(std::mem::take(head)),
                    });
                    self.head = None;
                    i += window.len();
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::{Bytes, Decoder, Piece, Skip};

    #[test]
    fn skip_counts_bytes_across_chunks() {
        let mut s = Skip { remaining: 5 };
        assert_eq!(s.apply(b"abc"), b"");
        assert_eq!(s.apply(b"defgh"), b"fgh");
        assert_eq!(s.apply(b"ij"), b"ij");
        let mut none = Skip::default();
        assert_eq!(none.apply(b"x"), b"x");
    }

    const T1: &str = "2026-12-03T13:56:41.430000000Z";
    const T1_MS: i64 = 1_796_306_201_430;
    const T2: &str = "2026-12-03T14:56:42.000000000+01:00";
    const T2_MS: i64 = 1_796_306_202_000;

    /// Everything `chunks` give, merged into (time, text) runs.
    fn decode(d: &mut Decoder, chunks: &[&[u8]]) -> Vec<(Option<i64>, String)> {
        let mut pieces: Vec<Piece> = chunks
            .iter()
            .flat_map(|c| d.feed(Bytes::copy_from_slice(c)))
            .collect();
        pieces.extend(d.finish());
        let mut out: Vec<(Option<i64>, String)> = Vec::new();
        for p in pieces {
            let text = String::from_utf8_lossy(&p.bytes).into_owned();
            match out.last_mut() {
                Some((at, t)) if *at == p.at => t.push_str(&text),
                _ => out.push((p.at, text)),
            }
        }
        out
    }

    #[test]
    fn the_kubelets_time_is_split_off_each_line_wherever_the_chunks_break() {
        let log = format!("{T1} one\n{T2} two, long\n{T2} \n{T1} last, no newline");
        let want = vec![
            (Some(T1_MS), "one\n".to_string()),
            (Some(T2_MS), "two, long\n\n".to_string()),
            (Some(T1_MS), "last, no newline".to_string()),
        ];
        // Whole, and cut at every byte (within prefixes, at spaces, at newlines).
        assert_eq!(decode(&mut Decoder::new(0, true), &[log.as_bytes()]), want);
        for cut in 1..log.len() {
            let (a, b) = log.as_bytes().split_at(cut);
            assert_eq!(
                decode(&mut Decoder::new(0, true), &[a, b]),
                want,
                "cut {cut}"
            );
        }
        // Without timestamps: the bytes as they are.
        assert_eq!(
            decode(&mut Decoder::new(0, false), &[b"a b\n"]),
            [(None, "a b\n".to_string())]
        );
    }

    #[test]
    fn a_line_longer_than_the_runtimes_split_keeps_one_time() {
        let long = "x".repeat(40 * 1024);
        let log = format!("{T1} {long}\n{T2} next\n");
        let chunks: Vec<&[u8]> = log.as_bytes().chunks(4096).collect();
        assert_eq!(
            decode(&mut Decoder::new(0, true), &chunks),
            [
                (Some(T1_MS), format!("{long}\n")),
                (Some(T2_MS), "next\n".to_string())
            ]
        );
    }

    #[test]
    fn lines_without_a_valid_time_are_passed_on_whole_without_one() {
        let long = "y".repeat(100);
        let log =
            format!("no time here\nnospace\n{long}\n2026-13-45T99:00:00Z bad date\n{T1} ok\ntail");
        assert_eq!(
            decode(&mut Decoder::new(0, true), &[log.as_bytes()]),
            [
                (
                    None,
                    format!("no time here\nnospace\n{long}\n2026-13-45T99:00:00Z bad date\n")
                ),
                (Some(T1_MS), "ok\n".to_string()),
                (None, "tail".to_string()),
            ]
        );
    }

    #[test]
    fn a_reopened_read_skips_the_steps_bytes_not_the_prefixes() {
        // The first read passed on "one\ntw" (6 bytes); the second starts over.
        let log = format!("{T1} one\n{T2} two\n");
        assert_eq!(
            decode(&mut Decoder::new(6, true), &[log.as_bytes()]),
            [(Some(T2_MS), "o\n".to_string())]
        );
    }
}
