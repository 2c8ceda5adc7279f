//! Classified outcomes of a request.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a request failed without an HTTP status (statuses >= 400 are counted by code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The server refused the TCP connection.
    ConnectRefused,
    /// Any other failure to connect (unreachable, address in use, ...).
    Connect,
    /// The host name did not resolve.
    Dns,
    /// No complete response within the request timeout.
    Timeout,
    /// TLS handshake or certificate failure.
    Tls,
    /// The peer reset the connection.
    ConnectionReset,
    /// The peer closed the connection before a complete response.
    ConnectionClosed,
    /// The response body could not be read to the end.
    BodyRead,
    /// The bytes received were not a valid HTTP response (a status outside 100-999, too
    /// many interim responses, ...).
    InvalidResponse,
    /// `101 Switching Protocols` to a request that did not ask for an upgrade.
    UnexpectedUpgrade,
    /// HTTP/2: the server sent GOAWAY and the connection ended before this request's
    /// response was complete (the request may or may not have been processed).
    Goaway,
    /// HTTP/2: the server reset the request's stream (RST_STREAM), with any code but
    /// REFUSED_STREAM, or REFUSED_STREAM twice (a refused stream is sent once more: the
    /// server says it did not process it).
    StreamReset,
    /// A streamed response (server-sent events, `stream = true`) went quiet for longer
    /// than its `stream_idle` after its head arrived.
    StreamStalled,
    /// WebSocket: the server closed the socket (or the connection ended) before the
    /// script was done; the close code is counted apart.
    WsClosed,
    /// WebSocket: a message or frame over the request's `ws_max_message`.
    MessageTooLarge,
    /// Cut off at the end of the run (the graceful-stop period ran out, or the user
    /// stopped again). Not an error: counted apart, as `aborted` (see
    /// [`crate::state::AbortCause`]).
    Aborted,
    /// The response failed a check.
    CheckFailed,
    /// A capture found nothing in the response.
    CaptureFailed,
    /// Anything not classified above.
    Other,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 19] = [
        ErrorKind::ConnectRefused,
        ErrorKind::Connect,
        ErrorKind::Dns,
        ErrorKind::Timeout,
        ErrorKind::Tls,
        ErrorKind::ConnectionReset,
        ErrorKind::ConnectionClosed,
        ErrorKind::BodyRead,
        ErrorKind::InvalidResponse,
        ErrorKind::UnexpectedUpgrade,
        ErrorKind::Goaway,
        ErrorKind::StreamReset,
        ErrorKind::StreamStalled,
        ErrorKind::WsClosed,
        ErrorKind::MessageTooLarge,
        ErrorKind::Aborted,
        ErrorKind::CheckFailed,
        ErrorKind::CaptureFailed,
        ErrorKind::Other,
    ];
    pub const COUNT: usize = Self::ALL.len();

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::ConnectRefused => "connect_refused",
            ErrorKind::Connect => "connect",
            ErrorKind::Dns => "dns",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Tls => "tls",
            ErrorKind::ConnectionReset => "connection_reset",
            ErrorKind::ConnectionClosed => "connection_closed",
            ErrorKind::BodyRead => "body_read",
            ErrorKind::InvalidResponse => "invalid_response",
            ErrorKind::UnexpectedUpgrade => "unexpected_upgrade",
            ErrorKind::Goaway => "goaway",
            ErrorKind::StreamReset => "stream_reset",
            ErrorKind::StreamStalled => "stream_stalled",
            ErrorKind::WsClosed => "ws_closed",
            ErrorKind::MessageTooLarge => "message_too_large",
            ErrorKind::Aborted => "aborted",
            ErrorKind::CheckFailed => "check_failed",
            ErrorKind::CaptureFailed => "capture_failed",
            ErrorKind::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<ErrorKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a request was sent a second time: the first attempt went out on a reused
/// keep-alive connection and the connection ended before any byte of a response. The
/// server may have read that first attempt, so it is counted (`retries`), never hidden.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RetryReason {
    /// The server closed the connection (end of stream) after the request was written.
    ClosedBeforeResponse,
    /// The server reset the connection after the request was written.
    ResetBeforeResponse,
}

impl RetryReason {
    pub const ALL: [RetryReason; 2] = [
        RetryReason::ClosedBeforeResponse,
        RetryReason::ResetBeforeResponse,
    ];
    pub const COUNT: usize = Self::ALL.len();

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RetryReason::ClosedBeforeResponse => "closed_before_response",
            RetryReason::ResetBeforeResponse => "reset_before_response",
        }
    }

    /// The reason for a failed attempt of this kind, if it is one a retry may follow.
    pub fn of(kind: ErrorKind) -> Option<RetryReason> {
        match kind {
            ErrorKind::ConnectionClosed => Some(RetryReason::ClosedBeforeResponse),
            ErrorKind::ConnectionReset => Some(RetryReason::ResetBeforeResponse),
            _ => None,
        }
    }
}

/// A request's first attempt, when it had to be sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    pub reason: RetryReason,
    /// Microseconds from the first attempt's start to its failure (the retry's own time
    /// is the request's latency minus this).
    pub first_us: u64,
}

/// What became of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A complete response with this status; >= 400 counts as an error.
    Status(u16),
    /// No (complete) response.
    Error(ErrorKind),
    /// A response with this status that failed a check or capture.
    Rejected(u16, ErrorKind),
}

impl Outcome {
    pub fn is_ok(self) -> bool {
        matches!(self, Outcome::Status(s) if s < 400)
    }
}

/// The key under which an error is counted in `errors_by_kind`: the kind, or `http_503`.
pub fn error_key(outcome: Outcome) -> Option<String> {
    match outcome {
        Outcome::Status(s) if s >= 400 => Some(format!("http_{s}")),
        Outcome::Status(_) => None,
        Outcome::Error(k) | Outcome::Rejected(_, k) => Some(k.as_str().to_string()),
    }
}
