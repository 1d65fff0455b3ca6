//! Round trips, counted by the transport itself: a stream wrapper that counts the times
//! this side sent something, then found nothing to read and had to wait until the other
//! side's bytes came. Over a slow link each such wait costs a round trip, whatever the
//! bytes; the count does not depend on how the peer splits its answer, and what had
//! arrived already (the server's NEWKEYS behind its key exchange reply) is no wait.
//! `-vv` reports it per connection, so that a change that adds a turn shows in a log
//! (and the tests pin it for push and status).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The count of one connection (shared with the stream that updates it).
#[derive(Clone, Default, Debug)]
pub(crate) struct Turns {
    count: Arc<AtomicU32>,
    /// The count when the last command's answer was complete: what the user waited
    /// for (the goodbye after it is sent, not waited for).
    answered: Arc<AtomicU32>,
    /// This side sent something it has not yet heard back after.
    waiting: Arc<AtomicBool>,
    /// ... and then found nothing to read.
    blocked: Arc<AtomicBool>,
}

impl Turns {
    /// The round trips so far.
    pub(crate) fn get(&self) -> u32 {
        self.count.load(Ordering::Relaxed)
    }

    /// The round trips until the last answer (all of them, before any answer).
    pub(crate) fn until_answered(&self) -> u32 {
        match self.answered.load(Ordering::Relaxed) {
            0 => self.get(),
            n => n,
        }
    }

    /// A command's answer is complete.
    pub(crate) fn answered(&self) {
        self.answered.store(self.get(), Ordering::Relaxed);
    }

    /// One more (the TCP handshake, which no stream sees).
    pub(crate) fn add_one(&self) {
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn sent(&self) {
        self.waiting.store(true, Ordering::Relaxed);
    }

    fn nothing_to_read(&self) {
        if self.waiting.load(Ordering::Relaxed) {
            self.blocked.store(true, Ordering::Relaxed);
        }
    }

    fn received(&self) {
        if self.blocked.swap(false, Ordering::Relaxed) {
            self.waiting.store(false, Ordering::Relaxed);
            self.count.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// `S`, with its round trips counted in a [`Turns`].
pub(crate) struct Counted<S> {
    inner: S,
    turns: Turns,
}

impl<S> Counted<S> {
    pub(crate) fn new(inner: S, turns: Turns) -> Self {
        Counted { inner, turns }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        match res {
            Poll::Ready(Ok(())) if buf.filled().len() > before => self.turns.received(),
            Poll::Pending => self.turns.nothing_to_read(),
            _ => {}
        }
        res
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            self.turns.sent();
        }
        res
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_turn_is_a_send_answered_however_the_answer_is_split() {
        let (near, mut far) = tokio::io::duplex(1024);
        let turns = Turns::default();
        let mut s = Counted::new(near, turns.clone());
        let mut buf = [0u8; 16];
        // The other side speaks first (a banner): no turn.
        far.write_all(b"hello").await.unwrap();
        let _ = s.read(&mut buf).await.unwrap();
        assert_eq!(turns.get(), 0);
        // Two sends, then an answer that had to be waited for, in two pieces: one turn.
        s.write_all(b"a").await.unwrap();
        s.write_all(b"b").await.unwrap();
        let answer = async {
            tokio::task::yield_now().await;
            far.write_all(b"x").await.unwrap();
            far
        };
        let (read, mut far) = tokio::join!(s.read(&mut buf), answer);
        assert_eq!(read.unwrap(), 1);
        far.write_all(b"y").await.unwrap();
        let _ = s.read(&mut buf).await.unwrap();
        assert_eq!(turns.get(), 1);
        // Bytes that were there already when this side sent are no wait.
        far.write_all(b"z").await.unwrap();
        s.write_all(b"c").await.unwrap();
        let _ = s.read(&mut buf).await.unwrap();
        assert_eq!(turns.get(), 1);
        turns.add_one();
        assert_eq!(turns.get(), 2);
    }
}
