//! A real `weft serve` on a loopback port, in a scratch home, and a small HTTP client for
//! it (reqwest): what the server tests and the remote CLI tests talk to.

use super::Home;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// The test guests a test server publishes besides Weft's own steps.
pub const TEST_STEPS: [&str; 4] = ["test-spin", "test-chatty", "test-work", "test-noop"];

/// A running `weft serve`; killed (SIGKILL) when dropped.
pub struct Served {
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    pub http: reqwest::Client,
}

impl Served {
    /// Starts `weft serve --addr 127.0.0.1:0 EXTRA...` in `home` and waits for the address
    /// it prints. Its built-in steps are Weft's own and the test guests of [`TEST_STEPS`]
    /// (not the hostile ones: publishing one whose `describe()` never returns would cost
    /// every start its time limit).
    pub fn start(home: &Home, extra: &[&str]) -> Served {
        Served::start_with_env(home, extra, &[])
    }

    /// [`Served::start`] with these environment variables set for the server.
    pub fn start_with_env(home: &Home, extra: &[&str], env: &[(&str, &str)]) -> Served {
        let mut args = vec!["serve", "--addr", "127.0.0.1:0", "--slots", "2"];
        args.extend_from_slice(extra);
        let steps = home.path().join("test-steps");
        std::fs::create_dir_all(&steps).expect("test-steps");
        for name in TEST_STEPS {
            let file = format!("{name}.wasm");
            std::fs::copy(super::testing().join(&file), steps.join(&file)).expect("copy a test guest");
        }
        let mut child = home
            .command_with_plugins(&args, &Home::shared_cache(), &[super::plugins(), steps])
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start weft serve");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        // The first line names the address; the rest is drained so the server never blocks
        // on a full pipe (and shown, for a failing test).
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("weft serving on ") {
                    let _ = tx.send(addr.split_whitespace().next().unwrap_or_default().to_string());
                }
                eprintln!("[weft serve] {line}");
            }
        });
        // reqwest's TLS (unused on loopback) needs a provider chosen before any client is made.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let base = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("weft serve did not say where it listens");
        Served {
            child,
            base,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `METHOD path` with `token` (if any); returns the status and the body as JSON (null
    /// when it is not JSON).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let bytes = response.bytes().await.expect("body");
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        )
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, serde_json::Value) {
        self.call(reqwest::Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.call(reqwest::Method::POST, path, Some(token), Some(body)).await
    }

    /// Submits a workflow (`POST /api/v1/runs`), which must be accepted; returns the run id.
    pub async fn submit(&self, token: &str, body: serde_json::Value) -> String {
        let (status, submitted) = self.post("/api/v1/runs", token, body).await;
        assert_eq!(status, 201, "{submitted}");
        submitted["run_id"].as_str().expect("a run id").to_string()
    }

    /// Uploads `bytes` for `token`'s tenant; returns the digest.
    pub async fn upload(&self, token: &str, bytes: &[u8]) -> String {
        use sha2::Digest as _;
        let digest = format!("sha256:{:x}", sha2::Sha256::digest(bytes));
        let response = self
            .http
            .put(self.url(&format!("/api/v1/artifacts/{digest}")))
            .bearer_auth(token)
            .body(bytes.to_vec())
            .send()
            .await
            .expect("upload");
        assert_eq!(response.status().as_u16(), 201, "upload of {digest}");
        digest
    }

    /// Waits until run `run` of `token`'s tenant is no longer running; returns its report.
    pub async fn wait(&self, token: &str, run: &str, limit: Duration) -> serde_json::Value {
        let start = Instant::now();
        loop {
            let (status, report) = self.get(&format!("/api/v1/runs/{run}"), token).await;
            assert_eq!(status, 200, "GET run {run}: {report}");
            if report["status"] != "running" {
                return report;
            }
            assert!(start.elapsed() < limit, "run {run} still running after {limit:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `weft tenant create NAME` in `home`: its token.
pub fn tenant(home: &Home, name: &str) -> String {
    let out = home.weft(&["tenant", "create", name]);
    assert!(out.status.success(), "tenant create {name}: {}", super::stderr(&out));
    super::stdout(&out).trim().to_string()
}
