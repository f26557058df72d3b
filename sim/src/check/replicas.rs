//! Replica checkers, fed after every input of every node (they only observe):
//! - replicas that applied the same zxid have the same tree digest;
//! - at most one server leads (broadcasts) in each epoch;
//! - each replica applies a gap-free sequence of zxids: within an epoch the counter goes up by
//!   one, a new epoch starts at counter 1 (a restart or a snapshot install starts a new run);
//! - a server's durable epochs never go back (ZAB's promise to a leader).
//!
//! They also learn which zxids are committed: everything a server has applied in its current
//! run once it serves (a leader broadcasting or a learner up to date) is committed history.

use super::Violation;
use corral_core::node::{Epochs, RoleKind};
use corral_core::{Epoch, Zxid};
use std::collections::{BTreeMap, BTreeSet};

/// Violations kept per run (the first ones matter).
const VIOLATIONS_MAX: usize = 20;

#[derive(Debug, Default, Clone)]
struct Run {
    /// The last zxid applied in this run.
    last: Option<Zxid>,
    /// Applied in this run, not yet known committed, each with the zxid applied before it.
    unconfirmed: Vec<(Option<Zxid>, Zxid)>,
    /// The server's durable epochs, as last seen.
    epochs: Epochs,
}

/// What the checkers see of a node after an input.
#[derive(Debug, Clone, Copy)]
pub struct View {
    /// Its role.
    pub role: RoleKind,
    /// The epoch it leads or follows in, once established.
    pub epoch: Option<Epoch>,
    /// Its durable epochs.
    pub epochs: Epochs,
}

/// The online replica checkers.
#[derive(Debug)]
pub struct Replicas {
    digests: BTreeMap<Zxid, (u64, usize)>,
    leaders: BTreeMap<Epoch, usize>,
    runs: Vec<Run>,
    /// Committed zxid -> the committed zxid that follows it.
    successor: BTreeMap<Zxid, Zxid>,
    /// Zxids known committed.
    pub committed: BTreeSet<Zxid>,
    /// Broken invariants.
    pub violations: Vec<Violation>,
}

impl Replicas {
    /// Checkers for `servers` servers.
    pub fn new(servers: usize) -> Replicas {
        Replicas {
            digests: BTreeMap::new(),
            leaders: BTreeMap::new(),
            runs: vec![Run::default(); servers],
            successor: BTreeMap::new(),
            committed: BTreeSet::new(),
            violations: Vec::new(),
        }
    }

    /// Records a violation.
    pub fn violation(&mut self, invariant: &'static str, detail: String) {
        if self.violations.len() < VIOLATIONS_MAX {
            self.violations.push(Violation { invariant, detail });
        }
    }

    /// Server `s` (re)starts from a snapshot at `snapshot` (if any) and its log.
    pub fn restarted(&mut self, s: usize, snapshot: Option<Zxid>, epochs: Epochs) {
        let run = &mut self.runs[s];
        run.last = snapshot;
        run.unconfirmed.clear();
        self.check_epochs(s, epochs);
    }

    fn check_epochs(&mut self, s: usize, epochs: Epochs) {
        let before = self.runs[s].epochs;
        if epochs.accepted < before.accepted || epochs.current < before.current {
            let detail = format!("s{}: epochs went from {before:?} to {epochs:?}", s + 1);
            self.violation("epochs never go back", detail);
        }
        self.runs[s].epochs = epochs;
    }

    /// Looks at server `s` after an input: what it applied (zxid, digest after) and where it
    /// stands; `installed` is the zxid of a snapshot it installed during that input.
    pub fn observe(
        &mut self,
        s: usize,
        applied: Vec<(Zxid, u64)>,
        view: View,
        installed: Option<Zxid>,
        now_ns: u64,
    ) {
        let mut installed = installed;
        for (zxid, digest) in applied {
            if installed == Some(zxid) {
                installed = None;
                self.runs[s].last = None;
                self.runs[s].unconfirmed.clear();
            }
            self.applied(s, zxid, digest, now_ns);
        }
        self.check_epochs(s, view.epochs);
        let (role, epoch) = (view.role, view.epoch);
        if epoch.is_some() || role == RoleKind::Standalone {
            let confirmed = std::mem::take(&mut self.runs[s].unconfirmed);
            for (before, zxid) in confirmed {
                self.confirm(s, before, zxid, now_ns);
            }
        }
        if let Some(epoch) = epoch {
            if role == RoleKind::Leading {
                let first = *self.leaders.entry(epoch).or_insert(s);
                if first != s {
                    let detail = format!(
                        "s{} and s{} both lead epoch {} (at {} ms)",
                        first + 1,
                        s + 1,
                        epoch.0,
                        now_ns / 1_000_000
                    );
                    self.violation("at most one leader per epoch", detail);
                }
            }
        }
    }

    /// `zxid`, applied right after `before`, is committed: the committed history is one
    /// sequence, so `before` has no other committed successor.
    fn confirm(&mut self, s: usize, before: Option<Zxid>, zxid: Zxid, now_ns: u64) {
        self.committed.insert(zxid);
        let Some(before) = before else {
            return;
        };
        match self.successor.get(&before) {
            Some(&other) if other != zxid => {
                let detail = format!(
                    "after {before}, s{} committed {zxid} but {other} was committed too (at {} ms): a committed transaction was lost",
                    s + 1,
                    now_ns / 1_000_000
                );
                self.violation("the committed history is one sequence", detail);
            }
            Some(_) => {}
            None => {
                self.successor.insert(before, zxid);
            }
        }
    }

    fn applied(&mut self, s: usize, zxid: Zxid, digest: u64, now_ns: u64) {
        let run = &mut self.runs[s];
        if let Some(last) = run.last {
            let next = (zxid.epoch() == last.epoch() && zxid.counter() == last.counter() + 1)
                || (zxid.epoch() > last.epoch() && zxid.counter() == 1);
            if !next {
                let detail = format!(
                    "s{} applied {zxid} after {last} (at {} ms)",
                    s + 1,
                    now_ns / 1_000_000
                );
                self.violation("committed zxids are gap-free on every replica", detail);
            }
        }
        let run = &mut self.runs[s];
        run.unconfirmed.push((run.last, zxid));
        run.last = Some(zxid);
        match self.digests.get(&zxid) {
            Some(&(d, first)) if d != digest => {
                let detail = format!(
                    "after {zxid}: s{} has digest {d:016x}, s{} has {digest:016x} (at {} ms)",
                    first + 1,
                    s + 1,
                    now_ns / 1_000_000
                );
                self.violation("replicas that applied the same zxid agree", detail);
            }
            Some(_) => {}
            None => {
                self.digests.insert(zxid, (digest, s));
            }
        }
    }
}
