//! Connections opened before the run starts: a fleet worker opens its first VUs'
//! connections before it tells the coordinator it is ready, so that the first requests
//! after `t0` do not pay for connecting (and the workers' first seconds are alike).
//!
//! Each of the initial VUs (closed model) gets its clients built and its connection to
//! the origin of its first request opened; the VU takes that client when it starts. A
//! connection that cannot be opened in time is not an error: that VU connects on its
//! first request, as it would without this.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use super::executor::{Requests, VuClient};
use super::vu::user_pattern;
use super::{Lanes, Segment};
use crate::metrics::Gauges;
use crate::scenario::{Flow, LoadModel, Plan, Step};

/// Connections opened at once at most.
const AT_ONCE: usize = 256;

/// Clients with their connections open, waiting for their VUs.
pub struct Warm {
    pub(super) requests: Arc<Requests>,
    clients: Mutex<HashMap<u64, VuClient>>,
    vus: usize,
    wanted: usize,
    opened: usize,
}

impl std::fmt::Debug for Warm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Warm({} of {} connections for {} VUs)",
            self.opened, self.wanted, self.vus
        )
    }
}

impl Warm {
    /// VUs it holds clients for.
    pub fn vus(&self) -> usize {
        self.vus
    }

    /// Connections it tried to open.
    pub fn wanted(&self) -> usize {
        self.wanted
    }

    /// Connections it opened.
    pub fn opened(&self) -> usize {
        self.opened
    }

    /// VU `id`'s client (the run's number of the VU), its connections now counted in the
    /// run's `gauges`; taken once.
    pub(super) fn take(&self, id: u64, gauges: &Arc<Gauges>) -> Option<VuClient> {
        let mut c = self.clients.lock().expect("warm clients").remove(&id)?;
        c.adopt(gauges.clone());
        Some(c)
    }
}

/// The endpoints whose origins a VU of each user type sends its first request to: its
/// first `on_start` request, else its flow's first step, else every task (one is picked
/// per iteration); one per origin and client.
fn first_requests(plan: &Plan) -> Vec<Vec<usize>> {
    plan.users
        .iter()
        .map(|u| {
            let candidates: Vec<usize> = match (u.on_start.first(), &u.flow) {
                (Some(&e), _) => vec![e],
                // A batch step's requests go on the VU's batch clients, not warmed.
                (None, Flow::Steps(s)) => match s.first() {
                    Some(Step::One(e)) => vec![*e],
                    _ => Vec::new(),
                },
                (None, Flow::Tasks(t)) => t.iter().map(|&(e, _)| e).collect(),
            };
            let mut seen = Vec::new();
            candidates
                .into_iter()
                .filter(|&e| {
                    let ep = &plan.endpoints[e];
                    let key = (
                        ep.url.scheme().to_string(),
                        ep.url.host_str().map(str::to_string),
                        ep.url.port_or_known_default(),
                        ep.client,
                    );
                    if seen.contains(&key) {
                        false
                    } else {
                        seen.push(key);
                        true
                    }
                })
                .collect()
        })
        .collect()
}

/// Builds the clients of the run's initial VUs (this part's share of them, with a
/// `segment`) and opens their first requests' connections, all within `limit`. Only the
/// closed model's VUs: the open model makes its VUs as arrivals need them.
pub async fn preconnect(
    plan: &Plan,
    segment: Option<Arc<dyn Segment>>,
    lanes: Option<&Arc<Lanes>>,
    limit: Duration,
) -> Warm {
    let requests = Arc::new(Requests::new(plan));
    let mut warm = Warm {
        requests: requests.clone(),
        clients: Mutex::new(HashMap::new()),
        vus: 0,
        wanted: 0,
        opened: 0,
    };
    if plan.load.model != LoadModel::Closed || plan.users.is_empty() {
        return warm;
    }
    let vus = plan.load.vus as u64;
    let mine = segment.as_ref().map_or(vus, |s| s.share(vus));
    let pattern = user_pattern(&plan.users);
    let firsts = first_requests(plan);
    // The run's gauges do not exist yet: these count nothing; a VU taking its client
    // counts its connections in the run's.
    let gauges = Arc::new(Gauges::new(Instant::now()));
    let deadline = tokio::time::Instant::now() + limit;
    let permits = Arc::new(Semaphore::new(AT_ONCE));
    let mut tasks = Vec::with_capacity(mine as usize);
    for j in 0..mine {
        let id = segment.as_ref().map_or(j, |s| s.nth(j));
        let eps = firsts[pattern[id as usize % pattern.len()]].clone();
        warm.wanted += eps.len();
        let mut client = VuClient::new(requests.clone(), gauges.clone(), id);
        let permits = permits.clone();
        // On the VU's own engine thread (its connection's I/O is that runtime's).
        let fut = async move {
            let mut opened = 0;
            let _permit = permits.acquire_owned().await;
            for e in eps {
                if let Ok(true) = tokio::time::timeout_at(deadline, client.warm(e)).await {
                    opened += 1;
                }
            }
            (id, client, opened)
        };
        tasks.push(match lanes {
            Some(l) => l.spawn(l.lane_of(j), fut),
            None => tokio::spawn(fut),
        });
    }
    let mut clients = HashMap::with_capacity(tasks.len());
    for t in tasks {
        if let Ok((id, client, opened)) = t.await {
            warm.opened += opened;
            clients.insert(id, client);
        }
    }
    warm.vus = clients.len();
    warm.clients = Mutex::new(clients);
    warm
}
