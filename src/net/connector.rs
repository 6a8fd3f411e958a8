//! HTTP over turmoil's TCP: a connector for hyper-util's client and a
//! listener for axum, so ordinary hyper and axum code runs inside a
//! simulation unchanged (turmoil ships neither; this follows turmoil's own
//! `examples/axum`).
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! use syncsim::live::wire;
//! use syncsim::net::connector::NetConnector;
//! // Inside a turmoil host: a keep-alive client whose connections are
//! // turmoil TcpStreams, for `http://provider:7780/...`.
//! let client = wire::client_over(wire::Connector::Net(NetConnector));
//! # Ok(()) }
//! ```

use axum::http::Uri;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

/// Opens turmoil TCP connections for a hyper client: the URI's authority
/// (`host:port`, port 80 when absent) is resolved by turmoil's DNS, so
/// `http://provider:7780` reaches the host registered as `provider`.
#[derive(Clone, Copy, Debug, Default)]
pub struct NetConnector;

type Connecting = Pin<Box<dyn Future<Output = std::io::Result<turmoil::net::TcpStream>> + Send>>;

impl NetConnector {
    /// Connects to `uri`'s authority (call from inside a simulated host).
    pub fn connect(&self, uri: Uri) -> Connecting {
        Box::pin(async move {
            let host = uri.host().ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("no host in {uri}"),
                )
            })?;
            let port = uri.port_u16().unwrap_or(80);
            turmoil::net::TcpStream::connect((host, port)).await
        })
    }
}

/// A turmoil listener that axum can serve on (`axum::serve`).
pub struct NetListener(pub turmoil::net::TcpListener);

impl std::fmt::Debug for NetListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("NetListener")
            .field(&self.0.local_addr().ok())
            .finish()
    }
}

impl NetListener {
    /// Binds `0.0.0.0:port` on the current simulated host.
    pub async fn bind(port: u16) -> std::io::Result<NetListener> {
        let addr: SocketAddr = ([0, 0, 0, 0], port).into();
        Ok(NetListener(turmoil::net::TcpListener::bind(addr).await?))
    }
}

impl axum::serve::Listener for NetListener {
    type Io = turmoil::net::TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok(conn) => return conn,
                // What a real server does on a failed accept: wait a
                // little and go on (axum's own listener waits 1 s).
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.0.local_addr()
    }
}
