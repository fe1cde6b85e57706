//! The CLI as a client of `weft serve` (`--server URL --token T`): the few HTTP calls the
//! remote commands make, each answering JSON or the server's error message.

use anyhow::{Context, bail};
use std::path::Path;

/// Largest workflow input `weft run --server` sends (it is read whole to hash and send it).
const MAX_UPLOAD_IN_MEMORY: u64 = 4 << 30;

/// A server and the tenant token to use there.
pub struct Remote {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Remote {
    /// From `--server` and `--token`.
    pub fn new(server: &str, token: Option<&str>) -> anyhow::Result<Remote> {
        let token = token.context("--server needs --token (or WEFT_TOKEN): `weft tenant create NAME` prints one")?;
        let base = server.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            bail!("--server `{server}` is not an http:// or https:// URL");
        }
        // reqwest's TLS needs a provider chosen before the first client is made.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Ok(Remote {
            base,
            token: token.to_string(),
            http: reqwest::Client::builder().build().context("making an HTTP client")?,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    /// Sends `request` with the token; the status and the JSON body (`Null` if not JSON).
    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<(u16, serde_json::Value)> {
        let response = request
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("cannot reach the Weft server at {}", self.base))?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.context("reading the server's answer")?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        ))
    }

    /// GET `path`, which must answer 200.
    pub async fn get(&self, path: &str) -> anyhow::Result<serde_json::Value> {
        let (status, body) = self.send(self.http.get(self.url(path))).await?;
        ok(status, body)
    }

    /// POST `body` to `path`: the status and answer (errors are the caller's to read).
    pub async fn post(&self, path: &str, body: &serde_json::Value) -> anyhow::Result<(u16, serde_json::Value)> {
        self.send(
            self.http
                .post(self.url(path))
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await
    }

    /// Uploads `file` unless the tenant holds its bytes already; returns its digest.
    pub async fn upload(&self, file: &Path) -> anyhow::Result<weft_artifacts::Digest> {
        let size = tokio::fs::metadata(file)
            .await
            .with_context(|| format!("reading {}", file.display()))?
            .len();
        if size > MAX_UPLOAD_IN_MEMORY {
            bail!(
                "{} is {size} bytes: inputs sent to a server are read into memory, at most {MAX_UPLOAD_IN_MEMORY}",
                file.display()
            );
        }
        let bytes = tokio::fs::read(file)
            .await
            .with_context(|| format!("reading {}", file.display()))?;
        let digest = weft_artifacts::Digest::of(&bytes);
        let path = format!("/artifacts/{digest}");
        let (status, _) = self.send(self.http.head(self.url(&path))).await?;
        if status == 200 {
            return Ok(digest);
        }
        let (status, body) = self.send(self.http.put(self.url(&path)).body(bytes)).await?;
        ok(status, body).with_context(|| format!("uploading {}", file.display()))?;
        Ok(digest)
    }

    /// The run's server-sent events until `run_finished`, each as (event name, data).
    pub async fn events(&self, run: &str, mut each: impl FnMut(&str, &serde_json::Value)) -> anyhow::Result<()> {
        let mut response = self
            .http
            .get(self.url(&format!("/runs/{run}/events")))
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("cannot reach the Weft server at {}", self.base))?;
        if response.status().as_u16() != 200 {
            bail!("following run {run}: the server answered {}", response.status());
        }
        let mut text = String::new();
        while let Some(chunk) = response.chunk().await.context("reading the run's events")? {
            text.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = text.find("\n\n") {
                let block: String = text.drain(..end + 2).collect();
                let (mut name, mut data) = (String::new(), serde_json::Value::Null);
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event: ") {
                        name = v.to_string();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data = serde_json::from_str(v).unwrap_or_default();
                    }
                }
                if !name.is_empty() {
                    each(&name, &data);
                }
                if name == "run_finished" {
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

/// `body` if `status` is 200 or 201, else the server's message as the error.
pub fn ok(status: u16, body: serde_json::Value) -> anyhow::Result<serde_json::Value> {
    if status == 200 || status == 201 {
        return Ok(body);
    }
    let message = body["error"]["message"].as_str().unwrap_or("no message");
    bail!("the server answered {status}: {}", crate::text::shown(message))
}
