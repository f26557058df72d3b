//! Latency recording, the progress line, the final table and the JSON line.

use hdrhistogram::Histogram;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The largest latency the histogram holds; slower operations are clamped to it.
const LATENCY_US_MAX: u64 = 600_000_000;
/// Significant decimal digits kept by the histogram.
const HISTOGRAM_DIGITS: u8 = 3;

/// What one worker measured. Workers keep their own and the runner merges them at the end, so the
/// hot path touches no shared histogram.
pub struct Recorder {
    /// Latency of each operation, in microseconds.
    pub latency_us: Histogram<u64>,
    /// Operations that got a reply with the expected outcome.
    pub ops: u64,
    /// Operations that failed (error code, lost connection).
    pub errors: u64,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Recorder {
        Recorder {
            latency_us: Histogram::new_with_bounds(1, LATENCY_US_MAX, HISTOGRAM_DIGITS)
                .expect("static histogram bounds are valid"),
            ops: 0,
            errors: 0,
        }
    }

    /// Records one successful operation that took `elapsed`.
    pub fn record(&mut self, elapsed: Duration) {
        let us = (elapsed.as_micros() as u64).clamp(1, LATENCY_US_MAX);
        self.latency_us.saturating_record(us);
        self.ops += 1;
    }

    /// The latency at quantile `q` in milliseconds; 0 with nothing recorded.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.ops == 0 {
            return 0.0;
        }
        self.latency_us.value_at_quantile(q) as f64 / 1e3
    }

    /// Adds another worker's measurements to these.
    pub fn merge(&mut self, other: &Recorder) {
        self.latency_us
            .add(&other.latency_us)
            .expect("histograms share their bounds");
        self.ops += other.ops;
        self.errors += other.errors;
    }
}

/// The phases of a timed run, in order.
const PHASE_WARMUP: u8 = 0;
const PHASE_MEASURING: u8 = 1;
const PHASE_STOPPED: u8 = 2;

/// Counters and the phase, shared between the workers, the runner and the progress line.
#[derive(Default)]
pub struct Progress {
    /// Operations completed while measuring.
    pub ops: AtomicU64,
    /// Errors while measuring.
    pub errors: AtomicU64,
    phase: AtomicU8,
}

impl Progress {
    /// Counts one operation.
    pub fn op(&self) {
        self.ops.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one error.
    pub fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Ends the warm-up: from now on, completed operations are recorded.
    pub fn start_measuring(&self) {
        let before = self.phase.swap(PHASE_MEASURING, Ordering::SeqCst);
        assert_eq!(
            before, PHASE_WARMUP,
            "measuring starts once, after the warm-up"
        );
    }

    /// Ends the measured window: workers stop issuing requests and drain.
    pub fn stop(&self) {
        self.phase.store(PHASE_STOPPED, Ordering::SeqCst);
    }

    /// True while completed operations count.
    pub fn measuring(&self) -> bool {
        self.phase.load(Ordering::Relaxed) == PHASE_MEASURING
    }

    /// True once the measured window is over.
    pub fn stopped(&self) -> bool {
        self.phase.load(Ordering::Relaxed) == PHASE_STOPPED
    }
}

/// Prints one progress line a second on stderr until `progress.stop` is set.
pub async fn progress_line(label: String, progress: Arc<Progress>, started: Instant) {
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.tick().await;
    let mut ops_before = 0;
    while !progress.stopped() {
        ticker.tick().await;
        let ops = progress.ops.load(Ordering::Relaxed);
        let errors = progress.errors.load(Ordering::Relaxed);
        let phase = if progress.measuring() {
            "measure"
        } else {
            "warmup"
        };
        eprintln!(
            "[{label} {phase}] {:>5.1}s  ops {ops:>9}  last second {:>8}/s  errors {errors}",
            started.elapsed().as_secs_f64(),
            ops - ops_before,
        );
        ops_before = ops;
    }
}

/// The outcome of one run: what was asked and what was measured.
pub struct Summary {
    /// The workload's name.
    pub workload: String,
    /// Sessions used.
    pub clients: usize,
    /// Requests in flight per session.
    pub in_flight: usize,
    /// Bytes per value.
    pub value_bytes: usize,
    /// Keys the workload spreads over.
    pub keys: usize,
    /// The timed phase's real length.
    pub elapsed: Duration,
    /// The offered rate (operations per second) of a fixed-rate run; `None` for a closed loop.
    pub rate: Option<f64>,
    /// Everything the workers measured, merged.
    pub recorder: Recorder,
    /// Workload-specific extra figures (name, value).
    pub extra: Vec<(String, f64)>,
}

impl Summary {
    /// Completed operations per second over the timed phase.
    pub fn ops_per_s(&self) -> f64 {
        self.recorder.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn quantile_us(&self, q: f64) -> u64 {
        if self.recorder.ops == 0 {
            return 0;
        }
        self.recorder.latency_us.value_at_quantile(q)
    }

    /// The human-readable table.
    pub fn table(&self) -> String {
        let h = &self.recorder.latency_us;
        let mut out = String::new();
        out.push_str(&format!(
            "{:<16} {:>7} {:>9} {:>6} {:>8} {:>10} {:>11} {:>9} {:>9} {:>9} {:>9} {:>7}\n",
            "workload",
            "clients",
            "in-flight",
            "value",
            "keys",
            "ops",
            "ops/s",
            "p50 ms",
            "p99 ms",
            "p99.9 ms",
            "max ms",
            "errors"
        ));
        out.push_str(&format!(
            "{:<16} {:>7} {:>9} {:>6} {:>8} {:>10} {:>11.0} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>7}\n",
            self.workload,
            self.clients,
            self.in_flight,
            self.value_bytes,
            self.keys,
            self.recorder.ops,
            self.ops_per_s(),
            self.quantile_us(0.5) as f64 / 1e3,
            self.quantile_us(0.99) as f64 / 1e3,
            self.quantile_us(0.999) as f64 / 1e3,
            if self.recorder.ops == 0 { 0 } else { h.max() } as f64 / 1e3,
            self.recorder.errors,
        ));
        if let Some(rate) = self.rate {
            out.push_str(&format!("  offered rate: {rate:.0}/s\n"));
        }
        for (name, value) in &self.extra {
            out.push_str(&format!("  {name}: {value:.3}\n"));
        }
        out
    }

    /// The machine-readable line, one JSON object.
    pub fn json(&self) -> String {
        let h = &self.recorder.latency_us;
        let mut extra = serde_json::Map::new();
        for (name, value) in &self.extra {
            extra.insert(name.clone(), serde_json::json!(value));
        }
        serde_json::json!({
            "workload": self.workload,
            "clients": self.clients,
            "in_flight": self.in_flight,
            "value_bytes": self.value_bytes,
            "keys": self.keys,
            "duration_s": self.elapsed.as_secs_f64(),
            "rate": self.rate,
            "ops": self.recorder.ops,
            "errors": self.recorder.errors,
            "ops_per_s": self.ops_per_s(),
            "latency_us": {
                "p50": self.quantile_us(0.5),
                "p99": self.quantile_us(0.99),
                "p999": self.quantile_us(0.999),
                "max": if self.recorder.ops == 0 { 0 } else { h.max() },
                "mean": if self.recorder.ops == 0 { 0.0 } else { h.mean() },
            },
            "extra": extra,
        })
        .to_string()
    }
}
