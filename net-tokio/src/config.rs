//! Server configuration read from ZooKeeper's `zoo.cfg`, so an existing deployment's file works.
//!
//! The file is in java `.properties` style: `key=value` (or `key: value`, or `key value`), `#`
//! and `!` start comment lines, a trailing backslash continues a line, and values are trimmed as
//! ZooKeeper trims them. Defaults are ZooKeeper's. Keys Corral does not know are collected in
//! [`ServerConfig::unknown_keys`] for the caller to warn about; they are not fatal.

use crate::conn::BacklogLimits;
use crate::storage::{
    StorageOptions, RECORD_SLACK_BYTES, SEGMENT_BYTES_MAX_DEFAULT, SNAP_RETAIN_COUNT_MIN,
};
use corral_core::ServerId;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// ZooKeeper's default `tickTime`.
pub const TICK_TIME_MS_DEFAULT: u32 = 2000;
/// ZooKeeper's default `initLimit`, in ticks.
pub const INIT_LIMIT_DEFAULT: u32 = 10;
/// ZooKeeper's default `syncLimit`, in ticks.
pub const SYNC_LIMIT_DEFAULT: u32 = 5;
/// ZooKeeper's default `clientPort`.
pub const CLIENT_PORT_DEFAULT: u16 = 2181;
/// ZooKeeper's default `maxClientCnxns` (per client IP; 0 means no limit).
pub const MAX_CLIENT_CNXNS_DEFAULT: u32 = 60;
/// ZooKeeper's default `snapCount`.
pub const SNAP_COUNT_DEFAULT: u64 = 100_000;
/// ZooKeeper's floor for `snapCount`.
pub const SNAP_COUNT_MIN: u64 = 2;
/// ZooKeeper's default `jute.maxbuffer`.
pub const JUTE_MAXBUFFER_DEFAULT: usize = crate::storage::JUTE_MAXBUFFER_DEFAULT;
/// `minSessionTimeout` defaults to this many ticks.
pub const SESSION_TIMEOUT_MIN_TICKS: u32 = 2;
/// `maxSessionTimeout` defaults to this many ticks.
pub const SESSION_TIMEOUT_MAX_TICKS: u32 = 20;
/// The client address when a zoo.cfg does not give one (ZooKeeper binds every interface).
pub const CLIENT_PORT_ADDRESS_DEFAULT: &str = "0.0.0.0";
/// The client address of the no-config standalone server.
pub const STANDALONE_CLIENT_ADDRESS: &str = "127.0.0.1";
/// ZooKeeper's default `znode.container.checkIntervalMs`.
pub const CONTAINER_CHECK_INTERVAL_MS_DEFAULT: u64 = 60_000;
/// The data directory of the no-config standalone server.
pub const STANDALONE_DATA_DIR: &str = "corral-data";

/// Errors reading or validating a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A value does not parse for its key.
    #[error("line {line}: {key}={value}: {reason}")]
    InvalidValue {
        /// Line number (1-based) where the entry starts.
        line: usize,
        /// The key.
        key: String,
        /// The value as written.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `dataDir` is not set; ZooKeeper requires it in a config file.
    #[error("dataDir is not set")]
    MissingDataDir,
    /// `tickTime` is zero.
    #[error("tickTime must be positive")]
    TickTimeZero,
    /// `minSessionTimeout` is above `maxSessionTimeout`.
    #[error("minSessionTimeout {min_ms} ms is above maxSessionTimeout {max_ms} ms")]
    SessionTimeoutsInverted {
        /// The minimum, in ms.
        min_ms: u32,
        /// The maximum, in ms.
        max_ms: u32,
    },
    /// `initLimit` or `syncLimit` is zero while `server.N` lines make an ensemble.
    #[error("{key} must be positive in an ensemble")]
    LimitZero {
        /// The key at zero.
        key: &'static str,
    },
    /// A `server.N` line has a zero peer or election port.
    #[error("server.{id}: ports must be non-zero")]
    ServerPortZero {
        /// The server's id.
        id: u64,
    },
    /// `jute.maxbuffer` is zero.
    #[error("jute.maxbuffer must be positive")]
    JuteMaxbufferZero,
    /// `clientPortAddress` is empty.
    #[error("clientPortAddress is empty")]
    ClientPortAddressEmpty,
    /// `corral.clientBacklogBytes` is above `corral.clientBacklogHardBytes`.
    #[error("corral.clientBacklogBytes {soft} is above corral.clientBacklogHardBytes {hard}")]
    BacklogLimitsInverted {
        /// The soft limit, in bytes.
        soft: usize,
        /// The hard limit, in bytes.
        hard: usize,
    },
}

/// Whether a server votes or only follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PeerType {
    /// Votes in elections and acknowledges proposals.
    #[default]
    Participant,
    /// Follows the leader without voting.
    Observer,
}

/// Which four letter words the client port answers (`4lw.commands.whitelist`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FourLetterWords {
    /// Every command (`*`).
    All,
    /// Only these; `srvr` is always included, as in ZooKeeper (zkServer.sh relies on it).
    Only(BTreeSet<String>),
}

impl Default for FourLetterWords {
    /// ZooKeeper's default since 3.5.3: `srvr` only.
    fn default() -> FourLetterWords {
        FourLetterWords::Only(BTreeSet::from(["srvr".to_string()]))
    }
}

impl FourLetterWords {
    /// Parses the comma-separated list; a `*` anywhere enables everything.
    pub fn parse(list: &str) -> FourLetterWords {
        let mut words = BTreeSet::from(["srvr".to_string()]);
        for word in list
            .split(',')
            .map(str::trim)
            .filter(|word| !word.is_empty())
        {
            if word == "*" {
                return FourLetterWords::All;
            }
            words.insert(word.to_string());
        }
        FourLetterWords::Only(words)
    }

    /// Whether `command` may run.
    pub fn allows(&self, command: &str) -> bool {
        match self {
            FourLetterWords::All => true,
            FourLetterWords::Only(words) => words.contains(command),
        }
    }
}

/// One `server.N=host:peer_port:election_port[:participant|:observer][;[client_host:]port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAddr {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// Port followers connect to the leader on (quorum traffic).
    pub peer_port: u16,
    /// Port for leader election.
    pub election_port: u16,
    /// Whether the server is an observer.
    pub observer: bool,
    /// The client address after `;`, if given.
    pub client_host: Option<String>,
    /// The client port after `;`, if given.
    pub client_port: Option<u16>,
}

/// The server's configuration, with ZooKeeper's names in the docs and its defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// `tickTime`: the basic time unit.
    pub tick_time_ms: u32,
    /// `initLimit`: ticks a follower may take to connect and sync to the leader.
    pub init_limit: u32,
    /// `syncLimit`: ticks a follower may lag behind the leader.
    pub sync_limit: u32,
    /// `dataDir`: snapshots (and the log unless `dataLogDir` is set). `myid` lives here.
    pub data_dir: PathBuf,
    /// `dataLogDir`: the transaction log; defaults to `data_dir`.
    pub data_log_dir: PathBuf,
    /// `clientPort`.
    pub client_port: u16,
    /// `clientPortAddress`: host or IP the client port binds to.
    pub client_port_address: String,
    /// `maxClientCnxns`: connections per client IP; 0 means no limit.
    pub max_client_cnxns: u32,
    /// `minSessionTimeout`; defaults to 2 ticks.
    pub min_session_timeout_ms: u32,
    /// `maxSessionTimeout`; defaults to 20 ticks.
    pub max_session_timeout_ms: u32,
    /// `snapCount`: transactions between snapshots (at least 2).
    pub snap_count: u64,
    /// `autopurge.snapRetainCount`: snapshots kept (raised to 3 if lower, as ZooKeeper does).
    pub autopurge_snap_retain_count: usize,
    /// `autopurge.purgeInterval`: hours between purges; 0 turns autopurge off.
    pub autopurge_purge_interval_hours: u32,
    /// `4lw.commands.whitelist`.
    pub four_letter_words: FourLetterWords,
    /// `jute.maxbuffer`: the largest frame accepted, in bytes.
    pub jute_maxbuffer: usize,
    /// `preAllocSize` (KiB; ZooKeeper's `zookeeper.preAllocSize` property): the size of a log
    /// segment, written full of zeros before records go in. 0 turns preallocation off (the
    /// segments then grow as written, up to the default size).
    pub pre_alloc_size_kb: u64,
    /// `server.N` lines, by id.
    pub servers: BTreeMap<ServerId, ServerAddr>,
    /// `peerType`.
    pub peer_type: PeerType,
    /// `znode.container.checkIntervalMs`: how often empty containers and expired TTL nodes are
    /// removed (ZooKeeper reads it as a system property; Corral also accepts it in zoo.cfg).
    pub container_check_interval_ms: u64,
    /// Corral's own `corral.clientBacklogBytes`, `corral.clientBacklogStallMs` and
    /// `corral.clientBacklogHardBytes`: how much may wait unwritten for a client that does not
    /// read before its requests are no longer read, and how much and for how long before its
    /// connection is closed.
    pub client_backlog: BacklogLimits,
    /// Keys present in the file that Corral does not use, in file order.
    pub unknown_keys: Vec<String>,
}

impl ServerConfig {
    /// The configuration with no file at all: standalone on 127.0.0.1:2181, data in
    /// `./corral-data`.
    pub fn default_standalone() -> ServerConfig {
        let mut config = ServerConfig::with_data_dir(PathBuf::from(STANDALONE_DATA_DIR));
        config.client_port_address = STANDALONE_CLIENT_ADDRESS.to_string();
        config
    }

    /// ZooKeeper's defaults around `data_dir`.
    fn with_data_dir(data_dir: PathBuf) -> ServerConfig {
        ServerConfig {
            tick_time_ms: TICK_TIME_MS_DEFAULT,
            init_limit: INIT_LIMIT_DEFAULT,
            sync_limit: SYNC_LIMIT_DEFAULT,
            data_log_dir: data_dir.clone(),
            data_dir,
            client_port: CLIENT_PORT_DEFAULT,
            client_port_address: CLIENT_PORT_ADDRESS_DEFAULT.to_string(),
            max_client_cnxns: MAX_CLIENT_CNXNS_DEFAULT,
            min_session_timeout_ms: SESSION_TIMEOUT_MIN_TICKS * TICK_TIME_MS_DEFAULT,
            max_session_timeout_ms: SESSION_TIMEOUT_MAX_TICKS * TICK_TIME_MS_DEFAULT,
            snap_count: SNAP_COUNT_DEFAULT,
            autopurge_snap_retain_count: SNAP_RETAIN_COUNT_MIN,
            autopurge_purge_interval_hours: 0,
            four_letter_words: FourLetterWords::default(),
            jute_maxbuffer: JUTE_MAXBUFFER_DEFAULT,
            pre_alloc_size_kb: SEGMENT_BYTES_MAX_DEFAULT >> 10,
            servers: BTreeMap::new(),
            peer_type: PeerType::Participant,
            container_check_interval_ms: CONTAINER_CHECK_INTERVAL_MS_DEFAULT,
            client_backlog: BacklogLimits::default(),
            unknown_keys: Vec::new(),
        }
    }

    /// Reads a zoo.cfg file. Relative `dataDir` / `dataLogDir` are resolved against the current
    /// directory, as ZooKeeper resolves them. The result is parsed, not yet validated.
    pub fn from_file(path: &Path) -> Result<ServerConfig, ConfigError> {
        let io_error = |source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        };
        let text = std::fs::read_to_string(path).map_err(io_error)?;
        let mut config: ServerConfig = text.parse()?;
        if config.data_dir.is_relative() || config.data_log_dir.is_relative() {
            let cwd = std::env::current_dir().map_err(io_error)?;
            config.data_dir = cwd.join(&config.data_dir);
            config.data_log_dir = cwd.join(&config.data_log_dir);
        }
        Ok(config)
    }

    /// Checks the values against each other.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.tick_time_ms == 0 {
            return Err(ConfigError::TickTimeZero);
        }
        if self.min_session_timeout_ms > self.max_session_timeout_ms {
            let (min_ms, max_ms) = (self.min_session_timeout_ms, self.max_session_timeout_ms);
            return Err(ConfigError::SessionTimeoutsInverted { min_ms, max_ms });
        }
        if self.jute_maxbuffer == 0 {
            return Err(ConfigError::JuteMaxbufferZero);
        }
        if self.client_port_address.is_empty() {
            return Err(ConfigError::ClientPortAddressEmpty);
        }
        let backlog = self.client_backlog;
        if backlog.bytes_max > backlog.bytes_hard_max {
            let (soft, hard) = (backlog.bytes_max, backlog.bytes_hard_max);
            return Err(ConfigError::BacklogLimitsInverted { soft, hard });
        }
        if !self.servers.is_empty() {
            if self.init_limit == 0 {
                return Err(ConfigError::LimitZero { key: "initLimit" });
            }
            if self.sync_limit == 0 {
                return Err(ConfigError::LimitZero { key: "syncLimit" });
            }
        }
        for (id, server) in &self.servers {
            if server.peer_port == 0 || server.election_port == 0 {
                return Err(ConfigError::ServerPortZero { id: id.0 });
            }
        }
        Ok(())
    }

    /// The storage options this configuration implies.
    pub fn storage_options(&self) -> StorageOptions {
        let mut options = StorageOptions::new(self.data_dir.clone());
        options.log_dir = self.data_log_dir.clone();
        options.snap_retain_count = self.autopurge_snap_retain_count.max(SNAP_RETAIN_COUNT_MIN);
        options.purge_interval_hours = self.autopurge_purge_interval_hours;
        options.record_bytes_max = self.jute_maxbuffer.saturating_add(RECORD_SLACK_BYTES);
        options.preallocate = self.pre_alloc_size_kb > 0;
        if options.preallocate {
            options.segment_bytes_max = self.pre_alloc_size_kb.saturating_mul(1024);
        }
        options
    }
}

impl FromStr for ServerConfig {
    type Err = ConfigError;

    /// Parses zoo.cfg text (not validated; see [`ServerConfig::validate`]).
    fn from_str(text: &str) -> Result<ServerConfig, ConfigError> {
        let mut parsed = Parsed::new();
        for entry in properties(text) {
            parsed.apply(entry)?;
        }
        parsed.finish()
    }
}

/// One `key=value` entry of a properties file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    line: usize,
    key: String,
    value: String,
}

impl Entry {
    fn invalid(&self, reason: impl Into<String>) -> ConfigError {
        ConfigError::InvalidValue {
            line: self.line,
            key: self.key.clone(),
            value: self.value.clone(),
            reason: reason.into(),
        }
    }

    fn number<T: FromStr>(&self) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        self.value
            .parse()
            .map_err(|error: T::Err| self.invalid(error.to_string()))
    }
}

/// Values as read, before the defaults that depend on other keys are filled in.
#[derive(Debug)]
struct Parsed {
    config: ServerConfig,
    data_dir: Option<PathBuf>,
    data_log_dir: Option<PathBuf>,
    min_session_timeout_ms: Option<u32>,
    max_session_timeout_ms: Option<u32>,
}

impl Parsed {
    fn new() -> Parsed {
        Parsed {
            config: ServerConfig::with_data_dir(PathBuf::new()),
            data_dir: None,
            data_log_dir: None,
            min_session_timeout_ms: None,
            max_session_timeout_ms: None,
        }
    }

    fn apply(&mut self, entry: Entry) -> Result<(), ConfigError> {
        let config = &mut self.config;
        match entry.key.as_str() {
            "tickTime" => config.tick_time_ms = entry.number()?,
            "initLimit" => config.init_limit = entry.number()?,
            "syncLimit" => config.sync_limit = entry.number()?,
            "clientPort" => config.client_port = entry.number()?,
            "clientPortAddress" => config.client_port_address = entry.value.clone(),
            "maxClientCnxns" => config.max_client_cnxns = entry.number()?,
            "snapCount" => config.snap_count = entry.number::<u64>()?.max(SNAP_COUNT_MIN),
            "autopurge.snapRetainCount" => {
                let count: usize = entry.number()?;
                config.autopurge_snap_retain_count = count.max(SNAP_RETAIN_COUNT_MIN);
            }
            "autopurge.purgeInterval" => config.autopurge_purge_interval_hours = entry.number()?,
            "4lw.commands.whitelist" => {
                config.four_letter_words = FourLetterWords::parse(&entry.value);
            }
            "jute.maxbuffer" => config.jute_maxbuffer = parse_java_int(&entry)?,
            "preAllocSize" => config.pre_alloc_size_kb = entry.number()?,
            "znode.container.checkIntervalMs" => {
                config.container_check_interval_ms = entry.number::<u64>()?.max(1)
            }
            "peerType" => config.peer_type = parse_peer_type(&entry)?,
            "corral.clientBacklogBytes" => config.client_backlog.bytes_max = entry.number()?,
            "corral.clientBacklogHardBytes" => {
                config.client_backlog.bytes_hard_max = entry.number()?
            }
            "corral.clientBacklogStallMs" => {
                let ms = entry.number::<u64>()?.max(1);
                config.client_backlog.stall = std::time::Duration::from_millis(ms);
            }
            "dataDir" => self.data_dir = Some(PathBuf::from(&entry.value)),
            "dataLogDir" => self.data_log_dir = Some(PathBuf::from(&entry.value)),
            "minSessionTimeout" => self.min_session_timeout_ms = parse_timeout(&entry)?,
            "maxSessionTimeout" => self.max_session_timeout_ms = parse_timeout(&entry)?,
            key => match key.strip_prefix("server.") {
                Some(id) => {
                    let id = id
                        .parse()
                        .map_err(|_| entry.invalid("server id is not a number"))?;
                    let server = parse_server(&entry)?;
                    config.servers.insert(ServerId(id), server);
                }
                None => config.unknown_keys.push(entry.key),
            },
        }
        Ok(())
    }

    fn finish(self) -> Result<ServerConfig, ConfigError> {
        let mut config = self.config;
        let data_dir = self.data_dir.filter(|dir| !dir.as_os_str().is_empty());
        config.data_dir = data_dir.ok_or(ConfigError::MissingDataDir)?;
        config.data_log_dir = self.data_log_dir.unwrap_or_else(|| config.data_dir.clone());
        let tick_ms = config.tick_time_ms;
        config.min_session_timeout_ms = self
            .min_session_timeout_ms
            .unwrap_or(tick_ms.saturating_mul(SESSION_TIMEOUT_MIN_TICKS));
        config.max_session_timeout_ms = self
            .max_session_timeout_ms
            .unwrap_or(tick_ms.saturating_mul(SESSION_TIMEOUT_MAX_TICKS));
        Ok(config)
    }
}

/// A session timeout; ZooKeeper treats a negative value as "use the default".
fn parse_timeout(entry: &Entry) -> Result<Option<u32>, ConfigError> {
    let value: i64 = entry.number()?;
    if value < 0 {
        return Ok(None);
    }
    u32::try_from(value)
        .map(Some)
        .map_err(|_| entry.invalid("out of range"))
}

/// An integer as java's `Integer.decode` reads it: decimal, `0x` / `#` hex, or `0` octal.
fn parse_java_int(entry: &Entry) -> Result<usize, ConfigError> {
    let text = entry.value.as_str();
    let parsed = if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        usize::from_str_radix(hex, 16)
    } else if let Some(hex) = text.strip_prefix('#') {
        usize::from_str_radix(hex, 16)
    } else if text.len() > 1 && text.starts_with('0') {
        usize::from_str_radix(&text[1..], 8)
    } else {
        text.parse()
    };
    parsed.map_err(|error| entry.invalid(error.to_string()))
}

fn parse_peer_type(entry: &Entry) -> Result<PeerType, ConfigError> {
    match entry.value.to_ascii_lowercase().as_str() {
        "participant" => Ok(PeerType::Participant),
        "observer" => Ok(PeerType::Observer),
        _ => Err(entry.invalid("expected participant or observer")),
    }
}

/// Splits `host:rest` where host may be a bracketed IPv6 address.
fn split_host(text: &str) -> Option<(&str, &str)> {
    match text.strip_prefix('[') {
        Some(bracketed) => {
            let (host, rest) = bracketed.split_once(']')?;
            Some((host, rest.strip_prefix(':')?))
        }
        None => text.split_once(':'),
    }
}

/// Parses `host:peer:election[:participant|:observer][;[client_host:]client_port]`.
fn parse_server(entry: &Entry) -> Result<ServerAddr, ConfigError> {
    let (address, client) = match entry.value.split_once(';') {
        Some((address, client)) => (address.trim(), Some(client.trim())),
        None => (entry.value.as_str(), None),
    };
    if address.contains('|') {
        return Err(entry.invalid("several addresses per server are not supported"));
    }
    let form = "expected host:port:port[:participant|:observer][;[host:]port]";
    let (host, ports) = split_host(address).ok_or_else(|| entry.invalid(form))?;
    let mut parts = ports.split(':');
    let port = |part: Option<&str>| -> Result<u16, ConfigError> {
        let part = part.ok_or_else(|| entry.invalid(form))?;
        part.trim()
            .parse()
            .map_err(|_| entry.invalid(format!("bad port {part:?}")))
    };
    let peer_port = port(parts.next())?;
    let election_port = port(parts.next())?;
    let observer = match parts.next().map(|kind| kind.trim().to_ascii_lowercase()) {
        None => false,
        Some(kind) if kind == "participant" => false,
        Some(kind) if kind == "observer" => true,
        Some(_) => return Err(entry.invalid("server type must be participant or observer")),
    };
    if parts.next().is_some() || host.is_empty() {
        return Err(entry.invalid(form));
    }
    let (client_host, client_port) = match client {
        None => (None, None),
        Some(client) => {
            let (client_host, client_port) = match split_host(client) {
                Some((client_host, client_port)) => (Some(client_host.to_string()), client_port),
                None => (None, client),
            };
            (client_host, Some(port(Some(client_port))?))
        }
    };
    Ok(ServerAddr {
        host: host.to_string(),
        peer_port,
        election_port,
        observer,
        client_host,
        client_port,
    })
}

/// The entries of a java properties text, in order (a later duplicate key overrides).
fn properties(text: &str) -> Vec<Entry> {
    logical_lines(text)
        .into_iter()
        .map(|(line, logical)| {
            let (key, value) = split_key_value(&logical);
            Entry {
                line,
                key: unescape(key),
                value: unescape(value).trim().to_string(),
            }
        })
        .collect()
}

/// Joins continued lines; drops blank and comment lines. Returns (first line number, text).
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut lines = Vec::new();
    let mut open: Option<(usize, String)> = None;
    for (index, raw) in text.lines().enumerate() {
        let trimmed = raw.trim_start();
        let (line, mut logical) = match open.take() {
            Some((line, mut logical)) => {
                logical.push_str(trimmed);
                (line, logical)
            }
            None if trimmed.is_empty() || trimmed.starts_with(['#', '!']) => continue,
            None => (index + 1, trimmed.to_string()),
        };
        let trailing = logical.chars().rev().take_while(|c| *c == '\\').count();
        if trailing % 2 == 1 {
            logical.pop();
            open = Some((line, logical));
        } else {
            lines.push((line, logical));
        }
    }
    lines.extend(open);
    lines
}

/// Splits at the first unescaped `=`, `:` or whitespace, as java properties do.
fn split_key_value(logical: &str) -> (&str, &str) {
    let mut escaped = false;
    let mut split = None;
    for (index, c) in logical.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '=' || c == ':' || c.is_whitespace() {
            split = Some((index, c));
            break;
        }
    }
    let Some((index, separator)) = split else {
        return (logical, "");
    };
    let key = &logical[..index];
    let mut rest = logical[index + separator.len_utf8()..].trim_start();
    if separator.is_whitespace() {
        if let Some(after) = rest.strip_prefix(['=', ':']) {
            rest = after.trim_start();
        }
    }
    (key, rest)
}

/// Resolves java properties escapes: `\t \n \r \f`, `\uXXXX`, and `\x` for any other `x`.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let decoded = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
                out.push(decoded.unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests;
