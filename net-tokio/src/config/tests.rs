//! zoo.cfg parsing tests.

use super::*;

fn parse(text: &str) -> ServerConfig {
    text.parse().expect("parses")
}

fn parse_error(text: &str) -> ConfigError {
    text.parse::<ServerConfig>().expect_err("must not parse")
}

/// ZooKeeper's conf/zoo_sample.cfg, as shipped.
const ZOO_SAMPLE: &str = "\
# The number of milliseconds of each tick
tickTime=2000
# The number of ticks that the initial
# synchronization phase can take
initLimit=10
# The number of ticks that can pass between
# sending a request and getting an acknowledgement
syncLimit=5
# the directory where the snapshot is stored.
dataDir=/tmp/zookeeper
# the port at which the clients will connect
clientPort=2181
# the maximum number of client connections.
#maxClientCnxns=60
#autopurge.snapRetainCount=3
#autopurge.purgeInterval=1
## Metrics Providers
#metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider
#metricsProvider.httpPort=7000
";

#[test]
fn zoo_sample_gives_zookeeper_defaults() {
    let config = parse(ZOO_SAMPLE);
    config.validate().expect("valid");
    let mut expected = ServerConfig::with_data_dir(PathBuf::from("/tmp/zookeeper"));
    expected.client_port_address = "0.0.0.0".into();
    assert_eq!(config, expected);
    assert_eq!(config.min_session_timeout_ms, 4000);
    assert_eq!(config.max_session_timeout_ms, 40000);
    assert_eq!(config.data_log_dir, PathBuf::from("/tmp/zookeeper"));
    assert_eq!(config.max_client_cnxns, 60);
    assert_eq!(config.snap_count, 100_000);
    assert_eq!(config.jute_maxbuffer, 0xfffff);
    assert!(config.four_letter_words.allows("srvr"));
    assert!(!config.four_letter_words.allows("stat"));
    assert!(config.unknown_keys.is_empty());
    assert!(config.servers.is_empty());
}

#[test]
fn standalone_default() {
    let config = ServerConfig::default_standalone();
    config.validate().expect("valid");
    assert_eq!(config.client_port_address, "127.0.0.1");
    assert_eq!(config.client_port, 2181);
    assert_eq!(config.data_dir, PathBuf::from("corral-data"));
    assert_eq!(config.data_log_dir, PathBuf::from("corral-data"));
}

#[test]
fn every_known_key() {
    let config = parse(
        "tickTime=100\n initLimit = 3 \nsyncLimit:2\ndataDir /d\ndataLogDir=/l\nclientPort=3000\n\
         clientPortAddress=10.0.0.1\nmaxClientCnxns=0\nminSessionTimeout=500\n\
         maxSessionTimeout=9000\nsnapCount=1000\nautopurge.snapRetainCount=5\n\
         autopurge.purgeInterval=24\n4lw.commands.whitelist=stat, ruok ,conf\n\
         jute.maxbuffer=0x200000\npeerType=observer\npreAllocSize=1024\n",
    );
    config.validate().expect("valid");
    assert_eq!(config.tick_time_ms, 100);
    assert_eq!(config.init_limit, 3);
    assert_eq!(config.sync_limit, 2);
    assert_eq!(config.data_dir, PathBuf::from("/d"));
    assert_eq!(config.data_log_dir, PathBuf::from("/l"));
    assert_eq!(config.client_port, 3000);
    assert_eq!(config.client_port_address, "10.0.0.1");
    assert_eq!(config.max_client_cnxns, 0);
    assert_eq!(
        (config.min_session_timeout_ms, config.max_session_timeout_ms),
        (500, 9000)
    );
    assert_eq!(config.snap_count, 1000);
    assert_eq!(config.autopurge_snap_retain_count, 5);
    assert_eq!(config.autopurge_purge_interval_hours, 24);
    let words = ["conf", "ruok", "srvr", "stat"].map(String::from);
    assert_eq!(
        config.four_letter_words,
        FourLetterWords::Only(BTreeSet::from(words))
    );
    assert_eq!(config.jute_maxbuffer, 0x200000);
    assert_eq!(config.peer_type, PeerType::Observer);
    let options = config.storage_options();
    assert_eq!(options.log_dir, PathBuf::from("/l"));
    assert_eq!(options.snap_retain_count, 5);
    assert_eq!(options.purge_interval_hours, 24);
    assert_eq!(options.record_bytes_max, 0x200000 + RECORD_SLACK_BYTES);
    assert_eq!(config.pre_alloc_size_kb, 1024);
    assert!(options.preallocate);
    assert_eq!(options.segment_bytes_max, 1 << 20);
    // Preallocation is on by default with 64 MiB segments, and 0 turns it off.
    assert!(parse("dataDir=/d").storage_options().preallocate);
    let off = parse("dataDir=/d\npreAllocSize=0").storage_options();
    assert!(!off.preallocate);
    assert_eq!(off.segment_bytes_max, 64 << 20);
}

#[test]
fn session_timeouts_follow_tick_time_wherever_it_is() {
    let config = parse("dataDir=/d\nmaxSessionTimeout=-1\ntickTime=3000\n");
    assert_eq!(
        (config.min_session_timeout_ms, config.max_session_timeout_ms),
        (6000, 60000)
    );
}

#[test]
fn properties_syntax() {
    let config = parse(
        "! bang comment\n   # indented comment\n\n\
         dataDir = /data/with\\\n    continued \n\
         unknown.key\n\
         esc\\=aped=1\n\
         clientPortAddress=\\u0031.2.3.4\n",
    );
    assert_eq!(config.data_dir, PathBuf::from("/data/withcontinued"));
    assert_eq!(
        config.unknown_keys,
        vec!["unknown.key".to_string(), "esc=aped".to_string()]
    );
    assert_eq!(config.client_port_address, "1.2.3.4");
}

#[test]
fn later_duplicate_wins_and_unknown_keys_are_kept_in_order() {
    let config =
        parse("dataDir=/a\nadmin.enableServer=false\ndataDir=/b\nstandaloneEnabled=true\n");
    assert_eq!(config.data_dir, PathBuf::from("/b"));
    assert_eq!(
        config.unknown_keys,
        vec!["admin.enableServer", "standaloneEnabled"]
    );
}

#[test]
fn four_letter_words_star_and_small_limits() {
    let config = parse("dataDir=/d\n4lw.commands.whitelist=ruok,*\n");
    assert_eq!(config.four_letter_words, FourLetterWords::All);
    assert!(config.four_letter_words.allows("wchc"));
    let config = parse("dataDir=/d\nautopurge.snapRetainCount=1\nsnapCount=1\n");
    assert_eq!(
        config.autopurge_snap_retain_count, 3,
        "raised to ZooKeeper's floor"
    );
    assert_eq!(config.snap_count, 2, "raised to ZooKeeper's floor");
}

#[test]
fn server_lines() {
    let config = parse(
        "dataDir=/d\n\
         server.1=zoo1:2888:3888\n\
         server.2=zoo2:2888:3888:participant;2181\n\
         server.3=[2001:db8::1]:2888:3888:observer;0.0.0.0:2182\n\
         server.10=10.0.0.4:2889:3889:OBSERVER\n",
    );
    config.validate().expect("valid");
    assert_eq!(
        config.servers.keys().map(|id| id.0).collect::<Vec<_>>(),
        vec![1, 2, 3, 10]
    );
    let zoo1 = &config.servers[&ServerId(1)];
    assert_eq!(
        zoo1,
        &ServerAddr {
            host: "zoo1".into(),
            peer_port: 2888,
            election_port: 3888,
            observer: false,
            client_host: None,
            client_port: None,
        }
    );
    assert_eq!(config.servers[&ServerId(2)].client_port, Some(2181));
    let three = &config.servers[&ServerId(3)];
    assert_eq!(three.host, "2001:db8::1");
    assert!(three.observer);
    assert_eq!(three.client_host.as_deref(), Some("0.0.0.0"));
    assert_eq!(three.client_port, Some(2182));
    assert!(config.servers[&ServerId(10)].observer);
}

#[test]
fn bad_server_lines() {
    for line in [
        "server.1=zoo1:2888",
        "server.1=zoo1:2888:3888:leader",
        "server.1=zoo1:2888:99999",
        "server.1=zoo1:x:3888",
        "server.one=zoo1:2888:3888",
        "server.1=zoo1:2888:3888|zoo1b:2888:3888",
        "server.1=:2888:3888",
        "server.1=zoo1:2888:3888;port",
        "server.1=[::1:2888:3888",
    ] {
        let error = parse_error(&format!("dataDir=/d\n{line}\n"));
        assert!(
            matches!(error, ConfigError::InvalidValue { line: 2, .. }),
            "{line}: {error}"
        );
    }
}

#[test]
fn bad_values() {
    for text in [
        "tickTime=abc",
        "clientPort=70000",
        "peerType=leader",
        "jute.maxbuffer=lots",
    ] {
        let error = parse_error(&format!("dataDir=/d\n{text}\n"));
        assert!(
            matches!(error, ConfigError::InvalidValue { line: 2, .. }),
            "{text}: {error}"
        );
    }
    assert!(matches!(
        parse_error("tickTime=2000\n"),
        ConfigError::MissingDataDir
    ));
    assert!(matches!(
        parse_error("dataDir=\n"),
        ConfigError::MissingDataDir
    ));
}

#[test]
fn validation() {
    let error = parse("dataDir=/d\ntickTime=0\n")
        .validate()
        .expect_err("tick 0");
    assert!(matches!(error, ConfigError::TickTimeZero));
    let error = parse("dataDir=/d\nminSessionTimeout=5000\nmaxSessionTimeout=4000\n")
        .validate()
        .expect_err("inverted");
    assert!(matches!(
        error,
        ConfigError::SessionTimeoutsInverted {
            min_ms: 5000,
            max_ms: 4000
        }
    ));
    let error = parse("dataDir=/d\ninitLimit=0\nserver.1=a:1:2\n")
        .validate()
        .expect_err("limit");
    assert!(matches!(error, ConfigError::LimitZero { key: "initLimit" }));
    parse("dataDir=/d\ninitLimit=0\n")
        .validate()
        .expect("standalone ignores initLimit");
    let error = parse("dataDir=/d\nserver.4=a:0:2\n")
        .validate()
        .expect_err("port 0");
    assert!(matches!(error, ConfigError::ServerPortZero { id: 4 }));
    let error = parse("dataDir=/d\njute.maxbuffer=0\n")
        .validate()
        .expect_err("jute 0");
    assert!(matches!(error, ConfigError::JuteMaxbufferZero));
    let error = parse("dataDir=/d\nclientPortAddress=\n")
        .validate()
        .expect_err("empty");
    assert!(matches!(error, ConfigError::ClientPortAddressEmpty));
    let error =
        parse("dataDir=/d\ncorral.clientBacklogBytes=2048\ncorral.clientBacklogHardBytes=1024\n")
            .validate()
            .expect_err("inverted backlog");
    assert!(matches!(
        error,
        ConfigError::BacklogLimitsInverted {
            soft: 2048,
            hard: 1024
        }
    ));
}

#[test]
fn client_backlog_limits() {
    assert_eq!(
        parse("dataDir=/d\n").client_backlog,
        BacklogLimits::default()
    );
    let config = parse(
        "dataDir=/d\ncorral.clientBacklogBytes=1048576\ncorral.clientBacklogStallMs=2500\n\
         corral.clientBacklogHardBytes=8388608\n",
    );
    config.validate().expect("valid");
    assert_eq!(
        config.client_backlog,
        BacklogLimits {
            bytes_max: 1 << 20,
            stall: std::time::Duration::from_millis(2500),
            bytes_hard_max: 8 << 20,
        }
    );
    assert!(config.unknown_keys.is_empty());
    // A stall of 0 would close a connection at its first backlog: it is read as 1 ms.
    let config = parse("dataDir=/d\ncorral.clientBacklogStallMs=0\n");
    assert_eq!(
        config.client_backlog.stall,
        std::time::Duration::from_millis(1)
    );
    let error = parse_error("dataDir=/d\ncorral.clientBacklogBytes=-1\n");
    assert!(
        matches!(error, ConfigError::InvalidValue { line: 2, .. }),
        "{error}"
    );
}

#[test]
fn from_file_resolves_relative_dirs_against_the_cwd() {
    let dir = tempfile::TempDir::new().expect("tempdir");
    let path = dir.path().join("zoo.cfg");
    std::fs::write(&path, "dataDir=rel/data\ndataLogDir=/abs/log\n").expect("write");
    let config = ServerConfig::from_file(&path).expect("reads");
    let cwd = std::env::current_dir().expect("cwd");
    assert_eq!(config.data_dir, cwd.join("rel/data"));
    assert_eq!(config.data_log_dir, PathBuf::from("/abs/log"));
    let missing = ServerConfig::from_file(&dir.path().join("absent.cfg")).expect_err("absent");
    assert!(matches!(missing, ConfigError::Io { .. }));
}
