//! Streamed responses (server-sent events, chunked streams): what one response did, and
//! HDR histograms of it per endpoint.

use hdrhistogram::Histogram;

use super::recorder::{new_histogram, record_into};

/// One streamed response, as far as it got (a stalled or cut-off stream counts the
/// events that arrived).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamSample {
    /// From starting to write the request to the first response byte; `None` when no
    /// byte came.
    pub ttfb_us: Option<u64>,
    /// From starting to write the request to the first complete event (or chunk).
    pub first_event_us: Option<u64>,
    /// Time between each event and the one before it.
    pub gaps_us: Vec<u64>,
    /// Events (SSE) or chunks received.
    pub events: u64,
    /// From starting to write the request to the end of the stream (or the failure).
    pub duration_us: u64,
}

/// The streamed responses of one endpoint: counts and HDR histograms (microseconds;
/// `per_response` holds event counts).
#[derive(Debug, Clone)]
pub struct StreamHists {
    pub responses: u64,
    pub events: u64,
    pub ttfb: Histogram<u64>,
    pub first_event: Histogram<u64>,
    pub gap: Histogram<u64>,
    pub per_response: Histogram<u64>,
    pub duration: Histogram<u64>,
}

impl Default for StreamHists {
    fn default() -> Self {
        StreamHists {
            responses: 0,
            events: 0,
            ttfb: new_histogram(),
            first_event: new_histogram(),
            gap: new_histogram(),
            per_response: new_histogram(),
            duration: new_histogram(),
        }
    }
}

impl StreamHists {
    fn all_mut(&mut self) -> [&mut Histogram<u64>; 5] {
        [
            &mut self.ttfb,
            &mut self.first_event,
            &mut self.gap,
            &mut self.per_response,
            &mut self.duration,
        ]
    }

    pub fn record(&mut self, s: &StreamSample) {
        self.responses += 1;
        self.events += s.events;
        if let Some(us) = s.ttfb_us {
            record_into(&mut self.ttfb, us);
        }
        if let Some(us) = s.first_event_us {
            record_into(&mut self.first_event, us);
        }
        for &g in &s.gaps_us {
            record_into(&mut self.gap, g);
        }
        record_into(&mut self.per_response, s.events);
        record_into(&mut self.duration, s.duration_us);
    }

    pub fn add(&mut self, o: &StreamHists) {
        self.responses += o.responses;
        self.events += o.events;
        let theirs = [
            &o.ttfb,
            &o.first_event,
            &o.gap,
            &o.per_response,
            &o.duration,
        ];
        for (mine, theirs) in self.all_mut().into_iter().zip(theirs) {
            mine.add(theirs)
                .expect("auto-resizing histograms always add");
        }
    }

    pub fn is_empty(&self) -> bool {
        self.responses == 0
    }

    pub fn reset(&mut self) {
        self.responses = 0;
        self.events = 0;
        for h in self.all_mut() {
            h.reset();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_add_up() {
        let mut a = StreamHists::default();
        a.record(&StreamSample {
            ttfb_us: Some(1_000),
            first_event_us: Some(2_000),
            gaps_us: vec![10, 20],
            events: 3,
            duration_us: 5_000,
        });
        a.record(&StreamSample {
            ttfb_us: None,
            first_event_us: None,
            gaps_us: vec![],
            events: 0,
            duration_us: 9_000,
        });
        assert_eq!((a.responses, a.events), (2, 3));
        assert_eq!((a.ttfb.len(), a.first_event.len(), a.gap.len()), (1, 1, 2));
        assert_eq!(a.per_response.len(), 2);
        let mut b = StreamHists::default();
        b.add(&a);
        b.add(&a);
        assert_eq!((b.responses, b.events, b.gap.len()), (4, 6, 4));
        b.reset();
        assert!(b.is_empty() && b.gap.is_empty());
    }
}
