//! The merged whole-run histograms, kept current: each report's changes (what the
//! worker recorded since its last report, as the Watch stream's deltas carry it) are
//! added once, to that worker's histograms and to their sum, instead of adding every
//! worker's whole histograms again at each publication. HDR addition is exact, so the
//! sums are exactly the merge of the workers' latest histograms.

use std::sync::Arc;

use hdrhistogram::Histogram;

use crate::control::wire::{slot_hist_mut, Changed, HistChange};
use crate::metrics::{new_histogram, EndpointStats, Snapshot};

/// Every worker's whole-run histograms and their sums.
#[derive(Debug, Default)]
pub struct HistSums {
    /// Per worker, endpoint (the total last) and slot: its histogram now.
    held: Vec<Vec<Vec<Option<Histogram<u64>>>>>,
    /// Per endpoint (the total last): the sums, each in its place in an endpoint's
    /// figures (only the histograms are used).
    sums: Vec<EndpointStats>,
}

fn add(into: &mut Histogram<u64>, h: &Histogram<u64>) {
    into.add(h).expect("auto-resizing histograms always add");
}

impl HistSums {
    pub fn new(workers: usize) -> HistSums {
        HistSums {
            held: vec![Vec::new(); workers],
            sums: Vec::new(),
        }
    }

    /// Applies what one report of `worker` changed.
    pub fn apply(&mut self, worker: usize, changes: Vec<Changed>) {
        for c in changes {
            let (ep, slot) = (c.endpoint, c.slot);
            if self.sums.len() <= ep {
                self.sums.resize_with(ep + 1, || EndpointStats::new("", ""));
            }
            let Some(sum) = slot_hist_mut(&mut self.sums[ep], slot) else {
                continue;
            };
            if self.held.len() <= worker {
                self.held.resize_with(worker + 1, Vec::new);
            }
            let mine = &mut self.held[worker];
            if mine.len() <= ep {
                mine.resize_with(ep + 1, Vec::new);
            }
            if mine[ep].len() <= slot {
                mine[ep].resize_with(slot + 1, || None);
            }
            let held = &mut mine[ep][slot];
            // A histogram replaced or cleared leaves the sum by subtraction (exact: the
            // sum holds it); should that fail, the sum is added up again.
            let mut again = false;
            match c.change {
                HistChange::Added(d) => {
                    add(held.get_or_insert_with(|| Histogram::new_from(&d)), &d);
                    add(sum, &d);
                }
                HistChange::Replaced(h) => {
                    if let Some(old) = held.take() {
                        again = sum.subtract(&old).is_err();
                    }
                    add(sum, &h);
                    *held = Some(h);
                }
                HistChange::Cleared => {
                    if let Some(old) = held.take() {
                        again = sum.subtract(&old).is_err();
                    }
                }
            }
            if again {
                let mut fresh = Histogram::new_from(&*sum);
                for w in &self.held {
                    if let Some(Some(h)) = w.get(ep).and_then(|e| e.get(slot)) {
                        add(&mut fresh, h);
                    }
                }
                *sum = fresh;
            }
        }
    }

    /// The sums as they are now (cheap: the histograms are shared until changed).
    pub fn now(&self) -> Vec<EndpointStats> {
        self.sums.clone()
    }
}

/// Puts the summed histograms (`sums`, from [`HistSums::now`]) in the merged snapshot
/// `m`, whose other figures are the workers' added up (their whole-run histograms are
/// empty: they came through a lean decoder).
pub fn fill(m: &mut Snapshot, sums: &[EndpointStats]) {
    for (e, sum) in m
        .endpoints
        .iter_mut()
        .chain(std::iter::once(&mut m.total))
        .zip(sums)
    {
        e.hist = sum.hist.clone();
        if e.hist_raw.is_some() {
            e.hist_raw = Some(
                sum.hist_raw
                    .clone()
                    .unwrap_or_else(|| Arc::new(new_histogram())),
            );
        }
        if e.phases.is_some() {
            e.phases = Some(sum.phases.clone().unwrap_or_default());
        }
        if let (Some(s), Some(from)) = (&mut e.stream, &sum.stream) {
            let s = Arc::make_mut(s);
            s.ttfb = from.ttfb.clone();
            s.first_event = from.first_event.clone();
            s.gap = from.gap.clone();
            s.per_response = from.per_response.clone();
            s.duration = from.duration.clone();
        }
        if let (Some(w), Some(from)) = (&mut e.ws, &sum.ws) {
            let w = Arc::make_mut(w);
            w.handshake = from.handshake.clone();
            w.expect = from.expect.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::wire::{Decoder, Encoder};
    use crate::metrics::{new_phase_histogram, PhaseHists, TimelineRow};

    /// A worker's snapshot with `n` requests recorded: latency, phases, uncorrected.
    fn snap(n: u64, base: u64) -> Snapshot {
        let mut s = Snapshot::empty(
            "s",
            &[("a".into(), "GET".into()), ("b".into(), "GET".into())],
        );
        let mut h = new_histogram();
        let mut ttfb = new_histogram();
        // Phase histograms have fewer significant digits, as the recorder's.
        let (mut phase_ttfb, mut phase_total) = (new_phase_histogram(), new_phase_histogram());
        for i in 0..n {
            h.record(base + i * 13 % 5000).unwrap();
            ttfb.record(base / 2 + i * 7 % 900).unwrap();
            phase_total.record(base + i * 13 % 5000).unwrap();
            phase_ttfb.record(base / 2 + i * 7 % 900).unwrap();
        }
        s.endpoints[0].hist = Arc::new(h.clone());
        s.endpoints[0].requests = n;
        s.endpoints[0].hist_raw = Some(Arc::new(ttfb.clone()));
        s.endpoints[0].phases = Some(Arc::new(PhaseHists {
            ttfb: phase_ttfb,
            total: phase_total,
            ..Default::default()
        }));
        s.total.hist = Arc::new(h.clone());
        s.total.requests = n;
        s.total.timeline = Arc::new(vec![TimelineRow::with_hist(0, &h)]);
        s
    }

    /// The same values with the same counts (whatever the arrays' sizes).
    fn same(a: &Histogram<u64>, b: &Histogram<u64>) -> bool {
        let values = |h: &Histogram<u64>| -> Vec<(u64, u64)> {
            h.iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .collect()
        };
        a.len() == b.len() && a.max() == b.max() && a.min() == b.min() && values(a) == values(b)
    }

    /// The workers' snapshots through a lean decoder and the sums give what adding
    /// the whole snapshots gives, update after update; also when one worker's
    /// histograms are replaced by smaller ones (not a sum: sent whole).
    #[test]
    fn sums_of_deltas_equal_whole_merges() {
        let mut enc = [Encoder::default(), Encoder::default()];
        let mut dec = [Decoder::lean(), Decoder::lean()];
        let mut sums = HistSums::new(2);
        let steps: [[u64; 2]; 5] = [[10, 0], [50, 20], [50, 90], [400, 91], [30, 300]];
        for (k, step) in steps.iter().enumerate() {
            let parts = [snap(step[0], 1000), snap(step[1], 3000)];
            let mut lean = Vec::new();
            for w in 0..2 {
                let bytes = enc[w].encode(&parts[w]);
                lean.push(dec[w].decode(&bytes).unwrap());
                sums.apply(w, dec[w].take_changes());
            }
            // The lean snapshots carry no whole-run histogram.
            assert!(lean.iter().all(|s| s.endpoints[0].hist.is_empty()));
            let mut m = lean[0].clone();
            m.merge(&lean[1]);
            fill(&mut m, &sums.now());
            let mut want = parts[0].clone();
            want.merge(&parts[1]);
            for (got, want) in m
                .endpoints
                .iter()
                .chain([&m.total])
                .zip(want.endpoints.iter().chain([&want.total]))
            {
                assert!(same(&got.hist, &want.hist), "step {k}: {}", got.name);
                assert_eq!(got.hist_raw.is_some(), want.hist_raw.is_some());
                if let (Some(a), Some(b)) = (&got.hist_raw, &want.hist_raw) {
                    assert!(same(a, b), "step {k}: raw");
                }
                assert_eq!(got.phases.is_some(), want.phases.is_some());
                if let (Some(a), Some(b)) = (&got.phases, &want.phases) {
                    assert!(same(&a.ttfb, &b.ttfb), "step {k}: ttfb");
                    assert!(same(&a.total, &b.total), "step {k}: total");
                    assert!(same(&a.connect, &b.connect), "step {k}: connect");
                }
                assert_eq!(got.requests, want.requests);
            }
        }
    }
}
