//! Real ensembles: three `corral` processes on loopback talking over the peer port, driven by
//! the third-party `zookeeper-client` crate. A follower forwards writes, every member serves
//! the same data, the leader's death elects a new one without losing acknowledged writes,
//! and a session (with its ephemeral) survives the death of the server it was connected to.
//!
//! Run with `CORRAL_BIN=<target>/debug/corral cargo test -p corral-tests --test ensemble`.

#![allow(clippy::disallowed_methods)]

mod common;

use common::bounded;
use corral_tests::{free_port, Server};
use std::time::{Duration, Instant};
use zookeeper_client as zk;

/// How long an election with tickTime=500 may take here.
const ELECTION_MAX: Duration = Duration::from_secs(30);

struct Ensemble {
    members: Vec<Server>,
}

impl Ensemble {
    fn start(n: u64) -> Ensemble {
        let ports: Vec<(u16, u16, u16)> = (0..n)
            .map(|_| (free_port(), free_port(), free_port()))
            .collect();
        let mut cfg = String::from("initLimit=10\nsyncLimit=4\n");
        for (i, (_, peer, election)) in ports.iter().enumerate() {
            cfg.push_str(&format!("server.{}=127.0.0.1:{peer}:{election}\n", i + 1));
        }
        let members = ports
            .iter()
            .enumerate()
            .map(|(i, (client, _, _))| Server::start_member(i as u64 + 1, *client, &cfg))
            .collect();
        Ensemble { members }
    }

    /// Waits until exactly one running member leads and the others follow; returns the
    /// leader's index.
    fn await_leader(&self, running: &[usize]) -> usize {
        let deadline = Instant::now() + ELECTION_MAX;
        while Instant::now() < deadline {
            let modes: Vec<Option<String>> =
                running.iter().map(|i| self.members[*i].mode()).collect();
            let leaders: Vec<usize> = running
                .iter()
                .zip(&modes)
                .filter(|(_, m)| m.as_deref() == Some("leader"))
                .map(|(i, _)| *i)
                .collect();
            let followers = modes
                .iter()
                .filter(|m| m.as_deref() == Some("follower"))
                .count();
            if leaders.len() == 1 && followers == running.len() - 1 {
                return leaders[0];
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let logs: Vec<String> = running.iter().map(|i| self.members[*i].log()).collect();
        panic!(
            "no stable leader within {ELECTION_MAX:?}; logs:\n{}",
            logs.join("\n----\n")
        );
    }

    fn connect_string(&self, members: &[usize]) -> String {
        members
            .iter()
            .map(|i| self.members[*i].addr())
            .collect::<Vec<_>>()
            .join(",")
    }
}

async fn connect_to(addrs: &str, timeout: Duration) -> zk::Client {
    let connector = zk::Client::connector().with_session_timeout(timeout);
    bounded("connect", connector.connect(addrs))
        .await
        .expect("connect")
}

async fn read(client: &zk::Client, path: &str) -> Option<Vec<u8>> {
    bounded("sync", client.sync(path)).await.ok();
    match bounded("get", client.get_data(path)).await {
        Ok((data, _)) => Some(data),
        Err(zk::Error::NoNode) => None,
        Err(e) => panic!("get {path}: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_replicate_and_survive_the_leaders_death() {
    let mut ens = Ensemble::start(3);
    let leader = ens.await_leader(&[0, 1, 2]);
    let follower = (leader + 1) % 3;
    let other = (leader + 2) % 3;

    // A write through a follower is visible on every member.
    let writer = connect_to(&ens.members[follower].addr(), Duration::from_secs(10)).await;
    let mode = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    for i in 0..20 {
        bounded("create", writer.create(&format!("/k{i}"), b"v", &mode))
            .await
            .expect("create through a follower");
    }
    for i in [leader, follower, other] {
        let reader = connect_to(&ens.members[i].addr(), Duration::from_secs(10)).await;
        assert_eq!(
            read(&reader, "/k19").await,
            Some(b"v".to_vec()),
            "member {i}"
        );
    }

    // The leader dies: the two others elect a new one and keep every acknowledged write.
    ens.members[leader].kill();
    let new_leader = ens.await_leader(&[follower, other]);
    assert_ne!(new_leader, leader);
    let client = connect_to(
        &ens.connect_string(&[follower, other]),
        Duration::from_secs(10),
    )
    .await;
    for i in 0..20 {
        assert_eq!(
            read(&client, &format!("/k{i}")).await,
            Some(b"v".to_vec()),
            "lost /k{i}"
        );
    }
    bounded("create", client.create("/after", b"2", &mode))
        .await
        .expect("writes go on with two of three");

    // The old leader comes back as a follower and catches up.
    ens.members[leader].restart();
    ens.await_leader(&[0, 1, 2]);
    let back = connect_to(&ens.members[leader].addr(), Duration::from_secs(10)).await;
    assert_eq!(read(&back, "/after").await, Some(b"2".to_vec()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_and_its_ephemeral_survive_the_death_of_its_server() {
    let mut ens = Ensemble::start(3);
    let leader = ens.await_leader(&[0, 1, 2]);
    let follower = (leader + 1) % 3;
    let other = (leader + 2) % 3;
    // Connected to the follower first (the connect string's first server).
    let addrs = format!(
        "{},{}",
        ens.members[follower].addr(),
        ens.members[other].addr()
    );
    let client = connect_to(&addrs, Duration::from_secs(8)).await;
    let session = client.session_id();
    let eph = zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());
    bounded("create", client.create("/eph", b"", &eph))
        .await
        .expect("ephemeral");
    ens.members[follower].kill();
    // The client moves to the other server within its timeout and keeps its session.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match tokio::time::timeout(Duration::from_secs(2), client.get_data("/eph")).await {
            Ok(Ok(_)) => break,
            Ok(Err(e)) if Instant::now() > deadline => panic!("session lost: {e}"),
            Err(_) if Instant::now() > deadline => panic!("no answer after failover"),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert_eq!(client.session_id(), session, "a new session was created");
    let observer = connect_to(&ens.members[leader].addr(), Duration::from_secs(10)).await;
    assert!(
        read(&observer, "/eph").await.is_some(),
        "the ephemeral vanished"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_far_behind_installs_a_snapshot_that_survives_its_restart() {
    let mut ens = Ensemble::start(3);
    let leader = ens.await_leader(&[0, 1, 2]);
    let behind = (leader + 1) % 3;
    let other = (leader + 2) % 3;
    ens.members[behind].kill();
    let client = connect_to(&ens.members[leader].addr(), Duration::from_secs(10)).await;
    let mode = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    // More transactions than the leader keeps for a DIFF (500): the follower needs a SNAP.
    let paths: Vec<String> = (0..700).map(|i| format!("/s{i}")).collect();
    let writes: Vec<_> = paths
        .iter()
        .map(|p| client.create(p, b"x", &mode))
        .collect();
    for w in writes {
        bounded("create", w).await.expect("create");
    }
    ens.members[behind].restart();
    ens.await_leader(&[0, 1, 2]);
    let log = ens.members[behind].log();
    assert!(
        log.contains("installed the leader's snapshot"),
        "no SNAP:\n{log}"
    );
    // Restarted again, it recovers from the installed snapshot alone.
    ens.members[other].kill();
    ens.members[behind].restart();
    let log = ens.members[behind].log();
    let recovered = log
        .lines()
        .find(|l| l.contains("storage recovered"))
        .unwrap_or_default()
        .to_owned();
    assert!(
        recovered.contains("snapshot=0x") && !recovered.contains("snapshot=0x0 "),
        "the installed snapshot did not survive: {recovered}"
    );
    ens.await_leader(&[leader, behind]);
    let reader = connect_to(&ens.members[behind].addr(), Duration::from_secs(10)).await;
    assert_eq!(read(&reader, "/s699").await, Some(b"x".to_vec()));
    assert_eq!(read(&reader, "/s0").await, Some(b"x".to_vec()));
}
