//! Thread-per-core: engine threads that each run a runtime of their own (wrk's model), so
//! that a VU's socket readiness, timers and wake-ups stay on the thread it was placed on.
//! There is no work stealing and no cross-thread wake-up on the hot path; the controller,
//! the aggregator and self-watch stay on the runtime the run was started on.
//!
//! A closed-model VU is placed on lane `id mod n` for its life; the open model runs one
//! scheduler and one VU pool per lane, each with its share of the arrivals (arrival `k` to
//! lane `k mod n`: the shares add up to the schedule exactly) and of `max_vus`. Recording
//! shards follow the lanes (a multiple of n: VU `id` on shard `id mod shards`, which is on
//! lane `id mod n`), so no two lanes write to one shard.

use std::fmt;
use std::future::Future;

use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// Engine threads with a current-thread runtime each. Dropping it lets them end (the
/// runtimes drop what they still hold); it does not wait for them.
pub struct Lanes {
    handles: Vec<Handle>,
    stops: Vec<oneshot::Sender<()>>,
}

impl fmt::Debug for Lanes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Lanes({})", self.handles.len())
    }
}

impl Lanes {
    /// Starts `n` engine threads (at least one), named `volley-engine-N`.
    pub fn start(n: usize) -> std::io::Result<Lanes> {
        let mut handles = Vec::new();
        let mut stops = Vec::new();
        for i in 0..n.max(1) {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            handles.push(rt.handle().clone());
            let (tx, rx) = oneshot::channel::<()>();
            stops.push(tx);
            std::thread::Builder::new()
                .name(format!("volley-engine-{i}"))
                .spawn(move || {
                    // Runs what is spawned on the handle until the lanes are dropped.
                    let _ = rt.block_on(rx);
                    rt.shutdown_timeout(std::time::Duration::from_millis(100));
                })?;
        }
        Ok(Lanes { handles, stops })
    }

    /// How many lanes (engine threads).
    pub fn len(&self) -> usize {
        self.handles.len()
    }

    /// Never empty; for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.handles.is_empty()
    }

    /// The lane that unit `k` (a VU id, an arrival) runs on.
    pub fn lane_of(&self, k: u64) -> usize {
        (k % self.handles.len() as u64) as usize
    }

    /// Spawns `fut` on lane `lane`.
    pub fn spawn<F>(&self, lane: usize, fut: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handles[lane].spawn(fut)
    }
}

impl Drop for Lanes {
    fn drop(&mut self) {
        for tx in self.stops.drain(..) {
            let _ = tx.send(());
        }
    }
}

/// Lane `lane`'s share of `total` units dealt round robin over `lanes` lanes (unit `k` to
/// lane `k mod lanes`, as `fleet::segment::Split::equal` deals them): the shares add up to
/// `total`.
pub fn share(total: u32, lane: usize, lanes: usize) -> u32 {
    let lanes = lanes.max(1) as u32;
    let lane = lane as u32;
    total / lanes + u32::from(lane < total % lanes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up() {
        for total in [0, 1, 7, 2000] {
            for lanes in 1..6 {
                let sum: u32 = (0..lanes).map(|l| share(total, l, lanes)).sum();
                assert_eq!(sum, total, "{total} over {lanes}");
            }
        }
        assert_eq!(share(7, 0, 3), 3);
        assert_eq!(share(7, 2, 3), 2);
    }

    #[test]
    fn tasks_run_on_their_own_lane_thread() {
        let lanes = Lanes::start(2).unwrap();
        let names: Vec<String> = (0..4)
            .map(|k| {
                let (tx, rx) = std::sync::mpsc::channel();
                lanes.spawn(lanes.lane_of(k), async move {
                    let _ = tx.send(std::thread::current().name().map(str::to_string));
                });
                rx.recv().unwrap().unwrap()
            })
            .collect();
        assert_eq!(
            names,
            [
                "volley-engine-0",
                "volley-engine-1",
                "volley-engine-0",
                "volley-engine-1"
            ]
        );
    }
}
