//! Four-letter words on the client port: the shape of each answer, and the whitelist.

#[path = "e2e/mod.rs"]
mod common;

use common::{client, wait_for_log, within};
use corral_tests::Server;
use zookeeper_client::{Acls, CreateMode};

fn word(server: &Server, w: &str) -> String {
    server
        .four_letter(w)
        .unwrap_or_else(|| panic!("no answer to {w}"))
}

/// `key=value` or `key\tvalue` lines into pairs.
fn pairs(text: &str, sep: char) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.split_once(sep))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn value<'a>(pairs: &'a [(String, String)], key: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {key} in {pairs:?}"))
}

#[tokio::test]
async fn every_word_answers_in_shape() {
    let server = Server::start("");
    let zk = client(&server).await;
    let opts = CreateMode::Ephemeral.with_acls(Acls::anyone_all());
    within(zk.create("/e", b"", &opts)).await.expect("create");
    let (_, _, _watch) = within(zk.get_and_watch_data("/e")).await.expect("watch");

    assert_eq!(word(&server, "ruok"), "imok");
    assert_eq!(word(&server, "isro"), "rw");

    let srvr = word(&server, "srvr");
    assert!(srvr.starts_with("Zookeeper version: 3.8."), "{srvr}");
    for key in [
        "Latency min/avg/max: ",
        "Received: ",
        "Sent: ",
        "Connections: 1\n",
    ] {
        assert!(srvr.contains(key), "{key:?} missing from {srvr}");
    }
    assert!(srvr.contains("Mode: standalone\n"), "{srvr}");
    let zxid = srvr
        .lines()
        .find_map(|l| l.strip_prefix("Zxid: 0x"))
        .expect("Zxid line");
    assert_eq!(
        u64::from_str_radix(zxid, 16).expect("hex zxid"),
        2,
        "session + create"
    );
    assert!(
        srvr.contains("Node count: 5\n"),
        "root, /zookeeper x3, /e: {srvr}"
    );

    let stat = word(&server, "stat");
    assert!(stat.contains("Clients:\n /127.0.0.1"), "{stat}");
    assert!(stat.contains("Mode: standalone"), "{stat}");

    let mntr = word(&server, "mntr");
    let m = pairs(&mntr, '\t');
    assert_eq!(value(&m, "zk_server_state"), "standalone");
    assert_eq!(value(&m, "zk_num_alive_connections"), "1");
    assert_eq!(value(&m, "zk_znode_count"), "5");
    assert_eq!(value(&m, "zk_watch_count"), "1");
    assert_eq!(value(&m, "zk_ephemerals_count"), "1");
    assert_eq!(value(&m, "zk_global_sessions"), "1");
    assert!(value(&m, "zk_version").starts_with("3.8."));

    let conf = word(&server, "conf");
    let c = pairs(&conf, '=');
    assert_eq!(value(&c, "clientPort"), server.port.to_string());
    assert_eq!(value(&c, "tickTime"), "500");
    assert_eq!(value(&c, "minSessionTimeout"), "1000");
    assert_eq!(value(&c, "maxSessionTimeout"), "10000");
    assert_eq!(value(&c, "jute.maxbuffer"), "1048575");

    let envi = word(&server, "envi");
    assert!(envi.starts_with("Environment:\n"), "{envi}");
    assert!(value(&pairs(&envi, '='), "zookeeper.version").starts_with("3.8."));

    let cons = word(&server, "cons");
    let session = format!("sid=0x{:x}", zk.session_id().0);
    assert!(
        cons.lines()
            .any(|l| l.contains(&session) && l.contains("to=10000")),
        "{cons}"
    );

    let wchs = word(&server, "wchs");
    assert!(
        wchs.starts_with("1 connections watching 1 paths\n"),
        "{wchs}"
    );

    let dump = word(&server, "dump");
    assert!(dump.starts_with("SessionTracker dump:\n"), "{dump}");
    let owner = format!("0x{:x}:\n\t/e\n", zk.session_id().0);
    assert!(dump.contains(&owner), "{dump}");
}

#[test]
fn a_word_outside_the_whitelist_is_refused() {
    // Later keys win: this replaces the harness's `4lw.commands.whitelist=*`.
    let server = Server::start("4lw.commands.whitelist=srvr, ruok");
    for w in [
        "stat", "mntr", "conf", "cons", "envi", "wchs", "dump", "isro",
    ] {
        assert_eq!(
            word(&server, w),
            format!("{w} is not executed because it is not in the whitelist.\n")
        );
    }
    assert!(word(&server, "srvr").starts_with("Zookeeper version: "));
    assert_eq!(word(&server, "ruok"), "imok");
    common::assert_served(&server);
}

#[test]
fn an_unknown_word_is_not_a_four_letter_word() {
    let server = Server::start("");
    // "kill" is not a four-letter word: read as a frame length it is far over jute.maxbuffer.
    let answer = word(&server, "kill");
    assert_eq!(answer, "");
    wait_for_log(&server, &["invalid frame length"]);
    common::assert_served(&server);
}
