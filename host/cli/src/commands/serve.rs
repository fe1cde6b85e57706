//! `weft serve`: the HTTP API (weft-server) on the configured records and store. Publishes
//! the components of the plugin path as the built-in public steps, resumes the runs a
//! stopped server left running, prints the address it listens on, and serves until Ctrl-C
//! or SIGTERM; runs still executing then stay recorded as running and are resumed by the
//! next start.

use crate::cli::ServeArgs;
use crate::settings::Settings;
use anyhow::{Context, bail};
use weft_server::{Server, ServerConfig, TraceConfig};

pub async fn serve(args: &ServeArgs, settings: &Settings) -> anyhow::Result<u8> {
    if args.openapi {
        print!("{}", weft_server::openapi::document());
        return Ok(0);
    }
    let runner = settings.runner().await?;
    let slots = args
        .slots
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, std::num::NonZero::get));
    let mut overrides = serde_json::Map::new();
    for text in &args.quota {
        let (name, value) = weft_server::Quotas::parse_setting(text).map_err(anyhow::Error::msg)?;
        overrides.insert(name, value);
    }
    // A tenant may use every slot unless told otherwise.
    let defaults = weft_server::Quotas {
        concurrent_steps: slots as u64,
        ..weft_server::Quotas::default()
    };
    let shared = matches!(runner.records.location(), weft_records::Location::Postgres(_));
    let on_workers = match args.execute.as_deref() {
        Some("workers") if !shared => {
            bail!("--execute workers needs records that workers share: a PostgreSQL database (--records postgres://…)")
        }
        Some(place) => place == "workers",
        None => shared,
    };
    let config = ServerConfig {
        on_workers,
        slots,
        max_upload_bytes: args.max_upload_size,
        quotas: defaults.with_overrides(&overrides).map_err(anyhow::Error::msg)?,
        traces: trace_config(|name| std::env::var(name).ok())?,
        ..ServerConfig::default()
    };
    if let Some(traces) = &config.traces {
        eprintln!(
            "traces: OTLP http/json to {} as service `{}`",
            traces.url, traces.service_name
        );
    }
    let store = weft_artifacts::shown_url(runner.store.url());
    let server = Server::new(runner, config);
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let addr = listener.local_addr()?;
    match server.publish_builtin(&settings.plugin_path).await {
        Ok(n) => eprintln!(
            "published {n} built-in step(s) as public steps of `{}`",
            weft_records::BUILTIN_TENANT
        ),
        Err(e) => eprintln!("warning: cannot publish the built-in steps: {e:#}"),
    }
    match server.resume_interrupted().await {
        Ok(0) => {}
        Ok(n) => eprintln!("resumed {n} interrupted run(s)"),
        Err(e) => eprintln!("warning: cannot look for interrupted runs: {e:#}"),
    }
    if on_workers {
        eprintln!(
            "steps execute on workers: start at least one with `weft worker` on these records and this store \
             (or serve with `--execute here`)"
        );
    }
    // Said once everything above is done: a client that waits for this line finds the
    // built-in steps published.
    eprintln!(
        "weft serving on http://{addr} (records: {}, store: {store})",
        settings.records
    );
    // Open event streams would hold a graceful shutdown forever: on a signal the process
    // ends; what it was running is resumed by the next start.
    tokio::select! {
        served = server.serve(listener, std::future::pending()) => served.context("serving")?,
        () = stopped() => {
            eprintln!("stopping");
            server.flush_traces().await;
        }
    }
    Ok(0)
}

/// Ctrl-C or SIGTERM.
async fn stopped() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Traces from the OpenTelemetry variables: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (the URL)
/// or `OTEL_EXPORTER_OTLP_ENDPOINT` (+ `/v1/traces`), `OTEL_EXPORTER_OTLP_[TRACES_]HEADERS`,
/// `OTEL_SERVICE_NAME`; none without an endpoint, or with `OTEL_SDK_DISABLED=true` or
/// `OTEL_TRACES_EXPORTER=none`. Weft speaks OTLP over HTTP with JSON bodies only.
fn trace_config(env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Option<TraceConfig>> {
    let var = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    if var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
        || var("OTEL_TRACES_EXPORTER").is_some_and(|v| v == "none")
    {
        return Ok(None);
    }
    let url = match (
        var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
        var("OTEL_EXPORTER_OTLP_ENDPOINT"),
    ) {
        (Some(url), _) => url,
        (None, Some(base)) => format!("{}/v1/traces", base.trim_end_matches('/')),
        (None, None) => return Ok(None),
    };
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        bail!("the OTLP endpoint `{url}` is not an http:// or https:// URL");
    }
    match var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").or_else(|| var("OTEL_EXPORTER_OTLP_PROTOCOL")) {
        Some(p) if p == "grpc" => bail!(
            "weft sends traces over OTLP/HTTP (JSON), not gRPC: point OTEL_EXPORTER_OTLP_ENDPOINT at the \
             collector's HTTP port (4318 by default) and set OTEL_EXPORTER_OTLP_PROTOCOL=http/json"
        ),
        Some(p) if p != "http/json" => {
            eprintln!(
                "note: OTEL_EXPORTER_OTLP_PROTOCOL is `{p}`; weft sends http/json, which OTLP/HTTP receivers take too"
            );
        }
        _ => {}
    }
    let mut headers = Vec::new();
    if let Some(list) = var("OTEL_EXPORTER_OTLP_TRACES_HEADERS").or_else(|| var("OTEL_EXPORTER_OTLP_HEADERS")) {
        for pair in list.split(',').filter(|p| !p.trim().is_empty()) {
            let (name, value) = pair
                .split_once('=')
                .with_context(|| "OTEL_EXPORTER_OTLP_HEADERS: write NAME=VALUE pairs separated by commas")?;
            let (name, value) = (name.trim(), percent_decoded(value.trim()));
            // Checked here: a header the HTTP client refuses would fail every export.
            if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err()
                || reqwest::header::HeaderValue::from_str(&value).is_err()
            {
                bail!(
                    "OTEL_EXPORTER_OTLP_HEADERS: `{name}` is not a valid HTTP header name, or its value not a valid value"
                );
            }
            headers.push((name.to_string(), value));
        }
    }
    // reqwest's TLS needs a provider chosen before the first client is made.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Ok(Some(TraceConfig {
        url,
        headers,
        service_name: var("OTEL_SERVICE_NAME").unwrap_or_else(|| "weft".to_string()),
    }))
}

/// `%XX` escapes decoded (as the OpenTelemetry header list allows); others kept as written.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> anyhow::Result<Option<TraceConfig>> {
        let vars: std::collections::HashMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        trace_config(|name| vars.get(name).cloned())
    }

    #[test]
    fn traces_follow_the_opentelemetry_variables() {
        assert!(config(&[]).expect("none").is_none(), "no endpoint, no traces");
        let on = config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=a%2Cb, x-team=ml"),
        ])
        .expect("valid")
        .expect("on");
        assert_eq!(on.url, "http://collector:4318/v1/traces");
        assert_eq!(on.service_name, "weft");
        assert_eq!(
            on.headers,
            [
                ("api-key".to_string(), "a,b".to_string()),
                ("x-team".to_string(), "ml".to_string())
            ]
        );
        let exact = config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://ignored"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://c/traces"),
            ("OTEL_SERVICE_NAME", "ml-weft"),
        ])
        .expect("valid")
        .expect("on");
        assert_eq!(
            (exact.url.as_str(), exact.service_name.as_str()),
            ("https://c/traces", "ml-weft")
        );
        for off in [("OTEL_SDK_DISABLED", "true"), ("OTEL_TRACES_EXPORTER", "none")] {
            assert!(
                config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"), off])
                    .expect("valid")
                    .is_none()
            );
        }
        let grpc = config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ]);
        assert!(grpc.expect_err("refused").to_string().contains("not gRPC"));
        assert!(
            config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")]).is_err(),
            "not a URL"
        );
        let bad = config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "bad name=x"),
        ]);
        assert!(bad.is_err(), "a header the HTTP client would refuse");
    }
}
