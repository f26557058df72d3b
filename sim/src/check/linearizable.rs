//! Registers are linearizable and no acknowledged write is lost.
//!
//! ZooKeeper orders every write by its zxid, so the checker does not search for a
//! linearization: it verifies that the zxid order is one. A write's zxid is in its reply header;
//! a write whose reply never came (its connection or the server died) gets the zxid a read or
//! the final state observed for its value, if any. Then:
//! - a write acknowledged before another was issued has a smaller zxid;
//! - a read returns the value of a write issued before the read completed, with that write's
//!   zxid as mzxid;
//! - every read is served from a committed prefix (ZooKeeper's ordered sequential
//!   consistency): a read answered with header zxid Z returns the last committed write to its
//!   register at or below Z;
//! - a read after `sync` is no older than any write to its register acknowledged (to anyone)
//!   before the sync was issued (strictly linearizable, with no leader-overlap exception);
//! - a session's reads see its own writes acknowledged before they were issued, across
//!   failovers to other servers;
//! - the final value of each register is its last committed write, at or after every
//!   acknowledged write, and every acknowledged write is committed.

use super::Violation;
use crate::history::{History, OpKind, Outcome};
use std::collections::BTreeMap;

/// Final committed state of each register: (value, mzxid).
pub type FinalState = [(Vec<u8>, i64)];

/// Committed writes of each register, in zxid order: (zxid, value).
pub type CommittedWrites = BTreeMap<usize, Vec<(i64, Vec<u8>)>>;

struct Ctx<'a> {
    history: &'a History,
    /// Write op index -> zxid (acknowledged or inferred).
    zxid_of: BTreeMap<usize, i64>,
    /// (key, value) -> write op index.
    writer: BTreeMap<(usize, &'a [u8]), usize>,
    out: Vec<Violation>,
}

impl<'a> Ctx<'a> {
    fn violation(&mut self, invariant: &'static str, detail: String) {
        if self.out.len() < 20 {
            self.out.push(Violation { invariant, detail });
        }
    }

    /// Binds the writer of `value` on `key` to the zxid `m` at which it was observed.
    fn observe(&mut self, key: usize, value: &[u8], m: i64, what: &str, at_ns: Option<u64>) {
        if value.is_empty() {
            if m != key as i64 + 1 {
                self.violation(
                    "linearizable registers",
                    format!("{what} on r{key}: initial value with mzxid 0x{m:x}"),
                );
            }
            return;
        }
        let Some(&w) = self.writer.get(&(key, value)) else {
            let v = String::from_utf8_lossy(value).into_owned();
            self.violation(
                "linearizable registers",
                format!("{what} on r{key}: value {v:?} was never written"),
            );
            return;
        };
        let wop = &self.history.ops[w];
        if let Outcome::Failed { code } = wop.outcome {
            self.violation(
                "linearizable registers",
                format!("{what} on r{key}: saw the value of op #{w}, which failed with {code}"),
            );
        }
        if let Some(t) = at_ns {
            if wop.invoke_ns > t {
                self.violation(
                    "linearizable registers",
                    format!("{what} on r{key}: saw op #{w} issued after the read completed"),
                );
            }
        }
        match self.zxid_of.get(&w).copied() {
            Some(z) if z != m => self.violation(
                "linearizable registers",
                format!(
                    "{what} on r{key}: op #{w} has zxid 0x{z:x} but was observed at mzxid 0x{m:x}"
                ),
            ),
            Some(_) => {}
            None => {
                self.zxid_of.insert(w, m);
            }
        }
    }
}

/// Runs every register check. `final_zxid` is the last zxid the final state includes.
pub fn check(
    history: &History,
    final_state: &FinalState,
    final_zxid: i64,
    committed: &CommittedWrites,
) -> Vec<Violation> {
    let mut cx = Ctx {
        history,
        zxid_of: BTreeMap::new(),
        writer: BTreeMap::new(),
        out: Vec::new(),
    };
    for (i, op) in history.ops.iter().enumerate() {
        if let Some(v) = op.kind.value() {
            cx.writer.insert((op.key, v), i);
            if let Outcome::Ok {
                zxid,
                mzxid,
                version,
                ..
            } = op.outcome
            {
                cx.zxid_of.insert(i, zxid);
                if mzxid != zxid {
                    cx.violation(
                        "write stats",
                        format!("op #{i}: reply zxid 0x{zxid:x} but stat mzxid 0x{mzxid:x}"),
                    );
                }
                if let OpKind::CasSet {
                    version: expected, ..
                } = op.kind
                {
                    if version != expected + 1 {
                        cx.violation(
                            "conditional writes",
                            format!("op #{i}: expected version {expected}, new version {version}"),
                        );
                    }
                }
            }
        }
    }
    for (i, op) in history.ops.iter().enumerate() {
        if let Outcome::Ok { data, mzxid, .. } = &op.outcome {
            if op.kind.is_read() {
                cx.observe(op.key, data, *mzxid, &format!("read #{i}"), op.complete_ns);
            }
        }
    }
    for (key, (value, m)) in final_state.iter().enumerate() {
        cx.observe(key, value, *m, "final state", None);
    }
    check_read_your_writes(&mut cx);
    check_session_reads(&mut cx);
    check_write_order(&mut cx);
    check_stale_reads(&mut cx);
    check_committed_prefix(&mut cx, committed, final_state, final_zxid);
    check_lost_writes(&mut cx, final_state, committed);
    cx.out
}

/// The last committed write to `key` at or below `z`: its zxid (the initial create when none).
fn last_committed(committed: &CommittedWrites, key: usize, z: i64) -> i64 {
    let initial = key as i64 + 1;
    let Some(w) = committed.get(&key) else {
        return initial;
    };
    let n = w.partition_point(|(wz, _)| *wz <= z);
    if n == 0 {
        initial
    } else {
        w[n - 1].0
    }
}

/// Every read, and the final state, show the last committed write at or below their zxid.
fn check_committed_prefix(
    cx: &mut Ctx<'_>,
    committed: &CommittedWrites,
    final_state: &FinalState,
    final_zxid: i64,
) {
    let mut found = Vec::new();
    for (i, op) in cx.history.ops.iter().enumerate() {
        let (Outcome::Ok { zxid, mzxid, .. }, true) = (&op.outcome, op.kind.is_read()) else {
            continue;
        };
        let expected = last_committed(committed, op.key, *zxid);
        if *mzxid > *zxid || expected != *mzxid {
            found.push(format!("read #{i} of r{} answered at zxid 0x{zxid:x} saw mzxid 0x{mzxid:x}; the last committed write at or below is 0x{expected:x}", op.key));
        }
    }
    for (key, (_, m)) in final_state.iter().enumerate() {
        let expected = last_committed(committed, key, final_zxid);
        if expected != *m {
            found.push(format!("final state of r{key} at zxid 0x{final_zxid:x} has mzxid 0x{m:x}; the last committed write is 0x{expected:x}"));
        }
    }
    for f in found {
        cx.violation("reads see a committed prefix", f);
    }
}

/// An acknowledged write: (completion ns, zxid, op index).
type Acked = (u64, i64, usize);

/// A session's read sees every write of that session acknowledged before the read was issued,
/// whichever server answers it.
fn check_session_reads(cx: &mut Ctx<'_>) {
    // Per (session, key): acknowledged writes as (complete, zxid, op), and reads.
    let mut writes: BTreeMap<(i64, usize), Vec<Acked>> = BTreeMap::new();
    for (i, op) in cx.history.ops.iter().enumerate() {
        if let (true, Outcome::Ok { zxid, .. }, Some(done)) =
            (op.kind.is_write(), &op.outcome, op.complete_ns)
        {
            writes
                .entry((op.session, op.key))
                .or_default()
                .push((done, *zxid, i));
        }
    }
    for w in writes.values_mut() {
        w.sort_unstable();
        let mut best = (i64::MIN, 0);
        for e in w.iter_mut() {
            if e.1 > best.0 {
                best = (e.1, e.2);
            }
            (e.1, e.2) = best;
        }
    }
    let mut found = Vec::new();
    for (i, op) in cx.history.ops.iter().enumerate() {
        let (Outcome::Ok { mzxid, .. }, true) = (&op.outcome, op.kind.is_read()) else {
            continue;
        };
        let Some(w) = writes.get(&(op.session, op.key)) else {
            continue;
        };
        let n = w.partition_point(|(t, _, _)| *t < op.invoke_ns);
        if n > 0 && w[n - 1].1 > *mzxid {
            let (_, z, wi) = w[n - 1];
            found.push(format!("read #{i} of r{} saw mzxid 0x{mzxid:x}, older than its session's write #{wi} (0x{z:x}) acknowledged before", op.key));
        }
    }
    for f in found {
        cx.violation("a session reads its own writes", f);
    }
}

/// A write acknowledged before another write was issued has the smaller zxid.
fn check_write_order(cx: &mut Ctx<'_>) {
    let ops = &cx.history.ops;
    let mut acked: Vec<(u64, i64, usize)> = Vec::new(); // (complete, zxid, op)
    let mut issued: Vec<(u64, i64, usize)> = Vec::new(); // (invoke, zxid, op)
    for (&i, &z) in &cx.zxid_of {
        if let (Outcome::Ok { .. }, Some(done)) = (&ops[i].outcome, ops[i].complete_ns) {
            acked.push((done, z, i));
        }
        issued.push((ops[i].invoke_ns, z, i));
    }
    acked.sort_unstable();
    issued.sort_unstable();
    let mut best: Option<(i64, usize)> = None;
    let mut a = 0;
    let mut found = Vec::new();
    for &(invoke, z, i) in &issued {
        while a < acked.len() && acked[a].0 < invoke {
            if best.is_none_or(|(bz, _)| acked[a].1 > bz) {
                best = Some((acked[a].1, acked[a].2));
            }
            a += 1;
        }
        if let Some((bz, bi)) = best {
            if bz >= z {
                found.push(format!("op #{bi} (zxid 0x{bz:x}) was acknowledged before op #{i} (zxid 0x{z:x}) was issued"));
            }
        }
    }
    for f in found {
        cx.violation("writes ordered in real time", f);
    }
}

/// No read after `sync` is older than a write to its register acknowledged before the sync
/// was issued.
fn check_stale_reads(cx: &mut Ctx<'_>) {
    let ops = &cx.history.ops;
    let mut acked: BTreeMap<usize, Vec<(u64, i64, usize)>> = BTreeMap::new();
    for (&i, &z) in &cx.zxid_of {
        if let (Outcome::Ok { .. }, Some(done)) = (&ops[i].outcome, ops[i].complete_ns) {
            acked.entry(ops[i].key).or_default().push((done, z, i));
        }
    }
    // Per key: writes sorted by completion, with the running maximum zxid.
    let mut prefix: BTreeMap<usize, Vec<(u64, i64, usize)>> = BTreeMap::new();
    for (key, mut w) in acked {
        w.sort_unstable();
        let mut best = (i64::MIN, 0);
        let p = w
            .into_iter()
            .map(|(t, z, i)| {
                if z > best.0 {
                    best = (z, i);
                }
                (t, best.0, best.1)
            })
            .collect();
        prefix.insert(key, p);
    }
    let mut found = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let (Outcome::Ok { mzxid, .. }, OpKind::SyncGet) = (&op.outcome, &op.kind) else {
            continue;
        };
        let Some(p) = prefix.get(&op.key) else {
            continue;
        };
        let n = p.partition_point(|(t, _, _)| *t < op.invoke_ns);
        if n > 0 {
            let (_, z, w) = p[n - 1];
            if z > *mzxid {
                found.push(format!("read #{i} of r{} saw mzxid 0x{mzxid:x}, but op #{w} (zxid 0x{z:x}) was acknowledged before it was issued", op.key));
            }
        }
    }
    for f in found {
        cx.violation("sync-then-read sees every acknowledged write", f);
    }
}

/// Every acknowledged write is committed, and at or before the final state of its register.
fn check_lost_writes(cx: &mut Ctx<'_>, final_state: &FinalState, committed: &CommittedWrites) {
    let mut found = Vec::new();
    for (&i, &z) in &cx.zxid_of {
        let op = &cx.history.ops[i];
        if !matches!(op.outcome, Outcome::Ok { .. }) {
            continue;
        }
        let is_committed = committed
            .get(&op.key)
            .is_some_and(|w| w.binary_search_by_key(&z, |(wz, _)| *wz).is_ok());
        if !is_committed {
            found.push(format!(
                "op #{i} on r{} acknowledged at zxid 0x{z:x}, which no serving replica applied",
                op.key
            ));
        }
        let Some((_, m)) = final_state.get(op.key) else {
            continue;
        };
        if z > *m {
            found.push(format!(
                "op #{i} on r{} acknowledged at zxid 0x{z:x}, final mzxid is 0x{m:x}",
                op.key
            ));
        }
    }
    for f in found {
        cx.violation("no lost writes", f);
    }
}

/// A read pipelined behind a write of the same session sees that write (ZooKeeper's FIFO
/// client order).
fn check_read_your_writes(cx: &mut Ctx<'_>) {
    let mut found = Vec::new();
    for (i, op) in cx.history.ops.iter().enumerate() {
        let (Some(w), Outcome::Ok { mzxid, .. }) = (op.follows, &op.outcome) else {
            continue;
        };
        if let Outcome::Ok { zxid, .. } = cx.history.ops[w].outcome {
            if *mzxid < zxid {
                found.push(format!("read #{i} of r{} saw mzxid 0x{mzxid:x}, behind its session's write #{w} at 0x{zxid:x}", op.key));
            }
        }
    }
    for f in found {
        cx.violation("reads follow their session's writes", f);
    }
}
