//! Timing a streamed response as its body arrives: server-sent events (parsed with
//! [`super::sse`]) or, for other streams, HTTP chunks (or reads, when the body is not
//! chunked). The h1 client feeds it; what it measured becomes a [`StreamSample`].

use std::time::Instant;

use super::sse;
use crate::metrics::StreamSample;
pub use crate::scenario::StreamOpts;

/// What counts as one event.
#[derive(Debug)]
enum Unit {
    Sse(sse::Parser),
    /// An HTTP chunk (chunked bodies).
    Chunk,
    /// A read (other bodies).
    Read,
}

/// Most events kept for checks and captures (the last one is always kept).
const MAX_KEPT_EVENTS: usize = 10_000;

/// A streamed response in progress.
#[derive(Debug)]
pub struct StreamReader {
    unit: Unit,
    keep: bool,
    sent_at: Instant,
    first_byte: Option<Instant>,
    last_event: Option<Instant>,
    sample: StreamSample,
    /// The chunk being received (chunk unit, when events are kept).
    chunk: Vec<u8>,
    kept: Vec<String>,
    kept_bytes: usize,
    last: Option<String>,
}

/// A streamed response, complete or not.
#[derive(Debug, Clone, Default)]
pub struct StreamResult {
    pub sample: StreamSample,
    /// The events' data, in order, when checks or captures read them (bounded).
    pub events: Vec<String>,
    /// The last event's data (kept when `events` is).
    pub last: Option<String>,
}

impl StreamReader {
    /// A stream whose head arrived: `sse` for `text/event-stream`, else chunks (when
    /// `chunked`) or reads; `keep` keeps the events' data.
    pub fn new(
        sse: bool,
        chunked: bool,
        keep: bool,
        sent_at: Instant,
        first_byte: Option<Instant>,
    ) -> StreamReader {
        let unit = if sse {
            Unit::Sse(sse::Parser::new())
        } else if chunked {
            Unit::Chunk
        } else {
            Unit::Read
        };
        StreamReader {
            unit,
            keep,
            sent_at,
            first_byte,
            last_event: None,
            sample: StreamSample::default(),
            chunk: Vec::new(),
            kept: Vec::new(),
            kept_bytes: 0,
            last: None,
        }
    }

    /// Body bytes, as they arrive.
    pub fn data(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let now = Instant::now();
        self.first_byte.get_or_insert(now);
        match &mut self.unit {
            Unit::Sse(p) => {
                let mut done = Vec::new();
                p.feed(bytes, |e| done.push(e.data));
                for data in done {
                    self.event(now, data);
                }
            }
            Unit::Chunk => {
                if self.keep {
                    self.chunk.extend_from_slice(bytes);
                }
            }
            Unit::Read => {
                let data = if self.keep {
                    String::from_utf8_lossy(bytes).into_owned()
                } else {
                    String::new()
                };
                self.event(now, data);
            }
        }
    }

    /// The end of an HTTP chunk (chunked bodies).
    pub fn chunk_end(&mut self) {
        if matches!(self.unit, Unit::Chunk) {
            let data = String::from_utf8_lossy(&self.chunk).into_owned();
            self.chunk.clear();
            self.event(Instant::now(), data);
        }
    }

    fn event(&mut self, at: Instant, data: String) {
        let s = &mut self.sample;
        match self.last_event {
            None => s.first_event_us = Some(us(at, self.sent_at)),
            Some(prev) => s.gaps_us.push(us(at, prev)),
        }
        self.last_event = Some(at);
        s.events += 1;
        if self.keep {
            if self.kept.len() < MAX_KEPT_EVENTS
                && self.kept_bytes + data.len() <= super::MAX_KEPT_BODY
            {
                self.kept_bytes += data.len();
                self.kept.push(data.clone());
            }
            self.last = Some(data);
        }
    }

    /// What the stream did, up to now.
    pub fn finish(self) -> StreamResult {
        let now = Instant::now();
        let mut sample = self.sample;
        sample.ttfb_us = self.first_byte.map(|f| us(f, self.sent_at));
        sample.duration_us = us(now, self.sent_at);
        StreamResult {
            sample,
            events: self.kept,
            last: self.last,
        }
    }
}

fn us(later: Instant, earlier: Instant) -> u64 {
    later.saturating_duration_since(earlier).as_micros() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_counted_and_timed_across_reads() {
        let t0 = Instant::now();
        let mut r = StreamReader::new(true, true, true, t0, None);
        r.data(b"data: a\n\nda");
        r.data(b"ta: b\n\n");
        r.chunk_end(); // no effect on SSE
        r.data(b"data: c\n");
        let res = r.finish();
        assert_eq!(res.sample.events, 2);
        assert_eq!(res.sample.gaps_us.len(), 1);
        assert!(res.sample.first_event_us.is_some() && res.sample.ttfb_us.is_some());
        assert_eq!(res.events, ["a", "b"]);
        assert_eq!(res.last.as_deref(), Some("b"));
    }

    #[test]
    fn chunks_are_events_when_the_stream_is_not_sse() {
        let mut r = StreamReader::new(false, true, false, Instant::now(), None);
        r.data(b"abc");
        r.data(b"def");
        r.chunk_end();
        r.data(b"x");
        r.chunk_end();
        let res = r.finish();
        assert_eq!(res.sample.events, 2);
        assert!(res.events.is_empty() && res.last.is_none(), "nothing kept");
    }
}
