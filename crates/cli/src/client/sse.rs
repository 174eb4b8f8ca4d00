//! A Server-Sent Events parser (the WHATWG event-stream format), fed with bytes as they arrive.
//!
//! An event is dispatched only at the blank line that ends it, so an event cut off by a dropped
//! connection is never seen half; the follower reconnects with `Last-Event-ID` and the server
//! sends it again.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The `event:` field; `message` if none was given.
    pub event: String,
    /// The `data:` lines joined with `\n`.
    pub data: String,
    /// The `id:` field of this event, if it had one.
    pub id: Option<String>,
}

/// Incremental parser: [`Parser::push`] bytes, get the complete events.
#[derive(Debug, Default)]
pub struct Parser {
    /// Bytes of the current, unfinished line.
    line: Vec<u8>,
    /// The previous byte was a `\r` that ended a line (so a following `\n` belongs to it).
    after_cr: bool,
    event: String,
    data: String,
    has_data: bool,
    id: Option<String>,
    /// At the very start of the stream (to drop a byte-order mark).
    started: bool,
}

impl Parser {
    pub fn new() -> Parser {
        Parser::default()
    }

    /// Feed bytes; returns every event completed by them.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Event> {
        let mut out = Vec::new();
        for &b in bytes {
            if self.after_cr {
                self.after_cr = false;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\n' => self.end_line(&mut out),
                b'\r' => {
                    self.after_cr = true;
                    self.end_line(&mut out);
                }
                _ => self.line.push(b),
            }
        }
        out
    }

    fn end_line(&mut self, out: &mut Vec<Event>) {
        let raw = std::mem::take(&mut self.line);
        let mut text = String::from_utf8_lossy(&raw).into_owned();
        if !self.started {
            self.started = true;
            if let Some(rest) = text.strip_prefix('\u{feff}') {
                text = rest.to_string();
            }
        }
        if text.is_empty() {
            self.dispatch(out);
            return;
        }
        if text.starts_with(':') {
            return; // a comment (keep-alive)
        }
        let (field, value) = match text.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (text.as_str(), ""),
        };
        match field {
            "event" => self.event = value.to_string(),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "id" if !value.contains('\0') => self.id = Some(value.to_string()),
            _ => {} // `retry` and unknown fields
        }
    }

    fn dispatch(&mut self, out: &mut Vec<Event>) {
        let event = std::mem::take(&mut self.event);
        let data = std::mem::take(&mut self.data);
        let id = self.id.take();
        let had_data = std::mem::replace(&mut self.has_data, false);
        if !had_data && event.is_empty() {
            return;
        }
        out.push(Event {
            event: if event.is_empty() {
                "message".to_string()
            } else {
                event
            },
            data,
            id,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(chunks: &[&[u8]]) -> Vec<Event> {
        let mut p = Parser::new();
        chunks.iter().flat_map(|c| p.push(c)).collect()
    }

    #[test]
    fn events_are_dispatched_at_the_blank_line() {
        let events = all(&[
            b"event: log\nid: 7\ndata: {\"a\":1}\n\n: keep-alive\n\nevent: end\ndata: x\n\n",
        ]);
        assert_eq!(
            events,
            [
                Event {
                    event: "log".into(),
                    data: "{\"a\":1}".into(),
                    id: Some("7".into())
                },
                Event {
                    event: "end".into(),
                    data: "x".into(),
                    id: None
                }
            ]
        );
    }

    #[test]
    fn events_split_anywhere_across_chunks_come_out_whole() {
        let text =
            b"event: log\r\nid: 1\r\ndata: one\r\ndata: two\r\n\r\nevent:log\rid:2\rdata:three\r\r";
        let whole = all(&[text]);
        assert_eq!(whole.len(), 2);
        assert_eq!(whole[0].data, "one\ntwo");
        assert_eq!(whole[1].id.as_deref(), Some("2"));
        for cut in 0..text.len() {
            assert_eq!(all(&[&text[..cut], &text[cut..]]), whole, "cut at {cut}");
        }
    }

    #[test]
    fn an_unfinished_event_is_never_dispatched() {
        let mut p = Parser::new();
        assert!(p
            .push(b"event: log\nid: 3\ndata: {\"text\":\"hal")
            .is_empty());
        assert!(p.push(b"f\"}\n").is_empty());
    }

    #[test]
    fn data_without_event_is_a_message_and_a_bom_is_dropped() {
        let events = all(&[b"\xef\xbb\xbfdata: hi\n\n"]);
        assert_eq!(events[0].event, "message");
        assert_eq!(events[0].data, "hi");
    }
}
