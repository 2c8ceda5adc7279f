//! TLS: an HTTPS server with a self-signed certificate (for 127.0.0.1 and localhost).

use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::raw::{Conn, RawServer};

/// Self-signed P-256 leaf certificate (not a CA) for IP 127.0.0.1 and DNS localhost,
/// valid to 2126: no client trusts it without `--insecure`.
pub const TEST_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBoDCCAUagAwIBAgIUCkV75kb/TT/wZGsZXntUd2/ltCcwCgYIKoZIzj0EAwIw
FjEUMBIGA1UEAwwLdm9sbGV5IHRlc3QwIBcNMjYxMTI1MjA1MjU2WhgPMjEyNjEx
MDEyMDUyNTZaMBYxFDASBgNVBAMMC3ZvbGxleSB0ZXN0MFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAEmF0nbKXmomwtjCFlMBONZF0fKiURtjzCTnpwLJHwh0Rz4kK5
twjFGihjDWzNtRrhHtA/C1ZExZJPZDwEPQoQIqNwMG4wDAYDVR0TAQH/BAIwADAO
BgNVHQ8BAf8EBAMCB4AwEwYDVR0lBAwwCgYIKwYBBQUHAwEwGgYDVR0RBBMwEYcE
fwAAAYIJbG9jYWxob3N0MB0GA1UdDgQWBBQhUaRMbThe7E6MiacYBSPFrwqdKDAK
BggqhkjOPQQDAgNIADBFAiAexIvmjN1KBtCxjTYJMeiW0uUx0Uc+IgF3UqLrdQkM
lAIhAKruKGheElkEaR/484aJ1wNeedS1LD60ecg9ViFSveCR
-----END CERTIFICATE-----
";

/// The certificate's private key (PKCS#8). A test key: it protects nothing.
pub const TEST_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgHjYUSlTLMxczfBqz
k/qZUaUrZhwAtKxwGrWZyQp2yt2hRANCAASYXSdspeaibC2MIWUwE41kXR8qJRG2
PMJOenAskfCHRHPiQrm3CMUaKGMNbM21GuEe0D8LVkTFkk9kPAQ9ChAi
-----END PRIVATE KEY-----
";

/// An HTTPS server (rustls, self-signed certificate) answering `200 ok` with keep-alive.
/// Counts completed handshakes and requests.
pub struct TlsServer {
    raw: RawServer,
    handshakes: Arc<AtomicU64>,
}

impl TlsServer {
    pub fn start() -> TlsServer {
        TlsServer::start_with(Duration::ZERO, true)
    }

    /// A server that waits `handshake_delay` before it takes part in each TLS handshake,
    /// and answers requests only when `answer` (else it reads them and stays silent).
    pub fn start_with(handshake_delay: Duration, answer: bool) -> TlsServer {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs = vec![CertificateDer::from_pem_slice(TEST_CERT.as_bytes()).unwrap()];
        let key = PrivateKeyDer::from_pem_slice(TEST_KEY.as_bytes()).unwrap();
        let config = Arc::new(
            rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
        );
        let handshakes = Arc::new(AtomicU64::new(0));
        let hs = handshakes.clone();
        let raw = RawServer::start(move |conn| {
            let Conn {
                stream,
                requests,
                stop,
                ..
            } = conn;
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            std::thread::sleep(handshake_delay);
            let Ok(tls) = rustls::ServerConnection::new(config.clone()) else {
                return;
            };
            let mut s = rustls::StreamOwned::new(tls, stream);
            let mut shook = false;
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !stop.load(Ordering::Acquire) {
                let n = match s.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                if !shook {
                    shook = true;
                    hs.fetch_add(1, Ordering::AcqRel);
                }
                head.extend_from_slice(&buf[..n]);
                while let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                    head.drain(..i + 4);
                    requests.fetch_add(1, Ordering::AcqRel);
                    if !answer {
                        continue;
                    }
                    if s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                        .and_then(|_| s.flush())
                        .is_err()
                    {
                        return;
                    }
                }
            }
        });
        TlsServer { raw, handshakes }
    }

    /// `https://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        self.raw.url().replacen("http://", "https://", 1)
    }

    pub fn requests(&self) -> u64 {
        self.raw.requests()
    }

    /// TLS sessions that got as far as application data.
    pub fn handshakes(&self) -> u64 {
        self.handshakes.load(Ordering::Acquire)
    }
}
