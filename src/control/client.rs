//! Connecting to a run's control API: through its Unix socket (after checking the run
//! directory's owner and modes), or over TCP with a token (TLS pinned by fingerprint).

use std::path::PathBuf;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tonic::metadata::MetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint, Uri};
use tonic::{Request, Status};

use super::proto::control_client::ControlClient;
use super::{proto, rundir, PROTOCOL_VERSION};

/// Where a client connects.
#[derive(Debug, Clone)]
pub enum Target {
    /// A run's Unix socket (already checked).
    Unix(PathBuf),
    /// `http://HOST:PORT` or `https://HOST:PORT`, with the token and, for https, the
    /// certificate's fingerprint to pin (else the web roots are trusted).
    Tcp {
        url: String,
        token: String,
        fingerprint: Option<String>,
    },
}

/// Adds the bearer token to every request.
#[derive(Clone)]
pub struct Bearer(Option<MetadataValue<tonic::metadata::Ascii>>);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

pub type Client = ControlClient<InterceptedService<Channel, Bearer>>;

/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens a channel to a run.
pub async fn connect(target: &Target) -> Result<Client, String> {
    let (channel, bearer) = channel(target).await?;
    Ok(ControlClient::with_interceptor(channel, bearer)
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip))
}

/// A channel to a run's gRPC server and the interceptor that adds its token (the fleet's
/// workers use it for the coordinator's Fleet service).
pub async fn channel(target: &Target) -> Result<(Channel, Bearer), String> {
    let (channel, token) = match target {
        Target::Unix(path) => {
            let path = path.clone();
            let shown = path.display().to_string();
            let channel = Endpoint::from_static("http://volley.run")
                .connect_timeout(CONNECT_TIMEOUT)
                .connect_with_connector(tower::service_fn(move |_: Uri| {
                    let path = path.clone();
                    async move {
                        tokio::net::UnixStream::connect(path)
                            .await
                            .map(TokioIo::new)
                    }
                }))
                .await
                .map_err(|e| format!("cannot connect to '{shown}': {}", source_of(&e)))?;
            (channel, None)
        }
        Target::Tcp {
            url,
            token,
            fingerprint,
        } => {
            let uri: Uri = url
                .parse()
                .map_err(|_| format!("'{url}' is not an address like http://127.0.0.1:7600"))?;
            let host = uri
                .host()
                .unwrap_or("")
                .trim_matches(['[', ']'])
                .to_string();
            let port = uri.port_u16().unwrap_or(7600);
            let tls = match uri.scheme_str() {
                Some("https") => Some(super::tls::client_config(fingerprint.as_deref())),
                Some("http") => None,
                _ => return Err(format!("'{url}': use http:// or https://")),
            };
            let name = host.clone();
            let channel = Endpoint::from_shared(format!("http://{host}:{port}"))
                .map_err(|e| e.to_string())?
                .connect_timeout(CONNECT_TIMEOUT)
                .connect_with_connector(tower::service_fn(move |_: Uri| {
                    let (host, name, tls) = (host.clone(), name.clone(), tls.clone());
                    async move {
                        let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
                        let _ = tcp.set_nodelay(true);
                        let io: Box<dyn Io> = match tls {
                            None => Box::new(tcp),
                            Some(cfg) => {
                                let server = rustls::pki_types::ServerName::try_from(name)
                                    .map_err(|e| {
                                        std::io::Error::new(std::io::ErrorKind::InvalidInput, e)
                                    })?;
                                Box::new(
                                    tokio_rustls::TlsConnector::from(cfg)
                                        .connect(server, tcp)
                                        .await?,
                                )
                            }
                        };
                        Ok::<_, std::io::Error>(TokioIo::new(io))
                    }
                }))
                .await
                .map_err(|e| format!("cannot connect to {url}: {}", source_of(&e)))?;
            let value =
                match token.trim() {
                    "" => None,
                    t => Some(format!("Bearer {t}").parse().map_err(|_| {
                        "the token has characters a header cannot carry".to_string()
                    })?),
                };
            (channel, value)
        }
    };
    Ok((channel, Bearer(token)))
}

trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Io for T {}

fn source_of(e: &tonic::transport::Error) -> String {
    let mut s = e.to_string();
    let mut cur: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(c) = cur {
        s = c.to_string();
        cur = c.source();
    }
    s
}

/// A gRPC error as a line for people; another protocol version is named as such.
pub fn describe(s: &Status) -> String {
    match s.code() {
        tonic::Code::Unimplemented => format!(
            "the run does not speak control protocol v{PROTOCOL_VERSION} (another volley version?): {}",
            s.message()
        ),
        tonic::Code::Unauthenticated => format!("rejected: {}", s.message()),
        _ => s.message().to_string(),
    }
}

/// The run's status now.
pub async fn status(client: &mut Client) -> Result<proto::RunStatus, String> {
    client
        .status(proto::StatusRequest {
            version: PROTOCOL_VERSION,
        })
        .await
        .map(|s| s.into_inner())
        .map_err(|s| describe(&s))
}

/// Says hello and checks the versions on both sides.
pub async fn hello(client: &mut Client, who: &str) -> Result<proto::HelloReply, String> {
    let reply = client
        .hello(proto::HelloRequest {
            version: PROTOCOL_VERSION,
            client: who.into(),
        })
        .await
        .map_err(|s| describe(&s))?
        .into_inner();
    if reply.protocol_version != PROTOCOL_VERSION {
        return Err(format!(
            "control protocol mismatch: the run speaks v{}, this volley v{PROTOCOL_VERSION}",
            reply.protocol_version
        ));
    }
    Ok(reply)
}

/// The target of a listed run (its socket, checked).
pub fn local(run: &rundir::Listed) -> Result<Target, String> {
    run.dir
        .check_socket()
        .map(Target::Unix)
        .map_err(|e| e.to_string())
}
