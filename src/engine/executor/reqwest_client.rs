//! The feature path: reqwest for redirects and cookie jars. One client (and so one pool
//! of at most one idle connection per host) per VU. Connections opened are counted
//! through a layer on reqwest's connector; how many are open is unknown (the pool drops
//! them out of sight), and reported so.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use super::classify::classify_reqwest;
use super::conn::{may_resend, Failure};
use super::{Attempt, Prepared, Rendered, Requests, Want, MAX_KEPT_BODY};
use crate::metrics::{ErrorKind, Gauges, Outcome};
use crate::scenario::RetryPolicy;

pub struct ReqwestClient {
    follow: Option<reqwest::Client>,
    direct: Option<reqwest::Client>,
    insecure: bool,
    cookies: bool,
    retry: RetryPolicy,
    gauges: Arc<Gauges>,
    /// TCP (and TLS) connections this VU's clients opened, counted by [`CountConnects`].
    connects: Arc<AtomicU64>,
}

impl ReqwestClient {
    pub fn new(reqs: &Requests, gauges: Arc<Gauges>) -> Self {
        ReqwestClient {
            follow: None,
            direct: None,
            insecure: reqs.insecure,
            cookies: reqs.cookies,
            retry: reqs.retry,
            gauges,
            connects: Arc::new(AtomicU64::new(0)),
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
            .connector_layer(CountConnects {
                gauges: self.gauges.clone(),
                mine: self.connects.clone(),
            })
            .build()?;
        // reqwest's pool closes connections out of sight: how many are open is unknown.
        self.gauges
            .connections_open_unknown
            .store(true, Ordering::Relaxed);
        *slot = Some(c.clone());
        Ok(c)
    }

    pub async fn send(&mut self, p: &Prepared, rendered: Option<&Rendered>, want: Want) -> Attempt {
        // Latency and the deadline both run from here: connecting is part of the wait.
        let start = Instant::now();
        let deadline = tokio::time::Instant::from_std(start) + p.timeout;
        let connects = self.connects.load(Ordering::Relaxed);
        let (first, head_arrived) = self.send_once(p, rendered, want, start, deadline).await;
        // The attempt went out on a pooled connection when no new one was opened for it.
        let reused = self.connects.load(Ordering::Relaxed) == connects;
        let kind = match first.outcome {
            Outcome::Error(k) if !first.connect_failed => k,
            _ => return first,
        };
        let failure = Failure {
            kind,
            unsent: false,
            answered: head_arrived,
        };
        // (reqwest, through hyper-util's pool, itself sends again a request that a closed
        // pooled connection never took: `unsent` never reaches here.)
        let mut retry = None;
        if !may_resend(self.retry, &p.method, reused, failure, start, &mut retry) {
            return first;
        }
        let (mut second, _) = self.send_once(p, rendered, want, start, deadline).await;
        second.retry = retry;
        second
    }

    /// One exchange; also says whether the response head arrived. Latency runs from
    /// `start`, the request's start.
    async fn send_once(
        &mut self,
        p: &Prepared,
        rendered: Option<&Rendered>,
        want: Want,
        start: Instant,
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
        // No reqwest timeout: the deadline below covers the whole request, retry included.
        let req = client
            .request(p.method.clone(), url)
            .headers(headers)
            .body(body);
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
            Ok(Ok((status, bytes, body, headers))) => {
                Attempt::response(status, latency, bytes, body, headers)
            }
            Ok(Err(e)) => {
                let (kind, message) = classify_reqwest(&e);
                let timed = kind == ErrorKind::Timeout;
                let mut a = Attempt::failed(kind, message, timed.then_some(latency));
                a.connect_failed = e.is_connect();
                a
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

/// A layer on reqwest's connector that counts every connection it opens (TCP, and TLS
/// when https) in the run's `connections_opened` and in the VU's own count.
#[derive(Clone)]
struct CountConnects {
    gauges: Arc<Gauges>,
    mine: Arc<AtomicU64>,
}

impl<S> tower_layer::Layer<S> for CountConnects {
    type Service = Counted<S>;

    fn layer(&self, inner: S) -> Counted<S> {
        Counted {
            inner,
            count: self.clone(),
        }
    }
}

#[derive(Clone)]
struct Counted<S> {
    inner: S,
    count: CountConnects,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, R> tower_service::Service<R> for Counted<S>
where
    S: tower_service::Service<R>,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        let connecting = self.inner.call(req);
        let count = self.count.clone();
        Box::pin(async move {
            let conn = connecting.await;
            if conn.is_ok() {
                count
                    .gauges
                    .connections_opened
                    .fetch_add(1, Ordering::Relaxed);
                count.mine.fetch_add(1, Ordering::Relaxed);
            }
            conn
        })
    }
}
