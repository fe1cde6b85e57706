//! Which process owns a running run: a run recorded as running whose process is gone (see
//! `weft_artifacts::machine`: only a process here — same machine, boot and pid namespace —
//! can be checked) was interrupted (killed, crashed) and waits for `--resume`.

/// Where this process runs, as recorded with the runs it starts.
pub(crate) fn host() -> String {
    weft_artifacts::machine::identity().to_string()
}

/// Whether the process `pid` recorded with `owner_host` is known to be gone; a process
/// this one cannot check is presumed alive.
pub(crate) fn is_gone(owner_host: Option<&str>, pid: Option<i64>) -> bool {
    match (owner_host, pid) {
        (Some(owner), Some(pid)) => weft_artifacts::machine::process_gone(owner, pid),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_an_unused_pid_is_gone() {
        let me = i64::from(std::process::id());
        assert!(!is_gone(Some(&host()), Some(me)));
        assert!(!is_gone(Some("another-machine"), Some(i64::MAX)));
        assert!(!is_gone(None, None));
        if cfg!(target_os = "linux") {
            assert!(is_gone(Some(&host()), Some(i64::from(i32::MAX))));
        }
    }
}
