//! Shared harness for Corral's end-to-end tests: spawns the real `corral` binary on a free port
//! with a temporary data directory and a generated zoo.cfg.
//!
//! The binary is `$CORRAL_BIN`, or `target/debug/corral` of this workspace (run
//! `cargo build --bin corral` first; `scripts/test.sh` does).

// End-to-end tests drive real processes over real sockets: they must read the wall clock
// (clippy.toml forbids that for the deterministic core and simulator).
#![allow(clippy::disallowed_methods)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Path of the `corral` binary under test.
pub fn corral_bin() -> PathBuf {
    if let Ok(p) = std::env::var("CORRAL_BIN") {
        return PathBuf::from(p);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/corral")
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

/// A running `corral` process.
pub struct Server {
    /// Client port on 127.0.0.1.
    pub port: u16,
    /// The temporary data directory (removed on drop).
    pub dir: tempfile::TempDir,
    /// Extra zoo.cfg lines this server was started with.
    pub extra_cfg: String,
    child: Option<Child>,
}

impl Server {
    /// Starts a server with `tickTime=500` and every four-letter word allowed, plus `extra_cfg`
    /// lines (later keys win).
    pub fn start(extra_cfg: &str) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut server = Server {
            port: free_port(),
            dir,
            extra_cfg: extra_cfg.to_owned(),
            child: None,
        };
        server.spawn();
        server
    }

    /// Starts ensemble member `myid` on client port `port`: `extra_cfg` carries the
    /// `server.N` lines (and limits); `myid` is written to the data directory first.
    pub fn start_member(myid: u64, port: u16, extra_cfg: &str) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).expect("data dir");
        std::fs::write(data.join("myid"), format!("{myid}\n")).expect("myid");
        let mut server = Server {
            port,
            dir,
            extra_cfg: extra_cfg.to_owned(),
            child: None,
        };
        server.spawn();
        server
    }

    /// The `Mode:` line of `srvr` (leader, follower, observer, looking, standalone).
    pub fn mode(&self) -> Option<String> {
        let text = self.four_letter("srvr")?;
        text.lines()
            .find_map(|l| l.strip_prefix("Mode: "))
            .map(str::to_owned)
    }

    /// "127.0.0.1:port".
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let cfg = self.dir.path().join("zoo.cfg");
        let text = format!(
            "tickTime=500\ndataDir={}\nclientPort={}\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\n{}\n",
            self.dir.path().join("data").display(),
            self.port,
            self.extra_cfg
        );
        std::fs::write(&cfg, text).expect("write zoo.cfg");
        let log = std::fs::File::create(self.dir.path().join("server.log")).expect("log file");
        let child = Command::new(corral_bin())
            .arg("--config")
            .arg(&cfg)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", corral_bin().display()));
        self.child = Some(child);
        self.wait_ready(Duration::from_secs(20));
    }

    /// Waits until `ruok` answers `imok`.
    pub fn wait_ready(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.four_letter("ruok").as_deref() == Some("imok") {
                return;
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("corral exited early ({status}); log:\n{}", self.log());
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("corral did not become ready; log:\n{}", self.log());
    }

    /// Sends a four-letter word and returns the whole answer, or `None` if nobody listens.
    pub fn four_letter(&self, word: &str) -> Option<String> {
        let mut s = TcpStream::connect(self.addr()).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        s.write_all(word.as_bytes()).ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        Some(out)
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// SIGKILL: no flush, no goodbye.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then the exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        None
    }

    /// Starts the process again on the same port and data directory.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

pub mod raw;
