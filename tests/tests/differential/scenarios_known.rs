//! Small scenarios that isolate the behaviours where Corral was found to differ from ZooKeeper
//! 3.8.0, so that each difference is one entry of `KNOWN_DIFFERENCES` and the larger scenarios
//! stay asserted.

use super::ops::*;
use super::scenarios::Scenario;
use super::steps::{open, Password, Step};
use corral_core::jute::{
    add_watch_mode as aw, create_mode as cm, perms, watcher_type as wt, CreateRequest,
    CreateTtlRequest, MultiOp, Request,
};

fn s(n: usize) -> Step {
    Step::Session(n)
}

fn scenario(name: &'static str, steps: Vec<Step>) -> Scenario {
    Scenario { name, steps }
}

/// The scenarios of this module that may run anywhere in the order (`negative_cversion` must run
/// right after `initial_tree` and is listed there).
pub fn all() -> Vec<Scenario> {
    vec![
        sequential_after_delete(),
        cversion_after_delete(),
        create_container_via_create(),
        create_root(),
        invalid_paths_lenient(),
        whoami_digest(),
        acl_auth_scheme_with_id(),
        auth_digest_malformed(),
        add_watch_bad_mode(),
        remove_persistent_watches(),
        watcher_type_invalid(),
        multi_create2_result(),
        multi_bad_path(),
        unknown_opcode(),
        delete_container_opcode(),
        wrong_password(),
    ]
}

/// Runs while `/` and `/zookeeper` still have their initial (negative) cversions.
pub fn negative_cversion() -> Scenario {
    scenario(
        "negative_cversion",
        vec![
            s(0),
            exists("/", false),
            exists("/zookeeper", false),
            create("/zookeeper/s-", "", cm::PERSISTENT_SEQUENTIAL),
            create("/ncv-", "", cm::PERSISTENT_SEQUENTIAL),
            exists("/", false),
            exists("/zookeeper", false),
            create("/ncv", "", cm::PERSISTENT),
            create("/zookeeper/ncv", "", cm::PERSISTENT),
            exists("/", false),
            exists("/zookeeper", false),
            set_data("/", "rootdata", -1),
            get_data("/", false),
            set_data("/", "", -1),
            set_data("/zookeeper", "x", -1),
            get_data("/zookeeper", false),
        ],
    )
}

fn sequential_after_delete() -> Scenario {
    scenario(
        "sequential_after_delete",
        vec![
            s(0),
            create("/sad", "", cm::PERSISTENT),
            create("/sad/a-", "", cm::PERSISTENT_SEQUENTIAL),
            create("/sad/a-", "", cm::PERSISTENT_SEQUENTIAL),
            create("/sad/b", "", cm::PERSISTENT),
            delete("/sad/a-0000000000", -1),
            delete("/sad/b", -1),
            exists("/sad", false),
            create("/sad/a-", "", cm::PERSISTENT_SEQUENTIAL),
            create("/sad/", "", cm::PERSISTENT_SEQUENTIAL),
            create("/sad/b-", "", cm::PERSISTENT_SEQUENTIAL),
            create("/sad/a-", "", cm::PERSISTENT_SEQUENTIAL),
            get_children2("/sad", false),
        ],
    )
}

fn cversion_after_delete() -> Scenario {
    scenario(
        "cversion_after_delete",
        vec![
            s(0),
            create("/cad", "", cm::PERSISTENT),
            create("/cad/a", "", cm::PERSISTENT),
            delete("/cad/a", -1),
            exists("/cad", false),
            create("/cad/b", "", cm::PERSISTENT),
            exists("/cad", false),
            create("/cad/c", "", cm::PERSISTENT),
            exists("/cad", false),
            s(1),
            create("/cad/e", "", cm::EPHEMERAL),
            Step::Close,
            s(0),
            get_children2("/cad", false),
        ],
    )
}

fn create_container_via_create() -> Scenario {
    scenario(
        "create_container_via_create",
        vec![
            s(0),
            create("/cvc", "", cm::PERSISTENT),
            create("/cvc/c1", "", cm::CONTAINER),
            create2("/cvc/c2", "", cm::CONTAINER),
            create("/cvc/c1/kid", "", cm::PERSISTENT),
            delete("/cvc/c1/kid", -1),
            Step::SleepMs(1_500),
            exists("/cvc/c1", false),
            get_children("/cvc", false),
        ],
    )
}

fn create_root() -> Scenario {
    scenario(
        "create_root",
        vec![
            s(0),
            create("/", "", cm::PERSISTENT),
            create2("/", "", cm::EPHEMERAL),
        ],
    )
}

fn invalid_paths_lenient() -> Scenario {
    let mut steps = vec![
        s(0),
        create("/ipl", "", cm::PERSISTENT),
        create("/ipl//x", "", cm::PERSISTENT),
        create("/ipl/./x", "", cm::PERSISTENT),
        create("/ipl/../x", "", cm::PERSISTENT),
    ];
    for path in ["", "ipl", "/ipl/", "//ipl"] {
        steps.push(exists(path, false));
        steps.push(get_data(path, false));
        steps.push(get_children(path, false));
        steps.push(get_acl(path));
    }
    scenario("invalid_paths_lenient", steps)
}

fn whoami_digest() -> Scenario {
    scenario(
        "whoami_digest",
        vec![
            s(0),
            Step::Op(Request::WhoAmI),
            Step::Auth {
                scheme: "digest",
                auth: "alice:secret",
            },
            Step::Op(Request::WhoAmI),
            s(1),
            Step::Auth {
                scheme: "digest",
                auth: "alice:wrong",
            },
            Step::Op(Request::WhoAmI),
        ],
    )
}

fn acl_auth_scheme_with_id() -> Scenario {
    scenario(
        "acl_auth_scheme_with_id",
        vec![
            s(0),
            Step::Auth {
                scheme: "digest",
                auth: "alice:secret",
            },
            create("/aid", "", cm::PERSISTENT),
            create_acl("/aid/x", vec![acl(perms::READ, "auth", "whatever")], 0),
            get_acl("/aid/x"),
            create_acl("/aid/node", vec![acl(perms::READ, "auth", "whatever")], 0),
            get_acl("/aid/node"),
            create_acl("/aid/n2", vec![acl(perms::ALL, "auth", "foo:bar")], 0),
            get_acl("/aid/n2"),
            create_acl("/aid/n3", vec![acl(perms::ALL, "auth", "")], 0),
            get_acl("/aid/n3"),
            create_acl("/aid/n4", vec![acl(perms::ALL, "auth", "whatever")], 0),
            get_acl("/aid/n4"),
            create_acl("/aid/n5", vec![acl(perms::READ, "auth", "")], 0),
            get_acl("/aid/n5"),
            create_acl("/aid/n6", vec![acl(perms::READ, "auth", "a:b:c")], 0),
            get_acl("/aid/n6"),
        ],
    )
}

fn auth_digest_malformed() -> Scenario {
    scenario(
        "auth_digest_malformed",
        vec![
            s(0),
            Step::Auth {
                scheme: "digest",
                auth: "nocolon",
            },
            Step::Op(Request::WhoAmI),
            get_data("/", false),
        ],
    )
}

fn add_watch_bad_mode() -> Scenario {
    scenario(
        "add_watch_bad_mode",
        vec![s(0), add_watch("/abm", 7), add_watch("/abm", -1), sync("/")],
    )
}

fn remove_persistent_watches() -> Scenario {
    scenario(
        "remove_persistent_watches",
        vec![
            s(0),
            create("/rpw", "", cm::PERSISTENT),
            s(1),
            add_watch("/rpw", aw::PERSISTENT_RECURSIVE),
            check_watches("/rpw", wt::DATA),
            check_watches("/rpw", wt::CHILDREN),
            check_watches("/rpw", wt::ANY),
            remove_watches("/rpw", wt::CHILDREN),
            s(0),
            create("/rpw/a", "", cm::PERSISTENT),
            set_data("/rpw", "x", -1),
            s(1),
            remove_watches("/rpw", wt::DATA),
            s(0),
            create("/rpw/b", "", cm::PERSISTENT),
            set_data("/rpw", "y", -1),
            s(1),
            add_watch("/rpw", aw::PERSISTENT),
            remove_watches("/rpw", wt::ANY),
            remove_watches("/rpw", wt::ANY),
            s(0),
            set_data("/rpw", "z", -1),
        ],
    )
}

fn watcher_type_invalid() -> Scenario {
    scenario(
        "watcher_type_invalid",
        vec![
            s(0),
            create("/wti", "", cm::PERSISTENT),
            get_data("/wti", true),
            check_watches("/wti", 9),
            remove_watches("/wti", 9),
            remove_watches("/wti", 0),
            check_watches("/wti", wt::DATA),
            set_data("/wti", "x", -1),
        ],
    )
}

fn multi_create2_result() -> Scenario {
    let req = |path: &str, flags| CreateRequest {
        path: path.to_owned(),
        data: b"d".to_vec(),
        acl: open(),
        flags,
    };
    scenario(
        "multi_create2_result",
        vec![
            s(0),
            create("/mc2", "", cm::PERSISTENT),
            Step::Op(Request::Multi(vec![
                MultiOp::Create2(req("/mc2/a", cm::PERSISTENT)),
                MultiOp::Create2(req("/mc2/e-", cm::EPHEMERAL_SEQUENTIAL)),
                MultiOp::CreateContainer(req("/mc2/c", cm::CONTAINER)),
                MultiOp::CreateTtl(CreateTtlRequest {
                    path: "/mc2/t".to_owned(),
                    data: Vec::new(),
                    acl: open(),
                    flags: cm::PERSISTENT_WITH_TTL,
                    ttl: 60_000,
                }),
            ])),
            get_children("/mc2", false),
        ],
    )
}

fn multi_bad_path() -> Scenario {
    scenario(
        "multi_bad_path",
        vec![
            s(0),
            create("/mbp", "", cm::PERSISTENT),
            Step::Op(Request::Multi(vec![
                m_create("/mbp/bad//path", "", cm::PERSISTENT),
                m_create("/mbp/f", "", cm::PERSISTENT),
            ])),
            Step::Op(Request::Multi(vec![
                m_create("/mbp/g", "", cm::PERSISTENT),
                m_create("/mbp/.", "", cm::PERSISTENT),
            ])),
            get_children("/mbp", false),
        ],
    )
}

fn unknown_opcode() -> Scenario {
    scenario(
        "unknown_opcode",
        vec![
            s(0),
            // Both servers close after the reply; a request sent after it would race the close,
            // so the scenario records the close and sends nothing more on that connection.
            Step::Raw {
                opcode: 9999,
                body: vec![],
            },
            s(1),
            Step::Raw {
                opcode: 9999,
                body: vec![0, 0, 0, 1, b'/'],
            },
        ],
    )
}

fn delete_container_opcode() -> Scenario {
    let mut body = vec![0, 0, 0, 4];
    body.extend_from_slice(b"/dco");
    scenario(
        "delete_container_opcode",
        vec![
            s(0),
            create_container("/dco"),
            Step::Raw { opcode: 20, body },
            exists("/dco", false),
        ],
    )
}

fn wrong_password() -> Scenario {
    scenario(
        "wrong_password",
        vec![
            s(0),
            create("/wp", "", cm::EPHEMERAL),
            reconnect(1, 0, Password::Wrong),
            exists("/", false),
            s(0),
            exists("/wp", false),
        ],
    )
}
