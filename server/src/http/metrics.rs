//! Prometheus metrics: requests and latency by route and status.

use std::collections::HashMap;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::sync::{LazyLock, OnceLock, RwLock};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tower::{Layer, Service};
use tracing::instrument::Instrumented;
use tracing::Instrument;

use crate::state::SharedState;

const REQUESTS: &str = "http_requests_total";
const DURATION: &str = "http_request_duration_seconds";

/// The process-wide recorder (metrics has one global recorder per process).
pub fn install_recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full(DURATION.to_owned()),
                    &[
                        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                        10.0, 30.0,
                    ],
                )
                .unwrap_or_else(|_| PrometheusBuilder::new());
            match builder.install_recorder() {
                Ok(handle) => handle,
                // A recorder was already installed by someone else: render from our own.
                Err(_) => PrometheusBuilder::new().build_recorder().handle(),
            }
        })
        .clone()
}

/// The layer every request goes through: a count and a latency by method, route and status
/// for Prometheus, and, when the log level lets them through, an `http.request` span around
/// the handler and a `response` line. One layer without boxing, and the metric handles of a
/// series looked up once: the hot read paths answer tens of thousands of requests a second.
#[derive(Clone, Copy, Default)]
pub struct ObserveLayer;

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Observe<S> {
        Observe { inner }
    }
}

#[derive(Clone)]
pub struct Observe<S> {
    inner: S,
}

impl<S> Service<Request> for Observe<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ObserveFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let start = Instant::now();
        let method = request.method().clone();
        let route = request.extensions().get::<MatchedPath>().cloned();
        // Fields are only evaluated when the span is enabled.
        let span = tracing::info_span!(
            "http.request",
            http.method = %method,
            http.route = route_name(route.as_ref()),
            http.path = %request.uri().path(),
            http.status = tracing::field::Empty,
            http.latency_ms = tracing::field::Empty,
        );
        tracing::debug!(parent: &span, "request");
        ObserveFuture {
            inner: self.inner.call(request).instrument(span),
            start,
            method,
            route,
        }
    }
}

pin_project_lite::pin_project! {
    pub struct ObserveFuture<F> {
        #[pin]
        inner: Instrumented<F>,
        start: Instant,
        method: Method,
        route: Option<MatchedPath>,
    }
}

impl<F, E> Future for ObserveFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let result = std::task::ready!(this.inner.as_mut().poll(cx));
        if let Ok(response) = &result {
            let latency = this.start.elapsed();
            let status = response.status().as_u16();
            record(
                this.method,
                route_name(this.route.as_ref()),
                status,
                latency.as_secs_f64(),
            );
            let span = this.inner.span();
            if !span.is_disabled() {
                span.record("http.status", status);
                span.record(
                    "http.latency_ms",
                    u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
                );
                tracing::info!(parent: span, "response");
            }
        }
        Poll::Ready(result)
    }
}

fn route_name(route: Option<&MatchedPath>) -> &str {
    route.map_or("fallback", MatchedPath::as_str)
}

/// The handles of one series (method, route, status), kept once made.
struct Series {
    method: &'static str,
    route: String,
    status: u16,
    requests: Counter,
    duration: Histogram,
}

/// Routes are templates and methods one of eight labels, so the series are few; past this
/// many, requests are still counted, only without keeping their handles.
const MAX_SERIES: usize = 4096;

static SERIES: LazyLock<RwLock<HashMap<u64, Series>>> = LazyLock::new(Default::default);

/// The method as a metric label: the standard ones by name, any other as `OTHER`, so a
/// caller inventing methods cannot create series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

fn record(method: &Method, route: &str, status: u16, seconds: f64) {
    let method = method_label(method);
    let key = {
        let mut hasher = std::hash::DefaultHasher::new();
        (method, route, status).hash(&mut hasher);
        hasher.finish()
    };
    if let Ok(known) = SERIES.read() {
        if let Some(series) = known
            .get(&key)
            .filter(|s| s.status == status && s.method == method && s.route == route)
        {
            series.requests.increment(1);
            series.duration.record(seconds);
            return;
        }
    }
    let labels = [
        ("method", method.to_owned()),
        ("route", route.to_owned()),
        ("status", status.to_string()),
    ];
    let requests = metrics::counter!(REQUESTS, &labels);
    let duration = metrics::histogram!(DURATION, &labels);
    requests.increment(1);
    duration.record(seconds);
    if let Ok(mut known) = SERIES.write() {
        if known.len() < MAX_SERIES {
            known.entry(key).or_insert(Series {
                method,
                route: route.to_owned(),
                status,
                requests,
                duration,
            });
        }
    }
}

pub async fn render(State(state): State<SharedState>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}
