//! The web UI over HTTP, against a real `weft serve` on loopback: signing in with a token
//! (an `HttpOnly`, `SameSite=Strict` cookie), the runs a tenant sees and the run it cannot,
//! the pages' security headers, and the embedded files. (What a browser does with the
//! pages is for the browser tests.)

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

/// Signs in with `token`; the cookie to send after.
async fn sign_in(served: &Served, token: &str) -> String {
    let response = client()
        .post(served.url("/ui/login"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send()
        .await
        .expect("sign in");
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
    if status == StatusCode::OK {
        let csp = response.headers()["content-security-policy"].to_str().expect("ascii");
        assert!(
            csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
    }
    (status, response.text().await.expect("body"))
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
    let refused = client()
        .post(served.url("/ui/login"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("token=weft_nothing")
        .send()
        .await
        .expect("sign in");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(
        refused
            .text()
            .await
            .expect("body")
            .contains("That token names no tenant.")
    );
    let (status, _) = page(&served, "/ui/", "weft_token=weft_nothing").await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    let workflow = "name: tiny\nsteps:\n  only: {uses: test-noop}\n";
    let run = served.submit(&alpha, json!({"workflow": workflow})).await;
    let report = served.wait(&alpha, &run, Duration::from_secs(60)).await;
    assert_eq!(report["status"], "succeeded", "{report:#}");

    let alpha_cookie = sign_in(&served, &alpha).await;
    let (status, runs) = page(&served, "/ui/", &alpha_cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(runs.contains(&format!("href=\"/ui/runs/{run}\"")), "{runs}");
    assert!(runs.contains("tiny") && runs.contains("succeeded"), "{runs}");
    let (_, filtered) = page(&served, "/ui/?status=failed", &alpha_cookie).await;
    assert!(
        !filtered.contains(&run) && filtered.contains("No runs yet."),
        "{filtered}"
    );
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
    let missing = client()
        .get(served.url("/ui/assets/../Cargo.toml"))
        .send()
        .await
        .expect("get");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}
