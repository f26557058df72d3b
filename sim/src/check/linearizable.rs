//! Registers are linearizable and no acknowledged write is lost.
//!
//! ZooKeeper orders every write by its zxid, so the checker does not search for a
//! linearization: it verifies that the zxid order is one. A write's zxid is in its reply header;
//! a write whose reply never came (its connection or the server died) gets the zxid a read or
//! the final state observed for its value, if any. Then:
//! - a write acknowledged before another was issued has a smaller zxid;
//! - a read returns the value of a write issued before the read completed, with that write's
//!   zxid as mzxid, and no older than any write to the register acknowledged before the read was
//!   issued (a single server serves every read linearizably; with replication this applies to
//!   sync-then-read only);
//! - the final value of each register carries a zxid at least that of every acknowledged write.

use super::Violation;
use crate::history::{History, OpKind, Outcome};
use std::collections::BTreeMap;

/// Final committed state of each register: (value, mzxid).
pub type FinalState = [(Vec<u8>, i64)];

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

/// Runs every register check.
pub fn check(history: &History, final_state: &FinalState) -> Vec<Violation> {
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
    check_write_order(&mut cx);
    check_stale_reads(&mut cx);
    check_lost_writes(&mut cx, final_state);
    cx.out
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

/// No read is older than a write to its register acknowledged before the read was issued.
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
        let (Outcome::Ok { mzxid, .. }, true) = (&op.outcome, op.kind.is_read()) else {
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
        cx.violation("no stale reads", f);
    }
}

/// Every acknowledged write is at or before the final state of its register.
fn check_lost_writes(cx: &mut Ctx<'_>, final_state: &FinalState) {
    let mut found = Vec::new();
    for (&i, &z) in &cx.zxid_of {
        let op = &cx.history.ops[i];
        if !matches!(op.outcome, Outcome::Ok { .. }) {
            continue;
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
