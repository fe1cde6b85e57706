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

/// All bytes of the input bound to `port`.
///
/// A port the step did not declare, or one not bound, is [`crate::bad_input`]; a failure
/// while reading is [`failed`].
pub fn read_bytes(port: &str) -> Result<Vec<u8>, StepError> {
    let reader = artifacts::open(port).map_err(|e| misuse(format!("open input `{port}`: {e}")))?;
    drain(&reader, port)
}

/// All bytes of every artifact bound to the fan-in (`many`) input `port`, in binding
/// order (for a matrix step's outputs: the order of its instances).
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

/// The input `port` as UTF-8 text (other bytes are [`crate::bad_input`]).
pub fn read_text(port: &str) -> Result<String, StepError> {
    String::from_utf8(read_bytes(port)?).map_err(|e| crate::bad_input(format!("input `{port}` is not UTF-8: {e}")))
}

/// The input `port` parsed as JSON into a `T` (anything else is [`crate::bad_input`]).
pub fn read_json<T: serde::de::DeserializeOwned>(port: &str) -> Result<T, StepError> {
    serde_json::from_slice(&read_bytes(port)?).map_err(|e| crate::bad_input(format!("input `{port}` is not JSON: {e}")))
}

/// Writes `bytes` as the output `port`, once, in chunks.
///
/// A port the step did not declare, or one written already, is [`crate::bad_input`]; a
/// failure while writing is [`failed`]. Nothing is visible to other steps unless `run`
/// returns `Ok`.
pub fn write_bytes(port: &str, bytes: &[u8]) -> Result<(), StepError> {
    let writer = artifacts::create(port).map_err(|e| misuse(format!("create output `{port}`: {e}")))?;
    for chunk in bytes.chunks(CHUNK as usize) {
        writer
            .write(chunk)
            .map_err(|e| failed(format!("write output `{port}`: {e}")))?;
    }
    Ok(())
}

/// Writes `text` as UTF-8 to the output `port`.
pub fn write_text(port: &str, text: &str) -> Result<(), StepError> {
    write_bytes(port, text.as_bytes())
}

/// Writes `value` as compact JSON to the output `port`.
pub fn write_json<T: serde::Serialize>(port: &str, value: &T) -> Result<(), StepError> {
    let bytes = serde_json::to_vec(value).map_err(|e| failed(format!("encode output `{port}`: {e}")))?;
    write_bytes(port, &bytes)
}
