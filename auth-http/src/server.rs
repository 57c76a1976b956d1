//! The connection layer: an accept loop that serves any warp filter over
//! plain TCP or TLS (rustls, HTTP/1.1 or HTTP/2 chosen by ALPN), with a
//! header timeout, an idle timeout, a connection limit, HTTP/2 stream limits,
//! certificate reload and graceful shutdown. `authd serve` uses it; an
//! embedder can serve its own routes with [`serve`].
//!
//! ```
//! use auth_http::server::{serve, ServeOptions};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! use warp::Filter;
//!
//! # #[tokio::main]
//! # async fn main() -> std::io::Result<()> {
//! // Any warp filter: here one route, or `auth_http::routes(auth, config)`.
//! let app = warp::path!("healthz")
//!     .map(|| warp::reply::json(&"ok"))
//!     .map(warp::Reply::into_response)
//!     .boxed();
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let server = tokio::spawn(serve(listener, app, ServeOptions::default(), async {
//!     let _ = stopped.await;
//! }));
//!
//! let mut socket = tokio::net::TcpStream::connect(addr).await?;
//! socket
//!     .write_all(b"GET /healthz HTTP/1.1\r\nHost: example\r\nConnection: close\r\n\r\n")
//!     .await?;
//! let mut answer = String::new();
//! socket.read_to_string(&mut answer).await?;
//! assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
//!
//! // Stops accepting, finishes the requests in flight, returns.
//! let _ = stop.send(());
//! server.await?;
//! # Ok(())
//! # }
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::time::Instant;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::Filter;

/// Default of `--header-timeout`.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection with no request for this long is closed.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest time to read and answer one request: well above the slowest
/// honest answer (a queued hash, a database timeout, a 10 s mail).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default of `--max-connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Streams one HTTP/2 connection may have open at once.
pub const H2_MAX_CONCURRENT_STREAMS: u32 = 100;
/// Streams a client may open and reset before the server reads them
/// (CVE-2023-44487, "rapid reset"); past it the connection is closed.
pub const H2_MAX_PENDING_ACCEPT_RESET_STREAMS: usize = 20;
/// Streams the server may reset for a client's protocol errors before it
/// closes the connection ("MadeYouReset", 2025).
pub const H2_MAX_LOCAL_ERROR_RESET_STREAMS: usize = 256;
/// Largest header block an HTTP/2 client may send.
pub const H2_MAX_HEADER_LIST_SIZE: u32 = 64 * 1024;
/// How long a closing connection with nothing in flight may take to close.
const CLOSE_GRACE: Duration = Duration::from_millis(500);
/// How often a closing connection with requests in flight is looked at.
const CLOSE_POLL: Duration = Duration::from_millis(100);
/// Largest request head an HTTP/1.1 client may send.
const H1_MAX_BUF_SIZE: usize = 64 * 1024;

/// How [`serve`] treats connections.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// A client must finish its TLS handshake and send a whole request head
    /// within this time, or its connection is closed.
    pub header_timeout: Duration,
    /// A connection with no request in flight for this long is closed.
    pub idle_timeout: Duration,
    /// A request must be read and answered within this time, or its
    /// connection is closed (a client trickling its body holds nothing longer).
    pub request_timeout: Duration,
    /// Open connections at most; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// Serve HTTPS with this certificate; plain HTTP without it.
    pub tls: Option<Arc<TlsFiles>>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            tls: None,
        }
    }
}

/// Why a certificate and key pair cannot be used; the message names the
/// option (`--tls-cert`, `--tls-key`) and the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate file cannot be read or holds no PEM certificate.
    #[error("--tls-cert {path}: {reason}")]
    Certificate {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The key file cannot be read or holds no PEM private key.
    #[error("--tls-key {path}: {reason}")]
    Key {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The key is not the certificate's, or rustls refuses the pair.
    #[error("--tls-key {key}: not usable with the certificate of --tls-cert {cert} ({reason})")]
    Mismatch {
        /// The certificate file.
        cert: String,
        /// The key file.
        key: String,
        /// rustls's reason.
        reason: String,
    },
}

/// A certificate and key read from PEM files, re-read by [`TlsFiles::reload`]
/// (on SIGHUP); connections already open keep the pair they began with.
#[derive(Debug)]
pub struct TlsFiles {
    cert_path: PathBuf,
    key_path: PathBuf,
    current: RwLock<Arc<rustls::ServerConfig>>,
}

impl TlsFiles {
    /// Reads and checks the pair.
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<Self, TlsError> {
        let config = server_config(cert_path, key_path)?;
        Ok(TlsFiles {
            cert_path: cert_path.to_owned(),
            key_path: key_path.to_owned(),
            current: RwLock::new(Arc::new(config)),
        })
    }

    /// Re-reads both files; on an error the pair in use stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let config = server_config(&self.cert_path, &self.key_path)?;
        match self.current.write() {
            Ok(mut current) => *current = Arc::new(config),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(config),
        }
        Ok(())
    }

    fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        let config = match self.current.read() {
            Ok(current) => Arc::clone(&current),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        };
        tokio_rustls::TlsAcceptor::from(config)
    }
}

/// The rustls settings of a pair: ring, TLS 1.2 and 1.3, ALPN h2 then http/1.1.
fn server_config(cert_path: &Path, key_path: &Path) -> Result<rustls::ServerConfig, TlsError> {
    let cert_error = |reason: String| TlsError::Certificate {
        path: cert_path.display().to_string(),
        reason,
    };
    let key_error = |reason: String| TlsError::Key {
        path: key_path.display().to_string(),
        reason,
    };
    let cert_pem = std::fs::read(cert_path).map_err(|e| cert_error(format!("cannot read: {e}")))?;
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_error(format!("not a PEM certificate: {e}")))?;
    if certs.is_empty() {
        return Err(cert_error(
            "no PEM certificate (-----BEGIN CERTIFICATE-----) in the file".into(),
        ));
    }
    let key_pem = std::fs::read(key_path).map_err(|e| key_error(format!("cannot read: {e}")))?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| key_error(format!("no PEM private key in the file: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| key_error(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Mismatch {
            cert: cert_path.display().to_string(),
            key: key_path.display().to_string(),
            reason: e.to_string(),
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The client's address under [`serve`], kept in the request's extensions
/// (warp's own `addr::remote` is filled only by warp's server).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// The peer address of a request served by [`serve`], or by warp's own
/// server (and `warp::test` with `remote_addr`).
pub fn remote_addr() -> impl Filter<Extract = (Option<SocketAddr>,), Error = Infallible> + Clone {
    warp::ext::optional::<PeerAddr>()
        .and(warp::addr::remote())
        .map(|ours: Option<PeerAddr>, warps: Option<SocketAddr>| ours.map(|p| p.0).or(warps))
}

/// Serves `filter` on `listener` until `shutdown` completes, then stops
/// accepting, lets every connection finish its requests in flight, and
/// returns.
pub async fn serve(
    listener: TcpListener,
    filter: BoxedFilter<(Response,)>,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) {
    let max_connections = options.max_connections.max(1);
    let permits = Arc::new(Semaphore::new(max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    let builder = Arc::new(http_builder(&options));
    let options = Arc::new(options);
    let mut shutdown = pin!(shutdown);
    loop {
        // The permit is taken before `accept`, so past the limit clients wait
        // in the kernel's backlog instead of being accepted and refused.
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    accept_error(error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let connection = Connection {
            filter: filter.clone(),
            builder: Arc::clone(&builder),
            options: Arc::clone(&options),
            stop: stop_rx.clone(),
        };
        tokio::spawn(async move {
            connection.run(stream, peer).await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // Every connection holds a permit until it ends: having them all back
    // means every request in flight has been answered.
    let all = u32::try_from(max_connections).unwrap_or(u32::MAX);
    let _ = permits.acquire_many(all).await;
}

/// hyper's settings: the header timeout needs its timer, and HTTP/2 gets the
/// stream limits that blunt rapid-reset floods.
fn http_builder(options: &ServeOptions) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_timeout)
        .max_buf_size(H1_MAX_BUF_SIZE)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(H2_MAX_CONCURRENT_STREAMS)
        .max_pending_accept_reset_streams(H2_MAX_PENDING_ACCEPT_RESET_STREAMS)
        .max_local_error_reset_streams(H2_MAX_LOCAL_ERROR_RESET_STREAMS)
        .max_header_list_size(H2_MAX_HEADER_LIST_SIZE)
        .keep_alive_interval(Some(options.idle_timeout / 2))
        .keep_alive_timeout(options.header_timeout);
    builder
}

/// Accept errors such as EMFILE pass; a short pause keeps the loop from spinning.
async fn accept_error(error: std::io::Error) {
    use std::io::ErrorKind;
    if !matches!(
        error.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    ) {
        tracing::warn!(%error, "accept failed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What one connection's task needs.
struct Connection {
    filter: BoxedFilter<(Response,)>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    options: Arc<ServeOptions>,
    stop: watch::Receiver<bool>,
}

impl Connection {
    async fn run(self, stream: TcpStream, peer: SocketAddr) {
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::new());
        let service = PeerService {
            service: warp::service(self.filter.clone()),
            peer: PeerAddr(peer),
            activity: Arc::clone(&activity),
            timeout: self.options.request_timeout,
        };
        match &self.options.tls {
            None => self.drive(TokioIo::new(stream), service, &activity).await,
            Some(tls) => {
                let handshake = tls.acceptor().accept(stream);
                let stream =
                    match tokio::time::timeout(self.options.header_timeout, handshake).await {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(error)) => {
                            tracing::debug!(%error, %peer, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake timed out");
                            return;
                        }
                    };
                self.drive(TokioIo::new(stream), service, &activity).await;
            }
        }
    }

    /// Serves the connection until it ends, closing it when it stays
    /// without a first request past the header timeout, stays idle past the
    /// idle timeout, or the server stops.
    async fn drive<IO, S>(mut self, io: IO, service: PeerService<S>, activity: &Activity)
    where
        IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
        S: tower_service::Service<
                hyper::Request<Incoming>,
                Response = Response,
                Error = Infallible,
            > + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
    {
        let mut connection = pin!(self.builder.serve_connection(io, service));
        let header_deadline = activity.started + self.options.header_timeout;
        // Set once the connection is asked to close: past it, a connection
        // with nothing in flight is dropped even if the client never
        // acknowledges HTTP/2's GOAWAY.
        let mut closing_deadline: Option<Instant> = None;
        loop {
            let deadline = match closing_deadline {
                Some(deadline) => deadline,
                None if activity.requests_seen() == 0 => header_deadline,
                None => activity.idle_since() + self.options.idle_timeout,
            };
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%error, "connection ended");
                    }
                    return;
                }
                changed = self.stop.changed(), if closing_deadline.is_none() => {
                    if changed.is_err() || *self.stop.borrow() {
                        connection.as_mut().graceful_shutdown();
                        closing_deadline = Some(Instant::now() + CLOSE_GRACE);
                    }
                }
                () = tokio::time::sleep_until(deadline) => {
                    if closing_deadline.is_some() {
                        if activity.in_flight() == 0 {
                            return;
                        }
                        closing_deadline = Some(Instant::now() + CLOSE_POLL);
                    } else if activity.requests_seen() == 0 {
                        // No request head within the header timeout (before
                        // hyper's own timer runs, e.g. while the protocol is
                        // still being detected): nothing to finish.
                        return;
                    } else if activity.in_flight() == 0
                        && activity.idle_since() + self.options.idle_timeout <= Instant::now()
                    {
                        connection.as_mut().graceful_shutdown();
                        closing_deadline = Some(Instant::now() + CLOSE_GRACE);
                    }
                }
            }
        }
    }
}

/// When a connection began and when it last had a request in flight.
struct Activity {
    started: Instant,
    requests: AtomicUsize,
    in_flight: AtomicUsize,
    idle_since: Mutex<Instant>,
}

impl Activity {
    fn new() -> Self {
        let now = Instant::now();
        Activity {
            started: now,
            requests: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            idle_since: Mutex::new(now),
        }
    }

    fn requests_seen(&self) -> usize {
        self.requests.load(Ordering::Acquire)
    }

    fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    fn idle_since(&self) -> Instant {
        match self.idle_since.lock() {
            Ok(since) => *since,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }

    fn begin(&self) {
        self.requests.fetch_add(1, Ordering::AcqRel);
        self.in_flight.fetch_add(1, Ordering::AcqRel);
    }

    fn end(&self) {
        let mut since = match self.idle_since.lock() {
            Ok(since) => since,
            Err(poisoned) => poisoned.into_inner(),
        };
        *since = Instant::now();
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Counts a request as in flight until its response is ready.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// The warp service with the peer address added to each request, and the
/// connection's activity kept up to date.
#[derive(Clone)]
struct PeerService<S> {
    service: S,
    peer: PeerAddr,
    activity: Arc<Activity>,
    timeout: Duration,
}

/// A request took longer than [`ServeOptions::request_timeout`]; hyper
/// closes its connection.
#[derive(Debug, thiserror::Error)]
#[error("the request was not read and answered within {0:?}")]
struct RequestTimedOut(Duration);

impl<S> hyper::service::Service<hyper::Request<Incoming>> for PeerService<S>
where
    S: tower_service::Service<hyper::Request<Incoming>, Response = Response, Error = Infallible>
        + Clone,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = RequestTimedOut;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<Response, RequestTimedOut>> + Send>>;

    fn call(&self, mut request: hyper::Request<Incoming>) -> Self::Future {
        request.extensions_mut().insert(self.peer);
        self.activity.begin();
        let in_flight = InFlight(Arc::clone(&self.activity));
        let mut service = self.service.clone();
        let response = service.call(request);
        let limit = self.timeout;
        Box::pin(async move {
            let response = tokio::time::timeout(limit, response).await;
            drop(in_flight);
            match response {
                Ok(Ok(response)) => Ok(response),
                Ok(Err(never)) => match never {},
                Err(_) => {
                    tracing::debug!("request timed out; closing its connection");
                    Err(RequestTimedOut(limit))
                }
            }
        })
    }
}
