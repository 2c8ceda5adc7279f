//! A WebSocket echo server for `bench/ws.sh`: every text or binary message goes back as
//! it came, on one current-thread runtime (so that it takes at most one core), until
//! the client closes. Listens on 127.0.0.1 only.
//!
//!   cargo run --profile profiling --example ws_echo -- 0     # prints the port it got
//!
//! Argument: the port (0 lets the OS choose). Prints `port N` once listening.

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

fn main() {
    let port: u16 = match std::env::args().nth(1).map(|p| p.parse()) {
        Some(Ok(p)) => p,
        _ => {
            eprintln!("usage: ws_echo PORT (0 for any free port)");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    rt.block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind 127.0.0.1");
        println!("port {}", listener.local_addr().expect("bound").port());
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                let (mut tx, mut rx) = ws.split();
                while let Some(Ok(m)) = rx.next().await {
                    let echo = matches!(m, Message::Text(_) | Message::Binary(_));
                    if m.is_close() || (echo && tx.send(m).await.is_err()) {
                        return;
                    }
                }
            });
        }
    });
}
