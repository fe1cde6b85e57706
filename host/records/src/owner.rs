//! Which process owns a running run: a run recorded as running whose process is gone from
//! this machine was interrupted (killed, crashed) and waits for `--resume`.

/// This machine's name, from the kernel (not `$HOSTNAME`: only the CLI reads the
/// environment).
pub(crate) fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// Whether the process `pid` on `host` is known to be gone. Only this machine's processes
/// can be checked (through `/proc`); anything else is presumed alive.
pub(crate) fn is_gone(owner_host: Option<&str>, pid: Option<i64>) -> bool {
    let (Some(owner_host), Some(pid)) = (owner_host, pid) else {
        return false;
    };
    cfg!(target_os = "linux") && owner_host == host() && !std::path::Path::new(&format!("/proc/{pid}")).exists()
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
