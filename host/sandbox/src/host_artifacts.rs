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
use crate::state::StepState;
use std::collections::HashMap;
use std::sync::Arc;
use wasmtime::component::Resource;
use weft_artifacts::{ArtifactReader, ArtifactStore, StagedWriter};
use weft_task::{Provenance, StepBudget, StepFailure};

/// Largest chunk moved by one `read` or `write` call.
pub const MAX_CHUNK: usize = 1024 * 1024;

/// An open input, owned by the guest through a resource handle; its reader lives in
/// [`StepIo::readers`] so the host can finish checking it after `run`.
pub struct ReaderHandle {
    id: u64,
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
    /// The tenant's byte quotas (a shared server's), taken from before each write.
    pub(crate) budget: Arc<StepBudget>,
    /// Cap on readers open plus outputs created.
    pub(crate) max_open: usize,
    /// Open inputs by handle id, with their source. No step result rests on bytes that
    /// were not checked against their address: when a reader is dropped, and for those
    /// still open when `run` returns `ok` ([`StepState::check_unread_inputs`]), the host
    /// reads what the step left unread — within the step's time limit, through the same
    /// reader (the same open file), so the bytes checked are the bytes the step saw.
    pub(crate) readers: HashMap<u64, (ArtifactReader, String)>,
    pub(crate) next_reader: u64,
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
        let id = self.io.next_reader;
        self.io.next_reader += 1;
        self.io.readers.insert(id, (reader, provenance.source.clone()));
        Ok(Ok(self.table.push(ReaderHandle { id, provenance })?))
    }

    /// Reads the unread rest of a reader only to check it; a mismatch fails the step.
    async fn check_rest(&mut self, mut reader: ArtifactReader, source: &str) -> wasmtime::Result<()> {
        if reader.is_verified() {
            return Ok(());
        }
        match reader.verify_rest().await {
            Ok(()) => Ok(()),
            Err(e) if e.is_corruption() => Err(self.refuse(StepFailure::DamagedInput(format!("input {source}: {e}")))),
            Err(e) => {
                self.host_problem(&format!("artifact-read: input {source}"), &e);
                Err(self.refuse(StepFailure::Host(format!(
                    "input {source} could not be read to its end to check it"
                ))))
            }
        }
    }

    /// Checks the rest of every input still open when `run` returned `ok` (called inside
    /// the step's time bound).
    pub(crate) async fn check_unread_inputs(&mut self) -> wasmtime::Result<()> {
        let open: Vec<(ArtifactReader, String)> = self.io.readers.drain().map(|(_, r)| r).collect();
        for (reader, source) in open {
            self.check_rest(reader, &source).await?;
        }
        Ok(())
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
                        let h = self.table.delete(r)?;
                        self.io.readers.remove(&h.id);
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
        let id = self.table.get(&handle)?.id;
        let max = (max as usize).min(MAX_CHUNK);
        let Some((reader, source)) = self.io.readers.get_mut(&id) else {
            return Ok(Err("the input is not open".into()));
        };
        match reader.read(max).await {
            Ok(bytes) => Ok(Ok(bytes.to_vec())),
            Err(e) if e.is_corruption() => {
                let failure = StepFailure::DamagedInput(format!("input {source}: {e}"));
                Err(self.refuse(failure))
            }
            Err(e) => {
                let source = source.clone();
                self.host_problem(&format!("artifact-read: input {source}"), &e);
                Ok(Err(generic(
                    &format!("input {source} could not be read"),
                    "artifact-read",
                )))
            }
        }
    }

    async fn size(&mut self, handle: Resource<ReaderHandle>) -> wasmtime::Result<u64> {
        Ok(self.table.get(&handle)?.provenance.artifact.size)
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
        let h = self.table.delete(handle)?;
        self.io.open -= 1;
        match self.io.readers.remove(&h.id) {
            Some((reader, source)) => self.check_rest(reader, &source).await,
            None => Ok(()),
        }
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
        if !self.io.writers.iter().any(|(p, _)| *p == port) {
            return Ok(Err(format!("output `{port}` is not open")));
        }
        // Taken before the bytes go anywhere: a write that would pass a quota fails the
        // step, and nothing of a failed step is published.
        if let Err(failure) = self.io.budget.take(bytes.len() as u64) {
            return Err(self.refuse(failure));
        }
        let Some((_, writer)) = self.io.writers.iter_mut().find(|(p, _)| *p == port) else {
            return Ok(Err(format!("output `{port}` is not open")));
        };
        if let Err(e) = writer.write(&bytes).await {
            // Not written: it does not count against a quota.
            self.io.budget.release(bytes.len() as u64);
            // The store's own limit (S3 cannot publish an object past 5 GiB), caught at the
            // write that crosses it: a limit no retry can fix.
            if let weft_artifacts::ArtifactError::TooLarge { limit } = e {
                return Err(self.refuse(StepFailure::ResourceLimit(format!(
                    "output `{port}` larger than {limit} bytes, the most one artifact may be in the store at {}",
                    self.io.store.url()
                ))));
            }
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
