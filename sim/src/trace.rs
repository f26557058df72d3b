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
        if !self.keep {
            // Hash the same bytes without building a string.
            let mut h = Hasher(self.hash);
            let _ = writeln!(
                h,
                "{:>10}.{:06} {}",
                now_ns / 1_000_000,
                now_ns % 1_000_000,
                what
            );
            self.hash = h.0;
            return;
        }
        self.buf.clear();
        let _ = write!(
            self.buf,
            "{:>10}.{:06} {}",
            now_ns / 1_000_000,
            now_ns % 1_000_000,
            what
        );
        let mut h = Hasher(self.hash);
        let _ = h.write_str(&self.buf);
        let _ = h.write_str("\n");
        self.hash = h.0;
        self.lines.push(self.buf.clone());
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
        let mut h = Hasher(self.hash);
        h.bytes(&v.to_le_bytes());
        self.hash = h.0;
    }

    /// The hash of everything recorded.
    pub fn hash(&self) -> u64 {
        self.hash
    }
}

/// FNV-1a over everything written to it.
struct Hasher(u64);

impl Hasher {
    fn bytes(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x100_0000_01b3);
        }
    }
}

impl std::fmt::Write for Hasher {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.bytes(s.as_bytes());
        Ok(())
    }
}
