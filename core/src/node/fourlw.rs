//! Four-letter words: plain-text admin commands sent as the first bytes of a client connection.

use super::Node;
use crate::config::FOUR_LETTER_WORDS;
use crate::ids::ConnId;
use std::fmt::Write;

/// The version string reports show; tools parse the part before the first '-'.
pub const VERSION: &str = concat!("3.8.4-corral-", env!("CARGO_PKG_VERSION"));

/// True when the first four bytes of a connection name a four-letter word.
pub(crate) fn is_four_letter_word(head: &[u8; 4]) -> bool {
    let Ok(word) = std::str::from_utf8(head) else {
        return false;
    };
    FOUR_LETTER_WORDS.contains(&word)
}

impl Node {
    pub(crate) fn four_letter_word(&mut self, conn: ConnId, word: [u8; 4]) {
        let word = String::from_utf8_lossy(&word).into_owned();
        let allowed = self.config.four_letter_words.contains("*")
            || self.config.four_letter_words.contains(&word);
        let text = if allowed {
            self.four_letter_text(&word, conn)
        } else {
            format!("{word} is not executed because it is not in the whitelist.\n")
        };
        tracing::debug!(conn = conn.0, %word, allowed, "four-letter word");
        // Answered outside the session protocol, so not counted as a packet.
        self.outputs.push_back(super::Output::Send {
            conn,
            bytes: text.into_bytes(),
        });
        self.close_conn(conn);
    }

    fn four_letter_text(&self, word: &str, me: ConnId) -> String {
        let serving = self.role.serves_clients();
        match word {
            // As ZooKeeper: only a few words answer while the server is not serving.
            "srvr" | "stat" | "mntr" | "cons" | "wchs" | "dump" if !serving => {
                "This ZooKeeper instance is not currently serving requests\n".to_owned()
            }
            "ruok" => "imok".to_owned(),
            "isro" => "rw".to_owned(),
            "srvr" => self.srvr(false, me),
            "stat" => self.srvr(true, me),
            "mntr" => self.mntr(),
            "conf" | "envi" => self.conf(word),
            "cons" => self.cons(me),
            "wchs" => self.wchs(),
            "dump" => self.dump(),
            _ => String::new(),
        }
    }

    fn srvr(&self, with_clients: bool, me: ConnId) -> String {
        let mut s = format!("Zookeeper version: {VERSION}, built by corral\n");
        if with_clients {
            s.push_str("Clients:\n");
            s.push_str(&self.cons(me));
            s.push('\n');
        }
        let _ = write!(
            s,
            "Latency min/avg/max: 0/0.0/0\nReceived: {}\nSent: {}\nConnections: {}\nOutstanding: {}\nZxid: 0x{:x}\nMode: {}\nNode count: {}\n",
            self.stats.packets_received,
            self.stats.packets_sent,
            self.live_conns(),
            self.proposals.len(),
            self.tree.last_zxid().0,
            self.mode(),
            self.tree.node_count(),
        );
        s
    }

    /// ZooKeeper's name for the server's state.
    fn mode(&self) -> &'static str {
        match self.role() {
            super::RoleKind::Standalone => "standalone",
            super::RoleKind::Looking => "looking",
            super::RoleKind::Leading => "leader",
            super::RoleKind::Following => "follower",
            super::RoleKind::Observing => "observer",
        }
    }

    fn live_conns(&self) -> usize {
        self.conns
            .values()
            .filter(|c| c.session().is_some())
            .count()
    }

    fn mntr(&self) -> String {
        let rows: [(&str, String); 12] = [
            ("zk_version", VERSION.to_owned()),
            ("zk_server_state", self.mode().to_owned()),
            (
                "zk_packets_received",
                self.stats.packets_received.to_string(),
            ),
            ("zk_packets_sent", self.stats.packets_sent.to_string()),
            ("zk_num_alive_connections", self.live_conns().to_string()),
            ("zk_outstanding_requests", self.proposals.len().to_string()),
            ("zk_znode_count", self.tree.node_count().to_string()),
            ("zk_watch_count", self.watches.count().to_string()),
            (
                "zk_ephemerals_count",
                self.tree.ephemeral_count().to_string(),
            ),
            ("zk_global_sessions", self.sessions.len().to_string()),
            ("zk_last_zxid", format!("0x{:x}", self.tree.last_zxid().0)),
            (
                "zk_storage_failed",
                u8::from(self.storage_failed.is_some()).to_string(),
            ),
        ];
        rows.iter().map(|(k, v)| format!("{k}\t{v}\n")).collect()
    }

    fn conf(&self, word: &str) -> String {
        let mut s = String::new();
        if word == "envi" {
            let _ = writeln!(s, "Environment:\nzookeeper.version={VERSION}");
        }
        let c = &self.config;
        let _ = write!(
            s,
            "serverId={}\ntickTime={}\nminSessionTimeout={}\nmaxSessionTimeout={}\nmaxClientCnxns={}\nsnapCount={}\njute.maxbuffer={}\n",
            c.server_id.0,
            c.tick_time_ms,
            c.session_timeout_ms_min,
            c.session_timeout_ms_max,
            c.client_cnxns_per_ip_max,
            c.snap_count,
            c.frame_bytes_max
        );
        for (k, v) in &c.info {
            let _ = writeln!(s, "{k}={v}");
        }
        s
    }

    fn cons(&self, me: ConnId) -> String {
        let mut s = String::new();
        for (id, c) in &self.conns {
            if *id == me {
                let _ = writeln!(s, " /{}[0](queued=0,recved=0,sent=0)", c.ip);
                continue;
            }
            let session = c.session().map_or(0, |s| s.0);
            let _ = writeln!(
                s,
                " /{}[1](queued={},recved={},sent={},sid=0x{:x},lzxid=0x{:x},to={})",
                c.ip,
                c.queue.len(),
                c.received,
                c.sent,
                session,
                c.last_zxid,
                c.timeout_ms
            );
        }
        s
    }

    fn wchs(&self) -> String {
        let conns = self.watches.conns().count();
        let paths = self.watches.paths().len();
        format!(
            "{conns} connections watching {paths} paths\nTotal watches:{}\n",
            self.watches.count()
        )
    }

    fn dump(&self) -> String {
        let mut s = String::from("SessionTracker dump:\n");
        let _ = writeln!(s, "Session count: {}", self.sessions.len());
        s.push_str("ephemeral nodes dump:\n");
        let _ = writeln!(s, "Sessions with Ephemerals ({}):", self.sessions.len());
        for (id, _) in self.sessions.iter() {
            let _ = writeln!(s, "0x{:x}:", id.0);
            for p in self.tree.ephemerals(*id) {
                let _ = writeln!(s, "\t{p}");
            }
        }
        s
    }
}
