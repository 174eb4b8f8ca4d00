//! Splitting the byte streams of a step into lines, with bounded memory.

use crate::MAX_VALUE_BYTES;

/// The most bytes of one line that are kept ([`MAX_VALUE_BYTES`] plus room for `[COUT] KEY = `);
/// the rest of a longer line is counted in [`Line::truncated_bytes`], never buffered.
pub const MAX_LINE_BYTES: usize = MAX_VALUE_BYTES + 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

/// A complete line of output. Invalid UTF-8 is replaced (lossy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub stream: Stream,
    pub text: String,
    /// Bytes of this line that were dropped because it was longer than the line limit.
    pub truncated_bytes: usize,
}

/// The not yet terminated line of one stream.
#[derive(Debug, Default)]
struct Partial {
    /// Kept bytes (at most [`MAX_LINE_BYTES`]).
    buf: Vec<u8>,
    /// Bytes of the line beyond the kept ones.
    dropped: usize,
    /// Whether any byte of the line has been seen (an empty unterminated line is not a line).
    pending: bool,
    /// Whether the last byte seen was `\r` (it may have been dropped).
    last_cr: bool,
}

impl Partial {
    fn append(&mut self, bytes: &[u8]) {
        let Some(&last) = bytes.last() else {
            return;
        };
        self.pending = true;
        self.last_cr = last == b'\r';
        let room = MAX_LINE_BYTES.saturating_sub(self.buf.len());
        let keep = room.min(bytes.len());
        if self.buf.is_empty() && keep < bytes.len() {
            // One allocation of the final size instead of doubling past it.
            self.buf.reserve_exact(keep);
        }
        self.buf
            .extend_from_slice(bytes.get(..keep).unwrap_or_default());
        self.dropped = self.dropped.saturating_add(bytes.len() - keep);
    }

    fn take(&mut self, stream: Stream) -> Line {
        let mut buf = std::mem::take(&mut self.buf);
        let mut dropped = self.dropped;
        if self.last_cr {
            if dropped > 0 {
                dropped -= 1;
            } else {
                buf.pop();
            }
        }
        if dropped > 0 {
            // The cut may have split a multi-byte char: drop its first bytes too rather than
            // turning them into U+FFFD.
            let cut = incomplete_utf8_tail(&buf);
            buf.truncate(buf.len() - cut);
            dropped += cut;
        }
        *self = Partial::default();
        let text = match String::from_utf8(buf) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        Line {
            stream,
            text,
            truncated_bytes: dropped,
        }
    }
}

/// How many bytes at the end of `buf` are the start of a UTF-8 char whose remaining bytes are
/// missing (0 if `buf` ends with a complete char or with invalid bytes).
fn incomplete_utf8_tail(buf: &[u8]) -> usize {
    let len = buf.len();
    for back in 1..=len.min(4) {
        let b = buf[len - back];
        if b & 0xC0 == 0x80 {
            continue; // continuation byte
        }
        let need = match b {
            0x00..=0x7F => 1,
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => 1,
        };
        return if need > back { back } else { 0 };
    }
    0
}

/// Splits byte chunks from one or two streams into lines (`\n`, with a trailing `\r` removed).
/// Keeps at most `MAX_VALUE_BYTES + 4096` bytes of any line; the rest is counted, not kept.
///
/// Each stream has its own partial line, and a line is decoded (lossy UTF-8) only once it is
/// complete, so the lines are the same however the bytes are chunked (a multi-byte char split
/// across chunks is not damaged). When a line is cut, a char split by the cut is dropped whole.
#[derive(Debug, Default)]
pub struct LineSplitter {
    stdout: Partial,
    stderr: Partial,
}

impl LineSplitter {
    pub fn new() -> Self {
        Self::default()
    }

    fn partial(&mut self, stream: Stream) -> &mut Partial {
        match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        }
    }

    /// Feed a chunk; every line it completes is passed to `emit`.
    pub fn push(&mut self, stream: Stream, chunk: &[u8], emit: &mut dyn FnMut(Line)) {
        let partial = self.partial(stream);
        let mut rest = chunk;
        while let Some(newline) = rest.iter().position(|&b| b == b'\n') {
            partial.append(rest.get(..newline).unwrap_or_default());
            emit(partial.take(stream));
            rest = rest.get(newline + 1..).unwrap_or_default();
        }
        partial.append(rest);
    }

    /// End of both streams: emit unterminated last lines (stdout's first).
    pub fn finish(&mut self, emit: &mut dyn FnMut(Line)) {
        for stream in [Stream::Stdout, Stream::Stderr] {
            let partial = self.partial(stream);
            if partial.pending {
                emit(partial.take(stream));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[(Stream, &[u8])]) -> Vec<Line> {
        let mut splitter = LineSplitter::new();
        let mut lines = Vec::new();
        for (stream, chunk) in chunks {
            splitter.push(*stream, chunk, &mut |l| lines.push(l));
        }
        splitter.finish(&mut |l| lines.push(l));
        lines
    }

    fn line(stream: Stream, text: &str) -> Line {
        Line {
            stream,
            text: text.to_string(),
            truncated_bytes: 0,
        }
    }

    use Stream::{Stderr as E, Stdout as O};

    #[test]
    fn splits_at_newlines_and_strips_one_trailing_cr() {
        let lines = split(&[(O, b"a\nb\r\n\nc\r\r\nd\re\n\r\n")]);
        assert_eq!(
            lines,
            vec![
                line(O, "a"),
                line(O, "b"),
                line(O, ""),
                line(O, "c\r"),
                line(O, "d\re"),
                line(O, ""),
            ]
        );
    }

    #[test]
    fn finish_emits_unterminated_lines_of_both_streams() {
        let lines = split(&[(E, b"err tail"), (O, b"x\nout tail\r")]);
        assert_eq!(
            lines,
            vec![line(O, "x"), line(O, "out tail"), line(E, "err tail")]
        );
    }

    #[test]
    fn finish_emits_nothing_when_every_line_was_terminated() {
        assert_eq!(split(&[(O, b"a\n"), (E, b"")]), vec![line(O, "a")]);
        assert_eq!(split(&[]), vec![]);
    }

    #[test]
    fn each_stream_keeps_its_own_partial_line() {
        let lines = split(&[
            (O, b"hel"),
            (E, b"wor"),
            (O, b"lo\nnext"),
            (E, b"ld\n"),
            (O, b"\n"),
        ]);
        assert_eq!(
            lines,
            vec![line(O, "hello"), line(E, "world"), line(O, "next")]
        );
    }

    #[test]
    fn cr_and_lf_in_separate_chunks() {
        assert_eq!(
            split(&[(O, b"ab\r"), (O, b"\ncd")]),
            vec![line(O, "ab"), line(O, "cd")]
        );
    }

    #[test]
    fn utf8_chars_split_across_chunks_survive() {
        let text = "héllo → wörld 🎉\n".as_bytes();
        for cut in 0..text.len() {
            let (a, b) = text.split_at(cut);
            assert_eq!(
                split(&[(O, a), (O, b)]),
                vec![line(O, "héllo → wörld 🎉")],
                "cut at {cut}"
            );
        }
        // one byte at a time, interleaved with the other stream
        let mut chunks = Vec::new();
        for i in 0..text.len() {
            chunks.push((O, &text[i..=i]));
            chunks.push((E, &b"x"[..]));
        }
        let lines = split(&chunks);
        assert_eq!(lines[0], line(O, "héllo → wörld 🎉"));
        assert_eq!(lines[1], line(E, &"x".repeat(text.len())));
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let lines = split(&[(O, b"a\xffb\xe2\x82\n")]);
        assert_eq!(lines, vec![line(O, "a\u{fffd}b\u{fffd}")]);
    }

    #[test]
    fn a_line_at_the_limit_is_kept_whole() {
        let text = vec![b'x'; MAX_LINE_BYTES];
        let mut input = text.clone();
        input.extend_from_slice(b"\r\n");
        let lines = split(&[(O, &input)]);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].text.len(), MAX_LINE_BYTES);
        assert_eq!(lines[0].truncated_bytes, 0);
    }

    #[test]
    fn a_line_over_the_limit_is_cut_and_counted() {
        let mut input = vec![b'x'; MAX_LINE_BYTES + 10];
        input.extend_from_slice(b"\r\nnext\n");
        let lines = split(&[(O, &input)]);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].text.len(), MAX_LINE_BYTES);
        // the trailing \r is removed, not counted
        assert_eq!(lines[0].truncated_bytes, 10);
        assert_eq!(lines[1], line(O, "next"));
    }

    #[test]
    fn a_cut_through_a_multibyte_char_drops_the_char() {
        let mut input = vec![b'x'; MAX_LINE_BYTES - 1];
        input.extend_from_slice("é".as_bytes()); // straddles the limit
        input.extend_from_slice(b"yz\n");
        let lines = split(&[(O, &input)]);
        assert_eq!(lines[0].text.len(), MAX_LINE_BYTES - 1);
        assert!(lines[0].text.bytes().all(|b| b == b'x'));
        assert_eq!(lines[0].truncated_bytes, 4); // 2 bytes of é + "yz"
    }

    #[test]
    fn huge_lines_use_bounded_memory() {
        let mut splitter = LineSplitter::new();
        let chunk = vec![b'y'; 64 * 1024];
        let mut lines = Vec::new();
        let total = 8 * MAX_VALUE_BYTES; // 8 MiB without a newline
        for _ in 0..total / chunk.len() {
            splitter.push(E, &chunk, &mut |l| lines.push(l));
            assert!(splitter.stderr.buf.capacity() <= 2 * MAX_LINE_BYTES);
            assert!(splitter.stderr.buf.len() <= MAX_LINE_BYTES);
        }
        assert!(lines.is_empty());
        splitter.push(E, b"\n", &mut |l| lines.push(l));
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].text.len(), MAX_LINE_BYTES);
        assert_eq!(lines[0].truncated_bytes, total - MAX_LINE_BYTES);
        assert_eq!(
            splitter.stderr.buf.capacity(),
            0,
            "memory released after the line"
        );
    }

    #[test]
    fn incomplete_tail_detection() {
        assert_eq!(incomplete_utf8_tail(b"abc"), 0);
        assert_eq!(incomplete_utf8_tail("é".as_bytes()), 0);
        assert_eq!(incomplete_utf8_tail(&"é".as_bytes()[..1]), 1);
        assert_eq!(incomplete_utf8_tail(&"🎉".as_bytes()[..3]), 3);
        assert_eq!(incomplete_utf8_tail(&"🎉".as_bytes()[..2]), 2);
        assert_eq!(incomplete_utf8_tail("🎉".as_bytes()), 0);
        assert_eq!(incomplete_utf8_tail(b"\x80\x80\x80\x80"), 0);
        assert_eq!(incomplete_utf8_tail(b""), 0);
    }
}
