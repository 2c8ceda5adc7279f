//! Turning client errors into [`ErrorKind`]s.

use std::error::Error as StdError;
use std::io;

use crate::metrics::ErrorKind;

/// Kind of an I/O error from connecting or reading.
pub fn classify_io(e: &io::Error) -> ErrorKind {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => ErrorKind::ConnectRefused,
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => {
            ErrorKind::ConnectionReset
        }
        io::ErrorKind::BrokenPipe | io::ErrorKind::UnexpectedEof | io::ErrorKind::NotConnected => {
            ErrorKind::ConnectionClosed
        }
        io::ErrorKind::TimedOut => ErrorKind::Timeout,
        io::ErrorKind::InvalidData => ErrorKind::Tls,
        _ => ErrorKind::Connect,
    }
}

fn find_io<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a io::Error> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            return Some(io);
        }
        cur = err.source();
    }
    None
}

fn chain_text(e: &(dyn StdError + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(err) = cur {
        let t = err.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = err.source();
    }
    s
}

/// Kind and message of a hyper error; `in_body` when it came while reading the body.
pub fn classify_hyper(e: &hyper::Error, in_body: bool) -> (ErrorKind, String) {
    let msg = chain_text(e);
    if let Some(io) = find_io(e) {
        let k = classify_io(io);
        if k == ErrorKind::ConnectionReset {
            return (k, msg);
        }
        if in_body {
            return (ErrorKind::BodyRead, msg);
        }
        if k != ErrorKind::Connect {
            return (k, msg);
        }
    }
    let kind = if e.is_parse() || e.is_parse_status() {
        ErrorKind::InvalidResponse
    } else if in_body {
        ErrorKind::BodyRead
    } else if e.is_incomplete_message() || e.is_canceled() || e.is_closed() {
        ErrorKind::ConnectionClosed
    } else if e.is_timeout() {
        ErrorKind::Timeout
    } else {
        ErrorKind::Other
    };
    (kind, msg)
}

/// Whether a rustls error is in `e`'s chain, looking inside I/O errors too (whose
/// `source` skips the error they wrap).
fn wraps_rustls(e: &(dyn StdError + 'static)) -> bool {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.is::<rustls::Error>() {
            return true;
        }
        if let Some(inner) = err.downcast_ref::<io::Error>().and_then(|io| io.get_ref()) {
            let inner: &(dyn StdError + 'static) = inner;
            if wraps_rustls(inner) {
                return true;
            }
        }
        cur = err.source();
    }
    false
}

/// Kind and message of a reqwest error.
pub fn classify_reqwest(e: &reqwest::Error) -> (ErrorKind, String) {
    let msg = chain_text(e);
    if e.is_timeout() {
        return (ErrorKind::Timeout, msg);
    }
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(h) = err.downcast_ref::<hyper::Error>() {
            let (k, _) = classify_hyper(h, e.is_body() || e.is_decode());
            return (k, msg);
        }
        cur = err.source();
    }
    let lower = msg.to_ascii_lowercase();
    // A failed handshake (a refused certificate, a peer that does not speak TLS) is a
    // rustls error somewhere in the chain, or inside (I/O errors inside) I/O errors.
    if wraps_rustls(e) {
        return (ErrorKind::Tls, msg);
    }
    if let Some(io) = find_io(e) {
        let kind = classify_io(io);
        // hyper-rustls reports a refused certificate as an opaque I/O error.
        if kind == ErrorKind::Connect && lower.contains("certificate") {
            return (ErrorKind::Tls, msg);
        }
        return (kind, msg);
    }
    let kind = if lower.contains("dns error") || lower.contains("failed to lookup") {
        ErrorKind::Dns
    } else if lower.contains("certificate") || lower.contains("tls") {
        ErrorKind::Tls
    } else if e.is_connect() {
        ErrorKind::Connect
    } else if e.is_body() || e.is_decode() {
        ErrorKind::BodyRead
    } else {
        ErrorKind::Other
    };
    (kind, msg)
}
