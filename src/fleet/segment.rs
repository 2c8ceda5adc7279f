//! Splitting one run's work over several workers so that the parts add up exactly.
//!
//! Every quantity the plan has (VUs at a moment, arrivals, CSV rows, iterations) is a count
//! of units numbered 0, 1, 2, ... A [`Split`] gives every unit one owner by a fixed,
//! repeating pattern, so for any count `q` the workers' shares add up to `q` exactly, each
//! share only grows when `q` grows (a VU change moves the fewest VUs), and every worker
//! computes its own share alone, from the same split and the same `q`.
//!
//! Weights are whole numbers (`[1, 1, 1]` for three equal workers, `[2, 1]` for one
//! worker with twice the share of the other). The pattern is one cycle of smooth
//! weighted round robin over `sum(weights)` slots: in each slot every worker's credit
//! grows by its weight and the one with the most credit (the lowest index on a tie) takes
//! the slot and pays the cycle length. Each worker gets exactly its weight's slots per
//! cycle, spread as evenly as they can be, so a worker's share of any prefix is within
//! one unit of its exact fraction for equal weights.
//!
//! This is the role of k6's execution segments and segment sequences
//! (`lib/execution_segment.go`), with whole-number weights instead of rational bounds.

use std::fmt;

/// Longest pattern a split may have (the sum of the weights).
pub const MAX_CYCLE: u64 = 1 << 16;

/// Why weights cannot make a split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitError {
    /// No worker at all.
    Empty,
    /// A worker with weight 0 would never get a unit.
    ZeroWeight(usize),
    /// The weights add up to more than [`MAX_CYCLE`].
    TooLong(u64),
}

impl fmt::Display for SplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SplitError::Empty => write!(f, "a split needs at least one worker"),
            SplitError::ZeroWeight(i) => write!(f, "worker {i} has weight 0"),
            SplitError::TooLong(n) => write!(
                f,
                "the weights add up to {n}, more than the {MAX_CYCLE} a split allows"
            ),
        }
    }
}

impl std::error::Error for SplitError {}

/// Who owns which unit: one cycle of the pattern and, per worker, its slots in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    weights: Vec<u64>,
    /// Owner of each slot of one cycle.
    pattern: Vec<u32>,
    /// Per worker, the slots of a cycle it owns, in order.
    slots: Vec<Vec<u64>>,
}

impl Split {
    /// `n` workers with equal shares: unit `k` goes to worker `k mod n`.
    pub fn equal(n: usize) -> Result<Split, SplitError> {
        Split::weighted(&vec![1; n])
    }

    /// Workers with these whole-number weights.
    pub fn weighted(weights: &[u64]) -> Result<Split, SplitError> {
        if weights.is_empty() {
            return Err(SplitError::Empty);
        }
        if let Some(i) = weights.iter().position(|&w| w == 0) {
            return Err(SplitError::ZeroWeight(i));
        }
        let cycle = weights
            .iter()
            .try_fold(0u64, |a, &w| a.checked_add(w))
            .filter(|&c| c <= MAX_CYCLE)
            .ok_or_else(|| {
                SplitError::TooLong(weights.iter().fold(0u64, |a, &w| a.saturating_add(w)))
            })?;
        let mut credit = vec![0i128; weights.len()];
        let mut pattern = Vec::with_capacity(cycle as usize);
        let mut slots = vec![Vec::new(); weights.len()];
        for slot in 0..cycle {
            for (c, &w) in credit.iter_mut().zip(weights) {
                *c += w as i128;
            }
            // The most credit wins; on a tie the lowest index (max_by_key keeps the last
            // maximum, so scan in reverse).
            let owner = (0..weights.len())
                .rev()
                .max_by_key(|&i| credit[i])
                .expect("at least one worker");
            credit[owner] -= cycle as i128;
            pattern.push(owner as u32);
            slots[owner].push(slot);
        }
        Ok(Split {
            weights: weights.to_vec(),
            pattern,
            slots,
        })
    }

    /// How many workers share the run.
    pub fn workers(&self) -> usize {
        self.weights.len()
    }

    /// The workers' weights.
    pub fn weights(&self) -> &[u64] {
        &self.weights
    }

    fn cycle(&self) -> u64 {
        self.pattern.len() as u64
    }

    /// The worker that owns unit `k`.
    pub fn owner(&self, k: u64) -> usize {
        self.pattern[(k % self.cycle()) as usize] as usize
    }

    /// How many of the units `0..q` worker `i` owns: its share of a count of `q`.
    pub fn share(&self, i: usize, q: u64) -> u64 {
        let (full, rest) = (q / self.cycle(), q % self.cycle());
        let in_rest = self.slots[i].partition_point(|&s| s < rest) as u64;
        full * self.weights[i] + in_rest
    }

    /// Every worker's share of `q`, in worker order; they add up to `q`.
    pub fn shares(&self, q: u64) -> Vec<u64> {
        (0..self.workers()).map(|i| self.share(i, q)).collect()
    }

    /// The global number of worker `i`'s `j`-th unit (both from 0): the inverse of
    /// [`Split::owner`] and [`Split::share`].
    pub fn nth(&self, i: usize, j: u64) -> u64 {
        let w = self.weights[i];
        (j / w) * self.cycle() + self.slots[i][(j % w) as usize]
    }

    /// Worker `i`'s view of the split.
    pub fn part(&self, i: usize) -> Part<'_> {
        assert!(i < self.workers(), "worker {i} of {}", self.workers());
        Part {
            split: self,
            index: i,
        }
    }
}

/// One worker's part of a [`Split`]: what it computes its own load from.
#[derive(Debug, Clone, Copy)]
pub struct Part<'a> {
    split: &'a Split,
    index: usize,
}

impl Part<'_> {
    /// This worker's index.
    pub fn index(&self) -> usize {
        self.index
    }

    /// This worker's share of `q` units (VUs now, iterations, rows).
    pub fn share(&self, q: u64) -> u64 {
        self.split.share(self.index, q)
    }

    /// Whether the global unit `k` (an arrival, a row) is this worker's.
    pub fn owns(&self, k: u64) -> bool {
        self.split.owner(k) == self.index
    }

    /// The global number of this worker's `j`-th unit.
    pub fn nth(&self, j: u64) -> u64 {
        self.split.nth(self.index, j)
    }
}

/// A worker's part as the engine takes it ([`crate::engine::Segment`]): the split and the
/// worker's index, owned.
#[derive(Debug, Clone)]
pub struct WorkerPart {
    split: Split,
    index: usize,
}

impl WorkerPart {
    /// Worker `index` of `split`; `None` when there is no such worker.
    pub fn new(split: Split, index: usize) -> Option<WorkerPart> {
        (index < split.workers()).then_some(WorkerPart { split, index })
    }
}

impl crate::engine::Segment for WorkerPart {
    fn share(&self, q: u64) -> u64 {
        self.split.share(self.index, q)
    }
    fn owns(&self, k: u64) -> bool {
        self.split.owner(k) == self.index
    }
    fn nth(&self, j: u64) -> u64 {
        self.split.nth(self.index, j)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn splits() -> Vec<Split> {
        let mut v: Vec<Split> = (1..=9).map(|n| Split::equal(n).unwrap()).collect();
        for w in [&[2, 1][..], &[3, 1, 1], &[5, 3, 2], &[1, 7], &[4, 4, 1, 2]] {
            v.push(Split::weighted(w).unwrap());
        }
        v
    }

    #[test]
    fn shares_add_up_exactly_for_every_count() {
        for s in splits() {
            for q in 0..500 {
                assert_eq!(
                    s.shares(q).iter().sum::<u64>(),
                    q,
                    "{:?} q={q}",
                    s.weights()
                );
            }
            let big = 1_000_000_007;
            assert_eq!(s.shares(big).iter().sum::<u64>(), big);
        }
    }

    #[test]
    fn a_share_never_shrinks_when_the_count_grows() {
        for s in splits() {
            for i in 0..s.workers() {
                let mut last = 0;
                for q in 0..300 {
                    let now = s.share(i, q);
                    assert!(
                        now == last || now == last + 1,
                        "{:?} i={i} q={q}",
                        s.weights()
                    );
                    last = now;
                }
            }
        }
    }

    #[test]
    fn equal_workers_stripe_round_robin() {
        let s = Split::equal(4).unwrap();
        let owners: Vec<usize> = (0..8).map(|k| s.owner(k)).collect();
        assert_eq!(owners, [0, 1, 2, 3, 0, 1, 2, 3]);
        // 10 VUs over 4 workers: 3, 3, 2, 2.
        assert_eq!(s.shares(10), [3, 3, 2, 2]);
        // Equal weights: every share is within one of q / n.
        for q in 0..200u64 {
            for v in s.shares(q) {
                assert!(v * 4 <= q + 3 && v * 4 + 4 > q, "q={q} v={v}");
            }
        }
    }

    #[test]
    fn weights_give_their_fraction_per_cycle() {
        let s = Split::weighted(&[5, 3, 2]).unwrap();
        assert_eq!(s.shares(10), [5, 3, 2]);
        assert_eq!(s.shares(1000), [500, 300, 200]);
        let s = Split::weighted(&[2, 1]).unwrap();
        let owners: Vec<usize> = (0..6).map(|k| s.owner(k)).collect();
        assert_eq!(owners, [0, 1, 0, 0, 1, 0]);
    }

    #[test]
    fn nth_is_the_inverse_of_owner() {
        for s in splits() {
            let mut seen = vec![0u64; s.workers()];
            for k in 0..400 {
                let i = s.owner(k);
                assert_eq!(s.nth(i, seen[i]), k, "{:?} k={k}", s.weights());
                assert!(s.part(i).owns(k));
                seen[i] += 1;
                assert_eq!(s.share(i, k + 1), seen[i]);
            }
        }
    }

    #[test]
    fn bad_weights_are_refused_with_a_reason() {
        assert_eq!(Split::weighted(&[]), Err(SplitError::Empty));
        assert_eq!(Split::weighted(&[1, 0, 2]), Err(SplitError::ZeroWeight(1)));
        assert_eq!(
            Split::weighted(&[MAX_CYCLE, 1]),
            Err(SplitError::TooLong(MAX_CYCLE + 1))
        );
        assert_eq!(
            Split::weighted(&[u64::MAX, 1]).unwrap_err().to_string(),
            format!(
                "the weights add up to {}, more than the {MAX_CYCLE} a split allows",
                u64::MAX
            )
        );
    }
}
