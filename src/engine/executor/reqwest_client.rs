//! The feature path: reqwest for redirects and cookie jars. One client (and so one pool
//! of at most one idle connection per host) per VU.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use super::classify::classify_reqwest;
use super::conn::status_message;
use super::{Attempt, Prepared, Rendered, Requests, Want, MAX_KEPT_BODY};
use crate::metrics::{ErrorKind, Gauges, Outcome};

pub struct ReqwestClient {
    follow: Option<reqwest::Client>,
    direct: Option<reqwest::Client>,
    insecure: bool,
    cookies: bool,
    gauges: Arc<Gauges>,
    /// The last exchange ended with a response, so its connection is likely pooled.
    pooled: bool,
}

impl Drop for ReqwestClient {
    fn drop(&mut self) {
        let n = self.follow.is_some() as u64 + self.direct.is_some() as u64;
        self.gauges.connections_open.fetch_sub(n, Ordering::Relaxed);
    }
}

impl ReqwestClient {
    pub fn new(reqs: &Requests, gauges: Arc<Gauges>) -> Self {
        ReqwestClient {
            follow: None,
            direct: None,
            insecure: reqs.insecure,
            cookies: reqs.cookies,
            gauges,
            pooled: false,
        }
    }

    fn client(&mut self, follow: bool) -> Result<reqwest::Client, reqwest::Error> {
        let slot = if follow {
            &mut self.follow
        } else {
            &mut self.direct
        };
        if let Some(c) = slot {
            return Ok(c.clone());
        }
        let c = reqwest::Client::builder()
            .use_rustls_tls()
            .danger_accept_invalid_certs(self.insecure)
            .cookie_store(self.cookies)
            .redirect(if follow {
                reqwest::redirect::Policy::limited(10)
            } else {
                reqwest::redirect::Policy::none()
            })
            .pool_max_idle_per_host(1)
            .tcp_nodelay(true)
            .no_proxy()
            .build()?;
        self.gauges.connections_open.fetch_add(1, Ordering::Relaxed);
        self.gauges
            .connections_opened
            .fetch_add(1, Ordering::Relaxed);
        *slot = Some(c.clone());
        Ok(c)
    }

    pub async fn send(&mut self, p: &Prepared, rendered: Option<&Rendered>, want: Want) -> Attempt {
        // Whether the last exchange left a keep-alive connection in the pool.
        let pooled = self.pooled;
        let deadline = tokio::time::Instant::now() + p.timeout;
        let (first, head_arrived) = self.send_once(p, rendered, want, deadline).await;
        self.pooled = matches!(first.outcome, Outcome::Status(_) | Outcome::Rejected(..));
        // A pooled keep-alive connection the server closed as we used it: send an
        // idempotent request again, once, on a new connection. A fresh connection that
        // fails is a real failure (the server may have seen the request).
        let stale = pooled
            && !head_arrived
            && matches!(
                first.outcome,
                Outcome::Error(ErrorKind::ConnectionClosed | ErrorKind::ConnectionReset)
            );
        let idempotent = matches!(
            p.method,
            http::Method::GET
                | http::Method::HEAD
                | http::Method::PUT
                | http::Method::DELETE
                | http::Method::OPTIONS
        );
        if stale && idempotent {
            let (second, _) = self.send_once(p, rendered, want, deadline).await;
            self.pooled = matches!(second.outcome, Outcome::Status(_) | Outcome::Rejected(..));
            return second;
        }
        first
    }

    /// One exchange; also says whether the response head arrived.
    async fn send_once(
        &mut self,
        p: &Prepared,
        rendered: Option<&Rendered>,
        want: Want,
        deadline: tokio::time::Instant,
    ) -> (Attempt, bool) {
        let client = match self.client(p.follow_redirects) {
            Ok(c) => c,
            Err(e) => {
                return (
                    Attempt::failed(
                        ErrorKind::Other,
                        format!("cannot build HTTP client: {e}"),
                        None,
                    ),
                    false,
                )
            }
        };
        let mut headers = p.headers.clone();
        headers.remove(http::header::HOST);
        let mut url = p.url.clone();
        let mut body = p.body.clone();
        if let Some(r) = rendered {
            if let Some(path) = &r.path {
                let (path, query) = path.split_once('?').unwrap_or((path, ""));
                url.set_path(path);
                url.set_query((!query.is_empty()).then_some(query));
            }
            for (k, v) in &r.headers {
                headers.insert(k.clone(), v.clone());
            }
            if let Some(b) = &r.body {
                body = b.clone();
            }
        }
        headers.remove(http::header::CONTENT_LENGTH);
        let req = client
            .request(p.method.clone(), url)
            .headers(headers)
            .body(body)
            .timeout(p.timeout);
        let start = Instant::now();
        let head = std::sync::atomic::AtomicBool::new(false);
        let exchange = async {
            let mut resp = req.send().await?;
            head.store(true, Ordering::Relaxed);
            let status = resp.status().as_u16();
            let headers = want.headers.then(|| resp.headers().clone());
            let mut bytes = 0u64;
            let mut kept: Option<bytes::BytesMut> = want.body.then(bytes::BytesMut::new);
            while let Some(chunk) = resp.chunk().await? {
                bytes += chunk.len() as u64;
                if let Some(k) = &mut kept {
                    if k.len() + chunk.len() <= MAX_KEPT_BODY {
                        k.extend_from_slice(&chunk);
                    } else {
                        kept = None;
                    }
                }
            }
            Ok::<_, reqwest::Error>((status, bytes, kept.map(|k| k.freeze()), headers))
        };
        let result = tokio::time::timeout_at(deadline, exchange).await;
        let latency = start.elapsed().as_micros() as u64;
        let attempt = match result {
            Ok(Ok((status, bytes, body, headers))) => Attempt {
                outcome: Outcome::Status(status),
                latency_us: Some(latency),
                bytes,
                message: (status >= 400).then(|| status_message(status)),
                body,
                headers,
            },
            Ok(Err(e)) => {
                let (kind, message) = classify_reqwest(&e);
                let timed = kind == ErrorKind::Timeout;
                Attempt::failed(kind, message, timed.then_some(latency))
            }
            Err(_) => Attempt::failed(
                ErrorKind::Timeout,
                format!("no complete response within {:?}", p.timeout),
                Some(latency),
            ),
        };
        (attempt, head.load(Ordering::Relaxed))
    }
}
