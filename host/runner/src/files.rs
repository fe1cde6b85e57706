//! Reading a file a user named (a workflow, a component, a step's input): regular files
//! only, size-checked before a byte is read, never hanging on a FIFO.
//!
//! Every path the CLI reads whole goes through [`read_capped`]: `/dev/zero`, a FIFO, a
//! directory or a sparse multi-gigabyte file is refused with a clear message instead of
//! being read until memory runs out.

use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Largest workflow file: the model's own cap on YAML text.
pub const MAX_WORKFLOW_BYTES: u64 = weft_model::yaml::MAX_YAML_BYTES as u64;
/// Largest component file (the sandbox refuses larger bytes before compiling).
pub const MAX_COMPONENT_BYTES: u64 = weft_sandbox::MAX_COMPONENT_BYTES;

/// Why a file could not be read.
#[derive(Debug)]
pub enum FileError {
    /// The OS refused (missing file, permissions, ...).
    Io(std::io::Error),
    /// Not a regular file: a directory, device, FIFO or socket.
    NotRegular(&'static str),
    /// Larger than the cap.
    TooLarge {
        /// Its size, if its metadata said so; `None` when it said less and kept going.
        size: Option<u64>,
        /// The cap.
        cap: u64,
    },
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileError::Io(e) => write!(f, "{e}"),
            FileError::NotRegular(kind) => write!(f, "it is a {kind}, not a regular file"),
            FileError::TooLarge { size: Some(size), cap } => {
                write!(f, "it is larger than the limit of {} ({size} bytes)", fmt_bytes(*cap))
            }
            FileError::TooLarge { size: None, cap } => write!(
                f,
                "it is larger than the limit of {} (it went on past it while being read)",
                fmt_bytes(*cap)
            ),
        }
    }
}

/// `n` bytes for a message: whole MiB or GiB when exact.
pub fn fmt_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 && n % (1 << 30) == 0 => format!("{} GiB", n >> 30),
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n => format!("{n} bytes"),
    }
}

/// A size for people to read: bytes below 1 KiB, else KiB, MiB or GiB to one decimal.
pub fn fmt_size(n: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    match UNITS.iter().find(|(unit, _)| n >= *unit) {
        Some((unit, name)) => format!("{:.1} {name}", n as f64 / *unit as f64),
        None => format!("{n} bytes"),
    }
}

/// What kind of file `meta` describes, for a message.
fn kind(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        "directory"
    } else if t.is_fifo() {
        "FIFO"
    } else if t.is_char_device() {
        "character device"
    } else if t.is_block_device() {
        "block device"
    } else if t.is_socket() {
        "socket"
    } else {
        "special file"
    }
}

/// Opens `path` for reading and checks it is a regular file. The open does not block
/// (`O_NONBLOCK`: opening a FIFO with no writer would wait forever) and the type is taken
/// from the opened file, so what is checked is what is read.
pub fn open_regular(path: &Path) -> Result<(File, Metadata), FileError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits().cast_signed())
        .open(path)
        .map_err(FileError::Io)?;
    let meta = file.metadata().map_err(FileError::Io)?;
    if !meta.is_file() {
        return Err(FileError::NotRegular(kind(&meta)));
    }
    Ok((file, meta))
}

/// Reads a regular file of at most `cap` bytes. The size is checked before reading, and
/// the read stops after `cap` bytes whatever the size said (a file that grows, or a
/// pseudo-file reporting size 0).
pub fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>, FileError> {
    let (file, meta) = open_regular(path)?;
    if meta.len() > cap {
        return Err(FileError::TooLarge {
            size: Some(meta.len()),
            cap,
        });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(FileError::Io)?;
    if bytes.len() as u64 > cap {
        return Err(FileError::TooLarge { size: None, cap });
    }
    Ok(bytes)
}

/// Reads a component file (at most [`MAX_COMPONENT_BYTES`]); the error names the file.
pub fn read_component(path: &Path) -> anyhow::Result<Vec<u8>> {
    read_capped(path, MAX_COMPONENT_BYTES).map_err(|e| anyhow::anyhow!("cannot read component {}: {e}", path.display()))
}

/// Reads a workflow file: at most [`MAX_WORKFLOW_BYTES`] of UTF-8 text. Every problem is a
/// message meant for a user who gave the wrong file (the caller exits 2).
pub fn read_workflow(path: &Path) -> Result<String, String> {
    let bytes = read_capped(path, MAX_WORKFLOW_BYTES).map_err(|e| match e {
        FileError::TooLarge { .. } => format!(
            "{}: {e}; a workflow is YAML text of at most {}",
            path.display(),
            fmt_bytes(MAX_WORKFLOW_BYTES)
        ),
        e => format!("{}: cannot read the workflow: {e}", path.display()),
    })?;
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "{}: not a workflow: the file is not UTF-8 text (invalid byte at offset {}); a workflow is a YAML file",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_small_regular_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("a.txt");
        std::fs::write(&p, b"hello").expect("write");
        assert_eq!(read_capped(&p, 5).expect("read"), b"hello");
        assert!(matches!(
            read_capped(&p, 4),
            Err(FileError::TooLarge { size: Some(5), cap: 4 })
        ));
    }

    #[test]
    fn refuses_devices_directories_and_fifos_without_reading() {
        assert!(matches!(
            read_capped(Path::new("/dev/zero"), 10),
            Err(FileError::NotRegular("character device"))
        ));
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(matches!(
            read_capped(dir.path(), 10),
            Err(FileError::NotRegular("directory"))
        ));
        let fifo = dir.path().join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .expect("mkfifo")
                .success()
        );
        // No writer: a blocking open would hang here forever.
        assert!(matches!(read_capped(&fifo, 10), Err(FileError::NotRegular("FIFO"))));
    }

    #[test]
    fn a_sparse_file_is_refused_by_its_size() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("sparse");
        let f = File::create(&p).expect("create");
        f.set_len(8 << 30).expect("sparse 8 GiB");
        let started = std::time::Instant::now();
        assert!(matches!(read_capped(&p, 1 << 20), Err(FileError::TooLarge { .. })));
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn a_binary_workflow_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("wf.yaml");
        std::fs::write(&p, b"name: x\n\xff\xfe").expect("write");
        let err = read_workflow(&p).expect_err("binary");
        assert!(err.contains("not UTF-8"), "{err}");
    }
}
