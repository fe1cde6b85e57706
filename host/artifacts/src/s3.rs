//! Stores on S3 (`s3://bucket/prefix`): the URL, the connection settings handed in by the
//! caller, and the client built from them.
//!
//! Settings come in as a value, never from the environment (only the CLI reads it): the
//! library must serve a server holding many tenants' settings as well as a CLI. Secrets
//! never appear in `Debug` output nor in an error this module makes.

use crate::ArtifactError;
use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::prefix::PrefixStore;
use object_store::{BackoffConfig, RetryConfig};
use std::sync::Arc;
use std::time::Duration;

/// How a request the service fails (refused connection, 5xx, timeout) is retried: 5 times,
/// after backoffs of at most 0.1, 0.2, 0.4, 0.8 and 1.6 s (object_store's default keeps
/// trying for 3 minutes; AWS's SDKs try 3 times). An outage longer than that fails the
/// step as a host error (`StepFailure::Host`) rather than stall it against its time
/// limit: a worker gives it back to the queue, to run again after a backoff; in one
/// process its `retry:` applies.
const RETRY: RetryConfig = RetryConfig {
    backoff: BackoffConfig {
        init_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(2),
        base: 2.0,
    },
    max_retries: 5,
    retry_timeout: Duration::from_secs(10),
};

/// Where an S3-compatible service is and how to sign requests to it. Empty fields take
/// S3's defaults: AWS's endpoint for the region, region `us-east-1`, and credentials from
/// the instance metadata service when no access key is given.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct S3Config {
    /// Endpoint URL, for a service other than AWS (`http://127.0.0.1:8333` for SeaweedFS).
    pub endpoint: Option<String>,
    /// Region the bucket is in.
    pub region: Option<String>,
    /// Access key id.
    pub access_key_id: Option<String>,
    /// Secret access key: never shown.
    pub secret_access_key: Option<String>,
    /// Session token of temporary credentials: never shown.
    pub session_token: Option<String>,
    /// Allow a plain-HTTP endpoint (loopback test services); HTTPS only otherwise.
    pub allow_http: bool,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |v: &Option<String>| v.as_ref().map(|_| "******");
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &hidden(&self.secret_access_key))
            .field("session_token", &hidden(&self.session_token))
            .field("allow_http", &self.allow_http)
            .finish()
    }
}

impl S3Config {
    /// A service at `endpoint` (plain HTTP allowed only for an `http://` one) with static
    /// credentials, in the default region.
    pub fn with_endpoint(endpoint: &str, access_key_id: &str, secret_access_key: &str) -> S3Config {
        S3Config {
            endpoint: Some(endpoint.to_string()),
            access_key_id: Some(access_key_id.to_string()),
            secret_access_key: Some(secret_access_key.to_string()),
            allow_http: endpoint.starts_with("http://"),
            ..S3Config::default()
        }
    }
}

/// Region used when none is configured (what the AWS tools assume too).
const DEFAULT_REGION: &str = "us-east-1";

/// Bucket and key prefix of an `s3://bucket[/prefix]` URL. Credentials, ports, queries and
/// fragments are refused: settings come through [`S3Config`], and a secret written into a
/// URL would be printed wherever the URL is (the error names no part of such a URL).
pub(crate) fn parse_url(url: &str) -> Result<(String, String), ArtifactError> {
    let rest = url.strip_prefix("s3://").unwrap_or_default();
    let (authority, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if authority.contains('@') {
        return Err(ArtifactError::BadS3Url(
            "credentials do not belong in the store URL: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".into(),
        ));
    }
    let bucket_ok = (3..=63).contains(&authority.len())
        && authority
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    if !bucket_ok {
        return Err(ArtifactError::BadS3Url(format!(
            "`{url}` does not start with a bucket name (3 to 63 lowercase letters, digits, `-`, `.`)"
        )));
    }
    if prefix.contains(['?', '#']) || prefix.split('/').any(|p| p == "." || p == "..") {
        return Err(ArtifactError::BadS3Url(format!(
            "`{url}`: the prefix may not hold `?`, `#`, `.` or `..`"
        )));
    }
    Ok((authority.to_string(), prefix.trim_matches('/').to_string()))
}

/// Builds the client for `s3://bucket/prefix`; keys are then relative to the prefix.
pub(crate) fn open(url: &str, config: &S3Config) -> Result<Arc<dyn ObjectStore>, ArtifactError> {
    let (bucket, prefix) = parse_url(url)?;
    // reqwest's TLS runs on rustls with ring (aws-lc-rs is a slow C build we avoid): make
    // ring the process's provider unless the program chose one already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_region(config.region.as_deref().unwrap_or(DEFAULT_REGION))
        .with_allow_http(config.allow_http)
        .with_retry(RETRY);
    if let Some(endpoint) = &config.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if let Some(key) = &config.access_key_id {
        builder = builder.with_access_key_id(key);
    }
    if let Some(secret) = &config.secret_access_key {
        builder = builder.with_secret_access_key(secret);
    }
    if let Some(token) = &config.session_token {
        builder = builder.with_token(token);
    }
    // The builder's own errors name settings, not their values.
    let s3 = builder.build()?;
    Ok(if prefix.is_empty() {
        Arc::new(s3)
    } else {
        Arc::new(PrefixStore::new(s3, prefix.as_str()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(parse_url("s3://weft").expect("ok"), ("weft".into(), String::new()));
        assert_eq!(parse_url("s3://weft/a/b/").expect("ok"), ("weft".into(), "a/b".into()));
        for bad in [
            "s3://",
            "s3://UP",
            "s3://a",
            "s3://weft/x?y",
            "s3://weft/../x",
            "s3://b:1/x",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
        let err = parse_url("s3://key:hunter2@weft/x").expect_err("refused").to_string();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn debug_hides_secrets() {
        let config = S3Config {
            access_key_id: Some("key".into()),
            secret_access_key: Some("hunter2".into()),
            session_token: Some("tok3n".into()),
            ..S3Config::default()
        };
        let shown = format!("{config:?}");
        assert!(shown.contains("key") && !shown.contains("hunter2") && !shown.contains("tok3n"));
    }
}
