//! Clients in the world: connections to servers (with latency and order), failover to another
//! server on connection loss or refusal, and the workload each client runs.

use crate::clients::ClientState;
use crate::election::ElectionState;
use crate::history::OpKind;
use crate::lock::LockState;
use crate::world::{Event, World, MS};
use corral_core::ConnId;
use rand_core::RngCore;

impl World {
    /// Delivers over a client connection after network latency, keeping per-direction order.
    pub(crate) fn deliver(&mut self, conn: ConnId, to_server: bool, event: Event) {
        let lat = self.latency();
        let key = (conn, to_server);
        let earliest = self.last_delivery.get(&key).map_or(0, |t| t + 1);
        let at = (self.now + lat).max(earliest);
        self.last_delivery.insert(key, at);
        self.schedule(at - self.now, event);
    }

    fn client_server(&self, client: usize) -> Option<usize> {
        self.clients[client].server
    }

    /// The client's end closes `conn`: the server hears of it after latency.
    fn client_closes(&mut self, client: usize, conn: ConnId) {
        self.clients[client].disconnected();
        self.last_delivery.remove(&(conn, false));
        let Some(s) = self.client_server(client) else {
            return;
        };
        self.clients[client].server = None;
        self.servers[s].conns.remove(&conn);
        let incarnation = self.servers[s].incarnation;
        let event = Event::ServerConnClosed {
            server: s,
            incarnation,
            conn,
        };
        self.deliver(conn, true, event);
        self.last_delivery.remove(&(conn, true));
    }

    pub(crate) fn client_conn_lost(&mut self, client: usize, conn: ConnId) {
        if self.clients[client].conn != Some(conn) {
            return;
        }
        self.trace.line(
            self.now,
            format_args!("client {client} lost conn {}", conn.0),
        );
        self.clients[client].disconnected();
        self.clients[client].server = None;
        self.last_delivery.remove(&(conn, false));
        self.last_delivery.remove(&(conn, true));
    }

    pub(crate) fn client_bytes(&mut self, client: usize, conn: ConnId, bytes: &[u8]) {
        if self.clients[client].conn != Some(conn) {
            return;
        }
        let now = self.now;
        let lock_before = self.clients[client].lock.clone();
        let election_before = self.clients[client].election.clone();
        let ok = self.clients[client].receive(bytes, now, &mut self.history);
        if self.clients[client].lock != lock_before {
            let lock = &self.clients[client].lock;
            self.trace
                .line(now, format_args!("client {client} lock {lock:?}"));
        }
        if self.clients[client].election != election_before {
            let election = &self.clients[client].election;
            self.trace
                .line(now, format_args!("client {client} election {election:?}"));
        }
        let out = std::mem::take(&mut self.clients[client].out);
        if ok && !out.is_empty() {
            if let Some(s) = self.client_server(client) {
                let incarnation = self.servers[s].incarnation;
                let event = Event::ToServer {
                    server: s,
                    incarnation,
                    conn,
                    bytes: out,
                };
                self.deliver(conn, true, event);
            }
        }
        for i in std::mem::take(&mut self.clients[client].completed) {
            let op = &self.history.ops[i];
            self.trace.line(
                now,
                format_args!(
                    "client {client} op #{i} r{} {:?} -> {:?}",
                    op.key, op.kind, op.outcome
                ),
            );
        }
        if !ok {
            self.trace.line(
                self.now,
                format_args!("client {client} drops conn {}", conn.0),
            );
            self.client_closes(client, conn);
        }
    }

    pub(crate) fn client_tick(&mut self, client: usize) {
        let think = self.rand(1, 30) * MS;
        self.schedule(think, Event::ClientTick { client });
        let now = self.now;
        if self.clients[client].paused_until_ns > now {
            return;
        }
        if self.in_safety_phase() && self.chance(self.options.client_pause_probability / 100.0) {
            let t = self.options.session_timeout_ms.max(1) as u64;
            let pause = self.rand(t / 4, t * 2) * MS;
            self.clients[client].paused_until_ns = now + pause;
            self.trace.line(
                now,
                format_args!("client {client} pauses {} ms", pause / MS),
            );
            return;
        }
        match self.clients[client].state {
            ClientState::Disconnected => self.client_connect(client),
            ClientState::Connecting => {}
            ClientState::Connected => self.client_work(client),
        }
    }

    /// Connects to a random server, keeping the session id, password and last zxid seen.
    /// A server that is down refuses at once; one that is not serving (or is behind the
    /// client) closes the connection, and the client tries another on a later tick.
    fn client_connect(&mut self, client: usize) {
        let s = self.rand(0, self.servers.len() as u64 - 1) as usize;
        if self.servers[s].node.is_none() {
            return; // connection refused; the next tick tries another server
        }
        let conn = ConnId(self.next_conn);
        self.next_conn += 1;
        let hello = self.clients[client].connect(conn);
        self.clients[client].server = Some(s);
        self.servers[s].conns.insert(conn, client);
        let incarnation = self.servers[s].incarnation;
        self.trace.line(
            self.now,
            format_args!("client {client} connects to s{} conn {}", s + 1, conn.0),
        );
        let open = Event::ServerConnOpen {
            server: s,
            incarnation,
            conn,
        };
        self.deliver(conn, true, open);
        let hello = Event::ToServer {
            server: s,
            incarnation,
            conn,
            bytes: hello,
        };
        self.deliver(conn, true, hello);
    }

    fn client_work(&mut self, client: usize) {
        let (Some(conn), Some(s)) = (self.clients[client].conn, self.client_server(client)) else {
            return;
        };
        let now = self.now;
        let idle = self.clients[client].idle();
        let frames = if idle && self.clients[client].lock_due(now) {
            self.clients[client].lock_release(now)
        } else if idle && self.clients[client].election_due(now) {
            self.clients[client].election_abdicate(now)
        } else if idle && self.clients[client].election == ElectionState::Idle && self.chance(0.02)
        {
            self.clients[client].election_join(now)
        } else if self.clients[client].idle()
            && self.clients[client].lock == LockState::Idle
            && self.chance(0.02)
        {
            self.clients[client].lock_acquire(now)
        } else if self.clients[client].idle() {
            let key = self.rand(0, self.options.keys as u64 - 1) as usize;
            let kind = self.pick_op(client, key);
            let pipelined_read = kind.is_write() && self.chance(0.3);
            let write_index = self.history.ops.len();
            let mut frames = self.clients[client].issue(kind, key, now, &mut self.history);
            if pipelined_read {
                // FIFO per session: a read sent right behind a write must see it.
                frames.extend(self.clients[client].issue(OpKind::Get, key, now, &mut self.history));
                if let Some(read) = self.history.ops.last_mut() {
                    read.follows = Some(write_index);
                }
            }
            frames
        } else if now - self.clients[client].last_send_ns
            > (self.options.session_timeout_ms as u64 / 3) * MS
        {
            self.clients[client].ping(now)
        } else {
            return;
        };
        let incarnation = self.servers[s].incarnation;
        let event = Event::ToServer {
            server: s,
            incarnation,
            conn,
            bytes: frames,
        };
        self.deliver(conn, true, event);
    }

    fn pick_op(&mut self, client: usize, key: usize) -> OpKind {
        let c = &mut self.clients[client];
        if std::mem::take(&mut c.needs_ephemeral) {
            return OpKind::CreateEphemeral;
        }
        let value = format!("c{}-{}", c.id, c.writes).into_bytes();
        match self.rng.next_u64() % 12 {
            11 => OpKind::CreateSequential,
            10 => OpKind::CheckEphemeral,
            0..=2 => {
                c.writes += 1;
                OpKind::Set { value }
            }
            3..=4 => {
                c.writes += 1;
                let version = c.versions.get(&key).copied().unwrap_or(0);
                OpKind::CasSet { value, version }
            }
            5..=6 => OpKind::Get,
            7 => OpKind::GetWatch,
            _ => OpKind::SyncGet,
        }
    }

    /// Drops a random client connection (both ends learn it after latency).
    pub(crate) fn drop_conn(&mut self) {
        let next = self.exp_delay(self.options.conn_drop_interval_ms);
        self.schedule(next, Event::DropConn);
        if !self.in_safety_phase() {
            return;
        }
        let conns: Vec<(usize, ConnId)> = self
            .clients
            .iter()
            .enumerate()
            .filter_map(|(c, cl)| cl.conn.map(|conn| (c, conn)))
            .collect();
        if conns.is_empty() {
            return;
        }
        let (client, conn) = conns[self.rand(0, conns.len() as u64 - 1) as usize];
        let Some(s) = self.client_server(client) else {
            return;
        };
        self.trace.line(
            self.now,
            format_args!("drop conn {} of client {client} on s{}", conn.0, s + 1),
        );
        self.servers[s].conns.remove(&conn);
        let incarnation = self.servers[s].incarnation;
        let closed = Event::ServerConnClosed {
            server: s,
            incarnation,
            conn,
        };
        self.deliver(conn, true, closed);
        self.deliver(conn, false, Event::ClientConnLost { client, conn });
    }
}
