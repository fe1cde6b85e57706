//! Where tests and benchmarks find the throw-away services they run against: a PostgreSQL
//! server (`WEFT_TEST_POSTGRES`, an admin URL) and an S3-compatible store (`WEFT_TEST_S3`,
//! `http://ACCESS_KEY:SECRET@HOST:PORT/BUCKET`), as `cargo xtask services` and
//! `cargo xtask ci` start them on loopback.
//!
//! `WEFT_TEST_WEED` names the `weed` binary behind the S3 service ([`weed`]);
//! `WEFT_TEST_CHROMIUM` the browser of the UI's browser tests ([`chromium`]).
//!
//! A test asks with [`postgres`] or [`s3`]: unset, the service's tests say so in one line
//! and pass — unless `WEFT_TEST_SERVICES=required` (CI), where a missing service fails the
//! test instead of skipping it silently. A benchmark asks with [`postgres_if_set`] or
//! [`s3_if_set`] and leaves the configuration out.

/// The S3-compatible test service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Service {
    /// `http://HOST:PORT`.
    pub endpoint: String,
    /// Its access key id.
    pub access_key: String,
    /// Its secret access key.
    pub secret: String,
    /// The bucket tests work in, each under a prefix of its own.
    pub bucket: String,
}

impl S3Service {
    /// Parses `http://ACCESS_KEY:SECRET@HOST:PORT/BUCKET` (credentials of letters and
    /// digits: they are not percent-decoded).
    pub fn parse(value: &str) -> Result<S3Service, String> {
        // The value holds a secret: the message never repeats it.
        let bad = || "WEFT_TEST_S3 is not http://ACCESS_KEY:SECRET@HOST:PORT/BUCKET".to_string();
        let rest = value.strip_prefix("http://").ok_or_else(bad)?;
        let (creds, rest) = rest.split_once('@').ok_or_else(bad)?;
        let (access_key, secret) = creds.split_once(':').ok_or_else(bad)?;
        let (host, bucket) = rest.split_once('/').ok_or_else(bad)?;
        let bucket = bucket.trim_matches('/');
        if host.is_empty() || bucket.is_empty() || access_key.is_empty() {
            return Err(bad());
        }
        Ok(S3Service {
            endpoint: format!("http://{host}"),
            access_key: access_key.into(),
            secret: secret.into(),
            bucket: bucket.into(),
        })
    }

    /// An `s3://` store URL under a prefix no other caller uses, starting with `label`.
    pub fn fresh_store_url(&self, label: &str) -> String {
        format!("s3://{}/{label}-{}", self.bucket, unique())
    }
}

/// The test PostgreSQL's admin URL, or `None` after saying the test is skipped.
///
/// # Panics
/// When it is unset and `WEFT_TEST_SERVICES=required`.
pub fn postgres() -> Option<String> {
    postgres_if_set().or_else(|| skip("WEFT_TEST_POSTGRES"))
}

/// The test S3 service, or `None` after saying the test is skipped.
///
/// # Panics
/// When it is unset and `WEFT_TEST_SERVICES=required`, or set to something else than
/// `http://ACCESS_KEY:SECRET@HOST:PORT/BUCKET`.
pub fn s3() -> Option<S3Service> {
    s3_if_set().or_else(|| skip("WEFT_TEST_S3"))
}

/// The `weed` binary the S3 service runs (`WEFT_TEST_WEED`), for a test that starts a
/// SeaweedFS of its own (to stop and start it again), or `None` after saying the test is
/// skipped.
///
/// # Panics
/// When it is unset and `WEFT_TEST_SERVICES=required`.
pub fn weed() -> Option<std::path::PathBuf> {
    std::env::var_os("WEFT_TEST_WEED")
        .filter(|w| !w.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| skip("WEFT_TEST_WEED"))
}

/// The browser the UI's browser tests drive (`WEFT_TEST_CHROMIUM`, Debian's `chromium`),
/// or `None` after saying the test is skipped.
///
/// # Panics
/// When it is unset and `WEFT_TEST_SERVICES=required`.
pub fn chromium() -> Option<std::path::PathBuf> {
    std::env::var_os("WEFT_TEST_CHROMIUM")
        .filter(|w| !w.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| skip("WEFT_TEST_CHROMIUM"))
}

/// `WEFT_TEST_POSTGRES`, if set (for benchmarks, which leave a configuration out).
pub fn postgres_if_set() -> Option<String> {
    std::env::var("WEFT_TEST_POSTGRES").ok().filter(|u| !u.is_empty())
}

/// `WEFT_TEST_S3`, if set (for benchmarks, which leave a configuration out).
///
/// # Panics
/// When it is set to something else than `http://ACCESS_KEY:SECRET@HOST:PORT/BUCKET`.
pub fn s3_if_set() -> Option<S3Service> {
    let value = std::env::var("WEFT_TEST_S3").ok().filter(|u| !u.is_empty())?;
    Some(S3Service::parse(&value).unwrap_or_else(|e| panic!("{e}")))
}

fn skip<T>(variable: &str) -> Option<T> {
    if std::env::var("WEFT_TEST_SERVICES").as_deref() == Ok("required") {
        panic!("{variable} is not set but WEFT_TEST_SERVICES=required (start the services: `cargo xtask services`)");
    }
    // Straight to stderr: the test harness captures `println!` of passing tests.
    let line = format!("skipped: set {variable} (cargo xtask services)\n");
    let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
    None
}

/// A name part no other caller uses: process id, time and a counter.
pub fn unique() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{}-{nanos}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_s3_service_url_parses_or_says_what_it_should_be() {
        let s = S3Service::parse("http://key1:secret2@127.0.0.1:8333/weft-test/").expect("parses");
        assert_eq!(
            s,
            S3Service {
                endpoint: "http://127.0.0.1:8333".into(),
                access_key: "key1".into(),
                secret: "secret2".into(),
                bucket: "weft-test".into(),
            }
        );
        assert!(s.fresh_store_url("t").starts_with("s3://weft-test/t-"));
        assert_ne!(s.fresh_store_url("t"), s.fresh_store_url("t"));
        for bad in ["https://k:s@h:1/b", "http://k:s@h:1/", "http://h:1/b", "http://k:s@h:1"] {
            let e = S3Service::parse(bad).expect_err(bad);
            assert!(e.contains("http://ACCESS_KEY:SECRET@HOST:PORT/BUCKET"), "{e}");
        }
    }
}
