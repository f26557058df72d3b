//! Scenarios about watches, multi, sessions and the odd corners of the protocol.

use super::ops::*;
use super::scenarios::Scenario;
use super::steps::{Password, Step};
use corral_core::jute::{add_watch_mode as aw, create_mode as cm, watcher_type as wt, Request};

fn s(n: usize) -> Step {
    Step::Session(n)
}

fn scenario(name: &'static str, steps: Vec<Step>) -> Scenario {
    Scenario { name, steps }
}

/// The scenarios of this module, in the order they run.
pub fn all() -> Vec<Scenario> {
    vec![
        watches(),
        persistent_watches(),
        check_remove_watches(),
        multi_success(),
        multi_failure(),
        multi_read(),
        sync_whoami_reconfig(),
        cversion(),
        close_session(),
        reconnect_same_session(),
    ]
}

fn watches() -> Scenario {
    scenario(
        "watches",
        vec![
            s(0),
            create("/w", "", cm::PERSISTENT),
            s(1),
            exists("/w/a", true),
            get_data("/w/none", true),
            get_children("/w", true),
            s(0),
            create("/w/a", "1", cm::PERSISTENT),
            create("/w/none", "", cm::PERSISTENT),
            s(1),
            get_data("/w/a", true),
            exists("/w/a", true),
            get_children("/w/a", true),
            s(0),
            set_data("/w/a", "2", -1),
            set_data("/w/a", "3", -1),
            create("/w/a/kid", "", cm::PERSISTENT),
            s(1),
            get_data("/w/a", true),
            get_children("/w/a", true),
            s(0),
            delete("/w/a/kid", -1),
            delete("/w/a", -1),
            s(1),
            get_data("/w/none", true),
            get_data("/w/none", true),
            get_children("/w/none", true),
            set_data("/w/none", "self", -1),
            delete("/w/none", -1),
            exists("/w", true),
            s(0),
            set_acl("/w", open(), -1),
            create("/w/b", "", cm::EPHEMERAL),
            s(1),
            exists("/w/b", true),
            s(0),
            Step::Close,
            s(1),
            exists("/w/b", false),
        ],
    )
}

fn persistent_watches() -> Scenario {
    scenario(
        "persistent_watches",
        vec![
            s(0),
            create("/pw", "", cm::PERSISTENT),
            s(1),
            add_watch("/pw/p", aw::PERSISTENT),
            add_watch("/pw/r", aw::PERSISTENT_RECURSIVE),
            s(0),
            create("/pw/p", "", cm::PERSISTENT),
            set_data("/pw/p", "x", -1),
            create("/pw/p/kid", "", cm::PERSISTENT),
            set_data("/pw/p/kid", "x", -1),
            delete("/pw/p/kid", -1),
            delete("/pw/p", -1),
            create("/pw/p", "", cm::PERSISTENT),
            create("/pw/r", "", cm::PERSISTENT),
            create("/pw/r/a", "", cm::PERSISTENT),
            create("/pw/r/a/b", "", cm::PERSISTENT),
            set_data("/pw/r/a/b", "x", -1),
            delete("/pw/r/a/b", -1),
            s(1),
            get_data("/pw/r/a", true),
            s(0),
            set_data("/pw/r/a", "y", -1),
            s(1),
            add_watch("/pw/r/a", aw::PERSISTENT),
            s(0),
            set_data("/pw/r/a", "z", -1),
            create("/pw/r/c", "", cm::PERSISTENT),
            s(1),
            add_watch("/", aw::PERSISTENT_RECURSIVE),
            s(0),
            create("/pw/x", "", cm::EPHEMERAL),
            sync("/pw"),
            delete("/pw/x", -1),
        ],
    )
}

fn check_remove_watches() -> Scenario {
    scenario(
        "check_remove_watches",
        vec![
            s(0),
            create("/rw", "", cm::PERSISTENT),
            check_watches("/rw", wt::DATA),
            check_watches("/rw", wt::CHILDREN),
            check_watches("/rw", wt::ANY),
            check_watches("/rw/none", wt::ANY),
            remove_watches("/rw", wt::ANY),
            get_data("/rw", true),
            check_watches("/rw", wt::DATA),
            check_watches("/rw", wt::CHILDREN),
            check_watches("/rw", wt::ANY),
            remove_watches("/rw", wt::CHILDREN),
            remove_watches("/rw", wt::DATA),
            check_watches("/rw", wt::DATA),
            exists("/rw/none", true),
            check_watches("/rw/none", wt::DATA),
            remove_watches("/rw/none", wt::DATA),
            get_children("/rw", true),
            get_data("/rw", true),
            remove_watches("/rw", wt::ANY),
            check_watches("/rw", wt::ANY),
            get_children("/rw", true),
            remove_watches("/rw", wt::CHILDREN),
            s(1),
            remove_watches("/rw", wt::ANY),
            s(0),
            create("/rw/kid", "", cm::PERSISTENT),
            set_data("/rw", "x", -1),
        ],
    )
}

fn multi_success() -> Scenario {
    scenario(
        "multi_success",
        vec![
            s(0),
            create("/ms", "", cm::PERSISTENT),
            s(1),
            get_children("/ms", true),
            s(0),
            Step::Op(Request::Multi(vec![
                m_create("/ms/a", "a", cm::PERSISTENT),
                m_create("/ms/b", "b", cm::EPHEMERAL),
                m_create("/ms/s-", "", cm::PERSISTENT_SEQUENTIAL),
                m_create("/ms/s-", "", cm::PERSISTENT_SEQUENTIAL),
                m_set("/ms/a", "aa", 0),
                m_check("/ms/a", 1),
                m_check("/ms", -1),
                m_delete("/ms/s-0000000002", 0),
            ])),
            get_children2("/ms", false),
            Step::Op(Request::Multi(vec![])),
            Step::Op(Request::Multi(vec![m_check("/ms/a", 1)])),
            Step::Op(Request::Multi(vec![
                m_delete("/ms/a", -1),
                m_create("/ms/a", "again", cm::PERSISTENT),
                m_delete("/ms/a", 0),
            ])),
            exists("/ms/a", false),
        ],
    )
}

fn multi_failure() -> Scenario {
    scenario(
        "multi_failure",
        vec![
            s(0),
            create("/mf", "", cm::PERSISTENT),
            create("/mf/x", "", cm::PERSISTENT),
            s(1),
            get_children("/mf", true),
            s(0),
            Step::Op(Request::Multi(vec![
                m_create("/mf/a", "", cm::PERSISTENT),
                m_create("/mf/x", "", cm::PERSISTENT),
                m_set("/mf/x", "", -1),
            ])),
            exists("/mf/a", false),
            Step::Op(Request::Multi(vec![
                m_check("/mf/x", 3),
                m_create("/mf/b", "", cm::PERSISTENT),
            ])),
            Step::Op(Request::Multi(vec![
                m_create("/mf/c", "", cm::PERSISTENT),
                m_delete("/mf/c", 0),
                m_delete("/mf/c", -1),
            ])),
            Step::Op(Request::Multi(vec![
                m_create("/mf/d", "", cm::PERSISTENT),
                m_create("/mf/d/e", "", cm::PERSISTENT),
                m_delete("/mf", -1),
            ])),
            Step::Op(Request::Multi(vec![
                m_create("/mf/g", "", cm::EPHEMERAL),
                m_create("/mf/g/h", "", cm::PERSISTENT),
            ])),
            Step::Op(Request::Multi(vec![
                m_set("/mf/x", "", 0),
                m_set("/mf/x", "", 0),
            ])),
            get_children2("/mf", false),
            exists("/mf/x", false),
        ],
    )
}

fn multi_read() -> Scenario {
    scenario(
        "multi_read",
        vec![
            s(0),
            create("/mr", "top", cm::PERSISTENT),
            create("/mr/a", "A", cm::PERSISTENT),
            create_acl("/mr/secret", vec![acl(31, "digest", ALICE_DIGEST)], 0),
            Step::Op(Request::MultiRead(vec![
                m_get_children("/mr"),
                m_get_data("/mr/a"),
                m_get_data("/mr/none"),
                m_get_children("/mr/none"),
                m_get_data("/mr/secret"),
                m_get_data("/mr"),
            ])),
            Step::Op(Request::MultiRead(vec![])),
        ],
    )
}

fn sync_whoami_reconfig() -> Scenario {
    scenario(
        "sync_whoami_reconfig",
        vec![
            s(0),
            sync("/"),
            sync("/no/such/node"),
            sync("not a path"),
            Step::Op(Request::WhoAmI),
            Step::Op(Request::Reconfig {
                joining: String::new(),
                leaving: "1".to_owned(),
                new_members: String::new(),
                cur_config_id: -1,
            }),
            Step::Op(Request::Reconfig {
                joining: "server.2=127.0.0.1:1234:1235;1236".to_owned(),
                leaving: String::new(),
                new_members: String::new(),
                cur_config_id: -1,
            }),
        ],
    )
}

fn cversion() -> Scenario {
    scenario(
        "cversion",
        vec![
            s(0),
            create("/cv", "", cm::PERSISTENT),
            exists("/cv", false),
            create("/cv/a", "", cm::PERSISTENT),
            create("/cv/b", "", cm::PERSISTENT),
            exists("/cv", false),
            set_data("/cv/a", "x", -1),
            exists("/cv", false),
            create("/cv/b", "", cm::PERSISTENT),
            delete("/cv/none", -1),
            exists("/cv", false),
            create("/cv/b/c", "", cm::PERSISTENT),
            exists("/cv", false),
            create("/cv/e", "", cm::EPHEMERAL),
            set_acl("/cv", open(), -1),
            exists("/cv", false),
            s(1),
            create("/cv/e1", "", cm::EPHEMERAL),
            s(0),
            get_children2("/cv", false),
        ],
    )
}

fn close_session() -> Scenario {
    scenario(
        "close_session",
        vec![
            s(0),
            create("/cs", "", cm::PERSISTENT),
            s(1),
            create("/cs/e", "", cm::EPHEMERAL),
            create("/cs/es-", "", cm::EPHEMERAL_SEQUENTIAL),
            s(0),
            exists("/cs/e", true),
            get_children("/cs", true),
            s(1),
            Step::Close,
            s(0),
            get_children2("/cs", false),
            ephemerals("/cs"),
        ],
    )
}

fn reconnect_same_session() -> Scenario {
    scenario(
        "reconnect_same_session",
        vec![
            s(0),
            create("/rs", "", cm::EPHEMERAL),
            exists("/rs", true),
            reconnect(1, 0, Password::Right),
            exists("/rs", false),
            set_data("/rs", "x", -1),
            s(0),
            exists("/rs", false),
        ],
    )
}
