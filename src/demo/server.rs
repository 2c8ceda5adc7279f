//! Binding, the accept loop, and per-connection HTTP/1.1 serving.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use http_body_util::Either;

use super::routes::{self, AppState};
use super::streaming;

/// Pending-connection queue length; load tests open many connections at once.
const BACKLOG: u32 = 1024;
/// Pause after a failed `accept` (for example when out of file descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);
/// How long shutdown waits for in-flight requests before dropping connections.
const GRACE: Duration = Duration::from_secs(1);

/// Binds a listening socket. Must be called inside a tokio runtime context; it does not
/// need to be polled, so binding errors are reported right away.
pub(crate) fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Accepts and serves connections until `shutdown` completes, then lets in-flight
/// requests finish (for at most [`GRACE`]) and closes every connection.
pub(crate) async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()>,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut conns = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    state.stats.count_connection();
                    conns.spawn(serve_connection(stream, Arc::clone(&state), stop_rx.clone()));
                }
                Err(_) => tokio::time::sleep(ACCEPT_BACKOFF).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(GRACE, async { while conns.join_next().await.is_some() {} }).await;
    conns.shutdown().await;
}

/// Serves HTTP/1.1 with keep-alive on one connection; on `stop` it finishes the request
/// in progress, if any, and closes.
async fn serve_connection(
    stream: TcpStream,
    state: Arc<AppState>,
    mut stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |req| {
        let state = Arc::clone(&state);
        async move {
            if streaming::is_streaming(&req) {
                let r = streaming::handle(Arc::clone(&state.streaming), req).await;
                return Ok::<_, std::convert::Infallible>(r.map(Either::Right));
            }
            let r = routes::handle(state, req).await?;
            Ok(r.map(Either::Left))
        }
    });
    let conn = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = stop.wait_for(|stopped| *stopped) => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}

/// Completes on Ctrl-C or, on Unix, SIGTERM. The signals are listened for from the call
/// (within a runtime), not from the first poll, so that one sent as soon as the caller has
/// said it is listening is not lost (nor kills the process). A signal that cannot be
/// watched is ignored.
pub(crate) fn termination_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let (int, term) = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            async fn recv(s: Option<tokio::signal::unix::Signal>) {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                _ = recv(int) => {}
                _ = recv(term) => {}
            }
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
