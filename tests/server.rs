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
    // The summary steps' metrics came as events too.
    assert!(
        seen.iter().any(|(_, name, d)| name == "step_metrics"
            && d["step"] == "train-stats"
            && !d["metrics"].as_array().expect("metrics").is_empty()),
        "no step_metrics for train-stats: {seen:?}"
    );
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

    // A byte range: only those bytes, though the whole artifact is read and checked.
    let input = iris();
    let response = served
        .http
        .get(served.url(&format!("/api/v1/artifacts/{digest}")))
        .bearer_auth(&token)
        .header("Range", "bytes=2-9")
        .send()
        .await
        .expect("range");
    assert_eq!(response.status().as_u16(), 206);
    assert_eq!(
        response.headers()["content-range"].to_str().expect("range"),
        format!("bytes 2-9/{}", input.len())
    );
    assert_eq!(response.bytes().await.expect("bytes").as_ref(), &input[2..10]);
    let response = served
        .http
        .get(served.url(&format!("/api/v1/artifacts/{digest}")))
        .bearer_auth(&token)
        .header("Range", format!("bytes={}-", input.len()))
        .send()
        .await
        .expect("range");
    assert_eq!(response.status().as_u16(), 416);

    // Lineage: the summary back to the uploaded input.
    let (status, lineage) = served
        .get(
            &format!(
                "/api/v1/artifacts/{}/lineage",
                summary["digest"].as_str().expect("digest")
            ),
            &token,
        )
        .await;
    assert_eq!(status, 200, "{lineage}");
    let nodes = lineage.as_array().expect("nodes");
    assert_eq!(nodes[0]["digest"], summary["digest"]);
    assert_eq!(nodes[0]["origin"]["step"], "train-stats");
    assert!(
        nodes
            .iter()
            .any(|n| n["origin"]["kind"] == "input" && n["origin"]["name"] == "iris" && n["digest"] == digest.as_str()),
        "the lineage reaches the uploaded input: {lineage}"
    );

    // Metrics of two runs side by side, with their parameters.
    let (status, second) = served
        .post(
            "/api/v1/runs",
            &token,
            json!({"workflow": example("iris-summary.yaml"), "inputs": {"iris": digest}, "params": {"seed": "8"}}),
        )
        .await;
    assert_eq!(status, 201, "{second}");
    let second = second["run_id"].as_str().expect("run").to_string();
    served.wait(&token, &second, Duration::from_secs(120)).await;
    let (status, compared) = served
        .get(&format!("/api/v1/compare?runs={run},{second}"), &token)
        .await;
    assert_eq!(status, 200, "{compared}");
    assert_eq!(compared["runs"][0]["params"]["seed"], 7);
    assert_eq!(compared["runs"][1]["params"]["seed"], 8);
    let rows = compared["rows"].as_array().expect("rows");
    assert!(!rows.is_empty(), "{compared}");
    assert!(rows.iter().all(|r| r["values"].as_array().map(Vec::len) == Some(2)));
    let (status, _) = served.get("/api/v1/compare?runs=", &token).await;
    assert_eq!(status, 400);

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
    assert_eq!(list["runs"].as_array().map(Vec::len), Some(2), "{list}");
    assert_eq!(list["runs"][1]["run_id"], run.as_str());
    let (_, newest) = served.get("/api/v1/runs?limit=1", &token).await;
    assert_eq!(newest["runs"][0]["run_id"], chatty.as_str(), "newest first");
    let (_, next) = served.get("/api/v1/runs?limit=1&offset=1", &token).await;
    assert_eq!(next["runs"][0]["run_id"], second.as_str());
    let (_, none) = served.get("/api/v1/runs?status=failed", &token).await;
    assert_eq!(none["runs"], json!([]));
    let (status, _) = served.get("/api/v1/runs?status=bogus", &token).await;
    assert_eq!(status, 400);

    // What a Prometheus scraper sees (no token): the runs and steps above, counted.
    let text = served
        .http
        .get(served.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let value = |line: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(line).and_then(|v| v.trim().parse::<f64>().ok()))
            .unwrap_or_else(|| panic!("no `{line}` in /metrics:\n{text}")) as u64
    };
    assert_eq!(value("weft_runs_submitted_total "), 3);
    assert_eq!(value("weft_runs_finished_total{status=\"succeeded\"} "), 3);
    // 9 + 9 + 1 steps, of which the second iris run reused `load` and `check` (the seed
    // changes only what follows them).
    assert_eq!(value("weft_steps_finished_total{outcome=\"succeeded\"} "), 17);
    assert_eq!(value("weft_steps_finished_total{outcome=\"cached\"} "), 2);
    assert_eq!(value("weft_step_duration_seconds_count "), 17);
    assert_eq!(value("weft_step_duration_seconds_bucket{le=\"+Inf\"} "), 17);
    assert_eq!(value("weft_steps_executing "), 0);
    assert_eq!(value("weft_steps_waiting "), 0);
    assert!(value("weft_artifact_upload_bytes_total ") >= input.len() as u64);
    assert!(value("weft_artifact_download_bytes_total ") > 0);
    assert!(value("weft_stored_bytes ") >= input.len() as u64);
    // The server loaded its steps once (compiled or from the compile cache); the runs
    // found them loaded.
    assert!(
        value("weft_component_loads_total{source=\"cache\"} ")
            + value("weft_component_loads_total{source=\"compiled\"} ")
            > 0
    );
    assert!(value("weft_component_loads_total{source=\"memory\"} ") > 0);
    assert!(!text.contains("alpha"), "no tenant is named: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_workflow_answers_422_with_every_problem_and_runs_nothing() {
    let home = Home::new();
    let token = tenant(&home, "alpha");
    let served = Served::start(&home, &["--max-upload-size", "1Ki"]);
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
            .contains("no step `no-such-step@1` is published"),
        "{body}"
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
    assert!(message(&body).contains("upload the file first"));
    // Sizes and counts are bounded before anything is parsed.
    let huge = format!("name: big\n#{}\n", "x".repeat(1 << 20));
    let (status, body) = served.post("/api/v1/runs", &token, json!({"workflow": huge})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("too_large")),
        "{body}"
    );
    let (status, _) = served
        .post("/api/v1/runs", &token, json!({"workflow": "x".repeat(5 << 20)}))
        .await;
    assert_eq!(status, 413, "a body over 4 MiB is refused");
    let params: serde_json::Map<String, serde_json::Value> = (0..1001).map(|i| (format!("p{i}"), json!("1"))).collect();
    let (status, body) = served
        .post(
            "/api/v1/runs",
            &token,
            json!({"workflow": "name: x\n", "params": params}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let big = vec![7u8; 1025];
    let response = served
        .http
        .put(served.url(&format!("/api/v1/artifacts/sha256:{:x}", sha2::Sha256::digest(&big))))
        .bearer_auth(&token)
        .body(big)
        .send()
        .await
        .expect("upload");
    assert_eq!(response.status().as_u16(), 413, "over --max-upload-size");
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
        (Method::GET, format!("/api/v1/artifacts/{output}/lineage")),
        (Method::GET, format!("/api/v1/compare?runs={run}")),
        (Method::GET, "/api/v1/audit".to_string()),
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
            if who == "beta" && (path == "/api/v1/runs" || path == "/api/v1/audit") {
                // beta's own (empty) list.
                assert_eq!(status, 200, "{path}: {body}");
                assert!(
                    body == r#"{"runs":[]}"# || body == r#"{"entries":[]}"#,
                    "{path}: {body}"
                );
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

/// The message of an error answer.
fn message(body: &serde_json::Value) -> &str {
    body["error"]["message"].as_str().expect("an error message")
}

/// The component bytes of a test guest.
fn guest(name: &str) -> Vec<u8> {
    std::fs::read(common::testing().join(format!("{name}.wasm"))).expect("a test guest")
}

/// `bytes` with a custom section appended: the same component (same `describe()`), other
/// bytes, another digest.
fn with_custom_section(mut bytes: Vec<u8>) -> Vec<u8> {
    let (name, payload) = (b"weft-test", b"other bytes");
    bytes.push(0); // a custom section
    bytes.push((1 + name.len() + payload.len()) as u8);
    bytes.push(name.len() as u8);
    bytes.extend_from_slice(name);
    bytes.extend_from_slice(payload);
    bytes
}

async fn put(served: &Served, path: &str, token: &str, body: Vec<u8>) -> (u16, serde_json::Value) {
    let response = served
        .http
        .put(served.url(path))
        .bearer_auth(token)
        .body(body)
        .send()
        .await
        .expect("put");
    let status = response.status().as_u16();
    let bytes = response.bytes().await.expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_step_is_its_owners_until_made_public_and_never_changes() {
    let home = Home::new();
    let alpha = tenant(&home, "alpha");
    let beta = tenant(&home, "beta");
    let served = Served::start(&home, &[]);

    // The server's own steps are public steps of the built-in tenant.
    let (status, list) = served.get("/api/v1/steps?q=csv", &alpha).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["steps"][0]["name"], "csv-to-table");
    assert_eq!(list["steps"][0]["owner"], "weft");
    assert_eq!(list["steps"][0]["public"], true);
    // Paged: every built-in step, two at a time.
    let (_, all) = served.get("/api/v1/steps", &alpha).await;
    let total = all["total"].as_u64().expect("total");
    assert!(total > 2, "{all}");
    let (_, page) = served.get("/api/v1/steps?offset=1&limit=2", &alpha).await;
    assert_eq!(
        (page["total"].as_u64(), page["steps"].as_array().map(Vec::len)),
        (Some(total), Some(2))
    );
    assert_eq!(page["steps"][0], all["steps"][1]);

    let copy = guest("test-copy");
    let (status, published) = put(&served, "/api/v1/steps/test-copy/0.1.0", &alpha, copy.clone()).await;
    assert_eq!(status, 201, "{published}");
    let digest = format!("sha256:{:x}", sha2::Sha256::digest(&copy));
    assert_eq!(published["digest"], digest.as_str());
    assert_eq!(published["public"], false);
    let (status, _) = put(&served, "/api/v1/steps/test-copy/0.1.0", &alpha, copy.clone()).await;
    assert_eq!(status, 200, "the same bytes again change nothing");
    let (status, body) = put(
        &served,
        "/api/v1/steps/test-copy/0.1.0",
        &alpha,
        with_custom_section(copy.clone()),
    )
    .await;
    assert_eq!(status, 409, "a published version never changes: {body}");
    let (status, body) = put(&served, "/api/v1/steps/test-copy/0.2.0", &alpha, copy.clone()).await;
    assert_eq!(status, 422, "{body}");
    assert!(message(&body).contains("declares itself `test-copy@0.1.0`"));
    let (status, body) = put(
        &served,
        "/api/v1/steps/junk/1.0.0",
        &alpha,
        b"\0asm not really".to_vec(),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = put(
        &served,
        "/api/v1/steps/test-copy/0.1.0/readme",
        &alpha,
        b"# test-copy\nCopies.".to_vec(),
    )
    .await;
    assert_eq!(status, 204);

    let (status, shown) = served.get("/api/v1/steps/test-copy", &alpha).await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["readme"], "# test-copy\nCopies.");
    assert_eq!(shown["contract"]["inputs"][0]["name"], "data");
    assert_eq!(shown["versions"][0]["digest"], digest.as_str());

    // Private: beta neither sees nor uses it, nor changes it.
    let input = served.upload(&beta, b"some bytes").await;
    let workflow = |uses: &str| {
        json!({"workflow": format!("name: copies\ninputs:\n  data: {{path: data.txt}}\nsteps:\n  copy: {{uses: {uses}, inputs: {{data: inputs.data}}}}\n"),
               "inputs": {"data": input}})
    };
    assert_eq!(served.get("/api/v1/steps/test-copy", &beta).await.0, 404);
    let (_, beta_list) = served.get("/api/v1/steps?q=test-copy", &beta).await;
    assert_eq!(beta_list["steps"], json!([]));
    for uses in ["test-copy@0.1", digest.as_str()] {
        let (status, body) = served.post("/api/v1/runs", &beta, workflow(uses)).await;
        assert_eq!(status, 422, "{uses}: {body}");
    }
    assert_eq!(
        served
            .post("/api/v1/steps/test-copy/0.1.0/public", &beta, json!({"public": true}))
            .await
            .0,
        404
    );
    assert_eq!(
        put(&served, "/api/v1/steps/test-copy/0.1.0/readme", &beta, b"mine".to_vec())
            .await
            .0,
        404
    );

    // Public: beta uses it by its digest (a name is not owned: by name beta gets only its
    // own steps and the server's) but still cannot change it.
    let (status, _) = served
        .post("/api/v1/steps/test-copy/0.1.0/public", &alpha, json!({"public": true}))
        .await;
    assert_eq!(status, 204);
    let (status, shown) = served.get("/api/v1/steps/test-copy", &beta).await;
    assert_eq!(status, 200);
    assert_eq!(shown["versions"][0]["owner"], "alpha");
    for uses in ["test-copy@0.1", "test-copy@latest"] {
        let (status, body) = served.post("/api/v1/runs", &beta, workflow(uses)).await;
        assert_eq!(
            status, 422,
            "{uses}: another tenant's step is not found by name: {body}"
        );
    }
    for uses in [digest.as_str()] {
        let (status, submitted) = served.post("/api/v1/runs", &beta, workflow(uses)).await;
        assert_eq!(status, 201, "{uses}: {submitted}");
        let run = submitted["run_id"].as_str().expect("run");
        let report = served.wait(&beta, run, Duration::from_secs(60)).await;
        assert_eq!(report["status"], "succeeded", "{uses}");
        assert_eq!(
            report["steps"][0]["component"],
            digest.as_str(),
            "pinned to the published bytes"
        );
        assert_eq!(report["steps"][0]["outputs"]["data"]["digest"], input.as_str());
    }
    assert_eq!(
        put(&served, "/api/v1/steps/test-copy/0.1.0/readme", &beta, b"mine".to_vec())
            .await
            .0,
        404
    );

    // beta may publish the same name: by name, beta's workflows get beta's own.
    let (status, _) = put(
        &served,
        "/api/v1/steps/test-copy/0.1.0",
        &beta,
        with_custom_section(copy.clone()),
    )
    .await;
    assert_eq!(status, 201, "a name is per tenant");
    let (status, submitted) = served.post("/api/v1/runs", &beta, workflow("test-copy@0.1")).await;
    assert_eq!(status, 201);
    let report = served
        .wait(
            &beta,
            submitted["run_id"].as_str().expect("run"),
            Duration::from_secs(60),
        )
        .await;
    assert_ne!(
        report["steps"][0]["component"],
        digest.as_str(),
        "beta's own version is used"
    );

    // The audit log says who did what.
    let (status, audit) = served.get("/api/v1/audit", &alpha).await;
    assert_eq!(status, 200);
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["action"].as_str().expect("action"))
        .collect();
    assert_eq!(actions, ["step.publish", "step.publish", "step.visibility"], "{audit}");
    // The same log from the records, on the server's machine.
    let out = home.weft(&["audit", "--tenant", "alpha", "--json"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let local: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(local, audit["entries"], "weft audit shows what the API shows");
    let (_, audit) = served.get("/api/v1/audit", &beta).await;
    let entries = audit["entries"].as_array().expect("entries");
    assert_eq!(entries[0]["action"], "artifact.upload");
    assert_eq!(entries[0]["subject"], input.as_str());
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "run.submit" && e["detail"]["components"][0] == digest.as_str())
    );
    let (_, page) = served
        .get(&format!("/api/v1/audit?after={}&limit=1", entries[0]["id"]), &beta)
        .await;
    assert_eq!(page["entries"].as_array().map(Vec::len), Some(1));
    assert_eq!(page["entries"][0]["id"], entries[1]["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_are_the_servers_unless_a_tenant_has_its_own() {
    let home = Home::new();
    let alpha = tenant(&home, "alpha");
    let beta = tenant(&home, "beta");
    let out = home.weft(&[
        "tenant",
        "quota",
        "alpha",
        "submissions-per-minute=4",
        "step-memory=64Mi",
        "run-output-bytes=10",
        "component-size=1Ki",
        "concurrent-steps=1",
        "step-fuel=100000000000",
    ]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let out = home.weft(&["tenant", "quota", "alpha", "concurrent-steps=default"]);
    let shown = common::stdout(&out);
    assert!(
        shown.contains("step-memory=67108864") && !shown.contains("concurrent-steps"),
        "{shown}"
    );
    let out = home.weft(&["tenant", "quota", "alpha", "speed=11"]);
    assert!(!out.status.success() && common::stderr(&out).contains("no quota `speed`"));
    let served = Served::start(&home, &["--quota", "step-timeout=30m"]);

    let input = served.upload(&alpha, b"twenty bytes of data").await;
    let workflow = |limits: &str| {
        json!({"workflow": format!("name: w\ninputs:\n  data: {{path: d.txt}}\nsteps:\n  work: {{uses: test-work, inputs: {{data: inputs.data}}{limits}}}\n"),
               "inputs": {"data": input}})
    };
    // The default step memory (512 MiB) is over alpha's quota; the server's timeout default
    // applies to both.
    let (status, body) = served.post("/api/v1/runs", &alpha, workflow("")).await;
    assert_eq!(status, 422, "{body}");
    let refused = message(&body);
    assert!(refused.contains("quota step-memory"), "{refused}");
    assert!(refused.contains("quota step-fuel: set `limits.fuel`"), "{refused}");
    let (status, body) = served
        .post(
            "/api/v1/runs",
            &alpha,
            workflow(", limits: {memory: 32Mi, timeout: 1h, fuel: 1000000000}"),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(message(&body).contains("quota step-timeout"));
    // Within the step quotas, the run's outputs (22 bytes) pass run-output-bytes (10).
    let run = served
        .submit(&alpha, workflow(", limits: {memory: 32Mi, fuel: 1000000000}"))
        .await;
    let report = served.wait(&alpha, &run, Duration::from_secs(60)).await;
    assert_eq!(report["status"], "failed");
    let error = report["steps"][0]["error"].as_str().expect("error");
    assert!(error.contains("quota exceeded: run-output-bytes"), "{error}");
    assert_eq!(
        report["steps"][0]["attempts"].as_array().map(Vec::len),
        Some(1),
        "not retried"
    );
    // A component over alpha's component-size (a publication counts as a submission).
    let (status, body) = put(&served, "/api/v1/steps/test-copy/0.1.0", &alpha, guest("test-copy")).await;
    assert_eq!(status, 413, "{body}");
    assert!(message(&body).contains("quota component-size"));
    // Four submissions a minute, valid or not: the fifth waits.
    let response = served
        .http
        .post(served.url("/api/v1/runs"))
        .bearer_auth(&alpha)
        .header("content-type", "application/json")
        .body(workflow("").to_string())
        .send()
        .await
        .expect("submit");
    assert_eq!(response.status().as_u16(), 429);
    let wait: u64 = response.headers()["retry-after"]
        .to_str()
        .expect("header")
        .parse()
        .expect("seconds");
    assert!((1..=20).contains(&wait), "{wait}");

    // beta has the server's quotas.
    let input = served.upload(&beta, b"twenty bytes of data").await;
    for _ in 0..4 {
        let (status, body) = served
            .post(
                "/api/v1/runs",
                &beta,
                json!({"workflow": "name: w\ninputs:\n  data: {path: d.txt}\nsteps:\n  work: {uses: test-work, inputs: {data: inputs.data}}\n",
                       "inputs": {"data": input}}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    assert_eq!(
        put(&served, "/api/v1/steps/test-copy/0.1.0", &beta, guest("test-copy"))
            .await
            .0,
        201
    );

    // delta may have one run going at a time: a second waits (429) until the first ends.
    let delta = tenant(&home, "delta");
    let out = home.weft(&["tenant", "quota", "delta", "concurrent-runs=1"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let spins = json!({"workflow": "name: spins\nsteps:\n  spin: {uses: test-spin, limits: {timeout: 10m}}\n"});
    let first = served.submit(&delta, spins.clone()).await;
    let (status, body) = served.post("/api/v1/runs", &delta, spins.clone()).await;
    assert_eq!(status, 429, "{body}");
    assert!(message(&body).contains("quota concurrent-runs"), "{body}");
    served
        .post(&format!("/api/v1/runs/{first}/cancel"), &delta, json!({}))
        .await;
    served.wait(&delta, &first, Duration::from_secs(60)).await;
    // The run leaves the server's count just after its end is recorded.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let second = loop {
        let (status, body) = served.post("/api/v1/runs", &delta, spins.clone()).await;
        if status == 201 {
            break body["run_id"].as_str().expect("run").to_string();
        }
        assert!(status == 429 && std::time::Instant::now() < deadline, "{status} {body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    served
        .post(&format!("/api/v1/runs/{second}/cancel"), &delta, json!({}))
        .await;

    // gamma may store 39 bytes in all: 20 uploaded, then a run whose step would write 20
    // more fails at that write (and gives them back); bytes it holds already cost nothing;
    // new ones past the quota are refused.
    let gamma = tenant(&home, "gamma");
    let out = home.weft(&["tenant", "quota", "gamma", "stored-bytes=39"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let input = served.upload(&gamma, b"twenty bytes of data").await;
    let run = served
        .submit(
            &gamma,
            json!({"workflow": "name: w\ninputs:\n  data: {path: d.txt}\nsteps:\n  work: {uses: test-work, inputs: {data: inputs.data}}\n",
                   "inputs": {"data": input}}),
        )
        .await;
    let report = served.wait(&gamma, &run, Duration::from_secs(60)).await;
    assert_eq!(report["status"], "failed", "{report}");
    let error = report["steps"][0]["error"].as_str().expect("error");
    assert!(error.contains("quota exceeded: stored-bytes: 40 bytes"), "{error}");
    assert_eq!(
        served.upload(&gamma, b"twenty bytes of data").await,
        input,
        "held already"
    );
    let upload = async |size: usize| {
        let bytes = vec![7; size];
        put(&served, &format!("/api/v1/artifacts/{}", sha256(&bytes)), &gamma, bytes).await
    };
    let (status, body) = upload(20).await;
    assert_eq!(status, 422, "{body}");
    assert!(message(&body).contains("quota stored-bytes: 40 bytes"), "{body}");
    let (status, body) = upload(19).await;
    assert_eq!(status, 201, "exactly the quota: {body}");
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", sha2::Sha256::digest(bytes))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_flooding_the_server_does_not_starve_another() {
    let home = Home::new();
    let alpha = tenant(&home, "alpha");
    let beta = tenant(&home, "beta");
    let served = Served::start(&home, &[]);
    let work = |salt: usize, steps: usize| {
        format!(
            "name: flood\ninputs:\n  data: {{path: d.txt}}\nsteps:\n  work:\n    uses: test-work\n    inputs: {{data: inputs.data}}\n    matrix: {{salt: [{}]}}\n    with: {{rounds: 300000000}}\n",
            (0..steps)
                .map(|i| (salt * 100 + i).to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let a_input = served.upload(&alpha, b"flood").await;
    let mut flood = Vec::new();
    for run in 0..6 {
        let (status, submitted) = served
            .post(
                "/api/v1/runs",
                &alpha,
                json!({"workflow": work(run, 8), "inputs": {"data": a_input}}),
            )
            .await;
        assert_eq!(status, 201, "{submitted}");
        flood.push(submitted["run_id"].as_str().expect("run").to_string());
    }
    let b_input = served.upload(&beta, b"one").await;
    let alpha_done = || async {
        let mut done = 0;
        for run in &flood {
            let (_, report) = served.get(&format!("/api/v1/runs/{run}"), &alpha).await;
            done += common::committed(&report).len();
        }
        done
    };
    let before = alpha_done().await;
    let started = std::time::Instant::now();
    let run = served
        .submit(&beta, json!({"workflow": work(99, 1), "inputs": {"data": b_input}}))
        .await;
    let report = served.wait(&beta, &run, Duration::from_secs(120)).await;
    let took = started.elapsed();
    assert_eq!(report["status"], "succeeded");
    // While beta's run was submitted, waited for a slot and ran, alpha finished some of its
    // queued steps, far from all: beta's step took one of the first slots that freed. In
    // first-come order it would have waited for every one of them.
    let during = alpha_done().await - before;
    eprintln!("beta's run took {took:?}; meanwhile alpha finished {during} steps ({before} of 48 before)");
    assert!(
        before + 24 <= 48,
        "the flood was mostly over before beta's run: make it larger"
    );
    assert!(
        during * 2 < 48 - before,
        "beta waited behind alpha's flood: {during} of alpha's {} queued steps finished meanwhile",
        48 - before
    );
    for run in &flood {
        let report = served.wait(&alpha, run, Duration::from_secs(300)).await;
        assert_eq!(report["status"], "succeeded");
    }
}

/// Several tenants submitting at once, bounded in count (4 × 25 runs) and time: every
/// accepted run is recorded and finishes, each tenant sees exactly its own runs, and no run
/// answers another tenant. Prints runs accepted per second and the submit latency
/// percentiles (BENCHMARKS.md, "The server under load":
/// `cargo test -p weft --test server several_tenants -- --nocapture`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_tenants_submitting_at_once_lose_nothing_and_see_only_their_own() {
    const TENANTS: usize = 4;
    const RUNS: usize = 25;
    let home = Home::new();
    let tokens: Vec<String> = (0..TENANTS).map(|t| tenant(&home, &format!("load-{t}"))).collect();
    let served = std::sync::Arc::new(Served::start(&home, &[]));
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for (t, token) in tokens.iter().enumerate() {
        let (served, token) = (served.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let input = served.upload(&token, format!("tenant {t}").as_bytes()).await;
            let mut submitted = Vec::new();
            for i in 0..RUNS {
                let body = json!({
                    "workflow": format!("name: load-{t}\ninputs:\n  data: {{path: d.txt}}\nsteps:\n  work: {{uses: test-work, inputs: {{data: inputs.data}}, with: {{salt: {i}, rounds: 1000}}}}\n"),
                    "inputs": {"data": input},
                });
                let sent = std::time::Instant::now();
                let run = served.submit(&token, body).await;
                submitted.push((run, sent.elapsed()));
            }
            submitted
        }));
    }
    let mut runs: Vec<Vec<String>> = Vec::new();
    let mut latencies = Vec::new();
    for task in tasks {
        let submitted = task.await.expect("a tenant's submissions");
        latencies.extend(submitted.iter().map(|(_, latency)| *latency));
        runs.push(submitted.into_iter().map(|(run, _)| run).collect());
    }
    let accepting = started.elapsed();
    latencies.sort();
    let percentile = |p: usize| latencies[(latencies.len() * p / 100).min(latencies.len() - 1)];
    eprintln!(
        "{} runs accepted in {accepting:?}: {:.1} runs/s; submit latency p50 {:?}, p99 {:?}",
        TENANTS * RUNS,
        (TENANTS * RUNS) as f64 / accepting.as_secs_f64(),
        percentile(50),
        percentile(99)
    );
    for (t, token) in tokens.iter().enumerate() {
        for run in &runs[t] {
            let report = served.wait(token, run, Duration::from_secs(300)).await;
            assert_eq!(report["status"], "succeeded", "{run}");
        }
        let (_, list) = served.get("/api/v1/runs?limit=1000", token).await;
        let mut listed: Vec<String> = list["runs"]
            .as_array()
            .expect("runs")
            .iter()
            .map(|r| r["run_id"].as_str().expect("id").to_string())
            .collect();
        listed.sort();
        let mut mine = runs[t].clone();
        mine.sort();
        assert_eq!(listed, mine, "tenant {t} sees exactly its own runs");
        let other = &runs[(t + 1) % TENANTS][t];
        assert_eq!(served.get(&format!("/api/v1/runs/{other}"), token).await.0, 404);
    }
}

/// `weft --server URL --token T`: `run` uploads the inputs it names (only once: the server
/// keeps them by digest), follows the run, prints the same report as a local run with the
/// same outputs, and exits as a local run does; `runs`, `logs` and `cancel` read the
/// server; commands that only read local records refuse instead of answering locally.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_works_on_a_server_as_it_does_locally() {
    let home = Home::new();
    let token = tenant(&home, "alpha");
    let served = Served::start(&home, &[]);
    let remote = |args: &[&str]| {
        let mut all = vec!["--server", served.base.as_str(), "--token", token.as_str()];
        all.extend_from_slice(args);
        home.weft(&all)
    };
    let run = |seed: &str| {
        remote(&[
            "run",
            "examples/iris-summary.yaml",
            "--param",
            seed,
            "--json",
            "--no-progress",
        ])
    };
    let out = run("seed=7");
    assert!(out.status.success(), "{}", common::stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    assert_eq!(report["status"], "succeeded");
    let (code, local) = common::run_json(&home, "examples/iris-summary.yaml", &["--param", "seed=7"]);
    assert_eq!(code, 0);
    assert_eq!(
        common::outputs(&report),
        common::outputs(&local),
        "the server computes what a local run does"
    );
    let out = run("seed=8");
    assert!(out.status.success(), "{}", common::stderr(&out));
    let (_, audit) = served.get("/api/v1/audit", &token).await;
    let uploads = audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["action"] == "artifact.upload")
        .count();
    assert_eq!(uploads, 1, "the input went up once: {audit}");

    // The same table as locally, without --json.
    let run_id = report["run_id"].as_str().expect("run id");
    let out = remote(&["runs", "show", run_id]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(common::stdout(&out).contains("train-stats"), "{}", common::stdout(&out));
    let out = remote(&["runs", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(list.as_array().map(Vec::len), Some(2));
    let out = remote(&["logs", run_id]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let out = remote(&["cancel", run_id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        common::stderr(&out).contains("is not running"),
        "{}",
        common::stderr(&out)
    );

    let dir = tempfile::tempdir().expect("tempdir");
    // An invalid workflow: exit 2, every problem with its line and column.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "name: bad\nsteps:\n  a:\n    uses: no-such-step@1\n").expect("write");
    let out = remote(&["run", bad.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    assert!(
        common::stderr(&out).contains("4:11: steps.a.uses"),
        "{}",
        common::stderr(&out)
    );

    // Artifacts, metrics and lineage read from the server, printed as locally.
    let local_id = local["run_id"].as_str().expect("run id");
    let file = dir.path().join("stats.json");
    let out = remote(&[
        "artifact",
        "get",
        run_id,
        "train-stats.summary",
        "-o",
        file.to_str().expect("utf-8"),
    ]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let local_out = home.weft(&["artifact", "get", local_id, "train-stats.summary"]);
    assert!(local_out.status.success(), "{}", common::stderr(&local_out));
    assert_eq!(std::fs::read(&file).expect("downloaded"), local_out.stdout);
    let digest = report["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|s| s["id"] == "train-stats"))
        .and_then(|s| s["outputs"]["summary"]["digest"].as_str())
        .expect("train-stats.summary")
        .to_string();
    let out = remote(&["artifact", "get", &digest]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert_eq!(out.stdout, local_out.stdout, "by digest, to stdout");
    let out = remote(&["metrics", "--last", "2"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let table = common::stdout(&out);
    let local_table = common::stdout(&home.weft(&["metrics", local_id]));
    let row = |t: &str| {
        t.lines()
            .find(|l| l.contains("train-stats") && l.contains("sepal_length.mean"))
            .map(str::to_string)
    };
    assert!(table.contains(run_id), "{table}");
    let local_row = row(&local_table).expect("a train-stats metric locally");
    // The last cell of `│ train-stats ┆ sepal_length.mean ┆ 5.8475 │`.
    let value = local_row
        .rsplit('┆')
        .next()
        .expect("a value")
        .trim_matches(['│', ' '])
        .to_string();
    assert!(
        row(&table).is_some_and(|r| r.contains(&value)),
        "{table}\n{local_table}"
    );
    let out = remote(&["lineage", &digest]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let lineage = common::stdout(&out);
    assert!(
        lineage.contains("train-stats.summary of run") && lineage.contains("workflow input"),
        "{lineage}"
    );
    let local_lineage = common::stdout(&home.weft(&["lineage", &digest]));
    assert_eq!(
        lineage.replace(run_id, "RUN"),
        local_lineage.replace(local_id, "RUN"),
        "the same tree as locally"
    );
    // Another tenant knows the digest and the run, and still gets nothing.
    let other = tenant(&home, "beta");
    let stranger = |args: &[&str]| {
        let mut all = vec!["--server", served.base.as_str(), "--token", other.as_str()];
        all.extend_from_slice(args);
        home.weft(&all)
    };
    for args in [
        vec!["artifact", "get", digest.as_str()],
        vec!["artifact", "get", run_id, "train-stats.summary"],
        vec!["lineage", digest.as_str()],
        vec!["metrics", run_id],
    ] {
        let out = stranger(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            out.stdout.is_empty() && common::stderr(&out).contains("404"),
            "{args:?}: {}",
            common::stderr(&out)
        );
    }
    // `run --resume` continues a stopped run on the server and follows it (here until it is
    // cancelled again: it spins).
    let workflow = "name: spins\nsteps:\n  spin: {uses: test-spin, limits: {timeout: 10m}}\n";
    let spins = served.submit(&token, json!({"workflow": workflow})).await;
    served
        .post(&format!("/api/v1/runs/{spins}/cancel"), &token, json!({}))
        .await;
    served.wait(&token, &spins, Duration::from_secs(60)).await;
    let resumed = home
        .command(&[
            "--server",
            served.base.as_str(),
            "--token",
            token.as_str(),
            "run",
            "--resume",
            "last",
            "--json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn weft");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while served.get(&format!("/api/v1/runs/{spins}"), &token).await.1["status"] != "running" {
        assert!(std::time::Instant::now() < deadline, "the run was not resumed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    served
        .post(&format!("/api/v1/runs/{spins}/cancel"), &token, json!({}))
        .await;
    let out = resumed.wait_with_output().expect("weft run --resume");
    assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    assert_eq!(
        (report["run_id"].as_str(), report["status"].as_str()),
        (Some(spins.as_str()), Some("cancelled"))
    );
    let out = remote(&["run", "--resume", run_id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        common::stderr(&out).contains("nothing to resume"),
        "{}",
        common::stderr(&out)
    );

    let out = remote(&["replay", run_id, "load"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(common::stderr(&out).contains("--server"), "{}", common::stderr(&out));
    let out = home.weft(&["--server", served.base.as_str(), "runs", "list"]);
    assert!(common::stderr(&out).contains("--token"), "{}", common::stderr(&out));
    // What is local by nature still runs here.
    let out = remote(&["tenant", "list"]);
    assert!(
        out.status.success() && common::stdout(&out).contains("alpha"),
        "{}",
        common::stderr(&out)
    );
}

/// With `OTEL_EXPORTER_OTLP_ENDPOINT` set, a run and its steps reach the collector (here a
/// loopback HTTP receiver that keeps what it is sent) as OTLP/HTTP JSON spans: one trace
/// per run, each step a child of the run's span, a failed step marked as an error with its
/// retry as an event, the configured headers and service name sent along.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_and_steps_are_traced_over_otlp() {
    let (tx, mut received) = tokio::sync::mpsc::unbounded_channel::<(axum::http::HeaderMap, serde_json::Value)>();
    let collector = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let tx = tx.clone();
            async move {
                let _ = tx.send((headers, serde_json::from_slice(&body).unwrap_or_default()));
                "{}"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, collector).await });

    let home = Home::new();
    let token = tenant(&home, "alpha");
    let mut served = Served::start_with_env(
        &home,
        &[],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=s%3Dcret"),
            ("OTEL_SERVICE_NAME", "weft-test"),
        ],
    );
    let input = served.upload(&token, b"traced").await;
    let workflow = "name: traced\ninputs:\n  data: {path: d.txt}\nsteps:\n  a: {uses: test-work, inputs: {data: inputs.data}}\n  b: {uses: test-work, inputs: {data: a.data}, with: {fail: failed}, retry: {max: 1, backoff: 10ms}}\n";
    let run = served
        .submit(&token, json!({"workflow": workflow, "inputs": {"data": input}}))
        .await;
    assert_eq!(
        served.wait(&token, &run, Duration::from_secs(60)).await["status"],
        "failed"
    );

    let mut spans = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !spans.iter().any(|s: &serde_json::Value| s["name"] == "run traced") {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let (headers, body) = tokio::time::timeout(left, received.recv())
            .await
            .expect("the run's span within 30 s")
            .expect("collector");
        assert_eq!(headers["x-api-key"], "s=cret");
        assert_eq!(headers["content-type"], "application/json");
        let resource = &body["resourceSpans"][0];
        assert_eq!(
            resource["resource"]["attributes"][0]["value"]["stringValue"],
            "weft-test"
        );
        spans.extend(
            resource["scopeSpans"][0]["spans"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
    }
    let find = |name: &str| {
        spans
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no span `{name}` in {spans:?}"))
    };
    let attribute = |span: &serde_json::Value, key: &str| {
        span["attributes"]
            .as_array()
            .and_then(|a| a.iter().find(|kv| kv["key"] == key))
            .map(|kv| kv["value"]["stringValue"].clone())
            .unwrap_or_default()
    };
    let (root, a, b) = (find("run traced"), find("step a"), find("step b"));
    assert_eq!(attribute(root, "weft.run_id"), run.as_str());
    assert_eq!(root["status"]["code"], 2, "the run failed");
    assert!(root.get("parentSpanId").is_none());
    for step in [a, b] {
        assert_eq!(step["traceId"], root["traceId"]);
        assert_eq!(step["parentSpanId"], root["spanId"]);
        let nanos = |k: &str| {
            step[k]
                .as_str()
                .and_then(|n| n.parse::<u64>().ok())
                .expect("nanoseconds")
        };
        assert!(nanos("startTimeUnixNano") <= nanos("endTimeUnixNano"));
    }
    assert_eq!(attribute(a, "weft.status"), "succeeded");
    assert_eq!(a["status"]["code"], 1);
    assert_eq!(attribute(b, "weft.status"), "failed");
    assert_eq!(b["status"]["code"], 2);
    assert!(
        b["status"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("told to fail")),
        "{b}"
    );
    assert_eq!(b["events"][0]["name"], "retry", "{b}");
    assert_eq!(root["traceId"].as_str().map(str::len), Some(32));

    // A stopping server sends what waits first: a run that ended just before SIGTERM
    // (its span queued, the batch not due for a second) still reaches the collector.
    let quick = served
        .submit(
            &token,
            json!({"workflow": "name: quick\nsteps:\n  n: {uses: test-noop}\n"}),
        )
        .await;
    events(&served, &token, &quick, None).await;
    let pid = served.child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    served.child.wait().expect("the server stops");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut names = Vec::new();
    while !names.iter().any(|n| n == "run quick") {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let (_, body) = tokio::time::timeout(left, received.recv())
            .await
            .expect("the span of the run that ended before SIGTERM")
            .expect("collector");
        let spans = body["resourceSpans"][0]["scopeSpans"][0]["spans"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        names.extend(spans.iter().filter_map(|s| s["name"].as_str().map(str::to_string)));
    }
}

/// `weft plugin publish`: a component file, then a project (built first, its README sent
/// with it), into the tenant's registry on the server; the same bytes again change nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_publish_puts_a_step_and_its_readme_in_the_servers_registry() {
    let home = Home::new();
    let token = tenant(&home, "alpha");
    let served = Served::start(&home, &[]);
    let publish = |what: &str, more: &[&str]| {
        let mut all = vec![
            "--server",
            served.base.as_str(),
            "--token",
            token.as_str(),
            "plugin",
            "publish",
            what,
        ];
        all.extend_from_slice(more);
        home.weft(&all)
    };
    let file = common::testing().join("test-copy.wasm");
    let out = publish(file.to_str().expect("utf8"), &[]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let said = common::stdout(&out);
    assert!(
        said.contains("published test-copy@0.1.0") && said.contains("private to your tenant"),
        "{said}"
    );
    let (status, shown) = served.get("/api/v1/steps/test-copy", &token).await;
    assert_eq!(status, 200);
    assert_eq!(shown["versions"][0]["public"], false, "{shown:#}");
    let out = publish(file.to_str().expect("utf8"), &[]);
    assert!(
        common::stdout(&out).contains("already published"),
        "{}",
        common::stdout(&out)
    );

    // A project: built, then published with its README (when this machine builds C).
    let made = home.weft(&[
        "plugin",
        "new",
        "--lang",
        "c",
        "counter",
        "--into",
        home.path().to_str().expect("utf8"),
    ]);
    assert!(made.status.success(), "{}", common::stderr(&made));
    let project = home.path().join("counter");
    let out = publish(project.to_str().expect("utf8"), &["--public"]);
    if out.status.success() {
        let (_, shown) = served.get("/api/v1/steps/counter", &token).await;
        assert_eq!(shown["versions"][0]["public"], true, "{shown:#}");
        assert!(
            shown["readme"].as_str().is_some_and(|r| r.starts_with("# counter (C)")),
            "{shown:#}"
        );
    } else {
        assert!(
            common::stderr(&out).contains("sudo apt-get install clang"),
            "{}",
            common::stderr(&out)
        );
    }
    // Without a server, it says what is needed.
    let out = home.weft(&["plugin", "publish", file.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        common::stderr(&out).contains("publishing needs a server"),
        "{}",
        common::stderr(&out)
    );
}
