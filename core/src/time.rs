//! Time as the core sees it: always an argument, never read.

use serde::{Deserialize, Serialize};

/// A point on the adapter's monotonic clock, in nanoseconds since an arbitrary origin.
///
/// The core never reads a clock; every `Instant` it holds came in through `Node::handle`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Instant(pub u64);

impl Instant {
    /// This instant moved `ms` milliseconds later (saturating).
    pub fn plus_ms(self, ms: u64) -> Instant {
        Instant(self.0.saturating_add(ms.saturating_mul(1_000_000)))
    }

    /// Milliseconds from `earlier` to `self`, zero if `earlier` is later.
    pub fn ms_since(self, earlier: Instant) -> u64 {
        self.0.saturating_sub(earlier.0) / 1_000_000
    }
}

/// The two clocks the adapter passes with every input.
///
/// `mono` orders timers and expiry; `wall_ms` (milliseconds since the Unix epoch) is only used
/// for the ctime/mtime values a leader writes into a transaction, so that every replica applies
/// identical bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Now {
    /// Monotonic time.
    pub mono: Instant,
    /// Wall-clock milliseconds since the Unix epoch.
    pub wall_ms: i64,
}
