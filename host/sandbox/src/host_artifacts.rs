//! Host side of the `artifacts` import: a step opens only inputs bound to it and creates
//! only outputs it declared, once each, in chunks of at most [`MAX_CHUNK`] bytes, with at
//! most [`StepIo::max_open`] artifacts open at once (each may hold a file descriptor and a
//! buffer of the host's). A write too large, or a handle past the cap, fails the step with
//! its own failure class. What goes wrong in the store is told to the guest only as a
//! generic message with a code: the store's error may name host paths, so it goes to the
//! step's log and the host's tracing instead.

use crate::bindings::weft::step::artifacts::{Host, HostReader, HostWriter};
use crate::bindings::wit_types as wit;
use crate::convert::to_wit_param;
use crate::outcome::StepFailure;
use crate::provenance::Provenance;
use crate::state::StepState;
use std::sync::Arc;
use wasmtime::component::Resource;
use weft_artifacts::{ArtifactReader, ArtifactStore, StagedWriter};

/// Largest chunk moved by one `read` or `write` call.
pub const MAX_CHUNK: usize = 1024 * 1024;

/// An open input, owned by the guest through a resource handle.
pub struct ReaderHandle {
    reader: ArtifactReader,
    provenance: Arc<Provenance>,
}

/// An output being written; the bytes live in [`StepIo::writers`] so they can be finished
/// after `run` even if the guest never dropped its handle.
pub struct WriterHandle {
    port: String,
}

/// What artifacts one step may touch.
pub struct StepIo {
    pub(crate) store: ArtifactStore,
    /// Bound inputs: port → published artifact; a fan-in port appears once per artifact.
    pub(crate) inputs: Vec<(String, Arc<Provenance>)>,
    /// Declared fan-in (`many`) input ports, read with `open-all` only.
    pub(crate) many_ports: Vec<String>,
    /// Declared outputs: port → media type.
    pub(crate) outputs: Vec<(String, String)>,
    /// Outputs created so far, in creation order.
    pub(crate) writers: Vec<(String, StagedWriter)>,
    /// Cap on the bytes of all outputs together.
    pub(crate) max_output_bytes: u64,
    pub(crate) written: u64,
    /// Cap on readers open plus outputs created.
    pub(crate) max_open: usize,
    /// Inputs opened and not yet read to their checked end (address, source): before the
    /// step's outputs are accepted the host reads what the step left unread, so no result
    /// rests on bytes that were never checked against their address.
    pub(crate) unverified: Vec<(weft_artifacts::Digest, String)>,
    /// Readers open now plus outputs created so far (a created output holds its staging
    /// buffer until the step ends, whether or not its handle was dropped).
    pub(crate) open: usize,
}

/// What a guest is told when the store fails: which artifact, and a code to find the
/// details by in the step's log.
fn generic(what: &str, code: &str) -> String {
    format!("{what} (host error `{code}`; the details are in the step's log)")
}

impl StepState {
    async fn open_reader(
        &mut self,
        port: &str,
        provenance: Arc<Provenance>,
    ) -> wasmtime::Result<Result<Resource<ReaderHandle>, String>> {
        self.take_handle()?;
        let reader = match self.io.store.reader(&provenance.artifact.digest).await {
            Ok(r) => r,
            Err(e) if e.is_corruption() => {
                self.io.open -= 1;
                return Err(self.refuse(StepFailure::DamagedInput(format!(
                    "input `{port}` ({}): {e}",
                    provenance.source
                ))));
            }
            Err(e) => {
                self.io.open -= 1;
                self.host_problem(&format!("artifact-open: input `{port}` ({})", provenance.source), &e);
                return Ok(Err(generic(
                    &format!("input `{port}` could not be opened"),
                    "artifact-open",
                )));
            }
        };
        if !reader.is_verified() {
            self.io.unverified.push((reader.digest(), provenance.source.clone()));
        }
        Ok(Ok(self.table.push(ReaderHandle { reader, provenance })?))
    }

    /// Counts one more open artifact, or fails the step at the cap.
    fn take_handle(&mut self) -> wasmtime::Result<()> {
        if self.io.open >= self.io.max_open {
            return Err(self.refuse(StepFailure::ResourceLimit(format!(
                "too many open artifacts (limit {}): drop readers when done",
                self.io.max_open
            ))));
        }
        self.io.open += 1;
        Ok(())
    }
}

fn to_wit(p: &Provenance) -> wit::Provenance {
    wit::Provenance {
        source: p.source.clone(),
        digest: p.artifact.digest.to_string(),
        size: p.artifact.size,
        media_type: p.artifact.media_type.clone(),
        made_by: p.made_by.as_ref().map(|m| wit::MadeBy {
            step: m.step.clone(),
            component: m.component.to_string(),
            params: m.params.iter().map(|(n, v)| to_wit_param(n, v)).collect(),
            inputs: m.inputs.iter().map(|i| i.source.clone()).collect(),
        }),
    }
}

fn listing(names: Vec<&str>) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

impl Host for StepState {
    async fn open(&mut self, port: String) -> wasmtime::Result<Result<Resource<ReaderHandle>, String>> {
        if self.io.many_ports.contains(&port) {
            return Ok(Err(format!(
                "input `{port}` takes many artifacts: open it with `open-all`"
            )));
        }
        let Some((_, provenance)) = self.io.inputs.iter().find(|(p, _)| *p == port) else {
            let bound = listing(self.io.inputs.iter().map(|(p, _)| p.as_str()).collect());
            return Ok(Err(format!("no input `{port}` is bound to this step (bound: {bound})")));
        };
        let provenance = provenance.clone();
        self.open_reader(&port, provenance).await
    }

    async fn open_all(&mut self, port: String) -> wasmtime::Result<Result<Vec<Resource<ReaderHandle>>, String>> {
        if !self.io.many_ports.contains(&port) {
            return Ok(Err(format!("the step declares no fan-in (`many`) input `{port}`")));
        }
        let bound: Vec<Arc<Provenance>> = self
            .io
            .inputs
            .iter()
            .filter(|(p, _)| *p == port)
            .map(|(_, m)| m.clone())
            .collect();
        let mut readers = Vec::with_capacity(bound.len());
        for provenance in bound {
            match self.open_reader(&port, provenance).await? {
                Ok(r) => readers.push(r),
                Err(e) => {
                    for r in readers {
                        self.table.delete(r)?;
                        self.io.open -= 1;
                    }
                    return Ok(Err(e));
                }
            }
        }
        Ok(Ok(readers))
    }

    async fn create(&mut self, port: String) -> wasmtime::Result<Result<Resource<WriterHandle>, String>> {
        if !self.io.outputs.iter().any(|(p, _)| *p == port) {
            let declared = listing(self.io.outputs.iter().map(|(p, _)| p.as_str()).collect());
            return Ok(Err(format!(
                "the step declares no output `{port}` (declared: {declared})"
            )));
        }
        if self.io.writers.iter().any(|(p, _)| *p == port) {
            return Ok(Err(format!("output `{port}` was already created")));
        }
        self.take_handle()?;
        self.io.writers.push((port.clone(), self.io.store.stage()));
        Ok(Ok(self.table.push(WriterHandle { port })?))
    }

    async fn lineage(&mut self) -> wasmtime::Result<Vec<wit::Provenance>> {
        let roots: Vec<Arc<Provenance>> = self.io.inputs.iter().map(|(_, p)| p.clone()).collect();
        Ok(Provenance::flatten(&roots).into_iter().map(to_wit).collect())
    }
}

impl HostReader for StepState {
    async fn read(&mut self, handle: Resource<ReaderHandle>, max: u32) -> wasmtime::Result<Result<Vec<u8>, String>> {
        let h = self.table.get_mut(&handle)?;
        let max = (max as usize).min(MAX_CHUNK);
        match h.reader.read(max).await {
            Ok(bytes) => {
                if bytes.is_empty() {
                    let digest = h.reader.digest();
                    if let Some(k) = self.io.unverified.iter().position(|(d, _)| *d == digest) {
                        self.io.unverified.swap_remove(k);
                    }
                }
                Ok(Ok(bytes.to_vec()))
            }
            Err(e) if e.is_corruption() => {
                let source = h.provenance.source.clone();
                Err(self.refuse(StepFailure::DamagedInput(format!("input {source}: {e}"))))
            }
            Err(e) => {
                let source = h.provenance.source.clone();
                self.host_problem(&format!("artifact-read: input {source}"), &e);
                Ok(Err(generic(
                    &format!("input {source} could not be read"),
                    "artifact-read",
                )))
            }
        }
    }

    async fn size(&mut self, handle: Resource<ReaderHandle>) -> wasmtime::Result<u64> {
        Ok(self.table.get(&handle)?.reader.size())
    }

    async fn media_type(&mut self, handle: Resource<ReaderHandle>) -> wasmtime::Result<String> {
        Ok(self.table.get(&handle)?.provenance.artifact.media_type.clone())
    }

    async fn digest(&mut self, handle: Resource<ReaderHandle>) -> wasmtime::Result<String> {
        Ok(self.table.get(&handle)?.provenance.artifact.digest.to_string())
    }

    async fn source(&mut self, handle: Resource<ReaderHandle>) -> wasmtime::Result<String> {
        Ok(self.table.get(&handle)?.provenance.source.clone())
    }

    async fn drop(&mut self, handle: Resource<ReaderHandle>) -> wasmtime::Result<()> {
        self.table.delete(handle)?;
        self.io.open -= 1;
        Ok(())
    }
}

impl HostWriter for StepState {
    async fn write(&mut self, handle: Resource<WriterHandle>, bytes: Vec<u8>) -> wasmtime::Result<Result<(), String>> {
        if bytes.len() > MAX_CHUNK {
            return Err(self.refuse(StepFailure::HostCallTooLarge(format!(
                "a write of {} bytes (the limit is {MAX_CHUNK} per call)",
                bytes.len()
            ))));
        }
        if self.io.written + bytes.len() as u64 > self.io.max_output_bytes {
            return Err(self.refuse(StepFailure::ResourceLimit(format!(
                "outputs larger than the step's limit of {} bytes",
                self.io.max_output_bytes
            ))));
        }
        let port = self.table.get(&handle)?.port.clone();
        let Some((_, writer)) = self.io.writers.iter_mut().find(|(p, _)| *p == port) else {
            return Ok(Err(format!("output `{port}` is not open")));
        };
        if let Err(e) = writer.write(&bytes).await {
            self.host_problem(&format!("artifact-write: output `{port}`"), &e);
            return Ok(Err(generic(
                &format!("output `{port}` could not be written"),
                "artifact-write",
            )));
        }
        self.io.written += bytes.len() as u64;
        Ok(Ok(()))
    }

    async fn drop(&mut self, handle: Resource<WriterHandle>) -> wasmtime::Result<()> {
        self.table.delete(handle)?;
        Ok(())
    }
}
