//! The web UI over HTTP, against a real `weft serve` on loopback: signing in with a token
//! (an `HttpOnly`, `SameSite=Strict` cookie), the runs a tenant sees and the run it cannot,
//! the pages' security headers, and the embedded files; and the same in a real browser
//! (`tests/browser/`: Debian's Chromium through playwright-core, by Node's test runner).

mod common;

use common::Home;
use common::served::{Served, tenant};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, ETAG, IF_NONE_MATCH, LOCATION, SET_COOKIE};
use serde_json::json;
use std::time::Duration;

/// A client that shows redirects instead of following them.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Posts a form to `path` as a browser would, with these headers (an origin, a cookie).
async fn post_form(served: &Served, path: &str, headers: &[(&str, &str)], body: String) -> reqwest::Response {
    let mut request = client()
        .post(served.url(path))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(body).send().await.expect("post")
}

/// `s` percent-encoded for a form body.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Signs in with `token`; the cookie to send after.
async fn sign_in(served: &Served, token: &str) -> String {
    let response = post_form(
        served,
        "/ui/login",
        &[("origin", &served.base)],
        format!("token={token}"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/ui/");
    let cookie = response.headers()[SET_COOKIE].to_str().expect("ascii").to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    cookie.split(';').next().expect("name=value").to_string()
}

async fn page(served: &Served, path: &str, cookie: &str) -> (StatusCode, String) {
    let response = client()
        .get(served.url(path))
        .header(COOKIE, cookie)
        .send()
        .await
        .expect("get");
    let status = response.status();
    if status != StatusCode::SEE_OTHER {
        policed(&response);
    }
    (status, response.text().await.expect("body"))
}

/// A page's headers: what it may load (only this server's files; no inline script or
/// style, no frame), and that no cache keeps it.
fn policed(response: &reqwest::Response) {
    let h = response.headers();
    let csp = h["content-security-policy"].to_str().expect("ascii");
    for part in [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(part), "{part} in {csp}");
    }
    assert_eq!(h["cache-control"], "no-store");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_signs_in_and_sees_its_runs_and_no_others() {
    let home = Home::new();
    let alpha = tenant(&home, "alpha");
    let beta = tenant(&home, "beta");
    let served = Served::start(&home, &[]);

    // Without a cookie, or with a token that names no tenant: the sign-in page.
    let response = client().get(served.url("/ui/")).send().await.expect("get");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/ui/login");
    let refused = post_form(
        &served,
        "/ui/login",
        &[("origin", &served.base)],
        "token=weft_nothing".into(),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    policed(&refused);
    assert!(
        refused
            .text()
            .await
            .expect("body")
            .contains("That token names no tenant.")
    );
    let (status, _) = page(&served, "/ui/", "weft_token=weft_nothing").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    // A form posted from another origin (even with a good token) is refused: no page
    // elsewhere signs the browser in, or out.
    for (name, value) in [("origin", "http://evil.example"), ("sec-fetch-site", "cross-site")] {
        for path in ["/ui/login", "/ui/logout"] {
            let response = post_form(&served, path, &[(name, value)], format!("token={alpha}")).await;
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path} with {name}: {value}");
            assert!(response.headers().get(SET_COOKIE).is_none());
        }
    }
    let bare = client().get(served.url("/ui")).send().await.expect("get");
    assert_eq!(bare.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(bare.headers()[LOCATION], "/ui/");

    let workflow = "name: tiny\nsteps:\n  only: {uses: test-noop}\n";
    let run = served.submit(&alpha, json!({"workflow": workflow})).await;
    let report = served.wait(&alpha, &run, Duration::from_secs(60)).await;
    assert_eq!(report["status"], "succeeded", "{report:#}");

    let alpha_cookie = sign_in(&served, &alpha).await;
    let (status, runs) = page(&served, "/ui/", &alpha_cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(runs.contains(&format!("href=\"/ui/runs/{run}\"")), "{runs}");
    assert!(
        runs.contains("tiny") && runs.contains(r#"class="status succeeded""#),
        "{runs}"
    );
    let (_, filtered) = page(&served, "/ui/?status=failed", &alpha_cookie).await;
    assert!(
        !filtered.contains(&run) && filtered.contains("No runs match these filters."),
        "{filtered}"
    );
    let (_, by_workflow) = page(&served, "/ui/?workflow=tiny", &alpha_cookie).await;
    assert!(by_workflow.contains(&run), "{by_workflow}");
    let (_, other_workflow) = page(&served, "/ui/?workflow=other", &alpha_cookie).await;
    assert!(!other_workflow.contains(&run), "{other_workflow}");
    let (status, shown) = page(&served, &format!("/ui/runs/{run}"), &alpha_cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        shown.contains("id=\"step-only\"") && shown.contains("test-noop"),
        "{shown}"
    );

    // Another tenant: not in its list, not found by URL.
    let beta_cookie = sign_in(&served, &beta).await;
    let (_, theirs) = page(&served, "/ui/", &beta_cookie).await;
    assert!(!theirs.contains(&run), "{theirs}");
    let (status, missing) = page(&served, &format!("/ui/runs/{run}"), &beta_cookie).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(missing.contains("This tenant has no run"), "{missing}");
    // Its events (which keep the run's page live) neither; to its owner, every step's
    // state and the run's end.
    let events = format!("/ui/runs/{run}/events");
    let get = |cookie: String| {
        let url = served.url(&events);
        async move {
            let response = client().get(url).header(COOKIE, cookie).send().await.expect("get");
            (response.status(), response.text().await.expect("body"))
        }
    };
    let (status, _) = get(beta_cookie.clone()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, stream) = get(alpha_cookie.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        stream.contains("event: step_succeeded\ndata: {\"duration_ms\"") && stream.contains("event: run_finished"),
        "{stream}"
    );
    assert!(
        shown.contains(r#"id="dag""#) && shown.contains("&quot;id&quot;:&quot;only&quot;"),
        "{shown}"
    );

    // Signing out clears the cookie the sign-in set (same name and path).
    let out = post_form(
        &served,
        "/ui/logout",
        &[("cookie", &beta_cookie), ("origin", &served.base)],
        String::new(),
    )
    .await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let cleared = out.headers()[SET_COOKIE].to_str().expect("ascii");
    assert!(
        cleared.starts_with("weft_token=;") && cleared.contains("Path=/ui") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_serves_its_embedded_files_with_their_type_and_a_tag() {
    let home = Home::new();
    let served = Served::start(&home, &[]);
    let htmx = client()
        .get(served.url("/ui/assets/vendor/htmx.min.js"))
        .send()
        .await
        .expect("get");
    assert_eq!(htmx.status(), StatusCode::OK);
    assert_eq!(htmx.headers()[CONTENT_TYPE], "text/javascript; charset=utf-8");
    let etag = htmx.headers()[ETAG].clone();
    let bytes = htmx.bytes().await.expect("body");
    let vendored = std::fs::read(common::root().join("host/server/ui/assets/vendor/htmx.min.js")).expect("file");
    assert_eq!(bytes.as_ref(), vendored.as_slice(), "the vendored file, byte for byte");
    let again = client()
        .get(served.url("/ui/assets/vendor/htmx.min.js"))
        .header(IF_NONE_MATCH, etag)
        .send()
        .await
        .expect("get");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let css = client()
        .get(served.url("/ui/assets/weft.css"))
        .send()
        .await
        .expect("get");
    assert_eq!(css.headers()[CONTENT_TYPE], "text/css; charset=utf-8");
    // An encoded slash is not folded by the client: the handler sees `../Cargo.toml`.
    for path in ["/ui/assets/..%2F..%2F..%2FCargo.toml", "/ui/assets/..%2Fsrc%2Flib.rs"] {
        let missing = client().get(served.url(path)).send().await.expect("get");
        assert_eq!(missing.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_works_in_a_real_browser() {
    let Some(chromium) = weft_test_programs::services::chromium() else {
        return;
    };
    let dir = common::root().join("tests/browser");
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "the browser tests need playwright-core: `npm ci` in tests/browser"
    );
    let home = Home::new();
    let alpha = tenant(&home, "alpha");
    let beta = tenant(&home, "beta");
    let served = Served::start(&home, &[]);
    let input = served.upload(&alpha, b"twenty bytes of data").await;
    let workflow = "name: tiny\ninputs:\n  data: {path: d.txt}\nsteps:\n  only: {uses: test-noop}\n  work: {uses: test-work, inputs: {data: inputs.data}}\n";
    let run = served
        .submit(&alpha, json!({"workflow": workflow, "inputs": {"data": input}}))
        .await;
    let report = served.wait(&alpha, &run, Duration::from_secs(60)).await;
    assert_eq!(report["status"], "succeeded", "{report:#}");
    // A run of 1,000 steps, whose pages' load times the browser test prints.
    let salts: Vec<String> = (0..1000).map(|i| i.to_string()).collect();
    let big = format!(
        "name: big\ninputs:\n  data: {{path: d.txt}}\nsteps:\n  fan:\n    uses: test-work\n    inputs: {{data: inputs.data}}\n    with: {{rounds: 0}}\n    matrix: {{salt: [{}]}}\n",
        salts.join(", ")
    );
    let big = served
        .submit(&alpha, json!({"workflow": big, "inputs": {"data": input}}))
        .await;
    let report = served.wait(&alpha, &big, Duration::from_secs(300)).await;
    assert_eq!(report["status"], "succeeded", "{report:#}");
    // The breast-cancer example: its data uploaded for the browser test to run it, and one
    // run of it already done with another seed, to compare with.
    let root = common::root();
    let csv = std::fs::read(root.join("examples/data/breast_cancer.csv")).expect("the example's data");
    let bc_input = served.upload(&alpha, &csv).await;
    let bc_workflow = std::fs::read_to_string(root.join("examples/breast-cancer.yaml")).expect("the example");
    let bc_other = served
        .submit(
            &alpha,
            json!({"workflow": bc_workflow, "inputs": {"data": bc_input}, "params": {"seed": "8"}, "file": "breast-cancer.yaml"}),
        )
        .await;
    let report = served.wait(&alpha, &bc_other, Duration::from_secs(600)).await;
    assert_eq!(report["status"], "succeeded", "{report:#}");
    // A run that goes on until the browser test cancels it.
    let spin = "name: spins\nsteps:\n  spin: {uses: test-spin, limits: {timeout: 10m}}\n";
    let spinning = served.submit(&alpha, json!({"workflow": spin})).await;

    // Kept after the test (cargo's scratch directory for integration tests): the README's
    // screenshots in docs/ui/ are copied from here.
    let shots = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots");
    std::fs::create_dir_all(&shots).expect("screenshots dir");
    const PAGES: [&str; 7] = [
        "runs.png",
        "run.png",
        "step.png",
        "submit.png",
        "artifact.png",
        "compare.png",
        "steps.png",
    ];
    for page in PAGES {
        let _ = std::fs::remove_file(shots.join(page));
    }
    let log = shots.join("node.log");
    let status = std::process::Command::new("node")
        .args(["--test", "--test-reporter=spec"])
        .arg(dir.join("ui.test.mjs"))
        .current_dir(&dir)
        .env("WEFT_URL", &served.base)
        .env("WEFT_ALPHA_TOKEN", &alpha)
        .env("WEFT_BETA_TOKEN", &beta)
        .env("WEFT_RUN", &run)
        .env("WEFT_SPIN_RUN", &spinning)
        .env("WEFT_BIG_RUN", &big)
        .env("WEFT_BC_WORKFLOW", root.join("examples/breast-cancer.yaml"))
        .env("WEFT_BC_INPUT", &bc_input)
        .env("WEFT_BC_OTHER", &bc_other)
        .env("WEFT_CHROMIUM", &chromium)
        .env("WEFT_SCREENSHOTS", &shots)
        .stdout(std::fs::File::create(&log).expect("log"))
        .stderr(std::process::Stdio::inherit())
        .status()
        .expect("node");
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    eprintln!("{output}");
    assert!(status.success(), "the browser tests failed:\n{output}");
    let report = served.wait(&alpha, &spinning, Duration::from_secs(60)).await;
    assert_eq!(report["status"], "cancelled", "{report:#}");
    for page in PAGES {
        let png = std::fs::read(shots.join(page)).expect("a screenshot");
        assert!(png.starts_with(b"\x89PNG"), "{page} is a PNG");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_is_cancelled_and_resumed_from_its_page() {
    let home = Home::new();
    let alpha = tenant(&home, "alpha");
    let served = Served::start(&home, &[]);
    let cookie = sign_in(&served, &alpha).await;
    let spin = "name: spins\nsteps:\n  spin: {uses: test-spin, limits: {timeout: 10m}}\n";
    let run = served.submit(&alpha, json!({"workflow": spin})).await;
    let (_, shown) = page(&served, &format!("/ui/runs/{run}"), &cookie).await;
    assert!(shown.contains(&format!("action=\"/ui/runs/{run}/cancel\"")), "{shown}");
    assert!(!shown.contains("/resume\""), "a running run cannot be resumed: {shown}");

    let act = |action: &'static str, origin: String| {
        let (path, cookie, served) = (format!("/ui/runs/{run}/{action}"), cookie.clone(), &served);
        async move {
            post_form(
                served,
                &path,
                &[("cookie", &cookie), ("origin", &origin)],
                String::new(),
            )
            .await
        }
    };
    let forged = act("cancel", "http://evil.example".into()).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let cancelled = act("cancel", served.base.clone()).await;
    assert_eq!(cancelled.status(), StatusCode::SEE_OTHER);
    assert_eq!(cancelled.headers()[LOCATION], format!("/ui/runs/{run}"));
    let report = served.wait(&alpha, &run, Duration::from_secs(60)).await;
    assert_eq!(report["status"], "cancelled", "{report:#}");
    let (_, shown) = page(&served, &format!("/ui/runs/{run}"), &cookie).await;
    assert!(shown.contains(&format!("action=\"/ui/runs/{run}/resume\"")), "{shown}");
    // Cancelling a run that is not running says why.
    let again = act("cancel", served.base.clone()).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert!(again.text().await.expect("body").contains("is not running"));

    let resumed = act("resume", served.base.clone()).await;
    assert_eq!(resumed.status(), StatusCode::SEE_OTHER);
    let (_, shown) = served.get(&format!("/api/v1/runs/{run}"), &alpha).await;
    assert_eq!(shown["status"], "running", "{shown:#}");
    assert_eq!(act("cancel", served.base.clone()).await.status(), StatusCode::SEE_OTHER);
    let report = served.wait(&alpha, &run, Duration::from_secs(60)).await;
    assert_eq!(report["status"], "cancelled", "{report:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_submit_page_shows_each_problem_at_its_line_or_runs_the_workflow() {
    let home = Home::new();
    let alpha = tenant(&home, "alpha");
    let served = Served::start(&home, &[]);
    let cookie = sign_in(&served, &alpha).await;
    let (status, form) = page(&served, "/ui/submit", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains(r#"<textarea id="workflow" name="workflow""#), "{form}");

    let post = |body: String, origin: String| {
        let (cookie, served) = (cookie.clone(), &served);
        async move { post_form(served, "/ui/submit", &[("cookie", &cookie), ("origin", &origin)], body).await }
    };
    // An unknown field on line 3: the page keeps the text and puts the problem under it.
    let bad = "name: bad\nsteps:\n  a: {uses: test-noop, bogus: 1}\n";
    let refused = post(format!("workflow={}", encode(bad)), served.base.clone()).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    policed(&refused);
    let shown = refused.text().await.expect("body");
    assert!(shown.contains(r#"<li id="line-3" class="has-problem">"#), "{shown}");
    assert!(shown.contains("line 3, column "), "{shown}");
    assert!(!shown.contains(r#"<li id="line-2" class="has-problem">"#), "{shown}");
    assert!(shown.contains("bogus"), "{shown}");
    let forged = post(format!("workflow={}", encode(bad)), "http://evil.example".into()).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let params = post(format!("workflow={}&params=novalue", encode(bad)), served.base.clone()).await;
    assert_eq!(params.status(), StatusCode::BAD_REQUEST);
    assert!(params.text().await.expect("body").contains("write `name=value`"));

    let good = "name: tiny\nsteps:\n  only: {uses: test-noop}\n";
    let ran = post(format!("workflow={}", encode(good)), served.base.clone()).await;
    assert_eq!(ran.status(), StatusCode::SEE_OTHER);
    let location = ran.headers()[LOCATION].to_str().expect("ascii").to_string();
    let run = location.strip_prefix("/ui/runs/").expect("a run's page");
    let report = served.wait(&alpha, run, Duration::from_secs(60)).await;
    assert_eq!(report["status"], "succeeded", "{report:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_steps_page_shows_what_it_read_made_measured_and_logged() {
    let home = Home::new();
    let alpha = tenant(&home, "alpha");
    let served = Served::start(&home, &[]);
    let cookie = sign_in(&served, &alpha).await;
    let input = served.upload(&alpha, b"twenty bytes of data").await;
    let workflow = "name: w\ninputs:\n  data: {path: d.txt}\nsteps:\n  work: {uses: test-work, inputs: {data: inputs.data}}\n  talk: {uses: test-chatty}\n";
    let run = served
        .submit(&alpha, json!({"workflow": workflow, "inputs": {"data": input}}))
        .await;
    let report = served.wait(&alpha, &run, Duration::from_secs(120)).await;
    assert_eq!(report["status"], "succeeded", "{report:#}");

    let (_, shown) = page(&served, &format!("/ui/runs/{run}"), &cookie).await;
    assert!(
        shown.contains(&format!("href=\"/ui/runs/{run}/steps/work\"")),
        "{shown}"
    );
    let (status, work) = page(&served, &format!("/ui/runs/{run}/steps/work"), &cookie).await;
    assert_eq!(status, StatusCode::OK);
    let value = report["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["id"] == "work"))
        .and_then(|s| s["metrics"][0][1].as_f64())
        .expect("the metric");
    assert!(
        work.contains("<th scope=\"row\">value</th>") && work.contains(&value.to_string()),
        "{work}"
    );
    assert!(work.contains("inputs.data") && work.contains("text/plain"), "{work}");
    let (_, talk) = page(&served, &format!("/ui/runs/{run}/steps/talk"), &cookie).await;
    assert!(
        talk.contains("<pre id=\"log\">") && talk.contains("The first 1000 of "),
        "{talk}"
    );
    let (status, _) = page(&served, &format!("/ui/runs/{run}/steps/nothing"), &cookie).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_artifacts_page_previews_it_offers_it_and_traces_it_to_the_inputs() {
    let home = Home::new();
    let alpha = tenant(&home, "alpha");
    let beta = tenant(&home, "beta");
    let served = Served::start(&home, &[]);
    let cookie = sign_in(&served, &alpha).await;
    let input = served.upload(&alpha, b"<b>twenty</b> bytes!").await;
    let workflow =
        "name: w\ninputs:\n  data: {path: d.txt}\nsteps:\n  work: {uses: test-work, inputs: {data: inputs.data}}\n";
    let run = served
        .submit(&alpha, json!({"workflow": workflow, "inputs": {"data": input}}))
        .await;
    let report = served.wait(&alpha, &run, Duration::from_secs(120)).await;
    assert_eq!(report["status"], "succeeded", "{report:#}");
    let output = report["steps"][0]["outputs"]["data"]["digest"]
        .as_str()
        .expect("the output's digest")
        .to_string();

    let (_, work) = page(&served, &format!("/ui/runs/{run}/steps/work"), &cookie).await;
    assert!(work.contains(&format!("href=\"/ui/artifacts/{output}\"")), "{work}");
    let (status, shown) = page(&served, &format!("/ui/artifacts/{output}"), &cookie).await;
    assert_eq!(status, StatusCode::OK);
    // Its text (test-work writes the input's size and hash); its type; the step that
    // made it; its lineage back to the input.
    assert!(shown.contains(r#"<pre class="text">20 "#), "{shown}");
    assert!(shown.contains(r#"<dd id="media-type">text/plain</dd>"#), "{shown}");
    assert!(
        shown.contains(&format!("href=\"/ui/runs/{run}/steps/work\"")),
        "{shown}"
    );
    assert!(
        shown.contains("<code>work.data</code>") && shown.contains("<code>inputs.data</code>"),
        "{shown}"
    );
    assert!(shown.contains(&format!("href=\"/ui/artifacts/{input}\"")), "{shown}");
    let (status, taken) = page(&served, &format!("/ui/artifacts/{input}"), &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(taken.contains("the workflow input <code>data</code>"), "{taken}");
    assert!(
        taken.contains("&lt;b&gt;twenty&lt;/b&gt; bytes!</pre>"),
        "shown as text, escaped: {taken}"
    );

    // The download: the bytes, as an attachment, in a sandbox.
    let get = |path: String, cookie: String| {
        let url = served.url(&path);
        async move { client().get(url).header(COOKIE, cookie).send().await.expect("get") }
    };
    let download = get(format!("/ui/artifacts/{input}/download"), cookie.clone()).await;
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.headers()["content-disposition"], "attachment");
    assert_eq!(
        download.headers()["content-security-policy"],
        "default-src 'none'; sandbox"
    );
    assert_eq!(download.bytes().await.expect("bytes").as_ref(), b"<b>twenty</b> bytes!");

    // Another tenant: neither the page nor the bytes; a malformed address is not found.
    let beta_cookie = sign_in(&served, &beta).await;
    for path in [
        format!("/ui/artifacts/{output}"),
        format!("/ui/artifacts/{output}/download"),
    ] {
        let response = get(path.clone(), beta_cookie.clone()).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(!response.text().await.expect("body").contains("twenty"), "{path}");
    }
    let (status, _) = page(&served, "/ui/artifacts/sha256:nothing", &cookie).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Previews by the media type a run took them with: CSV as a table, an image inline.
    let csv = served.upload(&alpha, b"name,note\nada,\"x, <y>\"\nbob,z\n").await;
    let png = served.upload(&alpha, b"\x89PNG\r\n\x1a\nnot really").await;
    let typed = "name: typed\ninputs:\n  table: {path: t.csv, media_type: text/csv}\n  picture: {path: p.png, media_type: image/png}\nsteps:\n  a: {uses: test-work, inputs: {data: inputs.table}}\n  b: {uses: test-work, inputs: {data: inputs.picture}}\n";
    let run = served
        .submit(
            &alpha,
            json!({"workflow": typed, "inputs": {"table": csv, "picture": png}}),
        )
        .await;
    let report = served.wait(&alpha, &run, Duration::from_secs(120)).await;
    assert_eq!(report["status"], "succeeded", "{report:#}");
    let (_, table) = page(&served, &format!("/ui/artifacts/{csv}"), &cookie).await;
    assert!(
        table.contains("Rows 1–2 of 2, 2 columns.") && table.contains("<td>x, &lt;y&gt;</td>"),
        "{table}"
    );
    let (_, picture) = page(&served, &format!("/ui/artifacts/{png}"), &cookie).await;
    assert!(
        picture.contains(&format!(
            r#"<img id="preview-image" src="/ui/artifacts/{png}/download""#
        )),
        "{picture}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_shows_a_tenants_runs_side_by_side_and_no_others() {
    let home = Home::new();
    let alpha = tenant(&home, "alpha");
    let beta = tenant(&home, "beta");
    let served = Served::start(&home, &[]);
    let cookie = sign_in(&served, &alpha).await;
    let input = served.upload(&alpha, b"twenty bytes of data").await;
    let workflow = "name: w\nparams:\n  n: {type: int, default: 1}\ninputs:\n  data: {path: d.txt}\nsteps:\n  work:\n    uses: test-work\n    inputs: {data: inputs.data}\n    with: {rounds: 0}\n    matrix: {salt: [1, 2]}\n";
    let mut runs = Vec::new();
    for n in ["1", "2"] {
        let run = served
            .submit(
                &alpha,
                json!({"workflow": workflow, "params": {"n": n}, "inputs": {"data": input}}),
            )
            .await;
        let report = served.wait(&alpha, &run, Duration::from_secs(120)).await;
        assert_eq!(report["status"], "succeeded", "{report:#}");
        runs.push(run);
    }
    let (a, b) = (&runs[0], &runs[1]);
    let (status, shown) = page(&served, &format!("/ui/compare?runs={a}&runs={b}"), &cookie).await;
    assert_eq!(status, StatusCode::OK);
    // The parameter that differs is marked; the metric rows are there, one per instance.
    assert!(
        shown.contains(r#"<tr class="differs"><th scope="row">n</th>"#),
        "{shown}"
    );
    assert!(
        shown.contains("work[0] · value") && shown.contains("work[1] · value"),
        "{shown}"
    );
    let (status, sweep) = page(&served, &format!("/ui/compare?run={a}"), &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        sweep.contains(r#"id="sweep-work""#) && sweep.contains("<th scope=\"col\">salt</th>"),
        "{sweep}"
    );

    // Run again with other parameters: the form holds the run's workflow, parameters and
    // inputs; changed, it runs.
    let (status, again) = page(&served, &format!("/ui/runs/{a}/rerun"), &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        again.contains("n=1\n")
            && again.contains(&format!("data={input}\n"))
            && again.contains("matrix: {salt: [1, 2]}"),
        "{again}"
    );
    let ran = post_form(
        &served,
        "/ui/submit",
        &[("cookie", &cookie), ("origin", &served.base)],
        format!(
            "workflow={}&params={}&inputs={}",
            encode(workflow),
            encode("n=3"),
            encode(&format!("data={input}"))
        ),
    )
    .await;
    assert_eq!(ran.status(), StatusCode::SEE_OTHER);
    let location = ran.headers()[LOCATION].to_str().expect("ascii").to_string();
    let third = location.strip_prefix("/ui/runs/").expect("a run's page");
    let report = served.wait(&alpha, third, Duration::from_secs(60)).await;
    assert_eq!(report["status"], "succeeded", "{report:#}");
    assert_eq!(report["params"]["n"], 3, "{report:#}");

    // Too few runs; another tenant's runs, by either route.
    let (status, _) = page(&served, &format!("/ui/compare?runs={a}"), &cookie).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let beta_cookie = sign_in(&served, &beta).await;
    for path in [
        format!("/ui/compare?runs={a},{b}"),
        format!("/ui/compare?run={a}"),
        format!("/ui/runs/{a}/rerun"),
    ] {
        let (status, shown) = page(&served, &path, &beta_cookie).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(!shown.contains("work[0]"), "{shown}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_steps_pages_show_the_registry_a_tenant_may_use() {
    let home = Home::new();
    let alpha = tenant(&home, "alpha");
    let beta = tenant(&home, "beta");
    let served = Served::start(&home, &[]);
    let put = |path: &'static str, body: Vec<u8>| {
        let (url, alpha) = (served.url(path), alpha.clone());
        async move {
            let response = client()
                .put(url)
                .bearer_auth(alpha)
                .body(body)
                .send()
                .await
                .expect("put");
            response.status()
        }
    };
    let copy = std::fs::read(common::testing().join("test-copy.wasm")).expect("a test guest");
    assert_eq!(put("/api/v1/steps/test-copy/0.1.0", copy).await, StatusCode::CREATED);
    let readme = b"# test-copy\n\nCopies its input. <script>alert(1)</script>".to_vec();
    assert_eq!(
        put("/api/v1/steps/test-copy/0.1.0/readme", readme).await,
        StatusCode::NO_CONTENT
    );

    let cookie = sign_in(&served, &alpha).await;
    let (status, listed) = page(&served, "/ui/steps", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    // Its own private step, and the server's public ones.
    assert!(
        listed.contains(r#"href="/ui/steps/test-copy""#) && listed.contains("only alpha"),
        "{listed}"
    );
    assert!(
        listed.contains(r#"href="/ui/steps/csv-to-table""#) && listed.contains("every tenant"),
        "{listed}"
    );
    let (_, searched) = page(&served, "/ui/steps?q=csv", &cookie).await;
    assert!(
        searched.contains("csv-to-table") && !searched.contains("test-copy"),
        "{searched}"
    );
    let (status, shown) = page(&served, "/ui/steps/test-copy", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(shown.contains("<h1>test-copy</h1>"), "the README, rendered: {shown}");
    assert!(!shown.contains("<script>alert"), "without its HTML: {shown}");
    assert!(
        shown.contains("uses: test-copy@0.1.0") && shown.contains("sha256:"),
        "{shown}"
    );
    let (_, csv) = page(&served, "/ui/steps/csv-to-table", &cookie).await;
    assert!(
        csv.contains("<code>text/csv</code>") && csv.contains(r#"<table id="params""#),
        "its contract: ports with media types, parameters: {csv}"
    );

    // Another tenant does not see alpha's private step.
    let beta_cookie = sign_in(&served, &beta).await;
    let (_, theirs) = page(&served, "/ui/steps", &beta_cookie).await;
    assert!(!theirs.contains("test-copy"), "{theirs}");
    let (status, _) = page(&served, "/ui/steps/test-copy", &beta_cookie).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Made public, beta sees it, as a step it takes only by digest: another tenant's step
    // never stands for a name.
    let public = client()
        .post(served.url("/api/v1/steps/test-copy/0.1.0/public"))
        .bearer_auth(&alpha)
        .header(CONTENT_TYPE, "application/json")
        .body(r#"{"public": true}"#)
        .send()
        .await
        .expect("post");
    assert!(public.status().is_success(), "{}", public.status());
    let (_, theirs) = page(&served, "/ui/steps", &beta_cookie).await;
    assert!(
        theirs.contains("test-copy") && theirs.contains("<em>by digest only</em>"),
        "{theirs}"
    );
    let (status, shown) = page(&served, "/ui/steps/test-copy", &beta_cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        shown.contains("a workflow takes it only by its digest") && !shown.contains("uses: test-copy@"),
        "{shown}"
    );
}
