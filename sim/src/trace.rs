//! The run's trace: a readable line per notable event and a hash of all of them, so two runs of
//! one seed can be compared byte for byte.

use std::fmt::Write;

/// Trace lines (kept only when asked) and their running hash.
#[derive(Debug)]
pub struct Trace {
    keep: bool,
    /// The lines, when kept.
    pub lines: Vec<String>,
    hash: u64,
    buf: String,
}

impl Trace {
    /// A trace that keeps its lines when `keep`.
    pub fn new(keep: bool) -> Trace {
        Trace {
            keep,
            lines: Vec::new(),
            hash: 0xcbf2_9ce4_8422_2325,
            buf: String::new(),
        }
    }

    /// Records one event at simulated time `now_ns`.
    pub fn line(&mut self, now_ns: u64, what: std::fmt::Arguments<'_>) {
        self.buf.clear();
        let _ = write!(
            self.buf,
            "{:>10}.{:06} {}",
            now_ns / 1_000_000,
            now_ns % 1_000_000,
            what
        );
        for b in self.buf.bytes().chain(std::iter::once(b'\n')) {
            self.hash ^= u64::from(b);
            self.hash = self.hash.wrapping_mul(0x100_0000_01b3);
        }
        if self.keep {
            self.lines.push(self.buf.clone());
        }
    }

    /// Records a line only when lines are kept, without hashing it (peer messages: formatting
    /// every one would dominate a swarm's time; callers mix a summary into the hash).
    pub fn detail(&mut self, now_ns: u64, what: std::fmt::Arguments<'_>) {
        if self.keep {
            self.lines.push(format!(
                "{:>10}.{:06} {}",
                now_ns / 1_000_000,
                now_ns % 1_000_000,
                what
            ));
        }
    }

    /// Whether lines are kept (callers skip formatting costly lines otherwise, and mix a
    /// summary into the hash instead).
    pub fn keeps(&self) -> bool {
        self.keep
    }

    /// Mixes a value into the hash without a line (e.g. the history).
    pub fn mix(&mut self, v: u64) {
        for b in v.to_le_bytes() {
            self.hash ^= u64::from(b);
            self.hash = self.hash.wrapping_mul(0x100_0000_01b3);
        }
    }

    /// The hash of everything recorded.
    pub fn hash(&self) -> u64 {
        self.hash
    }
}
