//! Streaming reads of a published artifact in bounded chunks.

use crate::ArtifactError;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::GetResult;

/// An artifact opened for sequential reading.
pub struct ArtifactReader {
    size: u64,
    stream: BoxStream<'static, object_store::Result<Bytes>>,
    pending: Bytes,
}

impl ArtifactReader {
    pub(crate) fn new(result: GetResult) -> Self {
        Self {
            size: result.meta.size,
            stream: result.into_stream(),
            pending: Bytes::new(),
        }
    }

    /// Total size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Reads at most `max` bytes; an empty result means the end.
    pub async fn read(&mut self, max: usize) -> Result<Bytes, ArtifactError> {
        while self.pending.is_empty() {
            match self.stream.next().await {
                Some(chunk) => self.pending = chunk?,
                None => return Ok(Bytes::new()),
            }
        }
        let n = max.min(self.pending.len());
        Ok(self.pending.split_to(n))
    }
}
