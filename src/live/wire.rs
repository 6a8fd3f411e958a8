//! Sockets: one HTTP/1.1 client (hyper) for webhook deliveries and list
//! calls, and axum servers bound to a listener. Everything here moves
//! bytes; what they mean is `crate::http`'s, what to do with them the
//! node's. The same client and servers run on real sockets (live mode)
//! and on turmoil's simulated TCP (network mode, `crate::net`): only the
//! [`Connector`] and the listener differ.

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// The shared HTTP client (keeps connections alive per host).
pub type Client = hyper_util::client::legacy::Client<Connector, Full<Bytes>>;

/// A client for loopback and plain-HTTP endpoints.
pub fn client() -> Client {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    client_over(Connector::Tcp(connector))
}

/// A client over `connector`: idle connections are kept per host (HTTP
/// keep-alive), so a run opens a handful of connections, not one per
/// request.
pub fn client_over(connector: Connector) -> Client {
    hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(256)
        .build(connector)
}

/// How the client opens a connection: real TCP, or turmoil's.
#[derive(Clone, Debug)]
pub enum Connector {
    /// The OS's sockets (live mode).
    Tcp(HttpConnector),
    /// turmoil's simulated TCP (network mode).
    Net(crate::net::connector::NetConnector),
}

/// A connection opened by a [`Connector`].
#[derive(Debug)]
pub enum Io {
    /// A real TCP stream.
    Tcp(TokioIo<tokio::net::TcpStream>),
    /// A turmoil TCP stream.
    Net(TokioIo<turmoil::net::TcpStream>),
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl tower_service::Service<axum::http::Uri> for Connector {
    type Response = Io;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Io, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        match self {
            Connector::Tcp(c) => c.poll_ready(cx).map_err(Into::into),
            Connector::Net(_) => Poll::Ready(Ok(())),
        }
    }

    fn call(&mut self, uri: axum::http::Uri) -> Self::Future {
        match self {
            Connector::Tcp(c) => {
                let connecting = c.call(uri);
                Box::pin(async move { Ok(Io::Tcp(connecting.await?)) })
            }
            Connector::Net(c) => {
                let connecting = c.connect(uri);
                Box::pin(async move { Ok(Io::Net(TokioIo::new(connecting.await?))) })
            }
        }
    }
}

impl hyper::rt::Read for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Io::Tcp(io) => Pin::new(io).poll_read(cx, buf),
            Io::Net(io) => Pin::new(io).poll_read(cx, buf),
        }
    }
}

impl hyper::rt::Write for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Io::Tcp(io) => Pin::new(io).poll_write(cx, buf),
            Io::Net(io) => Pin::new(io).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Io::Tcp(io) => Pin::new(io).poll_flush(cx),
            Io::Net(io) => Pin::new(io).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Io::Tcp(io) => Pin::new(io).poll_shutdown(cx),
            Io::Net(io) => Pin::new(io).poll_shutdown(cx),
        }
    }
}

impl Connection for Io {
    fn connected(&self) -> Connected {
        match self {
            Io::Tcp(io) => io.connected(),
            Io::Net(_) => Connected::new(),
        }
    }
}

/// A response as the node reads it.
#[derive(Clone, Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers, names lower case.
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Bytes,
}

impl Reply {
    /// The headers as borrowed pairs (what `crate::http` reads).
    pub fn header_pairs(&self) -> Vec<(&str, &str)> {
        self.headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }
}

/// Why a request got no response.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// No complete response before the timeout.
    #[error("timed out")]
    Timeout,
    /// The connection failed (refused, reset, closed early).
    #[error("connection failed: {0}")]
    Connection(String),
    /// The URL cannot be requested.
    #[error("bad URL `{0}`")]
    BadUrl(String),
}

/// Sends one request and reads the whole response within `timeout`.
pub async fn send(
    client: &Client,
    method: axum::http::Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Bytes,
    timeout: Duration,
) -> Result<Reply, WireError> {
    let mut builder = axum::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let request = builder
        .body(Full::new(body))
        .map_err(|_| WireError::BadUrl(url.to_string()))?;
    let exchange = async {
        let response = client
            .request(request)
            .await
            .map_err(|e| WireError::Connection(e.to_string()))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| WireError::Connection(e.to_string()))?
            .to_bytes();
        Ok(Reply {
            status,
            headers,
            body,
        })
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(result) => result,
        Err(_) => Err(WireError::Timeout),
    }
}

/// Binds `addr` (port 0: an ephemeral port).
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}

/// Serves `router` on `listener` (a tokio or a turmoil listener) until
/// `stop` resolves.
pub async fn serve<L>(
    listener: L,
    router: axum::Router,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    let _ = axum::serve(listener, router)
        .with_graceful_shutdown(stop)
        .await;
}
