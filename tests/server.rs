//! `weft serve` over real HTTP on loopback, with reqwest: a tenant uploads an input,
//! submits a workflow, follows its events, reads its report, logs and artifacts; an
//! invalid workflow answers 422 with every problem and runs nothing; cancel and resume;
//! a server killed mid-run resumes the run when it starts again; and every endpoint,
//! asked with another tenant's token or none, answers without a byte of the data.

mod common;

use common::served::{Served, tenant};
use common::{Home, committed};
use reqwest::Method;
use serde_json::json;
use sha2::Digest as _;
use std::time::Duration;

const IRIS: &str = "examples/data/iris.csv";

fn iris() -> Vec<u8> {
    std::fs::read(common::root().join(IRIS)).expect("iris.csv")
}

fn example(name: &str) -> String {
    std::fs::read_to_string(common::root().join("examples").join(name)).expect("example")
}

/// The SSE events of a run until `run_finished` (or the end of the stream), as
/// (id, event, data).
async fn events(served: &Served, token: &str, run: &str, after: Option<u64>) -> Vec<(u64, String, serde_json::Value)> {
    let mut request = served
        .http
        .get(served.url(&format!("/api/v1/runs/{run}/events")))
        .bearer_auth(token);
    if let Some(after) = after {
        request = request.header("Last-Event-ID", after.to_string());
    }
    let mut response = request.send().await.expect("events");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().expect("type"),
        "text/event-stream"
    );
    let mut text = String::new();
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    loop {
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .expect("the event stream stalled")
            .expect("event stream");
        let Some(chunk) = chunk else { break };
        text.push_str(std::str::from_utf8(&chunk).expect("utf-8"));
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            let (mut id, mut name, mut data) = (0, String::new(), serde_json::Value::Null);
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id: ") {
                    id = v.parse().expect("id");
                } else if let Some(v) = line.strip_prefix("event: ") {
                    name = v.to_string();
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(v).expect("data is JSON");
                }
            }
            if !name.is_empty() {
                out.push((id, name, data));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_submits_follows_and_downloads() {
    let home = Home::new();
    let token = tenant(&home, "alpha");
    let served = Served::start(&home, &[]);
    let (status, body) = served.call(Method::GET, "/healthz", None, None).await;
    assert_eq!((status, body), (200, serde_json::Value::Null));
    assert_eq!(served.call(Method::GET, "/readyz", None, None).await.0, 200);

    let digest = served.upload(&token, &iris()).await;
    let head = served
        .http
        .head(served.url(&format!("/api/v1/artifacts/{digest}")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("head");
    assert_eq!(head.status().as_u16(), 200, "the upload is held");
    // Bytes that do not hash to the address are refused, and nothing is stored.
    let wrong = format!("sha256:{:x}", sha2::Sha256::digest(b"other bytes"));
    let refused = served
        .http
        .put(served.url(&format!("/api/v1/artifacts/{wrong}")))
        .bearer_auth(&token)
        .body("not those bytes")
        .send()
        .await
        .expect("put");
    assert_eq!(refused.status().as_u16(), 400);
    let (status, _) = served
        .call(Method::HEAD, &format!("/api/v1/artifacts/{wrong}"), Some(&token), None)
        .await;
    assert_eq!(status, 404);

    let (status, submitted) = served
        .post(
            "/api/v1/runs",
            &token,
            json!({"workflow": example("iris-summary.yaml"), "inputs": {"iris": digest}, "params": {"seed": "7"}, "file": "iris-summary.yaml"}),
        )
        .await;
    assert_eq!(status, 201, "{submitted}");
    assert_eq!(submitted["workflow"], "iris-summary");
    assert_eq!(submitted["steps"], 9);
    let run = submitted["run_id"].as_str().expect("run id").to_string();

    let seen = events(&served, &token, &run, None).await;
    let (last_id, last, data) = seen.last().expect("events").clone();
    assert_eq!(last, "run_finished");
    assert_eq!(data["status"], "succeeded", "{seen:?}");
    let ids: Vec<u64> = seen.iter().map(|e| e.0).collect();
    assert_eq!(
        ids,
        (1..=last_id).collect::<Vec<_>>(),
        "events are numbered without gaps"
    );
    for step in [
        "load",
        "check",
        "split",
        "features",
        "train-stats",
        "drift",
        "scale",
        "scaled-stats",
        "test-stats",
    ] {
        assert!(
            seen.iter()
                .any(|(_, name, d)| name == "step_succeeded" && d["step"] == step),
            "no step_succeeded for {step}: {seen:?}"
        );
    }
    // A reconnect with Last-Event-ID gets only what came after it.
    let again = events(&served, &token, &run, Some(last_id - 2)).await;
    assert_eq!(
        again.iter().map(|e| e.0).collect::<Vec<_>>(),
        vec![last_id - 1, last_id]
    );

    let (status, report) = served.get(&format!("/api/v1/runs/{run}"), &token).await;
    assert_eq!(status, 200);
    assert_eq!(report["status"], "succeeded");
    assert_eq!(report["params"]["seed"], 7);
    assert_eq!(report["inputs"]["iris"]["digest"], digest.as_str());
    let stats = report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["id"] == "train-stats")
        .expect("train-stats");
    let summary = stats["outputs"]["summary"].clone();

    // The artifact, streamed with its media type, and exactly the bytes of its address.
    let response = served
        .http
        .get(served.url(&format!(
            "/api/v1/artifacts/{}",
            summary["digest"].as_str().expect("digest")
        )))
        .bearer_auth(&token)
        .send()
        .await
        .expect("download");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().expect("type"),
        summary["media_type"].as_str().expect("media type")
    );
    let bytes = response.bytes().await.expect("bytes");
    assert_eq!(
        format!("sha256:{:x}", sha2::Sha256::digest(&bytes)),
        summary["digest"].as_str().expect("digest")
    );
    assert_eq!(bytes.len() as u64, summary["size"].as_u64().expect("size"));

    // Logs, paged: a step that floods its log, stdout and stderr.
    let (status, chatty) = served
        .post(
            "/api/v1/runs",
            &token,
            json!({"workflow": "name: logged\nsteps:\n  chatty: {uses: test-chatty}\n"}),
        )
        .await;
    assert_eq!(status, 201, "{chatty}");
    let chatty = chatty["run_id"].as_str().expect("run").to_string();
    served.wait(&token, &chatty, Duration::from_secs(120)).await;
    let (status, logs) = served
        .get(&format!("/api/v1/runs/{chatty}/logs?step=chatty&limit=5"), &token)
        .await;
    assert_eq!(status, 200, "{logs}");
    let total = logs["total"].as_u64().expect("total");
    assert!(
        total > 1000,
        "the log, stdout and stderr are kept up to their caps: {total} lines"
    );
    let lines = logs["lines"].as_array().expect("lines");
    assert_eq!(lines.len(), 5);
    assert!(lines.iter().all(|l| l["step"] == "chatty"));
    let (_, tail) = served
        .get(&format!("/api/v1/runs/{chatty}/logs?offset={}", total - 2), &token)
        .await;
    assert_eq!(tail["lines"].as_array().expect("lines").len(), 2, "the last page");
    let (_, none) = served.get(&format!("/api/v1/runs/{run}/logs?step=nope"), &token).await;
    assert_eq!(none["total"], 0);

    let (status, list) = served
        .get("/api/v1/runs?status=succeeded&workflow=iris-summary", &token)
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["runs"].as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list["runs"][0]["run_id"], run.as_str());
    let (_, newest) = served.get("/api/v1/runs?limit=1", &token).await;
    assert_eq!(newest["runs"][0]["run_id"], chatty.as_str(), "newest first");
    let (_, next) = served.get("/api/v1/runs?limit=1&offset=1", &token).await;
    assert_eq!(next["runs"][0]["run_id"], run.as_str());
    let (_, none) = served.get("/api/v1/runs?status=failed", &token).await;
    assert_eq!(none["runs"], json!([]));
    let (status, _) = served.get("/api/v1/runs?status=bogus", &token).await;
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_workflow_answers_422_with_every_problem_and_runs_nothing() {
    let home = Home::new();
    let token = tenant(&home, "alpha");
    let served = Served::start(&home, &[]);
    let workflow = "name: bad\nsteps:\n  a:\n    uses: no-such-step@1\n  b:\n    uses: ./local.wasm\n";
    let (status, body) = served.post("/api/v1/runs", &token, json!({"workflow": workflow})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_workflow");
    let problems = body["error"]["problems"].as_array().expect("problems");
    assert_eq!(problems.len(), 2, "{body}");
    assert_eq!(
        (problems[0]["line"].as_u64(), problems[0]["column"].as_u64()),
        (Some(4), Some(11))
    );
    assert_eq!(problems[0]["field"], "steps.a.uses");
    assert!(
        problems[0]["message"]
            .as_str()
            .expect("message")
            .contains("no step `no-such-step`")
    );
    assert_eq!(problems[1]["line"], 6);
    assert!(
        problems[1]["message"]
            .as_str()
            .expect("message")
            .contains("would read a file of the server"),
        "{body}"
    );
    // A missing input binding is a problem at the input.
    let workflow = "name: needs-input\ninputs:\n  data: {path: data.csv}\nsteps:\n  load: {uses: csv-to-table@0.1, inputs: {csv: inputs.data}}\n";
    let (status, body) = served.post("/api/v1/runs", &token, json!({"workflow": workflow})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["problems"][0]["line"], 3, "{body}");
    let unknown = format!("sha256:{:x}", sha2::Sha256::digest(b"never uploaded"));
    let (status, body) = served
        .post(
            "/api/v1/runs",
            &token,
            json!({"workflow": workflow, "inputs": {"data": unknown}}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("upload the file first")
    );
    // Not a submission at all.
    let (status, body) = served.post("/api/v1/runs", &token, json!({"yaml": "x"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("bad_request")));
    let (_, list) = served.get("/api/v1/runs", &token).await;
    assert_eq!(list["runs"], json!([]), "nothing was recorded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_is_cancelled_and_resumed() {
    let home = Home::new();
    let token = tenant(&home, "alpha");
    let served = Served::start(&home, &[]);
    let workflow = "name: spins\nsteps:\n  spin: {uses: test-spin, limits: {timeout: 10m}}\n";
    let (status, submitted) = served.post("/api/v1/runs", &token, json!({"workflow": workflow})).await;
    assert_eq!(status, 201, "{submitted}");
    let run = submitted["run_id"].as_str().expect("run").to_string();
    let (status, body) = served
        .post(&format!("/api/v1/runs/{run}/cancel"), &token, json!({}))
        .await;
    assert_eq!(status, 202, "{body}");
    let report = served.wait(&token, &run, Duration::from_secs(60)).await;
    assert_eq!(report["status"], "cancelled", "{report}");
    let (status, _) = served
        .post(&format!("/api/v1/runs/{run}/cancel"), &token, json!({}))
        .await;
    assert_eq!(status, 409, "a stopped run cannot be cancelled again");

    // Resumed, it runs again (and is cancelled again: it spins).
    let (status, body) = served
        .post(&format!("/api/v1/runs/{run}/resume"), &token, json!({}))
        .await;
    assert_eq!(status, 202, "{body}");
    let (_, report) = served.get(&format!("/api/v1/runs/{run}"), &token).await;
    assert_eq!(report["status"], "running");
    let (status, _) = served
        .post(&format!("/api/v1/runs/{run}/resume"), &token, json!({}))
        .await;
    assert_eq!(status, 409, "a running run cannot be resumed");
    served
        .post(&format!("/api/v1/runs/{run}/cancel"), &token, json!({}))
        .await;
    let report = served.wait(&token, &run, Duration::from_secs(60)).await;
    assert_eq!(report["status"], "cancelled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_run_resumes_the_run_when_it_starts_again() {
    let home = Home::new();
    // The CLI's own tenant, so `weft runs show` can read the records between the servers.
    let token = tenant(&home, "default");
    let workflow = std::fs::read_to_string(common::root().join("tests/workflows/crash.yaml")).expect("crash.yaml");
    let run = {
        let served = Served::start(&home, &[]);
        let digest = served.upload(&token, &iris()).await;
        let (status, submitted) = served
            .post(
                "/api/v1/runs",
                &token,
                json!({"workflow": workflow, "inputs": {"seed": digest}}),
            )
            .await;
        assert_eq!(status, 201, "{submitted}");
        let run = submitted["run_id"].as_str().expect("run").to_string();
        // Killed once a few steps are committed, mid-run.
        loop {
            let (_, report) = served.get(&format!("/api/v1/runs/{run}"), &token).await;
            assert_eq!(report["status"], "running", "the run ended before the kill");
            if committed(&report).len() >= 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        run
        // Dropped: SIGKILL.
    };
    let before = home.show(&run);
    assert_eq!(before["status"], "running", "recorded as running, its server gone");
    let kept = committed(&before);
    assert!(
        kept.len() < 40,
        "the kill landed after the last step: {} committed",
        kept.len()
    );

    let served = Served::start(&home, &[]);
    let report = served.wait(&token, &run, Duration::from_secs(300)).await;
    assert_eq!(report["status"], "succeeded", "{}", report["error"]);
    let after = committed(&report);
    assert_eq!(after.len(), 40);
    for (step, outputs_and_attempts) in &kept {
        assert_eq!(
            &after[step], outputs_and_attempts,
            "{step} was committed before the kill: it must not run again"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenant_or_no_token_gets_nothing() {
    let home = Home::new();
    let alpha = tenant(&home, "alpha");
    let beta = tenant(&home, "beta");
    let served = Served::start(&home, &[]);
    let digest = served.upload(&alpha, &iris()).await;
    let (status, submitted) = served
        .post(
            "/api/v1/runs",
            &alpha,
            json!({"workflow": example("iris-summary.yaml"), "inputs": {"iris": digest}}),
        )
        .await;
    assert_eq!(status, 201, "{submitted}");
    let run = submitted["run_id"].as_str().expect("run").to_string();
    let report = served.wait(&alpha, &run, Duration::from_secs(300)).await;
    let output = report["steps"][0]["outputs"]["table"]["digest"]
        .as_str()
        .expect("an output")
        .to_string();

    let secret_texts = [run.as_str(), "iris-summary", "sepal"];
    let forged = format!("weft_{}", "0".repeat(64));
    for (method, path) in [
        (Method::GET, format!("/api/v1/runs/{run}")),
        (Method::GET, format!("/api/v1/runs/{run}/events")),
        (Method::GET, format!("/api/v1/runs/{run}/logs")),
        (Method::POST, format!("/api/v1/runs/{run}/cancel")),
        (Method::POST, format!("/api/v1/runs/{run}/resume")),
        (Method::GET, format!("/api/v1/artifacts/{digest}")),
        (Method::HEAD, format!("/api/v1/artifacts/{digest}")),
        (Method::GET, format!("/api/v1/artifacts/{output}")),
        (Method::GET, "/api/v1/runs".to_string()),
    ] {
        for (who, token, expected) in [
            ("beta", Some(beta.as_str()), 404),
            ("no token", None, 401),
            ("a forged token", Some(forged.as_str()), 401),
        ] {
            let mut request = served.http.request(method.clone(), served.url(&path));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.expect("request");
            let status = response.status().as_u16();
            let body = response.text().await.expect("body");
            if path == "/api/v1/runs" && who == "beta" {
                // beta's own (empty) list.
                assert_eq!(status, 200);
                assert_eq!(body, r#"{"runs":[]}"#);
                continue;
            }
            assert_eq!(status, expected, "{method} {path} as {who}: {body}");
            for secret in secret_texts {
                if secret == run && body.contains("no run") {
                    continue; // the 404 names the id the caller sent
                }
                assert!(
                    !body.contains(secret),
                    "{method} {path} as {who} leaked `{secret}`: {body}"
                );
            }
        }
    }
    // The same bytes uploaded by beta are beta's own: alpha's copy stays alpha's.
    let again = served.upload(&beta, &iris()).await;
    assert_eq!(again, digest);
    assert_eq!(served.get(&format!("/api/v1/artifacts/{output}"), &beta).await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_openapi_document_is_the_checked_in_one() {
    let home = Home::new();
    let served = Served::start(&home, &[]);
    let (status, served_doc) = served.call(Method::GET, "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, 200);
    let checked_in: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::root().join("docs/openapi.json")).expect("docs/openapi.json"),
    )
    .expect("JSON");
    assert_eq!(
        served_doc, checked_in,
        "docs/openapi.json is stale: `cargo run -p weft -- serve --openapi > docs/openapi.json`"
    );
}
