//! Serving one client connection, with a handle to cut it from inside a request handler.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::sync::Notify;

use super::server::Shared;

/// Lets a request handler end the connection it is serving: with a TCP reset (`SO_LINGER` 0) or
/// a plain close.
#[derive(Debug, Default)]
pub(crate) struct ConnControl {
    notify: Notify,
    reset: AtomicBool,
}

impl ConnControl {
    /// Ends the connection with a TCP RST.
    pub(crate) fn reset(&self) {
        self.reset.store(true, Ordering::SeqCst);
        self.notify.notify_one();
    }

    /// Ends the connection with a FIN, without answering the request in flight.
    pub(crate) fn close(&self) {
        self.notify.notify_one();
    }
}

/// Serves HTTP/1.1 on `stream` until the client leaves or a handler cuts the connection.
pub(crate) async fn serve_connection(stream: tokio::net::TcpStream, shared: Arc<Shared>) {
    // A second handle on the same socket, to set SO_LINGER right before a reset. The socket
    // closes only when both handles are gone, which happens at the end of this function.
    let std_stream = match stream.into_std() {
        Ok(s) => s,
        Err(err) => {
            tracing::warn!(%err, "fault proxy could not take over a connection");
            return;
        }
    };
    let linger_handle = std_stream.try_clone();
    let stream = match tokio::net::TcpStream::from_std(std_stream) {
        Ok(s) => s,
        Err(err) => {
            tracing::warn!(%err, "fault proxy could not register a connection");
            return;
        }
    };
    let control = Arc::new(ConnControl::default());
    let service_control = control.clone();
    let service = hyper::service::service_fn(move |req| {
        super::server::handle(req, shared.clone(), service_control.clone())
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        result = conn => {
            if let Err(err) = result {
                tracing::debug!(%err, "fault proxy connection ended with an error");
            }
        }
        () = control.notify.notified() => {
            if control.reset.load(Ordering::SeqCst)
                && let Ok(handle) = &linger_handle
            {
                let _ = socket2::SockRef::from(handle).set_linger(Some(Duration::ZERO));
            } else if let Ok(handle) = &linger_handle {
                let _ = handle.shutdown(std::net::Shutdown::Both);
            }
            // Dropping the connection future closes our handle; `linger_handle` closes the other
            // one when it goes out of scope.
        }
    }
}
