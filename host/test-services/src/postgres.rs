//! A throw-away PostgreSQL for the tests: Debian's server (installed with apt-get when
//! missing), a fresh cluster in a temporary directory on a free loopback port, `fsync=off`
//! (nothing in it outlives the tests), stopped and removed when the guard drops. As
//! measured in ../shared/SERVICES.md: initdb ~1.2 s, start ~0.13 s.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::run;

/// A running server; dropping it stops it and removes its files.
pub struct Postgres {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    running: bool,
    /// Admin URL (superuser `postgres` with a random password: TCP connections must
    /// authenticate with SCRAM, as on a real server, so the password's path through
    /// Weft — and its absence from every message — is exercised).
    pub url: String,
}

impl Postgres {
    /// What tests read: `WEFT_TEST_POSTGRES`, an admin URL whose role may CREATE DATABASE.
    pub fn env(&self) -> [(&'static str, String); 1] {
        [("WEFT_TEST_POSTGRES", self.url.clone())]
    }
}

/// Starts a fresh cluster.
pub fn start() -> Result<Postgres> {
    let bin = match server_bin() {
        Some(bin) => bin,
        None => {
            install()?;
            server_bin().context("PostgreSQL was installed but no /usr/lib/postgresql/*/bin/initdb was found")?
        }
    };
    let dir = PathBuf::from(output(Command::new("mktemp").args(["-d", "/tmp/weft-pg.XXXXXX"]))?.trim());
    // The server refuses to run as root: the cluster belongs to `postgres` (a root-owned
    // directory fails), unless this is not root anyway.
    if is_root() {
        run(Command::new("chown").arg("postgres:").arg(&dir))?;
    }
    let port = free_port()?;
    let d = dir.display();
    let password = random_hex(12)?;
    std::fs::write(dir.join("pw"), &password).context("writing the password file")?;
    if is_root() {
        run(Command::new("chown").arg("postgres:").arg(dir.join("pw")))?;
    }
    let mut guard = Postgres {
        url: format!("postgres://postgres:{password}@127.0.0.1:{port}/postgres"),
        dir: dir.clone(),
        bin: bin.clone(),
        port,
        running: false,
    };
    as_postgres(&format!(
        "{}/initdb -D {d}/data -U postgres --auth-local=trust --auth-host=scram-sha-256 --pwfile={d}/pw -E UTF8 \
         >{d}/initdb.log 2>&1",
        bin.display()
    ))
    .with_context(|| format!("initdb failed (see {d}/initdb.log)"))?;
    guard.start_again()?;
    eprintln!("PostgreSQL on 127.0.0.1:{port} ({d})");
    Ok(guard)
}

impl Postgres {
    /// Stops the server (`pg_ctl stop -m fast`: sessions are ended, as in a restart for
    /// maintenance); its data stays for [`Postgres::start_again`].
    pub fn stop(&mut self) -> Result<()> {
        let d = self.dir.display();
        as_postgres(&format!(
            "{}/pg_ctl -D {d}/data -m fast -w stop >/dev/null",
            self.bin.display()
        ))?;
        self.running = false;
        Ok(())
    }

    /// Starts the stopped server again, on the same port with the same data.
    pub fn start_again(&mut self) -> Result<()> {
        let (d, port) = (self.dir.display(), self.port);
        // pg_ctl's chatter goes to stderr: stdout is for the `export` lines of `services`.
        as_postgres(&format!(
            "{}/pg_ctl -D {d}/data -l {d}/pg.log -w -s start -o '-p {port} -k {d} -c listen_addresses=127.0.0.1 -c fsync=off' >&2",
            self.bin.display()
        ))
        .with_context(|| format!("PostgreSQL did not start (see {d}/pg.log)"))?;
        self.running = true;
        Ok(())
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.running
            && let Err(e) = self.stop()
        {
            eprintln!("stopping PostgreSQL: {e:#}");
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `bytes` random bytes as hex, from the kernel.
fn random_hex(bytes: usize) -> Result<String> {
    use std::io::Read;
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .context("reading /dev/urandom")?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// The newest installed server's `bin` directory.
fn server_bin() -> Option<PathBuf> {
    let mut bins: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    bins.sort();
    bins.pop().map(|(_, bin)| bin)
}

fn install() -> Result<()> {
    crate::apt_install("PostgreSQL", &["postgresql", "postgresql-client"])
}

fn is_root() -> bool {
    output(Command::new("id").arg("-u")).is_ok_and(|o| o.trim() == "0")
}

/// Runs `script` with sh, as the `postgres` user when this is root.
fn as_postgres(script: &str) -> Result<()> {
    let mut cmd = if is_root() {
        let mut c = Command::new("su");
        c.args(["postgres", "-s", "/bin/sh", "-c", script]);
        c
    } else {
        let mut c = Command::new("sh");
        c.args(["-c", script]);
        c
    };
    // `su` keeps the working directory, which `postgres` may not be allowed to enter.
    run(cmd.current_dir(Path::new("/")))
}

fn free_port() -> Result<u16> {
    Ok(crate::free_ports(1)?[0])
}

fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("starting {cmd:?}"))?;
    if !out.status.success() {
        bail!("command failed: {cmd:?}");
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
