//! Chunked reading and writing of artifacts through the host.

use crate::bindings::weft::step::artifacts;
use crate::{StepError, failed};

/// Opening an input or creating an output fails when the step asks for a port it did not
/// declare or that is not bound: a bug in the step, which a retry cannot fix, so not
/// `failed` (a store failing under it is the host's, and the host reports it as such).
fn misuse(message: String) -> StepError {
    crate::bad_input(message)
}

/// Bytes asked for per `read` call; the host caps a chunk at 1 MiB.
pub const CHUNK: u32 = 256 * 1024;

/// Reads the whole input bound to `port`.
pub fn read_all(port: &str) -> Result<Vec<u8>, StepError> {
    let reader = artifacts::open(port).map_err(|e| misuse(format!("open input `{port}`: {e}")))?;
    drain(&reader, port)
}

/// Reads every artifact bound to the fan-in (`many`) input `port`, in binding order.
pub fn read_many(port: &str) -> Result<Vec<Vec<u8>>, StepError> {
    let readers = artifacts::open_all(port).map_err(|e| misuse(format!("open inputs `{port}`: {e}")))?;
    readers.iter().map(|r| drain(r, port)).collect()
}

fn drain(reader: &artifacts::Reader, port: &str) -> Result<Vec<u8>, StepError> {
    let size = reader.size();
    let mut out = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    loop {
        let chunk = reader
            .read(CHUNK)
            .map_err(|e| failed(format!("read input `{port}`: {e}")))?;
        if chunk.is_empty() {
            return Ok(out);
        }
        out.extend_from_slice(&chunk);
    }
}

/// Where the input bound to `port` comes from: its key in [`lineage`] (`inputs.NAME`,
/// `STEP.PORT`, or a local file's path under `weft step run`).
pub fn source(port: &str) -> Result<String, StepError> {
    let reader = artifacts::open(port).map_err(|e| misuse(format!("open input `{port}`: {e}")))?;
    Ok(reader.source())
}

/// How every input of this step was made, back to the workflow inputs, as the host
/// recorded it: each entry after the entries it was made from.
pub fn lineage() -> Vec<crate::Provenance> {
    artifacts::lineage()
}

/// Reads the whole input bound to `port` as UTF-8 text.
pub fn read_text(port: &str) -> Result<String, StepError> {
    String::from_utf8(read_all(port)?).map_err(|e| crate::bad_input(format!("input `{port}` is not UTF-8: {e}")))
}

/// Writes `bytes` as the output `port`, in chunks.
pub fn write_all(port: &str, bytes: &[u8]) -> Result<(), StepError> {
    let writer = artifacts::create(port).map_err(|e| misuse(format!("create output `{port}`: {e}")))?;
    for chunk in bytes.chunks(CHUNK as usize) {
        writer
            .write(chunk)
            .map_err(|e| failed(format!("write output `{port}`: {e}")))?;
    }
    Ok(())
}

/// Serializes `value` as JSON into the output `port`.
pub fn write_json<T: serde::Serialize>(port: &str, value: &T) -> Result<(), StepError> {
    let bytes = serde_json::to_vec(value).map_err(|e| failed(format!("encode output `{port}`: {e}")))?;
    write_all(port, &bytes)
}
