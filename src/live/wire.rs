//! Sockets: one HTTP/1.1 client (hyper) for webhook deliveries and list
//! calls, and axum servers bound to a listener. Everything here moves
//! bytes; what they mean is `crate::http`'s, what to do with them the
//! node's.

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::net::SocketAddr;
use std::time::Duration;

/// The shared HTTP client (keeps connections alive per host).
pub type Client = hyper_util::client::legacy::Client<HttpConnector, Full<Bytes>>;

/// A client for loopback and plain-HTTP endpoints.
pub fn client() -> Client {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(256)
        .build(connector)
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

/// Serves `router` on `listener` until `stop` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let _ = axum::serve(listener, router)
        .with_graceful_shutdown(stop)
        .await;
}
