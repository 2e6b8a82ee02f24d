//! Process metrics in the Prometheus text format (`GET /metrics`): requests, errors by public
//! code, request latency by operation type, open sockets, schema builds and cache size, the
//! job queue's depth and how long this process's jobs ran. Counters and histograms are plain
//! atomics: recording one costs a few relaxed increments on the request path. The queue's
//! depth is counted in the database at scrape time.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_graphql::parser::types::OperationType;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use entity::{Db, ErrorCode};
use jobs::metrics::{Histogram, JobMetrics, family};

use super::registry::Registry;
use crate::config::Config;
use crate::services::Services;

/// Process-wide counters.
pub struct Metrics {
    started: Instant,
    pub http_requests: AtomicU64,
    pub ws_connections_total: AtomicU64,
    pub ws_open: AtomicI64,
    /// Errors by code (`ErrorCode::index`).
    errors: [AtomicU64; ErrorCode::ALL.len()],
    /// Operation latency: one series per operation type (`KINDS`) and path (`PATHS`).
    requests: [[Histogram; 2]; 3],
    /// How long the jobs of this process's worker ran (filled when `serve` runs workers).
    pub jobs: Arc<JobMetrics>,
}

/// The operation types, in the order of `Metrics::requests`.
const KINDS: [OperationType; 3] =
    [OperationType::Query, OperationType::Mutation, OperationType::Subscription];
/// What answered: a compiled plan or the executor (index 1 and 0 of `Metrics::requests`).
const PATHS: [&str; 2] = ["executor", "compiled"];

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            started: Instant::now(),
            http_requests: AtomicU64::new(0),
            ws_connections_total: AtomicU64::new(0),
            ws_open: AtomicI64::new(0),
            errors: Default::default(),
            requests: Default::default(),
            jobs: Default::default(),
        }
    }
}

impl Metrics {
    /// Records how long an operation of type `kind` took.
    pub fn request(&self, kind: OperationType, compiled: bool, d: Duration) {
        let k = KINDS.iter().position(|x| *x == kind).unwrap_or(0);
        self.requests[k][usize::from(compiled)].observe(d);
    }

    /// Appends the request latency histogram.
    fn render_latency(&self, out: &mut String) {
        const REQUESTS: &str = "alphery_request_duration_seconds";
        family(
            out,
            REQUESTS,
            "GraphQL operations by type and by what answered (a compiled plan or the executor), from the request's arrival to its answer; a subscription from its start to its end.",
        );
        for (kind, series) in KINDS.iter().zip(&self.requests) {
            for (path, h) in PATHS.iter().zip(series) {
                // Only queries have compiled plans: no always-empty series for the others.
                if *path == "compiled" && *kind != OperationType::Query {
                    continue;
                }
                let kind = kind_name(*kind);
                h.render(out, REQUESTS, &format!("operation=\"{kind}\",path=\"{path}\""));
            }
        }
    }

    /// Counts one GraphQL error by its public code.
    pub fn error(&self, code: ErrorCode) {
        self.errors[code.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// The process's metrics in the Prometheus text format: these counters, the schema
    /// registry's and the live fan-out's figures, the rate limiter's Redis and the peers.
    pub fn render(&self, registry: &Registry, state: &Services) -> String {
        let mut out = String::with_capacity(2048);
        let mut metric = |name: &str, kind: &str, help: &str, lines: Vec<(String, String)>| {
            write_metric(&mut out, name, kind, help, lines);
        };
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed).to_string();
        metric(
            "alphery_uptime_seconds",
            "gauge",
            "Seconds since the process started.",
            vec![(String::new(), format!("{:.3}", self.started.elapsed().as_secs_f64()))],
        );
        metric(
            "alphery_http_graphql_requests_total",
            "counter",
            "GraphQL requests over HTTP.",
            vec![(String::new(), load(&self.http_requests))],
        );
        metric(
            "alphery_graphql_errors_total",
            "counter",
            "GraphQL errors returned, by extensions.code.",
            ErrorCode::ALL
                .iter()
                .zip(&self.errors)
                .map(|(c, n)| (format!("{{code=\"{c}\"}}"), load(n)))
                .collect(),
        );
        metric(
            "alphery_ws_connections_total",
            "counter",
            "Websocket connections accepted.",
            vec![(String::new(), load(&self.ws_connections_total))],
        );
        metric(
            "alphery_ws_connections_open",
            "gauge",
            "Websocket connections open now.",
            vec![(String::new(), self.ws_open.load(Ordering::Relaxed).to_string())],
        );
        metric(
            "alphery_schema_builds_total",
            "counter",
            "Tenant schemas compiled.",
            vec![(String::new(), registry.builds().to_string())],
        );
        metric(
            "alphery_schema_build_seconds_total",
            "counter",
            "Time spent compiling tenant schemas, their metadata load included.",
            vec![(String::new(), registry.build_seconds().to_string())],
        );
        metric(
            "alphery_schema_lookups_total",
            "counter",
            "Requests that asked for a tenant schema (hits are lookups - builds).",
            vec![(String::new(), registry.lookups().to_string())],
        );
        let (groups, subscriptions) = state.live.usage();
        metric(
            "alphery_live_groups",
            "gauge",
            "Groups of alike subscriptions (one tenant, entity, filter, row rule and view): each change is matched once per group.",
            vec![(String::new(), groups.to_string())],
        );
        metric(
            "alphery_live_subscriptions",
            "gauge",
            "Open record-change subscriptions.",
            vec![(String::new(), subscriptions.to_string())],
        );
        let usage = registry.usage();
        metric(
            "alphery_schema_cache_entries",
            "gauge",
            "Tenant schemas (tenant and role) in memory.",
            vec![(String::new(), usage.entries.to_string())],
        );
        metric(
            "alphery_schema_cache_shapes",
            "gauge",
            "Distinct compiled schemas in memory (tenants and roles of one shape share one).",
            vec![(String::new(), usage.shapes.to_string())],
        );
        metric(
            "alphery_schema_cache_bytes",
            "gauge",
            "Heap bytes the schema cache holds: compiled schemas, and tenants' own definitions and views.",
            vec![
                ("{part=\"schemas\"}".to_owned(), usage.shape_bytes.to_string()),
                ("{part=\"tenants\"}".to_owned(), usage.tenant_bytes.to_string()),
            ],
        );
        metric(
            "alphery_schema_compiles_total",
            "counter",
            "Schemas compiled (builds whose shape was not compiled yet).",
            vec![(String::new(), registry.compiles().to_string())],
        );
        if let Some(up) = state.limiter.redis_up() {
            metric(
                "alphery_rate_limit_redis_up",
                "gauge",
                "1 while rate-limit counters are kept in Redis, shared by the instances (0: in this process, Redis being unreachable).",
                vec![(String::new(), u8::from(up).to_string())],
            );
        }
        let peers = state.dispatcher.peers();
        if let Some(stats) = peers.stats() {
            metric(
                "alphery_peer_link_up",
                "gauge",
                "1 while this instance is subscribed to the other instances' signals on Redis (0: polling the outbox).",
                vec![(String::new(), u8::from(peers.linked()).to_string())],
            );
            metric(
                "alphery_peer_signals_total",
                "counter",
                "Signals exchanged with the other instances over Redis (commits, revoked sessions, access changes).",
                vec![
                    ("{direction=\"sent\"}".to_owned(), stats.sent.load(Ordering::Relaxed).to_string()),
                    (
                        "{direction=\"received\"}".to_owned(),
                        stats.received.load(Ordering::Relaxed).to_string(),
                    ),
                ],
            );
        }
        self.render_latency(&mut out);
        out
    }
}

/// Appends one metric family: its `# HELP` and `# TYPE` lines and a sample per label set.
fn write_metric(out: &mut String, name: &str, kind: &str, help: &str, lines: Vec<(String, String)>) {
    out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
    for (labels, value) in lines {
        out.push_str(&format!("{name}{labels} {value}\n"));
    }
}

/// A Prometheus text exposition as an HTTP answer.
pub fn text_response(body: String) -> Response {
    let mut resp = body.into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
    resp
}

/// Appends the job metrics: the queue's depth by kind, when the queue lives in the database
/// (`QUEUE_STORAGE=database`; not read in Redis) and its table exists (a worker has started on
/// this database once), and how long this process's jobs ran. `system_db`: the connection
/// that owns the queue's table. Shared by `serve` and a worker's own endpoint.
pub async fn render_jobs(out: &mut String, config: &Config, system_db: &Db, jobs: &JobMetrics) {
    let queued = match config.queue_storage.as_str() {
        "database" => jobs::queue::depth(system_db, &config.queue_name)
            .await
            .inspect_err(|e| tracing::debug!(error = %e, "job queue depth not readable"))
            .ok(),
        _ => None,
    };
    if let Some(queued) = queued {
        let count = |kind: &str, state: &str| -> i64 {
            queued.iter().filter(|(k, s, _)| k == kind && *s == state).map(|(_, _, n)| n).sum()
        };
        write_metric(
            out,
            "alphery_jobs_queued",
            "gauge",
            "Jobs waiting in the queue, by kind: ready to run now, or scheduled for later (retries after their backoff, parked workflow runs).",
            jobs::queue::Job::KINDS
                .iter()
                .flat_map(|kind| {
                    ["ready", "scheduled"].map(|state| {
                        (format!("{{kind=\"{kind}\",state=\"{state}\"}}"), count(kind, state).to_string())
                    })
                })
                .collect(),
        );
    }
    jobs.render(out);
}

/// The operation type's name, as GraphQL spells it.
pub fn kind_name(kind: OperationType) -> &'static str {
    match kind {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    }
}
