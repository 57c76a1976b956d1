//! `GET /metrics`: Prometheus text with requests by route and status, their
//! latency, logins by outcome, bcrypt work and the hash queue.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use auth_core::Auth;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use warp::http::Method;

use crate::limiter::AddressRateLimiter;

/// Labels of a request count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    method: &'static str,
    status: u16,
}

/// Label of a latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabel {
    route: &'static str,
}

/// The server's metrics; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Metrics(Arc<MetricsInner>);

#[derive(Debug)]
struct MetricsInner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabel, Histogram>,
}

impl Metrics {
    pub fn new(auth: Auth, limiter: AddressRateLimiter) -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "authd_http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabel, Histogram>::new_with_constructor(
            (|| Histogram::new(exponential_buckets(0.000_25, 2.0, 16))) as fn() -> Histogram,
        );
        registry.register(
            "authd_http_request_duration_seconds",
            "Time from request to response, by route",
            latency.clone(),
        );
        registry.register_collector(Box::new(AuthStats(auth)));
        registry.register_collector(Box::new(LimiterStats(limiter)));
        Metrics(Arc::new(MetricsInner {
            registry,
            requests,
            latency,
        }))
    }

    /// Counts one answered request.
    pub fn record(&self, route: &'static str, method: &Method, status: u16, elapsed: Duration) {
        self.0
            .requests
            .get_or_create(&RequestLabels {
                route,
                method: method_label(method),
                status,
            })
            .inc();
        self.0
            .latency
            .get_or_create(&RouteLabel { route })
            .observe(elapsed.as_secs_f64());
    }

    /// The text exposition.
    pub fn render(&self) -> Result<String, fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.0.registry)?;
        Ok(text)
    }
}

/// Methods as static labels; anything unusual is one label, so clients
/// cannot grow the number of series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Reads `Auth`'s own counters at each scrape.
#[derive(Debug)]
struct AuthStats(Auth);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

impl Collector for AuthStats {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let logins = self.0.login_counts();
        let by_outcome = ConstCounter::new(0u64);
        let mut family = encoder.encode_descriptor(
            "authd_logins",
            "Password checks by outcome (succeeded, failed, throttled)",
            None,
            by_outcome.metric_type(),
        )?;
        for (outcome, count) in [
            ("succeeded", logins.succeeded),
            ("failed", logins.failed),
            ("throttled", logins.throttled),
        ] {
            let labels = OutcomeLabel { outcome };
            ConstCounter::new(count).encode(family.encode_family(&labels)?)?;
        }

        let hashes = ConstCounter::new(self.0.hashes_done() as u64);
        hashes.encode(encoder.encode_descriptor(
            "authd_password_hashes",
            "bcrypt computations since start",
            None,
            hashes.metric_type(),
        )?)?;
        let queue = ConstGauge::new(self.0.hash_queue_length() as i64);
        queue.encode(encoder.encode_descriptor(
            "authd_hash_queue_length",
            "Password hashes waiting for a CPU",
            None,
            queue.metric_type(),
        )?)?;
        let hits = ConstCounter::new(self.0.check_cache_hits());
        hits.encode(encoder.encode_descriptor(
            "authd_check_cache_hits",
            "Device checks answered from the verified-credential cache",
            None,
            hits.metric_type(),
        )?)?;
        Ok(())
    }
}

/// Reads the per-address limiter's size at each scrape.
#[derive(Debug)]
struct LimiterStats(AddressRateLimiter);

impl Collector for LimiterStats {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let entries = ConstGauge::new(i64::try_from(self.0.entries()).unwrap_or(i64::MAX));
        entries.encode(encoder.encode_descriptor(
            "authd_ip_limiter_entries",
            "Client addresses (IPv6: /64 prefixes) the per-address rate limit remembers",
            None,
            entries.metric_type(),
        )?)?;
        Ok(())
    }
}
