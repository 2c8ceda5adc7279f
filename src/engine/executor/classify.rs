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

/// The first error of type `T` in `e`'s chain.
fn find<'a, T: StdError + 'static>(e: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(found) = err.downcast_ref::<T>() {
            return Some(found);
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

/// Whether the server said it did not process the request's HTTP/2 stream: it refused
/// it (RST_STREAM with REFUSED_STREAM), or sent GOAWAY with a last stream id below it
/// (the stream itself then fails with the GOAWAY). RFC 9113, 8.7: such a request may be
/// sent again.
pub fn h2_unprocessed(e: &hyper::Error) -> bool {
    find::<h2::Error>(e).is_some_and(|h| {
        h.is_remote()
            && ((h.is_reset() && h.reason() == Some(h2::Reason::REFUSED_STREAM)) || h.is_go_away())
    })
}

/// The kind of an HTTP/2 protocol error: the server's GOAWAY or RST_STREAM, or a
/// response volley's side found malformed (it then reset or ended the connection
/// itself). `None` for I/O errors, classified as such.
fn classify_h2(e: &h2::Error) -> Option<ErrorKind> {
    if e.is_io() {
        return None;
    }
    Some(if e.is_remote() && e.is_go_away() {
        ErrorKind::Goaway
    } else if e.is_remote() && e.is_reset() {
        ErrorKind::StreamReset
    } else {
        ErrorKind::InvalidResponse
    })
}

/// Kind and message of a hyper error; `in_body` when it came while reading the body.
pub fn classify_hyper(e: &hyper::Error, in_body: bool) -> (ErrorKind, String) {
    let msg = chain_text(e);
    if let Some(kind) = find::<h2::Error>(e).and_then(classify_h2) {
        return (kind, msg);
    }
    if let Some(io) = find::<io::Error>(e) {
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
    if let Some(io) = find::<io::Error>(e) {
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
