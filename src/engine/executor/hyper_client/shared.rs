//! Shared HTTP/2 connections: a VU's own connection, whose streams its batch steps'
//! clients share (`[http] streams_per_connection`: slot = VU), or connections shared by
//! all VUs (`connections`: slot = VU mod N). Each slot holds one connection per origin,
//! whose state machine runs in a task of its own (no single client polls it: several
//! have streams on it), and whose request handle every client on the slot clones. The
//! first client to find a slot empty or its connection closed opens the next one (the
//! others wait for it: one connection per slot at a time); its request carries the
//! connect timings. Each request is one stream.

use std::sync::{Arc, Mutex};

use hyper::client::conn::http2;

use super::{classify_hyper, connect, Body, Conn, Driver, Sender};
use crate::engine::executor::conn::{Failed, Opened};
use crate::engine::executor::Requests;
use crate::metrics::{ErrorKind, Gauges};

/// Why a shared connection ended, when the server sent GOAWAY with an error code.
pub(super) type GoawayNote = Arc<Mutex<Option<String>>>;

/// One open shared connection: its request handle and its end note.
#[derive(Clone)]
struct Shared {
    sender: http2::SendRequest<Body>,
    goaway: GoawayNote,
}

type Slot = Arc<tokio::sync::Mutex<Option<Shared>>>;

/// The shared connections of a run, by slot and origin.
#[derive(Default)]
pub struct H2Pool {
    /// Slot `s`, origin `o` at `s * n_origins + o`; grown as VUs come.
    slots: Mutex<Vec<Slot>>,
    n_origins: usize,
}

impl H2Pool {
    pub fn new(n_origins: usize) -> H2Pool {
        H2Pool {
            slots: Mutex::new(Vec::new()),
            n_origins: n_origins.max(1),
        }
    }

    fn slot(&self, slot: usize, origin: usize) -> Slot {
        let i = slot * self.n_origins + origin;
        let mut slots = self.slots.lock().expect("pool lock");
        if slots.len() <= i {
            slots.resize_with(i + 1, Default::default);
        }
        slots[i].clone()
    }

    /// How many connections the pool has open now (for tests).
    #[cfg(test)]
    fn open(&self) -> usize {
        let slots = self.slots.lock().expect("pool lock");
        slots
            .iter()
            .filter(|s| {
                s.try_lock()
                    .map(|g| g.as_ref().is_some_and(|c| !c.sender.is_closed()))
                    .unwrap_or(true)
            })
            .count()
    }
}

/// The connection of slot `slot` to origin `origin`: the open one (`None` for the
/// timings), or one opened now by this VU (with its timings).
pub(super) async fn conn(
    pool: &H2Pool,
    slot: usize,
    reqs: &Requests,
    origin: usize,
    gauges: &Arc<Gauges>,
) -> Result<(Conn, Option<Opened>), Failed> {
    let cell = pool.slot(slot, origin);
    let mut held = cell.lock().await;
    if let Some(s) = held.as_ref().filter(|s| !s.sender.is_closed()) {
        return Ok((s.conn(), None));
    }
    let (conn, opened) = connect(reqs, &reqs.origins[origin], gauges).await?;
    let Conn {
        sender: Sender::H2(sender),
        driver: Driver {
            live: Some((driver, open)),
            ..
        },
    } = conn
    else {
        // Validation allows sharing with version = "2" alone, which always speaks h2.
        return Err(Failed::new(
            ErrorKind::Other,
            "a shared connection did not speak HTTP/2",
        ));
    };
    let goaway: GoawayNote = Arc::default();
    let note = goaway.clone();
    tokio::spawn(async move {
        // Counted open while it runs.
        let _open = open;
        if let Err(e) = driver.await {
            let (kind, message) = classify_hyper(&e, false);
            if kind == ErrorKind::Goaway {
                *note.lock().expect("goaway note") = Some(message);
            }
        }
    });
    let shared = Shared { sender, goaway };
    let conn = shared.conn();
    *held = Some(shared);
    Ok((conn, Some(opened)))
}

impl Shared {
    /// A VU's handle on the connection: requests go through the shared state machine.
    fn conn(&self) -> Conn {
        Conn {
            sender: Sender::H2(self.sender.clone()),
            driver: Driver {
                live: None,
                goaway: None,
                remote: Some(self.goaway.clone()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_grow_per_origin() {
        let pool = H2Pool::new(2);
        let a = pool.slot(0, 1);
        let b = pool.slot(3, 0);
        assert!(Arc::ptr_eq(&a, &pool.slot(0, 1)));
        assert!(!Arc::ptr_eq(&a, &b));
        assert_eq!(pool.slots.lock().unwrap().len(), 7);
        assert_eq!(pool.open(), 0);
    }
}
