//! A streaming body wrapper that counts bytes, can cut the connection after a limit, and tells
//! when a body was dropped before its end.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use super::conn::ConnControl;

/// The error type of the bodies the proxy streams.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long the last bytes before a cut get to reach the peer before the reset.
const FLUSH_BEFORE_RESET: Duration = Duration::from_millis(100);

/// Passes frames through, adding their data length to `counter`. With a `cut`, it stops after
/// that many data bytes and resets the connection. With a `cut_short` flag, dropping it before
/// the inner body's end (the client went away, or the cut) sets the flag.
pub(crate) struct TapBody<B: Body> {
    inner: B,
    counter: Arc<AtomicU64>,
    seen: u64,
    cut: Option<(u64, Arc<ConnControl>)>,
    cutting: Option<Pin<Box<tokio::time::Sleep>>>,
    ended: bool,
    cut_short: Option<Arc<AtomicBool>>,
}

impl<B: Body> TapBody<B> {
    pub(crate) fn new(inner: B, counter: Arc<AtomicU64>) -> Self {
        Self {
            inner,
            counter,
            seen: 0,
            cut: None,
            cutting: None,
            ended: false,
            cut_short: None,
        }
    }

    pub(crate) fn with_cut_short_flag(mut self, flag: Arc<AtomicBool>) -> Self {
        self.cut_short = Some(flag);
        self
    }

    pub(crate) fn with_cut(mut self, limit: u64, conn: Arc<ConnControl>) -> Self {
        self.cut = Some((limit, conn));
        self
    }

    fn start_cut(&mut self) {
        self.cutting = Some(Box::pin(tokio::time::sleep(FLUSH_BEFORE_RESET)));
    }
}

impl<B> Body for TapBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Some(sleep) = this.cutting.as_mut() {
            ready!(sleep.as_mut().poll(cx));
            if let Some((_, conn)) = &this.cut {
                conn.reset();
            }
            // The connection task drops this body together with the connection.
            return Poll::Pending;
        }
        let frame = match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
            None => {
                this.ended = true;
                return Poll::Ready(None);
            }
            Some(Err(err)) => return Poll::Ready(Some(Err(err.into()))),
            Some(Ok(frame)) => frame,
        };
        let Some(data) = frame.data_ref() else {
            return Poll::Ready(Some(Ok(frame)));
        };
        let len = data.len() as u64;
        if let Some((limit, _)) = &this.cut
            && this.seen + len >= *limit
        {
            let keep = usize::try_from(*limit - this.seen).unwrap_or(usize::MAX);
            let head = data.slice(..keep.min(data.len()));
            this.seen += head.len() as u64;
            this.counter.fetch_add(head.len() as u64, Ordering::Relaxed);
            this.start_cut();
            if head.is_empty() {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            return Poll::Ready(Some(Ok(Frame::data(head))));
        }
        this.seen += len;
        this.counter.fetch_add(len, Ordering::Relaxed);
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.cutting.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B: Body> Drop for TapBody<B> {
    fn drop(&mut self) {
        if let Some(flag) = &self.cut_short
            && !self.ended
            && (self.cutting.is_some() || !self.inner.is_end_stream())
        {
            flag.store(true, Ordering::Relaxed);
        }
    }
}

/// An endless response body: `chunk` again and again, with a pause of `every` before each one
/// when given (a registry trickling bytes), as fast as the client reads otherwise (a registry
/// sending more than the descriptor's size, forever).
pub(crate) struct EndlessBody {
    chunk: Bytes,
    every: Option<Duration>,
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl EndlessBody {
    pub(crate) fn new(chunk: Bytes, every: Option<Duration>) -> Self {
        Self {
            chunk,
            every,
            pause: None,
        }
    }
}

impl Body for EndlessBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Some(every) = this.every {
            let pause = this
                .pause
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(every)));
            ready!(pause.as_mut().poll(cx));
            this.pause = None;
        }
        Poll::Ready(Some(Ok(Frame::data(this.chunk.clone()))))
    }

    fn is_end_stream(&self) -> bool {
        false
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}
