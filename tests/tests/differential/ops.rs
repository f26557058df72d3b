//! Short constructors for scenario steps, so scenarios read as lists of requests.

pub use super::steps::open;
use super::steps::{Password, Step};
use corral_core::jute::{
    create_mode, perms, Acl, CreateRequest, CreateTtlRequest, Id, MultiOp, Request,
};

/// The digest id of `alice:secret` (`alice:base64(sha1("alice:secret"))`).
pub const ALICE_DIGEST: &str = "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=";

fn create_request(path: &str, data: &str, acl: Vec<Acl>, flags: i32) -> CreateRequest {
    CreateRequest {
        path: path.to_owned(),
        data: data.as_bytes().to_vec(),
        acl,
        flags,
    }
}

/// create (opcode 1) with an open ACL.
pub fn create(path: &str, data: &str, flags: i32) -> Step {
    Step::Op(Request::Create(create_request(path, data, open(), flags)))
}

/// create2 (opcode 15) with an open ACL.
pub fn create2(path: &str, data: &str, flags: i32) -> Step {
    Step::Op(Request::Create2(create_request(path, data, open(), flags)))
}

/// create2 (opcode 15) with the given ACL.
pub fn create_acl(path: &str, acl: Vec<Acl>, flags: i32) -> Step {
    Step::Op(Request::Create2(create_request(path, "", acl, flags)))
}

/// createContainer (opcode 19).
pub fn create_container(path: &str) -> Step {
    let req = create_request(path, "", open(), create_mode::CONTAINER);
    Step::Op(Request::CreateContainer(req))
}

/// createTTL (opcode 21).
pub fn create_ttl(path: &str, flags: i32, ttl: i64) -> Step {
    Step::Op(Request::CreateTtl(CreateTtlRequest {
        path: path.to_owned(),
        data: Vec::new(),
        acl: open(),
        flags,
        ttl,
    }))
}

/// delete.
pub fn delete(path: &str, version: i32) -> Step {
    Step::Op(Request::Delete {
        path: path.to_owned(),
        version,
    })
}

/// exists.
pub fn exists(path: &str, watch: bool) -> Step {
    Step::Op(Request::Exists {
        path: path.to_owned(),
        watch,
    })
}

/// getData.
pub fn get_data(path: &str, watch: bool) -> Step {
    Step::Op(Request::GetData {
        path: path.to_owned(),
        watch,
    })
}

/// setData.
pub fn set_data(path: &str, data: &str, version: i32) -> Step {
    Step::Op(Request::SetData {
        path: path.to_owned(),
        data: data.as_bytes().to_vec(),
        version,
    })
}

/// getACL.
pub fn get_acl(path: &str) -> Step {
    Step::Op(Request::GetAcl {
        path: path.to_owned(),
    })
}

/// setACL.
pub fn set_acl(path: &str, acl: Vec<Acl>, version: i32) -> Step {
    Step::Op(Request::SetAcl {
        path: path.to_owned(),
        acl,
        version,
    })
}

/// getChildren.
pub fn get_children(path: &str, watch: bool) -> Step {
    Step::Op(Request::GetChildren {
        path: path.to_owned(),
        watch,
    })
}

/// getChildren2.
pub fn get_children2(path: &str, watch: bool) -> Step {
    Step::Op(Request::GetChildren2 {
        path: path.to_owned(),
        watch,
    })
}

/// getAllChildrenNumber.
pub fn all_children_number(path: &str) -> Step {
    Step::Op(Request::GetAllChildrenNumber {
        path: path.to_owned(),
    })
}

/// getEphemerals.
pub fn ephemerals(prefix: &str) -> Step {
    Step::Op(Request::GetEphemerals {
        prefix: prefix.to_owned(),
    })
}

/// sync.
pub fn sync(path: &str) -> Step {
    Step::Op(Request::Sync {
        path: path.to_owned(),
    })
}

/// addWatch.
pub fn add_watch(path: &str, mode: i32) -> Step {
    Step::Op(Request::AddWatch {
        path: path.to_owned(),
        mode,
    })
}

/// checkWatches.
pub fn check_watches(path: &str, watcher_type: i32) -> Step {
    Step::Op(Request::CheckWatches {
        path: path.to_owned(),
        watcher_type,
    })
}

/// removeWatches.
pub fn remove_watches(path: &str, watcher_type: i32) -> Step {
    Step::Op(Request::RemoveWatches {
        path: path.to_owned(),
        watcher_type,
    })
}

/// A reconnect of connection `n` to the session of connection `of`.
pub fn reconnect(n: usize, of: usize, password: Password) -> Step {
    Step::Reconnect { n, of, password }
}

/// An ACL entry.
pub fn acl(perms: i32, scheme: &str, id: &str) -> Acl {
    Acl {
        perms,
        id: Id::new(scheme, id),
    }
}

/// `world:anyone` with read only.
pub fn read_only_acl() -> Vec<Acl> {
    vec![acl(perms::READ, "world", "anyone")]
}

/// create op inside a multi.
pub fn m_create(path: &str, data: &str, flags: i32) -> MultiOp {
    MultiOp::Create(create_request(path, data, open(), flags))
}

/// delete op inside a multi.
pub fn m_delete(path: &str, version: i32) -> MultiOp {
    MultiOp::Delete {
        path: path.to_owned(),
        version,
    }
}

/// setData op inside a multi.
pub fn m_set(path: &str, data: &str, version: i32) -> MultiOp {
    MultiOp::SetData {
        path: path.to_owned(),
        data: data.as_bytes().to_vec(),
        version,
    }
}

/// check op inside a multi.
pub fn m_check(path: &str, version: i32) -> MultiOp {
    MultiOp::Check {
        path: path.to_owned(),
        version,
    }
}

/// getData op inside a multiRead.
pub fn m_get_data(path: &str) -> MultiOp {
    MultiOp::GetData {
        path: path.to_owned(),
    }
}

/// getChildren op inside a multiRead.
pub fn m_get_children(path: &str) -> MultiOp {
    MultiOp::GetChildren {
        path: path.to_owned(),
    }
}
