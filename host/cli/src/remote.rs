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

    /// PUT `body` to `path`: the status and answer (errors are the caller's to read).
    pub async fn put(&self, path: &str, body: Vec<u8>) -> anyhow::Result<(u16, serde_json::Value)> {
        self.send(self.http.put(self.url(path)).body(body)).await
    }

    /// The server's address, as given.
    pub fn base(&self) -> &str {
        &self.base
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

    /// GET `path` for its body to be read as it comes: the response if 200, else the
    /// server's message as the error.
    async fn streamed(&self, path: &str) -> anyhow::Result<reqwest::Response> {
        let response = self
            .http
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("cannot reach the Weft server at {}", self.base))?;
        let status = response.status().as_u16();
        if status == 200 {
            return Ok(response);
        }
        let body = response.bytes().await.unwrap_or_default();
        ok(status, serde_json::from_slice(&body).unwrap_or_default())?;
        bail!("the server answered {status}")
    }

    /// A run id as the server knows it: `last` is the tenant's newest run.
    pub async fn resolve(&self, run: &str) -> anyhow::Result<String> {
        if run != "last" {
            return Ok(run.to_string());
        }
        let list = self.get("/runs?limit=1").await?;
        match list["runs"][0]["run_id"].as_str() {
            Some(id) => Ok(id.to_string()),
            None => bail!("no runs on the server yet"),
        }
    }

    /// Streams the artifact `digest` into `out`, hashing as it goes: an error (and whatever
    /// was written kept out of sight by the caller) unless the bytes match the digest.
    pub async fn download(
        &self,
        digest: &weft_artifacts::Digest,
        out: &mut (impl tokio::io::AsyncWrite + Unpin),
    ) -> anyhow::Result<u64> {
        use sha2::Digest as _;
        use tokio::io::AsyncWriteExt;
        let mut response = self.streamed(&format!("/artifacts/{digest}")).await?;
        let mut hasher = sha2::Sha256::new();
        let mut copied = 0u64;
        while let Some(chunk) = response.chunk().await.context("reading the artifact")? {
            hasher.update(&chunk);
            out.write_all(&chunk).await.context("writing the artifact")?;
            copied += chunk.len() as u64;
        }
        out.flush().await.context("writing the artifact")?;
        let got = weft_artifacts::Digest::from_hasher(hasher);
        if got != *digest {
            bail!("the server sent {copied} bytes that are not {digest} (they hash to {got}): nothing kept");
        }
        Ok(copied)
    }

    /// The run's server-sent events until `run_finished`, each as (event name, data).
    pub async fn events(&self, run: &str, mut each: impl FnMut(&str, &serde_json::Value)) -> anyhow::Result<()> {
        let mut response = self
            .streamed(&format!("/runs/{run}/events"))
            .await
            .with_context(|| format!("following run {run}"))?;
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
