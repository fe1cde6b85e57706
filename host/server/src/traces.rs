//! Traces over OTLP (`OTEL_EXPORTER_OTLP_ENDPOINT`, read by the CLI into [`TraceConfig`]):
//! a span per run executed here, with a child span per step from the moment it begins to
//! execute to its end (a cached step is an instant span; each retry an event on its step's
//! span). Spans go to the collector as OTLP/HTTP JSON (`POST …/v1/traces`), in batches,
//! from a task of their own: a slow or absent collector never holds a run back — spans
//! that do not fit the queue are dropped and counted in the log. A stopping server sends
//! what is waiting first ([`Tracer::flush`]).
//!
//! A run's trace id is derived from its tenant and run id, so a resumed run's spans join
//! the same trace and anyone holding the run id can find its trace.

use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use weft_engine::StepState;

/// Spans waiting to be sent; past this, new ones are dropped.
const QUEUE: usize = 4096;
/// Most spans in one request.
const BATCH: usize = 512;
/// Longest a finished span waits before its batch is sent.
const FLUSH: Duration = Duration::from_secs(1);
/// Longest one export request may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and how to send spans.
#[derive(Debug, Clone)]
pub struct TraceConfig {
    /// The traces URL (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, or
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`).
    pub url: String,
    /// Extra request headers (`OTEL_EXPORTER_OTLP_HEADERS`).
    pub headers: Vec<(String, String)>,
    /// `service.name` (`OTEL_SERVICE_NAME`, default `weft`).
    pub service_name: String,
}

/// Key-value attributes of a span or event.
type Attributes = Vec<(&'static str, serde_json::Value)>;

/// Something that happened during a span: when (Unix nanoseconds), its name, attributes.
type SpanEvent = (u64, String, Attributes);

/// A finished span, as OTLP JSON wants it.
struct Span {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    parent: Option<[u8; 8]>,
    name: String,
    start: u64,
    end: u64,
    attributes: Attributes,
    events: Vec<SpanEvent>,
    error: Option<String>,
}

/// What the exporting task is sent.
enum Message {
    Span(Span),
    /// Send what is waiting now, then say so.
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// Sends spans to a collector; cheap to clone into every run.
#[derive(Clone)]
pub(crate) struct Tracer {
    tx: mpsc::Sender<Message>,
    dropped: Arc<AtomicU64>,
    launches: Arc<AtomicU64>,
}

impl Tracer {
    /// Starts the exporting task (on the current runtime).
    pub(crate) fn start(config: TraceConfig) -> Tracer {
        let (tx, rx) = mpsc::channel(QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        tokio::spawn(export(config, rx, dropped.clone()));
        Tracer {
            tx,
            dropped,
            launches: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The spans of one run launched here (again, for a resumed run).
    pub(crate) fn run(&self, tenant: &str, run_id: &str, resumed: bool) -> RunTrace {
        let trace = hash(&format!("weft-trace\0{tenant}\0{run_id}"));
        let launch = self.launches.fetch_add(1, Ordering::Relaxed);
        let span = hash(&format!("weft-run\0{tenant}\0{run_id}\0{launch}\0{}", now()));
        RunTrace {
            tracer: self.clone(),
            trace_id: trace[..16].try_into().unwrap_or_default(),
            span_id: span[..8].try_into().unwrap_or_default(),
            tenant: tenant.to_string(),
            run_id: run_id.to_string(),
            resumed,
            start: now(),
            steps: Mutex::new(HashMap::new()),
        }
    }

    fn send(&self, span: Span) {
        if self.tx.try_send(Message::Span(span)).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Sends the spans waiting now, waiting at most `limit` (the server is stopping).
    pub(crate) async fn flush(&self, limit: Duration) {
        let (done, sent) = tokio::sync::oneshot::channel();
        let _ = tokio::time::timeout(limit, async {
            if self.tx.send(Message::Flush(done)).await.is_ok() {
                let _ = sent.await;
            }
        })
        .await;
    }
}

/// A run's span and its steps' open spans.
pub(crate) struct RunTrace {
    tracer: Tracer,
    trace_id: [u8; 16],
    span_id: [u8; 8],
    tenant: String,
    run_id: String,
    resumed: bool,
    start: u64,
    steps: Mutex<HashMap<String, OpenStep>>,
}

struct OpenStep {
    start: u64,
    retries: Vec<SpanEvent>,
}

impl RunTrace {
    /// A step's new state: opens its span when it starts, closes it when it ends.
    pub(crate) fn step(&self, step: &str, state: &StepState) {
        let mut steps = self.steps.lock().unwrap_or_else(PoisonError::into_inner);
        let (status, error) = match state {
            StepState::Waiting => return,
            StepState::Running => {
                steps.insert(
                    step.to_string(),
                    OpenStep {
                        start: now(),
                        retries: Vec::new(),
                    },
                );
                return;
            }
            StepState::Retrying { attempt, delay, error } => {
                if let Some(open) = steps.get_mut(step) {
                    open.retries.push((
                        now(),
                        "retry".to_string(),
                        vec![
                            ("weft.attempt", serde_json::json!(attempt)),
                            ("weft.delay_ms", serde_json::json!(delay.as_millis() as u64)),
                            ("weft.error", serde_json::json!(error)),
                        ],
                    ));
                }
                return;
            }
            StepState::Succeeded(_) => ("succeeded", None),
            StepState::Reused(_) => ("cached", None),
            StepState::Failed(e) => ("failed", Some(e.clone())),
            StepState::Blocked(e) => ("blocked", Some(e.clone())),
            StepState::Skipped(_) => ("skipped", None),
            StepState::Cancelled => ("cancelled", Some("cancelled".to_string())),
        };
        let end = now();
        let open = steps.remove(step).unwrap_or(OpenStep {
            start: end,
            retries: Vec::new(),
        });
        let id = hash(&format!("weft-step\0{}\0{step}", hex::encode(self.span_id)));
        self.tracer.send(Span {
            trace_id: self.trace_id,
            span_id: id[..8].try_into().unwrap_or_default(),
            parent: Some(self.span_id),
            name: format!("step {step}"),
            start: open.start,
            end,
            attributes: vec![
                ("weft.tenant", serde_json::json!(self.tenant)),
                ("weft.run_id", serde_json::json!(self.run_id)),
                ("weft.step", serde_json::json!(step)),
                ("weft.status", serde_json::json!(status)),
            ],
            events: open.retries,
            error,
        });
    }

    /// The run ended with `status`: its span is sent.
    pub(crate) fn finished(&self, workflow: &str, status: &str, error: Option<&str>) {
        self.tracer.send(Span {
            trace_id: self.trace_id,
            span_id: self.span_id,
            parent: None,
            name: format!("run {workflow}"),
            start: self.start,
            end: now(),
            attributes: vec![
                ("weft.tenant", serde_json::json!(self.tenant)),
                ("weft.run_id", serde_json::json!(self.run_id)),
                ("weft.workflow", serde_json::json!(workflow)),
                ("weft.status", serde_json::json!(status)),
                ("weft.resumed", serde_json::json!(self.resumed)),
            ],
            events: Vec::new(),
            error: (status != "succeeded").then(|| error.unwrap_or(status).to_string()),
        });
    }
}

/// Batches spans and posts them until the server stops.
async fn export(config: TraceConfig, mut rx: mpsc::Receiver<Message>, dropped: Arc<AtomicU64>) {
    let http = match reqwest::Client::builder().timeout(EXPORT_TIMEOUT).build() {
        Ok(http) => http,
        Err(e) => {
            tracing::error!("traces are off: cannot make an HTTP client: {e}");
            return;
        }
    };
    let mut failing = false;
    while let Some(first) = rx.recv().await {
        let mut batch = Vec::new();
        let mut flushed = None;
        match first {
            Message::Span(span) => batch.push(span),
            Message::Flush(done) => flushed = Some(done),
        }
        let deadline = tokio::time::Instant::now() + FLUSH;
        while batch.len() < BATCH && flushed.is_none() {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(Message::Span(span))) => batch.push(span),
                Ok(Some(Message::Flush(done))) => flushed = Some(done),
                Ok(None) | Err(_) => break,
            }
        }
        if batch.is_empty() {
            if let Some(done) = flushed {
                let _ = done.send(());
            }
            continue;
        }
        let body = document(&config.service_name, &batch);
        let mut request = http
            .post(&config.url)
            .header("content-type", "application/json")
            .body(body.to_string());
        for (name, value) in &config.headers {
            request = request.header(name, value);
        }
        let outcome = match request.send().await {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!("the collector answered {}", r.status())),
            Err(e) => Err(e.without_url().to_string()),
        };
        // Said once per change, not per batch: a collector that is down must not flood the log.
        match outcome {
            Ok(()) if failing => {
                failing = false;
                tracing::info!("traces reach the collector again");
            }
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(spans = batch.len(), "cannot send traces to {}: {e}", config.url);
            }
            _ => {}
        }
        let lost = dropped.swap(0, Ordering::Relaxed);
        if lost > 0 {
            tracing::warn!("{lost} spans dropped: the collector does not keep up");
        }
        if let Some(done) = flushed {
            let _ = done.send(());
        }
    }
}

/// The OTLP JSON request body for `spans`.
fn document(service: &str, spans: &[Span]) -> serde_json::Value {
    let attributes = |list: &[(&'static str, serde_json::Value)]| -> Vec<serde_json::Value> {
        list.iter()
            .map(|(k, v)| serde_json::json!({"key": k, "value": any_value(v)}))
            .collect()
    };
    let spans: Vec<serde_json::Value> = spans
        .iter()
        .map(|s| {
            let mut span = serde_json::json!({
                "traceId": hex::encode(s.trace_id),
                "spanId": hex::encode(s.span_id),
                "name": s.name,
                "kind": 1,
                "startTimeUnixNano": s.start.to_string(),
                "endTimeUnixNano": s.end.to_string(),
                "attributes": attributes(&s.attributes),
                "events": s.events.iter().map(|(at, name, attrs)| serde_json::json!({
                    "timeUnixNano": at.to_string(), "name": name, "attributes": attributes(attrs)
                })).collect::<Vec<_>>(),
                "status": match &s.error {
                    None => serde_json::json!({"code": 1}),
                    Some(message) => serde_json::json!({"code": 2, "message": message}),
                },
            });
            if let Some(parent) = &s.parent {
                span["parentSpanId"] = serde_json::json!(hex::encode(parent));
            }
            span
        })
        .collect();
    serde_json::json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"scope": {"name": "weft-server", "version": env!("CARGO_PKG_VERSION")}, "spans": spans}],
    }]})
}

fn any_value(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Bool(b) => serde_json::json!({"boolValue": b}),
        serde_json::Value::Number(n) if n.is_u64() || n.is_i64() => serde_json::json!({"intValue": n.to_string()}),
        serde_json::Value::Number(n) => serde_json::json!({"doubleValue": n}),
        serde_json::Value::String(s) => serde_json::json!({"stringValue": s}),
        other => serde_json::json!({"stringValue": other.to_string()}),
    }
}

fn hash(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// Nanoseconds since the Unix epoch.
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_collector_that_does_not_answer_never_holds_a_run_back() {
        // Accepts connections and never answers: every export waits its full timeout.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/v1/traces", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((conn, _)) = listener.accept().await {
                held.push(conn);
            }
        });
        let tracer = Tracer::start(TraceConfig {
            url,
            headers: Vec::new(),
            service_name: "weft".into(),
        });
        let started = std::time::Instant::now();
        let run = tracer.run("t", "r", false);
        for i in 0..QUEUE * 2 {
            run.step(&format!("s{i}"), &StepState::Running);
            run.step(&format!("s{i}"), &StepState::Succeeded(Duration::ZERO));
        }
        assert!(started.elapsed() < Duration::from_secs(5), "spans are never waited for");
        let dropped = tracer.dropped.load(Ordering::Relaxed);
        assert!(dropped >= QUEUE as u64 - BATCH as u64, "{dropped} dropped");
    }

    #[test]
    fn a_span_is_otlp_json() {
        let span = Span {
            trace_id: [1; 16],
            span_id: [2; 8],
            parent: Some([3; 8]),
            name: "step train".into(),
            start: 10,
            end: 20,
            attributes: vec![("weft.step", serde_json::json!("train")), ("n", serde_json::json!(3))],
            events: vec![(15, "retry".into(), vec![("weft.attempt", serde_json::json!(2))])],
            error: Some("boom".into()),
        };
        let doc = document("weft", &[span]);
        let s = &doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        assert_eq!(s["traceId"], "01".repeat(16));
        assert_eq!(s["parentSpanId"], "03".repeat(8));
        assert_eq!(s["startTimeUnixNano"], "10");
        assert_eq!(s["attributes"][1]["value"]["intValue"], "3");
        assert_eq!(s["events"][0]["attributes"][0]["value"]["intValue"], "2");
        assert_eq!(s["status"], serde_json::json!({"code": 2, "message": "boom"}));
        assert_eq!(
            doc["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"],
            "weft"
        );
    }
}
