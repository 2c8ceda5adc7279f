//! Quick mode: a one-endpoint plan from wrk/oha/curl-style flags.

use bytes::Bytes;
use http::HeaderMap;

use crate::cli::{ClientArg, QuickArgs};
use crate::error::Error;
use crate::scenario::{
    header_pair, parse_method, parse_user_url, ClientKind, Endpoint, Flow, HttpOptions, LoadModel,
    LoadPlan, Plan, StopAt, StreamOpts, ThinkTime, UserType, DEFAULT_GRACEFUL_STOP,
    DEFAULT_STREAM_IDLE, MAX_VUS,
};

/// A URL from the command line (quick mode's, `--target`): without a scheme `http://` is
/// assumed, and said on stderr.
pub fn user_url(text: &str) -> Result<reqwest::Url, String> {
    let (url, assumed) = parse_user_url(text)?;
    if assumed {
        say!("volley: '{}' has no scheme: assuming {url}", text.trim());
    }
    Ok(url)
}

/// `--body @FILE`: a file, or a pipe (`@/dev/stdin` under `|`); a device or a folder
/// is refused (`@/dev/zero` would never end).
fn read_body(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::os::unix::fs::FileTypeExt;
    if !std::fs::metadata(path)?.file_type().is_fifo() {
        crate::scenario::regular_file(path)?;
    }
    std::fs::read(path)
}

pub const DEFAULT_QUICK_DURATION: std::time::Duration = std::time::Duration::from_secs(10);

pub fn plan(url: &str, q: &QuickArgs) -> Result<Plan, Error> {
    if !url.contains("://") && url.trim_end().ends_with(".toml") {
        return Err(Error::Usage(format!(
            "'{url}' is not a URL: to run a scenario file, use 'volley run {url}'"
        )));
    }
    let url = user_url(url).map_err(|m| Error::Usage(format!("URL: {m}")))?;
    let method = parse_method(&q.method).map_err(|m| Error::Usage(format!("-m: {m}")))?;
    if q.connections == 0 {
        return Err(Error::Usage("-c: must be at least 1".into()));
    }
    if q.connections as u64 > MAX_VUS {
        return Err(Error::Usage(format!(
            "-c: {} is more than the maximum of {MAX_VUS}",
            q.connections
        )));
    }
    if q.requests == Some(0) {
        return Err(Error::Usage("-n: must be at least 1".into()));
    }
    if q.duration.is_some_and(|d| d.is_zero()) {
        return Err(Error::Usage("-d: must be above zero".into()));
    }
    if q.timeout.is_zero() {
        return Err(Error::Usage("--timeout: must be above zero".into()));
    }
    let mut headers = HeaderMap::new();
    for h in &q.headers {
        let (name, value) = h
            .split_once(':')
            // Not echoed: a header argument may hold a secret.
            .ok_or_else(|| {
                Error::Usage("-H: expected \"Name: value\", got an argument without ':'".into())
            })?;
        let (n, v) = header_pair(name, value).map_err(|m| Error::Usage(format!("-H: {m}")))?;
        headers.append(n, v);
    }
    let body = match &q.body {
        None => Bytes::new(),
        Some(b) => match b.strip_prefix('@') {
            Some(path) => Bytes::from(
                read_body(std::path::Path::new(path))
                    .map_err(|e| Error::Usage(format!("--body: cannot read '{path}': {e}")))?,
            ),
            None => Bytes::from(b.clone()),
        },
    };
    if q.http2 && (q.follow_redirects || matches!(q.client, ClientArg::H1 | ClientArg::Reqwest)) {
        return Err(Error::Usage(
            "--http2 runs on the hyper client: it cannot be combined with --client h1, --client reqwest or --follow-redirects (HTTP/1.1 only)".into(),
        ));
    }
    if q.stream
        && (q.http2
            || q.follow_redirects
            || matches!(q.client, ClientArg::Hyper | ClientArg::Reqwest))
    {
        return Err(Error::Usage(
            "--stream times streams on volley's own HTTP/1.1 client: it cannot be combined with --http2, --client hyper, --client reqwest or --follow-redirects".into(),
        ));
    }
    let client = match q.client {
        _ if q.http2 => ClientKind::Hyper,
        ClientArg::H1 => ClientKind::H1,
        ClientArg::Hyper => ClientKind::Hyper,
        ClientArg::Reqwest => ClientKind::Reqwest,
        ClientArg::Auto if q.follow_redirects => ClientKind::Reqwest,
        ClientArg::Auto => ClientKind::H1,
    };
    let stop = StopAt {
        duration: match (q.duration, q.requests) {
            (None, None) => Some(DEFAULT_QUICK_DURATION),
            (d, _) => d,
        },
        iterations: q.requests,
    };
    let name = format!("{} {}", method, url.path());
    Ok(Plan {
        name: "quick".into(),
        source: "command line".into(),
        base_url: url.clone(),
        endpoints: vec![Endpoint {
            name,
            method,
            url,
            headers,
            body,
            weight: 1,
            timeout: q.timeout,
            client,
            follow_redirects: q.follow_redirects,
            template: None,
            checks: Vec::new(),
            captures: Vec::new(),
            stream: StreamOpts {
                forced: q.stream,
                idle: DEFAULT_STREAM_IDLE,
            },
            ws: None,
        }],
        load: LoadPlan {
            model: LoadModel::Closed,
            stages: Vec::new(),
            pacing: None,
            vus: q.connections,
            stop,
            think_time: ThinkTime::None,
            graceful_stop: DEFAULT_GRACEFUL_STOP,
        },
        http: HttpOptions {
            insecure: q.insecure,
            cookies: false,
            retry: if q.no_retry {
                crate::scenario::RetryPolicy::Never
            } else {
                crate::scenario::RetryPolicy::Stale
            },
            version: if q.http2 {
                crate::scenario::HttpVersion::Http2
            } else {
                crate::scenario::HttpVersion::Http1
            },
            sharing: None,
            local_addresses: Vec::new(),
        },
        users: vec![UserType {
            name: "default".into(),
            weight: 1,
            on_start: Vec::new(),
            flow: Flow::Tasks(vec![(0, 1)]),
            think_time: ThinkTime::None,
            pacing: None,
        }],
        vars: Vec::new(),
        data: Vec::new(),
        checks: Vec::new(),
        thresholds: Vec::new(),
        text: None,
        overrides: Vec::new(),
        monitor: None,
    })
}
