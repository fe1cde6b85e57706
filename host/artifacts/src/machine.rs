//! Whose processes this one can check. A staging object's writer, or the process running a
//! recorded run, is known to be gone only when it ran where this process runs: the same
//! machine, the same boot, the same process-id namespace. Two containers on one machine
//! can share a host name and a boot but not their pids; two machines can share a host
//! name. A process recorded anywhere else is presumed alive.

use std::sync::OnceLock;

/// Where this process runs: `HOSTNAME (boot BOOT, pid namespace NS)`, readable in messages
/// and compared whole. Read from the kernel (only the CLI reads the environment).
pub fn identity() -> &'static str {
    static IDENTITY: OnceLock<String> = OnceLock::new();
    IDENTITY.get_or_init(|| {
        let hostname = read("/proc/sys/kernel/hostname").unwrap_or_else(|| "unknown".into());
        let boot: String =
            read("/proc/sys/kernel/random/boot_id").map_or_else(|| "?".into(), |b| b.chars().take(8).collect());
        let namespace = std::fs::read_link("/proc/self/ns/pid").map_or_else(
            |_| "?".into(),
            |l| {
                l.to_string_lossy()
                    .trim_start_matches("pid:[")
                    .trim_end_matches(']')
                    .to_string()
            },
        );
        format!("{hostname} (boot {boot}, pid namespace {namespace})")
    })
}

/// A short tag of [`identity`] (12 hex digits of its SHA-256), for names that must stay
/// short: a shared store's staging sweep judges only the pids of writers with this tag.
pub fn tag() -> &'static str {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| crate::Digest::of(identity().as_bytes()).hex()[..12].to_string())
}

/// Whether process `pid` of `owner` (an [`identity`], or a bare host name recorded by an
/// older Weft) is known to be gone. Only a process here can be checked, and only when
/// every part of this process's identity could be read; anything else — this process,
/// another machine (even one with the same host name), container or namespace — is
/// presumed alive.
pub fn process_gone(owner: &str, pid: i64) -> bool {
    let here = identity();
    if !cfg!(target_os = "linux") || here.contains('?') || host_name(here) == "unknown" {
        return false;
    }
    let bare_name_here = !owner.contains(" (boot ") && owner == host_name(here);
    (owner == here || bare_name_here)
        && pid != i64::from(std::process::id())
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

fn host_name(identity: &str) -> &str {
    identity.split(" (boot ").next().unwrap_or(identity)
}

#[cfg(test)]
fn boot(identity: &str) -> Option<&str> {
    identity.split(" (boot ").nth(1)?.split(',').next()
}

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_an_unused_pid_here_is_gone() {
        let me = i64::from(std::process::id());
        let here = identity();
        assert!(!process_gone(here, me));
        assert!(!process_gone(
            "another-machine (boot 12345678, pid namespace 1)",
            i64::MAX
        ));
        if cfg!(target_os = "linux") {
            assert!(here.contains(" (boot ") && !here.contains("boot ?"), "{here}");
            assert!(process_gone(here, i64::from(i32::MAX)));
            // A bare host name (recorded by an older Weft) is checked as before.
            assert!(process_gone(host_name(here), i64::from(i32::MAX)));
            assert!(!process_gone(host_name(here), me));
        }
    }

    #[test]
    fn another_namespace_or_boot_is_presumed_alive() {
        if !cfg!(target_os = "linux") {
            return;
        }
        let here = identity();
        let name = host_name(here);
        let this_boot = boot(here).expect("a boot");
        let other_namespace = format!("{name} (boot {this_boot}, pid namespace 1)");
        assert!(
            !process_gone(&other_namespace, i64::from(i32::MAX)),
            "another container's pid"
        );
        // Another boot may as well be another machine with the same host name.
        let other_boot = format!("{name} (boot 00000000, pid namespace 1)");
        assert!(!process_gone(&other_boot, i64::from(i32::MAX)));
        assert_eq!(tag().len(), 12);
    }
}
