//! Fixed-rate (open-loop) pacing: `--rate R` offers R operations per second whatever the server's
//! speed, so two servers are compared at the same load rather than at the same concurrency.
//!
//! Each worker owns an even share of the rate and a schedule of due instants, offset from the
//! other workers' by a fraction of one interval so their requests interleave. An operation that
//! falls due while its worker is still waiting on the server (all its slots taken, or the
//! previous churn cycle or fan-out round still running) is timed from the instant it fell due,
//! not from when it could finally be sent: the server made it late, and leaving that wait out
//! (coordinated omission) would flatter a server exactly when it falls behind. An operation sent
//! late only because the load generator's timer woke late (tokio's timer has millisecond
//! granularity) is timed from its real send: that delay is the client's, not the server's.

use std::time::{Duration, Instant};

/// One worker's schedule.
#[derive(Debug)]
pub struct Pacer {
    interval: Duration,
    next: Instant,
}

impl Pacer {
    /// The schedule of worker `index` of `workers` that share `rate` operations per second,
    /// starting at `start`. `rate` must be positive and finite (validated by the CLI).
    pub fn new(rate: f64, workers: usize, index: usize, start: Instant) -> Pacer {
        assert!(rate > 0.0 && rate.is_finite(), "validated by the CLI");
        assert!(index < workers, "worker {index} of {workers}");
        let interval = Duration::from_secs_f64(workers as f64 / rate);
        let offset = interval.mul_f64(index as f64 / workers as f64);
        Pacer {
            interval,
            next: start + offset,
        }
    }

    /// When the next operation falls due.
    pub fn due(&self) -> Instant {
        self.next
    }

    /// The next due instant, if it is not after `now`; the schedule moves on past it.
    pub fn take_due(&mut self, now: Instant) -> Option<Instant> {
        (self.next <= now).then(|| self.take())
    }

    /// The next due instant, whether or not it has come; the schedule moves on past it.
    pub fn take(&mut self) -> Instant {
        let due = self.next;
        self.next += self.interval;
        due
    }
}

/// Waits for the next due instant of a sequential worker (one operation at a time) and returns
/// the instant its operation is timed from: the due instant if the previous operation overran it
/// (the server made this one late), otherwise the moment the wait ended.
pub async fn wait_turn(pacer: &mut Pacer) -> Instant {
    let due = pacer.take();
    if due <= Instant::now() {
        return due;
    }
    tokio::time::sleep_until(due.into()).await;
    Instant::now()
}

/// Sleeps until `at`, or forever without it (a branch of `select!` that is off).
pub async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_share_the_rate_and_interleave() {
        let start = Instant::now();
        // 1,000 ops/s over 4 workers: each every 4 ms, worker 1 offset by 1 ms.
        let mut pacer = Pacer::new(1000.0, 4, 1, start);
        assert_eq!(pacer.due(), start + Duration::from_millis(1));
        assert_eq!(pacer.take(), start + Duration::from_millis(1));
        assert_eq!(pacer.due(), start + Duration::from_millis(5));
    }

    #[test]
    fn take_due_only_hands_out_what_has_come() {
        let start = Instant::now();
        let mut pacer = Pacer::new(100.0, 1, 0, start);
        assert_eq!(pacer.take_due(start), Some(start));
        assert_eq!(pacer.take_due(start), None);
        // Behind schedule: every missed instant is handed out, oldest first.
        let late = start + Duration::from_millis(35);
        let taken: Vec<_> = std::iter::from_fn(|| pacer.take_due(late)).collect();
        let expected: Vec<_> = (1..=3)
            .map(|i| start + Duration::from_millis(10 * i))
            .collect();
        assert_eq!(taken, expected);
    }

    #[tokio::test]
    async fn a_late_turn_is_timed_from_when_it_fell_due() {
        let start = Instant::now() - Duration::from_millis(50);
        let mut pacer = Pacer::new(100.0, 1, 0, start);
        // The first instants have passed: each is its own start time.
        assert_eq!(wait_turn(&mut pacer).await, start);
        assert_eq!(
            wait_turn(&mut pacer).await,
            start + Duration::from_millis(10)
        );
        let mut pacer = Pacer::new(100.0, 1, 0, Instant::now() + Duration::from_millis(20));
        let due = pacer.due();
        let began = wait_turn(&mut pacer).await;
        assert!(began >= due, "an early turn waits for its instant");
    }
}
