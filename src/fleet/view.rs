//! The coordinator's merged view, a few times a second, at a cost that does not grow
//! with the run's length: the seconds every worker has closed are added once and kept;
//! only the newer ones are added again at each publication.

use std::sync::Arc;

use crate::metrics::{EndpointStats, Snapshot, TimelineRow};

/// The timeline rows already merged, per endpoint (the total last).
#[derive(Debug, Default)]
pub struct MergeCache {
    /// Rows before this second are in `rows`, final.
    upto: u64,
    rows: Vec<Vec<TimelineRow>>,
    /// A worker's timeline was downsampled (rows wider than a second): every row is
    /// merged again from then on.
    off: bool,
}

/// A worker's snapshot and whether it is its last (the worker finished or was lost).
pub struct Part<'a> {
    pub snapshot: &'a Arc<Snapshot>,
    pub last: bool,
}

fn trimmed(e: &EndpointStats, upto: u64) -> EndpointStats {
    let mut e = e.clone();
    let from = e.timeline.partition_point(|r| r.t < upto);
    if from > 0 {
        e.timeline = Arc::new(e.timeline[from..].to_vec());
    }
    e
}

/// The parts' snapshots added (`Snapshot::merge`), the first's level fields kept; `None`
/// without any part. Equal to merging the whole snapshots. `all` says whether every
/// worker has a part here: rows are kept only then (a late worker's first rows must
/// still be added).
pub fn merge(parts: &[Part], all: bool, cache: &mut MergeCache) -> Option<Snapshot> {
    let (first, _) = parts.split_first()?;
    let wide = parts.iter().any(|p| {
        std::iter::once(&p.snapshot.total)
            .chain(&p.snapshot.endpoints)
            .any(|e| e.timeline.iter().any(|r| r.dt != 1))
    });
    if wide && !cache.off {
        *cache = MergeCache {
            off: true,
            ..MergeCache::default()
        };
    }
    let upto = cache.upto;
    let trim = |s: &Snapshot| {
        let mut s = s.clone();
        s.endpoints = s.endpoints.iter().map(|e| trimmed(e, upto)).collect();
        s.total = trimmed(&s.total, upto);
        s
    };
    let mut m = trim(first.snapshot);
    for p in &parts[1..] {
        m.merge(&trim(p.snapshot));
    }
    m.rate = first.snapshot.rate;
    // The kept rows, then the new ones.
    let n = m.endpoints.len() + 1;
    cache.rows.resize(n, Vec::new());
    for (e, kept) in m
        .endpoints
        .iter_mut()
        .chain(std::iter::once(&mut m.total))
        .zip(&cache.rows)
    {
        if !kept.is_empty() {
            let mut all = kept.clone();
            all.extend(e.timeline.iter().cloned());
            e.timeline = Arc::new(all);
        }
    }
    if cache.off || !all {
        return Some(m);
    }
    // Every worker has closed the seconds before its last row (all of a last snapshot's).
    let closed = parts
        .iter()
        .map(|p| match (p.last, p.snapshot.total.timeline.last()) {
            (true, _) => u64::MAX,
            (false, Some(r)) => r.t,
            (false, None) => 0,
        })
        .min()
        .unwrap_or(0);
    if closed > upto && closed != u64::MAX {
        for (e, kept) in m
            .endpoints
            .iter()
            .chain(std::iter::once(&m.total))
            .zip(cache.rows.iter_mut())
        {
            let from = kept.len();
            kept.extend(
                e.timeline[from..]
                    .iter()
                    .take_while(|r| r.t < closed)
                    .cloned(),
            );
        }
        cache.upto = closed;
    }
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::new_histogram;

    /// A worker's snapshot after `secs` seconds: one row a second on one endpoint.
    fn part(secs: u64, base: u64) -> Snapshot {
        let mut s = Snapshot::empty("s", &[("a".into(), "GET".into())]);
        let rows: Vec<TimelineRow> = (0..secs)
            .map(|t| {
                let mut h = new_histogram();
                for i in 0..50 {
                    h.record(base + t * 100 + i * 7).unwrap();
                }
                let mut r = TimelineRow::with_hist(t, &h);
                r.requests = 50;
                r
            })
            .collect();
        s.endpoints[0].timeline = Arc::new(rows.clone());
        s.total.timeline = Arc::new(rows);
        s
    }

    fn full(parts: &[Arc<Snapshot>]) -> Snapshot {
        let mut m = (*parts[0]).clone();
        for p in &parts[1..] {
            m.merge(p);
        }
        m
    }

    #[test]
    fn kept_rows_give_the_same_timeline_as_a_whole_merge() {
        let mut cache = MergeCache::default();
        for secs in [0, 1, 2, 5, 6, 9] {
            let parts = [Arc::new(part(secs, 1000)), Arc::new(part(secs + 1, 3000))];
            let got = merge(
                &parts
                    .iter()
                    .map(|s| Part {
                        snapshot: s,
                        last: false,
                    })
                    .collect::<Vec<_>>(),
                true,
                &mut cache,
            )
            .unwrap();
            let want = full(&parts);
            assert_eq!(got.total.timeline, want.total.timeline, "after {secs}s");
            assert_eq!(got.endpoints[0].timeline, want.endpoints[0].timeline);
        }
        // Rows were kept: the first worker had closed 8 seconds.
        assert_eq!(cache.upto, 8);
        assert_eq!(cache.rows[1].len(), 8);
    }

    #[test]
    fn a_downsampled_timeline_turns_the_cache_off() {
        let mut cache = MergeCache::default();
        let a = Arc::new(part(4, 1000));
        let parts = [Part {
            snapshot: &a,
            last: false,
        }];
        merge(&parts, true, &mut cache).unwrap();
        assert_eq!(cache.upto, 3);
        let mut wide = part(4, 1000);
        let mut rows = wide.total.timeline.to_vec();
        rows[0].dt = 2;
        wide.total.timeline = Arc::new(rows);
        let w = Arc::new(wide);
        let got = merge(
            &[Part {
                snapshot: &w,
                last: false,
            }],
            true,
            &mut cache,
        )
        .unwrap();
        assert!(cache.off);
        assert_eq!(got.total.timeline, w.total.timeline);
    }
}
