//! Guest stdout/stderr capture with a size cap. wasmtime's `MemoryOutputPipe` traps the
//! guest once full; a chatty step should lose its excess output, not its run, so this
//! pipe silently drops what exceeds the cap and remembers that it did.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

#[derive(Default)]
struct Captured {
    bytes: Vec<u8>,
    truncated: bool,
}

/// A capped, shared in-memory sink for one guest stream.
#[derive(Clone)]
pub struct CappedPipe {
    cap: usize,
    inner: Arc<Mutex<Captured>>,
}

impl CappedPipe {
    /// A pipe keeping at most `cap` bytes.
    pub fn new(cap: usize) -> Self {
        Self {
            cap,
            inner: Arc::default(),
        }
    }

    /// The captured bytes and whether some were dropped.
    pub fn take(&self) -> (Vec<u8>, bool) {
        let mut c = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        (std::mem::take(&mut c.bytes), c.truncated)
    }

    /// A copy of the captured bytes.
    pub fn peek(&self) -> Vec<u8> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .bytes
            .clone()
    }

    fn append(&self, buf: &[u8]) {
        let mut c = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let room = self.cap.saturating_sub(c.bytes.len());
        if buf.len() > room {
            c.truncated = true;
        }
        c.bytes.extend_from_slice(&buf[..buf.len().min(room)]);
    }
}

impl IsTerminal for CappedPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CappedPipe {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl AsyncWrite for CappedPipe {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.append(buf);
        // Report everything as written: excess is dropped, not pushed back on the guest.
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_and_flags() {
        let p = CappedPipe::new(4);
        p.append(b"abc");
        p.append(b"def");
        assert_eq!(p.take(), (b"abcd".to_vec(), true));
    }
}
