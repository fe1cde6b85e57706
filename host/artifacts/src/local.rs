//! Reads from a store on the local filesystem without trusting the directory tree: no
//! path component is followed as a symlink, and only regular files are opened.
//!
//! Why not `object_store`'s `LocalFileSystem` for reads: it follows symlinks anywhere,
//! also out of the store, and opens whatever sits at a key — a FIFO there hangs the
//! reader, a symlink to `/etc/shadow` would be streamed to a step before the digest check
//! at the end could refuse it. Writes still go through `object_store` (staged, then an
//! atomic rename, which replaces a symlink instead of following it).

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;

/// Why a key could not be opened.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// Nothing at that key.
    NotFound,
    /// Something that is not a regular file (a symlink, a FIFO, a device, a directory)
    /// sits at the key or on the way to it.
    NotRegular(&'static str),
    /// The filesystem failed.
    Io(io::Error),
}

/// Opens `root/parts...` for reading: every directory on the way is opened with
/// `O_NOFOLLOW | O_DIRECTORY`, the file itself is checked to be a regular file before it
/// is opened (`O_NONBLOCK`, so even a FIFO swapped in at that instant cannot block) and
/// checked again on the open descriptor. Blocking: call it from `spawn_blocking`.
pub(crate) fn open_regular(root: &Path, parts: &[&str]) -> Result<File, OpenError> {
    let Some((name, dirs)) = parts.split_last() else {
        return Err(OpenError::NotRegular("directory"));
    };
    let mut dir: OwnedFd = rustix::fs::open(
        root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(from_errno)?;
    for part in dirs {
        dir = rustix::fs::openat(
            &dir,
            *part,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(from_errno)?;
    }
    let before = rustix::fs::statat(&dir, *name, AtFlags::SYMLINK_NOFOLLOW).map_err(from_errno)?;
    check_kind(FileType::from_raw_mode(before.st_mode))?;
    let fd = rustix::fs::openat(
        &dir,
        *name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(from_errno)?;
    let after = rustix::fs::fstat(&fd).map_err(from_errno)?;
    check_kind(FileType::from_raw_mode(after.st_mode))?;
    if (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino) {
        // Swapped between the check and the open: treat as not what we checked.
        return Err(OpenError::NotRegular("file replaced while being opened"));
    }
    Ok(File::from(fd))
}

/// The names under `dir/<ab>/` (the two-level blob layout), of whatever kind, without
/// following anything: `(subdirectory, name)` pairs. A missing `dir` has none.
pub(crate) fn list_two_levels(dir: &Path) -> io::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let top = match std::fs::read_dir(dir) {
        Ok(top) => top,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for sub in top {
        let sub = sub?;
        let sub_name = sub.file_name().to_string_lossy().into_owned();
        if !sub.file_type()?.is_dir() {
            out.push((String::new(), sub_name));
            continue;
        }
        for entry in std::fs::read_dir(sub.path())? {
            out.push((sub_name.clone(), entry?.file_name().to_string_lossy().into_owned()));
        }
    }
    out.sort();
    Ok(out)
}

/// Removes staged files in `dir` that nobody will finish: those of a process on this
/// machine that is gone (staging names carry the writer's pid and host tag, see
/// `writer::staging_id`; `object_store` keeps a multipart upload in `NAME#N` until it
/// completes), and any older than `max_age`. Returns the files and bytes removed.
pub(crate) fn sweep_staging(dir: &Path, max_age: std::time::Duration) -> Result<(usize, u64), crate::ArtifactError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((0, 0)),
        Err(source) => {
            return Err(crate::ArtifactError::Io {
                path: dir.display().to_string(),
                source,
            });
        }
    };
    let mut removed = (0, 0);
    for entry in entries.flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            continue;
        }
        let name = entry.file_name();
        let writer_gone = name.to_str().is_some_and(writer_gone);
        let too_old = meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|age| age > max_age);
        if (writer_gone || too_old) && std::fs::remove_file(entry.path()).is_ok() {
            removed.0 += 1;
            removed.1 += meta.len();
        }
    }
    Ok(removed)
}

/// Whether the staging name says its writer was a process here (`machine.rs`: this
/// machine, boot and pid namespace) that is gone. A name from elsewhere (or an older name
/// without a tag) says nothing; a
/// reused pid counts as alive — the age limit catches those files later.
pub(crate) fn writer_gone(name: &str) -> bool {
    let name = name.split('#').next().unwrap_or(name);
    let mut parts = name.split('-');
    let (Some(pid), Some(tag)) = (parts.next(), parts.nth(2)) else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    tag == crate::machine::tag() && crate::machine::process_gone(crate::machine::identity(), i64::from(pid))
}

fn check_kind(kind: FileType) -> Result<(), OpenError> {
    match kind {
        FileType::RegularFile => Ok(()),
        FileType::Symlink => Err(OpenError::NotRegular("symbolic link")),
        FileType::Fifo => Err(OpenError::NotRegular("FIFO")),
        FileType::Directory => Err(OpenError::NotRegular("directory")),
        FileType::Socket => Err(OpenError::NotRegular("socket")),
        FileType::CharacterDevice | FileType::BlockDevice => Err(OpenError::NotRegular("device")),
        FileType::Unknown => Err(OpenError::NotRegular("file of unknown type")),
    }
}

fn from_errno(e: rustix::io::Errno) -> OpenError {
    match e {
        rustix::io::Errno::NOENT => OpenError::NotFound,
        // O_NOFOLLOW on a symlink fails with ELOOP; O_DIRECTORY on a non-directory (or on
        // a symlink with O_NOFOLLOW) with ENOTDIR.
        rustix::io::Errno::LOOP => OpenError::NotRegular("symbolic link"),
        rustix::io::Errno::NOTDIR => OpenError::NotRegular("symbolic link or file where a directory belongs"),
        e => OpenError::Io(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn setup() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("a/b")).expect("mkdir");
        std::fs::write(dir.path().join("a/b/file"), b"bytes").expect("write");
        dir
    }

    #[test]
    fn opens_regular_files() {
        let dir = setup();
        let mut text = String::new();
        open_regular(dir.path(), &["a", "b", "file"])
            .expect("open")
            .read_to_string(&mut text)
            .expect("read");
        assert_eq!(text, "bytes");
        assert!(matches!(
            open_regular(dir.path(), &["a", "b", "none"]),
            Err(OpenError::NotFound)
        ));
        assert_eq!(
            list_two_levels(&dir.path().join("a")).expect("list"),
            [("b".to_string(), "file".to_string())]
        );
    }

    #[test]
    fn refuses_symlinks_anywhere_on_the_path() {
        let dir = setup();
        let outside = tempfile::tempdir().expect("tempdir");
        std::fs::write(outside.path().join("secret"), b"secret").expect("write");
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("a/b/link")).expect("symlink");
        std::os::unix::fs::symlink(outside.path(), dir.path().join("a/dirlink")).expect("symlink");
        assert!(matches!(
            open_regular(dir.path(), &["a", "b", "link"]),
            Err(OpenError::NotRegular("symbolic link"))
        ));
        assert!(matches!(
            open_regular(dir.path(), &["a", "dirlink", "secret"]),
            Err(OpenError::NotRegular(_))
        ));
    }

    #[test]
    fn sweeps_staging_of_gone_processes_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mine = format!("{}-1-0-{}", std::process::id(), crate::machine::tag());
        // Pid numbers are below 2^22 on Linux: this one is never alive.
        let gone = format!("4294967295-1-0-{}#3", crate::machine::tag());
        let elsewhere = "4294967295-1-0-000000000000";
        std::fs::write(dir.path().join(&mine), b"live").expect("write");
        std::fs::write(dir.path().join(&gone), b"dead bytes").expect("write");
        std::fs::write(dir.path().join(elsewhere), b"another machine's").expect("write");
        let removed = sweep_staging(dir.path(), std::time::Duration::from_secs(3600)).expect("sweep");
        assert_eq!(removed, (1, 10));
        assert!(dir.path().join(&mine).exists());
        assert!(
            dir.path().join(elsewhere).exists(),
            "another machine's pid says nothing here"
        );
        assert!(!dir.path().join(&gone).exists());
        // Everything is abandoned past the age limit.
        let removed = sweep_staging(dir.path(), std::time::Duration::ZERO).expect("sweep");
        assert_eq!(removed.0, 2);
        assert_eq!(
            sweep_staging(&dir.path().join("none"), std::time::Duration::ZERO).expect("sweep"),
            (0, 0)
        );
    }

    #[test]
    fn refuses_fifos_and_directories_without_blocking() {
        let dir = setup();
        let fifo = dir.path().join("a/b/fifo");
        rustix::fs::mknodat(rustix::fs::CWD, &fifo, FileType::Fifo, Mode::RUSR | Mode::WUSR, 0).expect("mkfifo");
        assert!(matches!(
            open_regular(dir.path(), &["a", "b", "fifo"]),
            Err(OpenError::NotRegular("FIFO"))
        ));
        assert!(matches!(
            open_regular(dir.path(), &["a", "b"]),
            Err(OpenError::NotRegular("directory"))
        ));
    }
}
