//! Latency histograms in the Prometheus text format, shared by the server's request metrics
//! and the workers' job metrics. A sample costs a few relaxed atomic additions (its bucket,
//! the count and the sum), no lock and no allocation, so the request path can record every
//! request; the cumulative `le` counts Prometheus expects are summed only when rendered.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::queue::Job;

/// Upper bounds of the buckets, seconds. Prometheus's defaults (5 ms to 10 s) with a finer
/// start (a compiled read answers in about a millisecond) and a longer tail (an SMTP delivery
/// may wait 30 s for its relay, a subscription lives for minutes or hours).
pub const BUCKETS: [f64; 17] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0];

/// One histogram series: samples per bucket (not cumulative: each sample adds to one slot;
/// the last slot is `+Inf`) and their sum in nanoseconds. The count is the slots' total.
#[derive(Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Histogram {
    /// Records one sample.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let slot = BUCKETS.iter().position(|le| secs <= *le).unwrap_or(BUCKETS.len());
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Appends this series' `_bucket` (cumulative, `+Inf` last), `_sum` and `_count` lines.
    /// `labels`: the series' own labels as `a="x",b="y"` (empty for none).
    pub fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0u64;
        for (i, slot) in self.buckets.iter().enumerate() {
            cumulative += slot.load(Ordering::Relaxed);
            let le = BUCKETS.get(i).map_or_else(|| "+Inf".to_owned(), f64::to_string);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}");
        }
        let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum{braces} {sum}");
        // The count is the buckets' total, so it always equals the `+Inf` bucket.
        let _ = writeln!(out, "{name}_count{braces} {cumulative}");
    }
}

/// Appends a histogram family's `# HELP` and `# TYPE` lines.
pub fn family(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
}

/// How long the jobs this process's worker ran took, by kind of job: one attempt each, from
/// the handler's start to its end (a failed attempt counts as well).
#[derive(Default)]
pub struct JobMetrics {
    runs: [Histogram; Job::KINDS.len()],
}

impl JobMetrics {
    /// Records one attempt of a job of `kind` (one of `Job::KINDS`).
    pub fn observe(&self, kind: &str, d: Duration) {
        if let Some(i) = Job::KINDS.iter().position(|k| *k == kind) {
            self.runs[i].observe(d);
        }
    }

    /// Appends `alphery_job_duration_seconds`, one series per kind of job.
    pub fn render(&self, out: &mut String) {
        const NAME: &str = "alphery_job_duration_seconds";
        family(
            out,
            NAME,
            "Run time of one attempt of a job by this process's worker (start to end of its handler), by kind.",
        );
        for (kind, h) in Job::KINDS.iter().zip(&self.runs) {
            h.render(out, NAME, &format!("kind=\"{kind}\""));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_end_with_the_count() {
        let h = Histogram::default();
        for ms in [0, 3, 3, 40, 20_000, 7_200_000] {
            h.observe(Duration::from_millis(ms));
        }
        let mut out = String::new();
        h.render(&mut out, "x", "a=\"b\"");
        assert!(out.contains("x_bucket{a=\"b\",le=\"0.001\"} 1\n"), "{out}");
        assert!(out.contains("x_bucket{a=\"b\",le=\"0.005\"} 3\n"), "{out}");
        assert!(out.contains("x_bucket{a=\"b\",le=\"0.05\"} 4\n"), "{out}");
        assert!(out.contains("x_bucket{a=\"b\",le=\"30\"} 5\n"), "{out}");
        assert!(out.contains("x_bucket{a=\"b\",le=\"3600\"} 5\n"), "{out}");
        assert!(out.contains("x_bucket{a=\"b\",le=\"+Inf\"} 6\n"), "{out}");
        assert!(out.contains("x_count{a=\"b\"} 6\n"), "{out}");
        assert!(out.contains("x_sum{a=\"b\"} 7220.046\n"), "{out}");
    }
}
