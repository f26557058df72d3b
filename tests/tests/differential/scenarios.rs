//! The scripted scenarios, as data. Each works under its own top-level path so they can share
//! one server; `initial_tree` runs first and sees the server as it starts.

use super::ops::*;
use super::steps::Step;
use corral_core::jute::{create_mode as cm, perms};

/// A named list of steps.
pub struct Scenario {
    /// Name, also the golden file's name.
    pub name: &'static str,
    /// The steps, played in order.
    pub steps: Vec<Step>,
}

fn s(n: usize) -> Step {
    Step::Session(n)
}

/// Every scenario, in the order they run.
pub fn all() -> Vec<Scenario> {
    let mut out = vec![
        initial_tree(),
        super::scenarios_known::negative_cversion(),
        create_modes(),
        sequential_naming(),
        container_and_ttl(),
        create_errors(),
        invalid_paths(),
        delete_errors(),
        data(),
        acl_digest(),
        children(),
    ];
    out.extend(super::scenarios_more::all());
    out.extend(super::scenarios_known::all());
    out
}

fn scenario(name: &'static str, steps: Vec<Step>) -> Scenario {
    Scenario { name, steps }
}

fn initial_tree() -> Scenario {
    scenario(
        "initial_tree",
        vec![
            s(0),
            get_children("/", false),
            get_children2("/", false),
            exists("/", false),
            get_data("/", false),
            get_children2("/zookeeper", false),
            get_data("/zookeeper", false),
            get_data("/zookeeper/config", false),
            get_data("/zookeeper/quota", false),
            get_acl("/"),
            get_acl("/zookeeper"),
            get_acl("/zookeeper/config"),
            all_children_number("/"),
            all_children_number("/zookeeper"),
        ],
    )
}

fn create_modes() -> Scenario {
    scenario(
        "create_modes",
        vec![
            s(0),
            create("/cm", "root", cm::PERSISTENT),
            create("/cm/p", "p", cm::PERSISTENT),
            create2("/cm/p2", "p2", cm::PERSISTENT),
            create("/cm/e", "e", cm::EPHEMERAL),
            create2("/cm/e2", "e2", cm::EPHEMERAL),
            create("/cm/ps-", "ps", cm::PERSISTENT_SEQUENTIAL),
            create2("/cm/ps-", "ps", cm::PERSISTENT_SEQUENTIAL),
            create("/cm/es-", "es", cm::EPHEMERAL_SEQUENTIAL),
            create2("/cm/es-", "es", cm::EPHEMERAL_SEQUENTIAL),
            create2("/cm/p/", "slash", cm::PERSISTENT_SEQUENTIAL),
            exists("/cm/e", false),
            get_data("/cm/es-0000000007", false),
            get_children2("/cm", false),
            ephemerals("/cm"),
            ephemerals("/"),
            ephemerals("/cm/e"),
            ephemerals("/nothing"),
            s(1),
            ephemerals("/"),
            create2("/cm/e_other", "", cm::EPHEMERAL),
            get_data("/cm/e_other", false),
            all_children_number("/cm"),
            create2("/cm/bad_mode", "", 7),
            create2("/cm/neg_mode", "", -1),
        ],
    )
}

fn sequential_naming() -> Scenario {
    scenario(
        "sequential_naming",
        vec![
            s(0),
            create("/seq", "", cm::PERSISTENT),
            create("/seq/a-", "", cm::PERSISTENT_SEQUENTIAL),
            create("/seq/a-", "", cm::PERSISTENT_SEQUENTIAL),
            create("/seq/b", "", cm::PERSISTENT),
            create("/seq/a-", "", cm::EPHEMERAL_SEQUENTIAL),
            exists("/seq", false),
            create("/seq/a-", "", cm::PERSISTENT_SEQUENTIAL),
            create("/seq/", "", cm::PERSISTENT_SEQUENTIAL),
            create("/seq/b", "", cm::PERSISTENT_SEQUENTIAL),
            create("/seq/a-0000000008", "", cm::PERSISTENT),
            create("/seq/a-", "", cm::PERSISTENT_SEQUENTIAL),
            create("/seq/a-", "", cm::PERSISTENT_SEQUENTIAL),
            get_children2("/seq", false),
            set_data("/seq", "x", -1),
            create2("/seq/z-", "", cm::EPHEMERAL_SEQUENTIAL),
            create("/seq/x", "", cm::PERSISTENT),
            create("/seq/x/", "", cm::PERSISTENT_SEQUENTIAL),
            exists("/seq/x", false),
        ],
    )
}

fn container_and_ttl() -> Scenario {
    scenario(
        "container_and_ttl",
        vec![
            s(0),
            create("/ct", "", cm::PERSISTENT),
            create_container("/ct/c"),
            exists("/ct/c", false),
            create("/ct/c/kid", "", cm::PERSISTENT),
            create_container("/ct/c_empty"),
            create_ttl("/ct/t", cm::PERSISTENT_WITH_TTL, 100),
            create_ttl("/ct/ts-", cm::PERSISTENT_SEQUENTIAL_WITH_TTL, 100),
            create_ttl("/ct/tlong", cm::PERSISTENT_WITH_TTL, 3_600_000),
            exists("/ct/t", false),
            exists("/ct/tlong", false),
            create("/ct/t1", "", cm::PERSISTENT_WITH_TTL),
            create("/ct/t2", "", cm::PERSISTENT_SEQUENTIAL_WITH_TTL),
            create2("/ct/t3", "", cm::PERSISTENT_WITH_TTL),
            create_ttl("/ct/t_zero", cm::PERSISTENT_WITH_TTL, 0),
            create_ttl("/ct/t_neg", cm::PERSISTENT_WITH_TTL, -5),
            create_ttl("/ct/t_huge", cm::PERSISTENT_WITH_TTL, 1 << 40),
            create_ttl("/ct/t_persistent", cm::PERSISTENT, 100),
            create_ttl("/ct/t_ephemeral", cm::EPHEMERAL, 100),
            create_ttl("/ct/t_container", cm::CONTAINER, 100),
            create_container("/ct/c_wrong_flags_seq"),
            delete("/ct/c/kid", -1),
            Step::SleepMs(2_000),
            exists("/ct/c", false),
            exists("/ct/c_empty", false),
            exists("/ct/t", false),
            exists("/ct/ts-0000000007", false),
            exists("/ct/tlong", false),
            get_children("/ct", false),
        ],
    )
}

fn create_errors() -> Scenario {
    let alice = vec![acl(perms::ALL, "digest", ALICE_DIGEST)];
    scenario(
        "create_errors",
        vec![
            s(0),
            create("/ce", "", cm::PERSISTENT),
            create("/ce", "", cm::PERSISTENT),
            create2("/ce", "", cm::PERSISTENT),
            create("/ce/missing/child", "", cm::PERSISTENT),
            create("/ce/missing/child-", "", cm::PERSISTENT_SEQUENTIAL),
            create("/ce/eph", "", cm::EPHEMERAL),
            create("/ce/eph/kid", "", cm::PERSISTENT),
            create("/ce/eph/kid-", "", cm::EPHEMERAL_SEQUENTIAL),
            create_acl("/ce/empty_acl", vec![], cm::PERSISTENT),
            create_acl(
                "/ce/bad_scheme",
                vec![acl(perms::ALL, "nosuch", "x")],
                cm::PERSISTENT,
            ),
            create_acl(
                "/ce/auth_no_ids",
                vec![acl(perms::ALL, "auth", "")],
                cm::PERSISTENT,
            ),
            create_acl(
                "/ce/bad_ip",
                vec![acl(perms::ALL, "ip", "not-an-ip")],
                cm::PERSISTENT,
            ),
            create_acl(
                "/ce/bad_digest",
                vec![acl(perms::ALL, "digest", "nocolon")],
                cm::PERSISTENT,
            ),
            create_acl(
                "/ce/world_other",
                vec![acl(perms::ALL, "world", "someone")],
                cm::PERSISTENT,
            ),
            create_acl(
                "/ce/zero_perms",
                vec![acl(0, "world", "anyone")],
                cm::PERSISTENT,
            ),
            create_acl("/ce/digest_ok", alice, cm::PERSISTENT),
            create_acl(
                "/ce/ip_ok",
                vec![acl(perms::ALL, "ip", "127.0.0.1/8")],
                cm::PERSISTENT,
            ),
            get_acl("/ce/ip_ok"),
            create("/ce/digest_ok/kid", "", cm::PERSISTENT),
            create_acl("/ce/ro", read_only_acl(), cm::PERSISTENT),
            create("/ce/ro/kid", "", cm::PERSISTENT),
            create("/zookeeper", "", cm::PERSISTENT),
            create("/zookeeper/x", "", cm::PERSISTENT),
            create("/zookeeper/config", "", cm::PERSISTENT),
        ],
    )
}

fn invalid_paths() -> Scenario {
    let mut steps = vec![s(0), create("/ip", "", cm::PERSISTENT)];
    for path in [
        "",
        "ip",
        "/ip/",
        "//ip",
        "/ip/.",
        "/ip/..",
        "/ip/x\u{0}y",
        "/ip/\u{1}",
        "/ip/\u{f8ff}",
        "/ip/.x",
        "/ip/..x",
        "/ip/x.",
    ] {
        steps.push(create(path, "", cm::PERSISTENT));
    }
    for path in ["", "ip", "/ip/", "//ip"] {
        steps.push(create(path, "", cm::PERSISTENT_SEQUENTIAL));
        steps.push(delete(path, -1));
        steps.push(set_data(path, "", -1));
        steps.push(sync(path));
    }
    steps.push(get_children2("/ip", false));
    scenario("invalid_paths", steps)
}

fn delete_errors() -> Scenario {
    scenario(
        "delete_errors",
        vec![
            s(0),
            create("/de", "", cm::PERSISTENT),
            create("/de/kid", "", cm::PERSISTENT),
            delete("/de/none", -1),
            delete("/de", -1),
            delete("/de/kid", 5),
            delete("/de/kid", 0),
            delete("/de/kid", 0),
            delete("/", -1),
            delete("/zookeeper", -1),
            delete("/zookeeper/config", -1),
            delete("/zookeeper/quota", -1),
            create_acl("/de/ro", read_only_acl(), cm::PERSISTENT),
            delete("/de/ro", -1),
            create_acl(
                "/de/nodel",
                vec![acl(perms::ALL ^ perms::DELETE, "world", "anyone")],
                0,
            ),
            create("/de/nodel/kid", "", cm::PERSISTENT),
            delete("/de/nodel/kid", -1),
            get_children("/de", false),
        ],
    )
}

fn data() -> Scenario {
    scenario(
        "data",
        vec![
            s(0),
            create("/data", "one", cm::PERSISTENT),
            get_data("/data", false),
            set_data("/data", "two", -1),
            set_data("/data", "three", 1),
            set_data("/data", "four", 1),
            set_data("/data", "", 2),
            get_data("/data", false),
            set_data("/data/none", "x", -1),
            get_data("/data/none", false),
            set_data("/data", "v", -2),
            set_data("/data", "v", 1_000),
            set_data("/zookeeper/config", "x", -1),
            exists("/data", false),
        ],
    )
}

fn acl_digest() -> Scenario {
    let alice = vec![acl(perms::ALL, "digest", ALICE_DIGEST)];
    let alice_read = vec![
        acl(perms::READ, "world", "anyone"),
        acl(perms::ALL, "digest", ALICE_DIGEST),
    ];
    scenario(
        "acl_digest",
        vec![
            s(0),
            create("/acl", "", cm::PERSISTENT),
            create_acl("/acl/alice", alice.clone(), cm::PERSISTENT),
            get_data("/acl/alice", false),
            get_acl("/acl/alice"),
            exists("/acl/alice", false),
            get_children("/acl/alice", false),
            set_data("/acl/alice", "x", -1),
            set_acl("/acl/alice", open(), -1),
            create("/acl/alice/kid", "", cm::PERSISTENT),
            delete("/acl/alice/kid", -1),
            s(1),
            Step::Auth {
                scheme: "digest",
                auth: "alice:secret",
            },
            get_data("/acl/alice", false),
            set_data("/acl/alice", "x", -1),
            set_acl("/acl/alice", alice_read.clone(), 5),
            set_acl("/acl/alice", alice_read, 0),
            get_acl("/acl/alice"),
            set_acl("/acl/alice", vec![], -1),
            set_acl("/acl/alice", vec![acl(perms::ALL, "nosuch", "x")], -1),
            set_acl("/acl/none", open(), -1),
            create_acl(
                "/acl/auth",
                vec![acl(perms::ALL, "auth", "")],
                cm::PERSISTENT,
            ),
            get_acl("/acl/auth"),
            s(0),
            get_data("/acl/alice", false),
            get_data("/acl/auth", false),
            Step::Auth {
                scheme: "digest",
                auth: "alice:wrong",
            },
            get_data("/acl/auth", false),
            Step::Auth {
                scheme: "digest",
                auth: "alice:secret",
            },
            get_data("/acl/auth", false),
            delete("/acl/alice", -1),
            get_children("/acl", false),
            s(2),
            Step::Auth {
                scheme: "nosuch",
                auth: "x",
            },
            get_data("/acl", false),
        ],
    )
}

fn children() -> Scenario {
    scenario(
        "children",
        vec![
            s(0),
            create("/ch", "", cm::PERSISTENT),
            get_children("/ch", false),
            get_children2("/ch", false),
            create("/ch/b", "", cm::PERSISTENT),
            create("/ch/a", "", cm::PERSISTENT),
            create("/ch/c", "", cm::EPHEMERAL),
            create("/ch/a/x", "", cm::PERSISTENT),
            create("/ch/a/x/y", "", cm::PERSISTENT),
            get_children("/ch", false),
            get_children2("/ch", false),
            get_children2("/ch/a/x/y", false),
            all_children_number("/ch"),
            all_children_number("/ch/a"),
            all_children_number("/ch/a/x/y"),
            all_children_number("/ch/none"),
            get_children("/ch/none", false),
            get_children2("/ch/none", true),
            create("/ch/none", "", cm::PERSISTENT),
        ],
    )
}
