//! Recipes: sequential suffixes follow the write order, the lock has one holder at a time, and
//! the election one leader at a time.

use super::Violation;
use crate::election::{NodeLife, Term};
use crate::history::History;
use crate::lock;
use std::collections::BTreeMap;

/// Violations reported per check.
const FOUND_MAX: usize = 10;

/// Sequential creates under one parent get strictly increasing suffixes in zxid order.
pub fn check_sequential(history: &History) -> Vec<Violation> {
    let mut creates = history.seq_creates.clone();
    creates.sort_unstable();
    creates
        .windows(2)
        .filter(|w| w[1].1 <= w[0].1)
        .take(FOUND_MAX)
        .map(|w| Violation {
            invariant: "sequential suffixes increase with zxid",
            detail: format!(
                "create at 0x{:x} got {} but the create at 0x{:x} got {}",
                w[1].0, w[1].1, w[0].0, w[0].1
            ),
        })
        .collect()
}

/// No hold of the lock begins (in zxid order) while another, released by an acknowledged
/// delete, is still held: servers answer from committed prefixes, so the listing that found a
/// node lowest cannot fall between another holder's acquisition and release.
pub fn check_lock(history: &History) -> Vec<Violation> {
    let mut out = Vec::new();
    let holds = &history.holds;
    for (i, a) in holds.iter().enumerate() {
        let Some(released) = a.released_zxid else {
            continue;
        };
        for (j, b) in holds.iter().enumerate() {
            if i != j && b.acquired_zxid > a.acquired_zxid && b.acquired_zxid < released {
                out.push(Violation {
                    invariant: "the lock has one holder at a time",
                    detail: format!(
                        "client {} held {} from 0x{:x} to 0x{released:x}; client {} acquired {} at 0x{:x}",
                        a.client, a.node, a.acquired_zxid, b.client, b.node, b.acquired_zxid
                    ),
                });
            }
        }
        if out.len() >= FOUND_MAX {
            break;
        }
    }
    out
}

/// The leader election: every term runs from the listing that found its node lowest to the
/// committed delete of that node (by abdication, cleanup or its session's close), whatever
/// its client believed. A term starts no earlier than its node's create and before its delete;
/// at its start no lower node is alive; and no two terms overlap in zxid order.
pub fn check_election(terms: &[Term], lives: &BTreeMap<String, NodeLife>) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut spans = Vec::new(); // (start, end, term index)
    for (i, t) in terms.iter().enumerate() {
        let Some(life) = lives.get(&t.node) else {
            out.push(election_violation(
                t,
                "whose create was never committed".into(),
            ));
            continue;
        };
        let end = life.deleted_zxid.unwrap_or(i64::MAX);
        if life.created_zxid > t.start_zxid || end <= t.start_zxid {
            let detail = format!(
                "outside its node's life 0x{:x}..0x{end:x}",
                life.created_zxid
            );
            out.push(election_violation(t, detail));
        }
        let lower = lives.iter().find(|(path, l)| {
            lock::sequence(path) < lock::sequence(&t.node)
                && l.created_zxid <= t.start_zxid
                && l.deleted_zxid.is_none_or(|d| d > t.start_zxid)
        });
        if let Some((path, _)) = lower {
            out.push(election_violation(
                t,
                format!("while the lower {path} was alive"),
            ));
        }
        spans.push((t.start_zxid, end, i));
    }
    spans.sort_unstable();
    let mut longest: Option<(i64, usize)> = None; // (end, term) of the latest-ending term so far
    for &(start, end, i) in &spans {
        if let Some((before_end, j)) = longest.filter(|(e, _)| start < *e) {
            let a = &terms[j];
            let detail = format!(
                "during client {}'s term on {} from 0x{:x} to 0x{before_end:x}",
                a.client, a.node, a.start_zxid
            );
            out.push(election_violation(&terms[i], detail));
        }
        if longest.is_none_or(|(e, _)| end > e) {
            longest = Some((end, i));
        }
    }
    out.truncate(FOUND_MAX);
    out
}

fn election_violation(t: &Term, detail: String) -> Violation {
    Violation {
        invariant: "the election has one leader at a time",
        detail: format!(
            "client {} (session 0x{:x}) led with {} from 0x{:x} {detail}",
            t.client, t.session, t.node, t.start_zxid
        ),
    }
}

/// The committed replay of `/election` agrees with the final tree: the nodes alive at its last
/// zxid are exactly its children (so the terms' ends above are the tree's own).
pub fn check_election_replay(
    lives: &BTreeMap<String, NodeLife>,
    children: &[String],
    last_zxid: i64,
) -> Vec<Violation> {
    let alive: Vec<&str> = lives
        .iter()
        .filter(|(_, l)| {
            l.created_zxid <= last_zxid && l.deleted_zxid.is_none_or(|d| d > last_zxid)
        })
        .filter_map(|(path, _)| path.rsplit('/').next())
        .collect();
    let mut tree: Vec<&str> = children.iter().map(String::as_str).collect();
    tree.sort_unstable();
    if alive == tree {
        return Vec::new();
    }
    vec![Violation {
        invariant: "ephemerals end with their session",
        detail: format!(
            "/election at 0x{last_zxid:x} holds {tree:?}; the committed history leaves {alive:?}"
        ),
    }]
}
