//! Store integrity end to end: bytes at an artifact's address that are not the artifact
//! (changed, a symlink to a host file, a FIFO) are never served by `weft artifact get`,
//! never reused by a cache hit, never read by a step and never confirmed by `weft replay`;
//! producing the artifact again repairs it; `weft store verify` finds and quarantines them.

mod common;

use common::{Home, stderr, stdout};
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

const WORKFLOW: &str = "name: integrity
inputs:
  a: {path: a.txt}
steps:
  one: {uses: test-work, inputs: {data: inputs.a}, with: {rounds: 10, salt: 1}}
  two: {uses: test-copy, inputs: {data: one.data}}
";

struct Setup {
    home: Home,
    project: tempfile::TempDir,
    run: String,
    report: Value,
}

impl Setup {
    /// A home where the two-step workflow ran once, successfully.
    fn new() -> Setup {
        let home = Home::new();
        let project = tempfile::tempdir().expect("tempdir");
        std::fs::write(project.path().join("a.txt"), "hello, integrity\n".repeat(100)).expect("write");
        std::fs::write(project.path().join("wf.yaml"), WORKFLOW).expect("write");
        let (code, report) = run(&home, &project, &[]);
        assert_eq!(code, 0, "{report}");
        Setup {
            run: report["run_id"].as_str().expect("run id").to_string(),
            home,
            project,
            report,
        }
    }

    fn output(&self, step: &str) -> String {
        step_of(&self.report, step)["outputs"]["data"]["digest"]
            .as_str()
            .expect("digest")
            .to_string()
    }

    /// Where the local store keeps an artifact.
    fn blob(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.home
            .path()
            .join("store/tenants/default/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
    }

    fn tamper(&self, digest: &str) {
        let path = self.blob(digest);
        let mut bytes = std::fs::read(&path).expect("read blob");
        bytes[0] ^= 0x20;
        std::fs::write(&path, bytes).expect("tamper");
    }
}

fn run(home: &Home, project: &tempfile::TempDir, extra: &[&str]) -> (i32, Value) {
    let wf = project.path().join("wf.yaml");
    // The object store's own checks: small artifacts are kept there too (those kept in
    // the run records are checked in weft-records' `small_artifacts` tests).
    let mut args = vec!["run", "--json", "--inline-max", "0", wf.to_str().expect("utf8")];
    args.extend_from_slice(extra);
    let out = home.weft(&args);
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no report ({e}): {} {}", stdout(&out), stderr(&out)));
    (out.status.code().unwrap_or(-1), report)
}

fn step_of<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["id"] == id))
        .unwrap_or_else(|| panic!("no step {id}"))
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex(&sha2::Sha256::digest(bytes)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_changed_blob_is_not_served_not_reused_and_a_new_run_repairs_it() {
    let s = Setup::new();
    let one = s.output("one");
    s.tamper(&one);

    let out_file = s.project.path().join("out.bin");
    let out = s.home.weft(&[
        "artifact",
        "get",
        &s.run,
        "one.data",
        "-o",
        out_file.to_str().expect("utf8"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("artifact {one} is corrupt")),
        "{}",
        stderr(&out)
    );
    assert!(!out_file.exists(), "no byte of a damaged artifact lands in the file");
    let out = s.home.weft(&["artifact", "get", &one]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "nothing on stdout");

    // A step reading it fails, with the digest in its error.
    let out = s.home.weft(&["replay", &s.run, "two"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("corrupt"), "{}", stdout(&out));

    // The next run does not take the damaged output from the cache: `one` runs again and
    // its publish repairs the blob; `two`'s output is intact and reused.
    let (code, report) = run(&s.home, &s.project, &[]);
    assert_eq!(code, 0, "{report}");
    assert!(step_of(&report, "one")["reuse"].is_null(), "{report}");
    assert_eq!(step_of(&report, "two")["reuse"]["kind"], "cached", "{report}");
    let out = s.home.weft(&["artifact", "get", &one]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(sha256(&out.stdout), one);
}

#[test]
fn replay_reports_a_damaged_output_and_repairs_it_from_an_identical_replay() {
    let s = Setup::new();
    let one = s.output("one");
    s.tamper(&one);
    let out = s.home.weft(&["replay", &s.run, "one"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("DAMAGED, repaired from this replay"),
        "{}",
        stdout(&out)
    );
    let out = s.home.weft(&["artifact", "get", &one]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(sha256(&out.stdout), one);
    let out = s.home.weft(&["replay", &s.run, "one"]);
    assert!(out.status.success(), "{}", stdout(&out));
}

#[test]
fn symlinks_and_fifos_in_the_store_are_refused() {
    let s = Setup::new();
    // `two` copies `one`: both outputs are one blob. The workflow input is another.
    let one = s.output("one");
    let two = s.report["inputs"]["a"]["digest"].as_str().expect("input").to_string();
    let secret = s.project.path().join("secret.txt");
    std::fs::write(&secret, "a host file no step may read").expect("write");
    std::fs::remove_file(s.blob(&one)).expect("rm");
    std::os::unix::fs::symlink(&secret, s.blob(&one)).expect("symlink");
    let out = s.home.weft(&["artifact", "get", &one]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("symbolic link"), "{}", stderr(&out));
    assert!(!stdout(&out).contains("host file"));

    std::fs::remove_file(s.blob(&two)).expect("rm");
    let status = std::process::Command::new("mkfifo")
        .arg(s.blob(&two))
        .status()
        .expect("mkfifo");
    assert!(status.success());
    let mut child = s
        .home
        .command(&["artifact", "get", &two])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let started = std::time::Instant::now();
    while child.try_wait().expect("wait").is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "artifact get hangs on a FIFO"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("FIFO"), "{}", stderr(&out));

    // `weft store verify` lists both; `--repair` moves them aside (the host file stays).
    let out = s.home.weft(&["store", "verify", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let summary: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(summary["bad"].as_array().map(Vec::len), Some(2), "{summary}");
    let out = s.home.weft(&["store", "verify", "--repair"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("2 bad, moved to quarantine"), "{}", stdout(&out));
    assert!(secret.exists());
    let out = s.home.weft(&["store", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("0 bad"), "{}", stdout(&out));
    let out = s.home.weft(&["artifact", "get", &one]);
    assert!(stderr(&out).contains("is not in the store"), "{}", stderr(&out));
}

/// A store whose disk is full fails the step that could not publish, with the reason and
/// the way out, and the run is recorded as failed (not left running). Needs root to mount
/// a 512 KiB tmpfs (CI runs as root); elsewhere it says so and checks nothing.
#[test]
fn a_full_store_disk_fails_the_step_clearly() {
    let home = Home::new();
    let store = home.path().join("small-store");
    std::fs::create_dir_all(&store).expect("mkdir");
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=512k", "tmpfs"])
        .arg(&store)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(store.clone());
    let project = tempfile::tempdir().expect("tempdir");
    // 900 KiB of output into a 512 KiB disk that also holds the component and the input.
    std::fs::write(
        project.path().join("wf.yaml"),
        "name: full\ninputs:\n  a: {path: a.txt}\nsteps:\n  big: {uses: test-hostile, inputs: {data: inputs.a}, \
         with: {attack: big-write, count: 921600}}\n",
    )
    .expect("write");
    std::fs::write(project.path().join("a.txt"), "a").expect("write");
    let wf = project.path().join("wf.yaml");
    let out = home.weft(&[
        "--store",
        store.to_str().expect("utf8"),
        "run",
        "--json",
        wf.to_str().expect("utf8"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("report");
    let error = step_of(&report, "big")["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(error.contains("the disk holding the artifact store is full"), "{error}");
    assert!(
        error.contains(store.to_str().expect("utf8")),
        "names the store: {error}"
    );
    let run = report["run_id"].as_str().expect("run id");
    let shown = home.show(run);
    assert_eq!(shown["status"], "failed", "{shown}");
}

/// An artifact too large to check before streaming (over 256 KiB): `-o` leaves no file (and
/// no temporary one), stdout gets nothing (it is checked whole first).
#[test]
fn a_damaged_large_artifact_leaves_no_file_and_prints_nothing() {
    let home = Home::new();
    let project = tempfile::tempdir().expect("tempdir");
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(project.path().join("a.bin"), &data).expect("write");
    std::fs::write(
        project.path().join("wf.yaml"),
        "name: large\ninputs:\n  a: {path: a.bin}\nsteps:\n  copy: {uses: test-copy, inputs: {data: inputs.a}}\n",
    )
    .expect("write");
    let (code, report) = run(&home, &project, &[]);
    assert_eq!(code, 0, "{report}");
    let digest = step_of(&report, "copy")["outputs"]["data"]["digest"]
        .as_str()
        .expect("digest")
        .to_string();
    assert_eq!(digest, sha256(&data));
    let hex = digest.trim_start_matches("sha256:");
    let blob = home
        .path()
        .join("store/tenants/default/blobs/sha256")
        .join(&hex[..2])
        .join(hex);
    let mut damaged = data.clone();
    damaged[2_999_000] ^= 1;
    std::fs::write(&blob, &damaged).expect("tamper");

    let out_file = project.path().join("out.bin");
    let out = home.weft(&["artifact", "get", &digest, "-o", out_file.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("is corrupt"), "{}", stderr(&out));
    let left: Vec<_> = std::fs::read_dir(project.path())
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("out.bin"))
        .collect();
    assert!(left.is_empty(), "no file, not even a temporary one: {left:?}");

    let out = home.weft(&["artifact", "get", &digest]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "{} bytes reached stdout", out.stdout.len());
}

/// An artifact's bytes are a guest's: `weft artifact get` does not write them raw to a
/// terminal (run under `script`, which gives it one).
#[test]
fn artifact_get_refuses_a_terminal() {
    let s = Setup::new();
    let one = s.output("one");
    let weft = env!("CARGO_BIN_EXE_weft");
    let home = s.home.path().to_str().expect("utf8");
    let out = std::process::Command::new("script")
        .args(["-qec", &format!("{weft} --home {home} artifact get {one}"), "/dev/null"])
        .output()
        .expect("script (util-linux) runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("stdout is a terminal"), "{text}");
    assert_eq!(out.status.code(), Some(1), "{text}");
}
