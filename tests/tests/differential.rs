//! Differential tests: the same scripted scenarios against Corral and Apache ZooKeeper 3.8.
//!
//! Every scenario (see `differential/scenarios*.rs`) is played with a raw wire client against a
//! Corral spawned by the harness and, when `ZK_REFERENCE=host:port` names a running ZooKeeper,
//! against it too. Each run becomes a normalized text trace (`differential/render.rs`): one line
//! per reply, notification, handshake and close, with zxids, session ids and times reduced to
//! their relations. The traces are compared line by line.
//!
//! Without `ZK_REFERENCE`, Corral's trace is compared with the golden trace captured from
//! ZooKeeper and committed under `differential/golden/`. With it, ZooKeeper's live trace must
//! also match the golden one (`DIFF_BLESS=1` rewrites the goldens instead). `DIFF_OUT=<dir>`
//! writes every trace there. `scripts/differential.sh` runs the whole thing.
//!
//! Each trace has a main part (codes, bodies, notifications, closes) and a wire part (reply
//! header zxids, bytes after a record), compared as `<scenario>` and `<scenario>/wire`. Parts
//! listed in [`KNOWN_DIFFERENCES`] are still played, and their differences printed, but do not
//! fail the test.

#[path = "differential/ops.rs"]
mod ops;
#[path = "differential/render.rs"]
mod render;
#[path = "differential/scenarios.rs"]
mod scenarios;
#[path = "differential/scenarios_known.rs"]
mod scenarios_known;
#[path = "differential/scenarios_more.rs"]
mod scenarios_more;
#[path = "differential/steps.rs"]
mod steps;

use corral_tests::Server;
use std::path::{Path, PathBuf};

/// Scenarios where Corral is known to answer differently from ZooKeeper 3.8: (scenario, what
/// differs). Their comparison is printed, not asserted.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    ("acl_auth_scheme_with_id", "auth-scheme ACL with perms READ: ZooKeeper stores digest:alice:x, Corral digest:alice:<digest> (same for perms ALL)"),
    ("wrong_password", "deliberate: a reconnect with a wrong password does not close the session's live connection in Corral (ZooKeeper closes it before checking the password)"),
    ("wrong_password/wire", "follows from the above"),
];

/// How many differing lines a report shows.
const REPORT_LINES_MAX: usize = 40;

fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/differential/golden")
        .join(format!("{name}.txt"))
}

/// Separates the main lines from the wire lines in a golden file.
const WIRE_SEPARATOR: &str = "--- wire";

/// Plays a scenario and renders it as one list: main lines, the separator, wire lines.
fn play(addr: &str, scenario: &scenarios::Scenario) -> Vec<String> {
    let runner = steps::Runner::new(addr).run(&scenario.steps);
    let trace = render::render(&runner);
    let mut lines = trace.main;
    lines.push(WIRE_SEPARATOR.to_owned());
    lines.extend(trace.wire);
    lines
}

/// Splits a played trace into (`name`, lines) and (`name/wire`, lines).
fn parts<'a>(name: &str, lines: &'a [String]) -> [(String, &'a [String]); 2] {
    let cut = lines
        .iter()
        .position(|l| l == WIRE_SEPARATOR)
        .unwrap_or(lines.len());
    let wire = lines.get(cut + 1..).unwrap_or(&[]);
    [
        (name.to_owned(), &lines[..cut]),
        (format!("{name}/wire"), wire),
    ]
}

/// A line-by-line report of where `actual` departs from `expected`, or `None` when equal.
fn diff(expected: &[String], actual: &[String], left: &str, right: &str) -> Option<String> {
    if expected == actual {
        return None;
    }
    let mut out = String::new();
    let mut shown = 0;
    for i in 0..expected.len().max(actual.len()) {
        let e = expected.get(i).map_or("<none>", String::as_str);
        let a = actual.get(i).map_or("<none>", String::as_str);
        if e == a {
            continue;
        }
        if shown == REPORT_LINES_MAX {
            out.push_str("  ...\n");
            break;
        }
        out.push_str(&format!(
            "  line {i}:\n    {left:<9} {e}\n    {right:<9} {a}\n"
        ));
        shown += 1;
    }
    Some(out)
}

fn write_out(name: &str, side: &str, lines: &[String]) {
    if let Ok(dir) = std::env::var("DIFF_OUT") {
        let _ = std::fs::create_dir_all(&dir);
        let path = Path::new(&dir).join(format!("{name}.{side}.txt"));
        std::fs::write(path, lines.join("\n") + "\n").expect("write trace");
    }
}

/// The expected trace: ZooKeeper's live one when a reference is configured, else the golden.
/// Pushes a failure when the golden is missing or disagrees with the live reference.
fn expected_trace(scenario: &scenarios::Scenario, failures: &mut Vec<String>) -> Vec<String> {
    let name = scenario.name;
    let golden_file = golden_path(name);
    let golden: Option<Vec<String>> = std::fs::read_to_string(&golden_file)
        .ok()
        .map(|t| t.lines().map(str::to_owned).collect());
    let Ok(reference) = std::env::var("ZK_REFERENCE") else {
        return golden.unwrap_or_else(|| {
            failures.push(format!(
                "{name}: no golden trace at {}",
                golden_file.display()
            ));
            Vec::new()
        });
    };
    let zk = play(&reference, scenario);
    write_out(name, "zookeeper", &zk);
    if std::env::var("DIFF_BLESS").as_deref() == Ok("1") {
        std::fs::create_dir_all(golden_file.parent().expect("golden dir")).expect("mkdir");
        std::fs::write(&golden_file, zk.join("\n") + "\n").expect("write golden");
        return zk;
    }
    let golden = golden.unwrap_or_default();
    if let Some(report) = diff(&golden, &zk, "golden", "zookeeper") {
        failures.push(format!(
            "{name}: ZooKeeper's trace differs from the golden one (DIFF_BLESS=1 to rewrite):\n{report}"
        ));
    }
    zk
}

/// Compares one part of a trace, honouring [`KNOWN_DIFFERENCES`].
fn compare(part: &str, want: &[String], got: &[String], failures: &mut Vec<String>) {
    let known = KNOWN_DIFFERENCES.iter().find(|(n, _)| *n == part);
    match (diff(want, got, "zookeeper", "corral"), known) {
        (None, None) => eprintln!("{part}: same"),
        (None, Some(_)) => {
            eprintln!("{part}: listed in KNOWN_DIFFERENCES but now the same; remove it")
        }
        (Some(report), Some((_, why))) => {
            eprintln!("{part}: KNOWN DIFFERENCE (not asserted): {why}\n{report}")
        }
        (Some(report), None) => failures.push(format!("{part}: Corral differs:\n{report}")),
    }
}

#[test]
fn differential() {
    let server = Server::start("znode.container.checkIntervalMs=200");
    let mut failures = Vec::new();
    for scenario in scenarios::all() {
        let name = scenario.name;
        let expected = expected_trace(&scenario, &mut failures);
        let corral = play(&server.addr(), &scenario);
        write_out(name, "corral", &corral);
        for ((part, want), (_, got)) in parts(name, &expected).into_iter().zip(parts(name, &corral))
        {
            compare(&part, want, got, &mut failures);
        }
    }
    assert!(
        failures.is_empty(),
        "{} differential failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The suite's own plumbing: the diff report and the scenario names.
#[test]
fn scenario_names_are_unique_and_known_differences_exist() {
    let all = scenarios::all();
    let mut names: Vec<&str> = all.iter().map(|s| s.name).collect();
    names.sort_unstable();
    let count = names.len();
    names.dedup();
    assert_eq!(names.len(), count, "duplicate scenario names");
    for (name, _) in KNOWN_DIFFERENCES {
        let scenario = name.strip_suffix("/wire").unwrap_or(name);
        assert!(
            names.contains(&scenario),
            "KNOWN_DIFFERENCES names unknown scenario {name}"
        );
    }
    let a = vec!["x".to_owned(), "y".to_owned()];
    assert_eq!(diff(&a, &a, "l", "r"), None);
    assert!(diff(&a, &a[..1], "l", "r").is_some_and(|r| r.contains("line 1")));
}
