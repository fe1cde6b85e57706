//! Compiling a component with bounded size, time and memory.
//!
//! Cranelift's cost grows with the component: a 60 MB one took minutes and gigabytes. A
//! component is refused above [`MAX_COMPONENT_BYTES`] before anything else; with a
//! [`CompileProcess`] configured (the `weft` binary sets one), the compilation runs in a
//! child process — the same executable, re-executed — with an address-space limit
//! (`RLIMIT_AS`) and a wall-clock deadline after which it is killed. The child writes the
//! compiled code to its stdout; the parent deserializes it and stores it in the cache.
//! Without one (library users, tests) it compiles in-process, size-capped only.

use crate::SandboxError;
use crate::cache::{CompileCache, deserialize_own};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Largest component the sandbox compiles, by default (256 MiB; Weft's Python and JS
/// steps are 12–18 MB).
pub const MAX_COMPONENT_BYTES: u64 = 256 << 20;
/// Default wall-clock limit of one compilation. A Python step takes ~5 s in a release
/// build, but ~35 s in a debug build on a busy two-core machine, and tests compile several
/// at once; the memory limit stops the costliest components long before this.
pub const DEFAULT_COMPILE_TIMEOUT: Duration = Duration::from_secs(300);
/// Default address-space limit of the compiling child process. Weft's Python and JS steps
/// compile within 512 MiB; a 60 MB component or one of 300,000 small functions needs
/// 1.7–3.2 GB and is refused.
pub const DEFAULT_COMPILE_MEMORY: u64 = 2 << 30;
/// Compiler threads in the child at most: each reserves a stack, so the address space a
/// compilation needs would otherwise grow with the machine's cores.
const MAX_COMPILE_THREADS: usize = 4;
/// The most of the child's stderr kept for an error message.
const MAX_CHILD_STDERR: u64 = 16 << 10;

/// How to compile in a child process: a program that, given `args`, calls
/// [`compile_child_main`] with the flags the parent appends.
#[derive(Debug, Clone)]
pub struct CompileProcess {
    /// The executable (usually `std::env::current_exe()`).
    pub program: PathBuf,
    /// Arguments selecting its compile mode (e.g. a hidden subcommand).
    pub args: Vec<String>,
    /// Wall-clock limit; the child is killed when it passes.
    pub timeout: Duration,
    /// Address-space limit of the child, in bytes.
    pub memory: u64,
}

/// What the child needs to know, passed as flags after [`CompileProcess::args`].
#[derive(Debug, Clone, Copy)]
pub struct ChildArgs {
    /// Compile for fuel metering (changes the generated code).
    pub fuel: bool,
    /// Address-space limit to impose on itself, in bytes.
    pub memory: u64,
    /// Largest component it accepts on stdin.
    pub max_bytes: u64,
}

impl ChildArgs {
    /// The flags the parent appends, which the child's argument parser must accept.
    fn to_args(self) -> Vec<String> {
        let mut a = vec![
            "--memory".to_string(),
            self.memory.to_string(),
            "--max-bytes".to_string(),
            self.max_bytes.to_string(),
        ];
        if self.fuel {
            a.push("--fuel".into());
        }
        a
    }
}

/// The child's side: limits its own address space, reads a component from stdin,
/// compiles it and writes the compiled code to stdout. An error is the message to print.
pub fn compile_child_main(args: ChildArgs) -> Result<(), String> {
    // The parent enforces the deadline: if it dies (killed, Ctrl-C twice), so does this.
    // (The signal follows the spawning thread, which waits for this process to its end.)
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
        .map_err(|e| format!("cannot tie the compiler to its parent: {e}"))?;
    if rustix::process::getppid().is_none_or(|p| p.as_raw_nonzero().get() == 1) {
        return Err("the parent process is gone".into());
    }
    let limit = rustix::process::Rlimit {
        current: Some(args.memory),
        maximum: Some(args.memory),
    };
    rustix::process::setrlimit(rustix::process::Resource::As, limit)
        .map_err(|e| format!("cannot limit the compiler's memory: {e}"))?;
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .take(args.max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| format!("reading the component: {e}"))?;
    if bytes.len() as u64 > args.max_bytes {
        return Err(format!("the component is larger than {} bytes", args.max_bytes));
    }
    let config = crate::SandboxConfig {
        fuel: args.fuel,
        ..crate::SandboxConfig::default()
    };
    let engine = Engine::new(&crate::sandbox::engine_config(&config, false)).map_err(|e| format!("{e:#}"))?;
    let compiled = engine.precompile_component(&bytes).map_err(|e| format!("{e:#}"))?;
    let mut out = std::io::stdout().lock();
    out.write_all(&compiled)
        .and_then(|()| out.flush())
        .map_err(|e| format!("writing the compiled code: {e}"))
}

/// The compiled component for `bytes`: from the cache, else compiled (in a child process
/// when configured) and cached. Returns it and whether it came from the cache.
pub(crate) fn load_or_compile(
    cache: &CompileCache,
    engine: &Engine,
    process: Option<&CompileProcess>,
    fuel: bool,
    digest_hex: &str,
    bytes: &[u8],
    what: &str,
) -> Result<(Component, bool), SandboxError> {
    if let Some(c) = cache.get(engine, digest_hex) {
        return Ok((c, true));
    }
    let not_a_step = |reason: String| SandboxError::NotAStep {
        what: what.to_string(),
        reason,
    };
    let compiled = match process {
        Some(p) => compile_in_child(p, fuel, bytes, what)?,
        None => engine
            .precompile_component(bytes)
            .map_err(|e| not_a_step(format!("{e:#}")))?,
    };
    let component = deserialize_own(engine, &compiled).map_err(|e| not_a_step(format!("{e:#}")))?;
    cache.put(digest_hex, &compiled);
    Ok((component, false))
}

/// Runs the compiler child under its limits; returns the compiled code.
fn compile_in_child(p: &CompileProcess, fuel: bool, bytes: &[u8], what: &str) -> Result<Vec<u8>, SandboxError> {
    let engine_err = |e: std::io::Error| {
        SandboxError::Engine(format!("cannot run the compiler process {}: {e}", p.program.display()))
    };
    let child_args = ChildArgs {
        fuel,
        memory: p.memory,
        max_bytes: bytes.len() as u64,
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(MAX_COMPILE_THREADS);
    let mut child = Command::new(&p.program)
        .args(&p.args)
        .args(child_args.to_args())
        // Under RLIMIT_AS what counts is address space, not memory used: keep what the
        // child reserves independent of the core count (glibc reserves 64 MiB per malloc
        // arena, up to 8 per core; the compiler pool a stack per thread).
        .env("MALLOC_ARENA_MAX", "2")
        .env("RAYON_NUM_THREADS", threads.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(engine_err)?;
    let (Some(mut stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(SandboxError::Engine("the compiler process has no pipes".into()));
    };
    // Feed and drain on their own threads while this one watches the clock: a child that
    // stops reading or writing must not stall the deadline. Its output cannot exceed its
    // address space, which bounds what is read.
    let input = bytes.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let cap = p.memory;
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        stdout.take(cap).read_to_end(&mut v).map(|_| v)
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stderr.take(MAX_CHILD_STDERR).read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + p.timeout;
    let status = loop {
        match child.try_wait().map_err(engine_err)? {
            Some(status) => break status,
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = (feeder.join(), out_reader.join(), err_reader.join());
                return Err(SandboxError::CompileTimedOut {
                    what: what.to_string(),
                    limit: p.timeout,
                });
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    let _ = feeder.join();
    let out = out_reader.join().unwrap_or_else(|_| Ok(Vec::new()));
    let err = String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned();
    if status.success() {
        return out.map_err(|e| SandboxError::Engine(format!("reading the compiled code: {e}")));
    }
    // An allocation refused under RLIMIT_AS aborts the child (Rust's allocator) or comes
    // back as an mmap error from wasmtime.
    let out_of_memory = {
        use std::os::unix::process::ExitStatusExt;
        status.signal() == Some(6)
            || ["memory allocation of", "Cannot allocate memory", "out of memory"]
                .iter()
                .any(|m| err.contains(m))
    };
    if out_of_memory {
        return Err(SandboxError::CompileOutOfMemory {
            what: what.to_string(),
            limit_mib: p.memory >> 20,
        });
    }
    let reason = err.trim();
    let reason = reason.strip_prefix("error: ").unwrap_or(reason);
    Err(SandboxError::NotAStep {
        what: what.to_string(),
        reason: if reason.is_empty() {
            format!("the compiler process failed ({status})")
        } else {
            reason.to_string()
        },
    })
}
