//! Authentication and ACL enforcement: digest auth, `auth` and `digest` ACL ids, NoAuth on every
//! permission bit, whoAmI, and a failed auth.

#[path = "e2e/mod.rs"]
mod common;

use common::{client, client_with, wait_for_log, within, Raw};
use corral_core::jute::{err, Request};
use corral_tests::Server;
use zookeeper_client::{Acl, Acls, AuthId, Client, CreateMode, Error, Permission};

fn open() -> zookeeper_client::CreateOptions<'static> {
    CreateMode::Persistent.with_acls(Acls::anyone_all())
}

/// A zookeeper-client authenticated as alice, with an auth packet after the handshake (with
/// `Connector::with_auth` it is pipelined behind the ConnectRequest, which Corral refuses: see
/// `connector_with_auth_connects`).
async fn alice(server: &Server) -> Client {
    let zk = client(server).await;
    within(zk.auth("digest", b"alice:secret"))
        .await
        .expect("auth");
    zk
}

#[tokio::test]
async fn connector_with_auth_connects() {
    let server = Server::start("");
    let zk = client_with(
        &server,
        Client::connector()
            .with_session_timeout(std::time::Duration::from_secs(10))
            .with_auth("digest", b"alice:secret"),
    )
    .await;
    let users = within(zk.list_auth_users()).await.expect("whoami");
    assert!(users.iter().any(|u| u.scheme() == "digest"));
}

#[tokio::test]
async fn creator_all_acl_binds_the_digest_id() {
    let server = Server::start("");
    let owner = alice(&server).await;
    within(owner.create(
        "/private",
        b"s",
        &CreateMode::Persistent.with_acls(Acls::creator_all()),
    ))
    .await
    .expect("create");
    let (acl, _) = within(owner.get_acl("/private")).await.expect("get acl");
    assert_eq!(acl.len(), 1);
    assert_eq!(acl[0].scheme(), "digest");
    // user:base64(sha1("alice:secret")).
    assert_eq!(acl[0].id(), "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=");
    assert_eq!(acl[0].permission(), Permission::ALL);
    within(owner.get_data("/private"))
        .await
        .expect("owner reads");

    let stranger = client(&server).await;
    assert_eq!(
        within(stranger.get_data("/private")).await.unwrap_err(),
        Error::NoAuth
    );
    assert_eq!(
        within(stranger.set_data("/private", b"x", None))
            .await
            .unwrap_err(),
        Error::NoAuth
    );
    assert_eq!(
        within(stranger.create("/private/kid", b"", &open()))
            .await
            .unwrap_err(),
        Error::NoAuth
    );
    assert_eq!(
        within(stranger.get_acl("/private")).await.unwrap_err(),
        Error::NoAuth
    );
    assert_eq!(
        within(stranger.list_children("/private"))
            .await
            .unwrap_err(),
        Error::NoAuth
    );
    // exists needs no permission.
    assert!(within(stranger.check_stat("/private"))
        .await
        .expect("exists")
        .is_some());

    // The same credentials on another session grant the same rights.
    let again = alice(&server).await;
    let (data, _) = within(again.get_data("/private")).await.expect("read");
    assert_eq!(data, b"s");
    // Adding auth later on an open session works too.
    within(stranger.auth("digest", b"alice:secret"))
        .await
        .expect("auth");
    within(stranger.get_data("/private"))
        .await
        .expect("read after auth");
}

#[tokio::test]
async fn each_permission_bit_is_enforced() {
    let server = Server::start("");
    let zk = client(&server).await;
    let acl = |perm| [Acl::new(perm, AuthId::anyone())];
    use Permission as P;
    let cases = [
        ("/no-read", P::WRITE | P::CREATE | P::DELETE | P::ADMIN),
        ("/no-write", P::READ | P::CREATE | P::DELETE | P::ADMIN),
        ("/no-create", P::READ | P::WRITE | P::DELETE | P::ADMIN),
        ("/no-delete", P::READ | P::WRITE | P::CREATE | P::ADMIN),
        ("/no-admin", P::READ | P::WRITE | P::CREATE | P::DELETE),
    ];
    for (path, perm) in cases {
        let a = acl(perm);
        within(zk.create(path, b"", &CreateMode::Persistent.with_acls(Acls::new(&a))))
            .await
            .expect("create");
    }
    within(zk.create("/no-delete/kid", b"", &open()))
        .await
        .expect("create");
    assert_eq!(
        within(zk.get_data("/no-read")).await.unwrap_err(),
        Error::NoAuth
    );
    assert_eq!(
        within(zk.set_data("/no-write", b"", None))
            .await
            .unwrap_err(),
        Error::NoAuth
    );
    assert_eq!(
        within(zk.create("/no-create/kid", b"", &open()))
            .await
            .unwrap_err(),
        Error::NoAuth
    );
    assert_eq!(
        within(zk.delete("/no-delete/kid", None)).await.unwrap_err(),
        Error::NoAuth
    );
    assert_eq!(
        within(zk.set_acl("/no-admin", &Acls::anyone_all(), None))
            .await
            .unwrap_err(),
        Error::NoAuth
    );
    // Other bits stay granted; deleting needs DELETE on the parent, not on the node itself.
    within(zk.create("/no-admin/kid", b"", &open()))
        .await
        .expect("create allowed");
    within(zk.delete("/no-admin/kid", None))
        .await
        .expect("delete allowed");
    within(zk.delete("/no-admin", None))
        .await
        .expect("delete allowed");
    within(zk.get_data("/no-write"))
        .await
        .expect("read allowed");
}

#[tokio::test]
async fn an_auth_acl_without_credentials_is_invalid() {
    let server = Server::start("");
    let zk = client(&server).await;
    let err = within(zk.create(
        "/x",
        b"",
        &CreateMode::Persistent.with_acls(Acls::creator_all()),
    ))
    .await
    .unwrap_err();
    assert_eq!(err, Error::InvalidAcl);
}

#[tokio::test]
async fn who_am_i_lists_the_connection_ids() {
    let server = Server::start("");
    let zk = alice(&server).await;
    let mut users: Vec<(String, String)> = within(zk.list_auth_users())
        .await
        .expect("whoami")
        .iter()
        .map(|u| (u.scheme().to_owned(), u.user().to_owned()))
        .collect();
    users.sort();
    assert_eq!(
        users,
        [
            // As ZooKeeper shows them: a digest id by its user name only.
            ("digest".to_owned(), "alice".to_owned()),
            ("ip".to_owned(), "127.0.0.1".to_owned()),
        ]
    );
}

/// An auth packet with an unknown scheme is answered AUTH_FAILED (xid -4) and the connection
/// is closed, as ZooKeeper does.
#[test]
fn auth_with_an_unknown_scheme_fails_and_closes() {
    let server = Server::start("");
    let mut raw = Raw::connect(&server);
    raw.handshake(4000);
    raw.send(&corral_core::jute::encode_request(
        -4,
        &Request::Auth {
            auth_type: 0,
            scheme: "kerberos-ish".into(),
            auth: b"who".to_vec(),
        },
    ));
    let header = raw.expect_reply(-4);
    assert_eq!(header.err, err::AUTH_FAILED);
    assert!(raw.expect_closed().is_empty());
    wait_for_log(&server, &["authentication failed; closing", "kerberos-ish"]);
    common::assert_served(&server);
}

/// A raw session that authenticated as `user_password` the way the Java client does (xid -4).
fn raw_digest(server: &Server, user_password: &str) -> Raw {
    let mut raw = Raw::connect(server);
    raw.handshake(10_000);
    raw.send(&corral_core::jute::encode_request(
        -4,
        &Request::Auth {
            auth_type: 0,
            scheme: "digest".into(),
            auth: user_password.as_bytes().to_vec(),
        },
    ));
    assert_eq!(raw.expect_reply(-4).err, err::OK);
    raw
}

#[tokio::test]
async fn digest_acl_is_enforced_for_other_sessions() {
    let server = Server::start("");
    let mut owner = raw_digest(&server, "alice:secret");
    let auth_all = vec![corral_core::jute::Acl {
        perms: corral_core::jute::perms::ALL,
        id: corral_core::jute::Id::new("auth", ""),
    }];
    let (h, _) = owner.call(&Request::Create(corral_core::jute::CreateRequest {
        path: "/private".into(),
        data: b"s".to_vec(),
        acl: auth_all,
        flags: 0,
    }));
    assert_eq!(h.err, err::OK);
    // The `auth` id was expanded to the digest of alice:secret.
    let (h, body) = owner.call(&Request::GetAcl {
        path: "/private".into(),
    });
    assert_eq!(h.err, err::OK);
    let Some(corral_core::jute::Response::GetAcl { acl, .. }) = body else {
        panic!("{body:?}")
    };
    assert_eq!(
        acl,
        [corral_core::jute::Acl {
            perms: corral_core::jute::perms::ALL,
            id: corral_core::jute::Id::new("digest", "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E="),
        }]
    );
    // A session without credentials gets NoAuth for every guarded operation.
    let stranger = client(&server).await;
    assert_eq!(
        within(stranger.get_data("/private")).await.unwrap_err(),
        Error::NoAuth
    );
    assert_eq!(
        within(stranger.set_data("/private", b"x", None))
            .await
            .unwrap_err(),
        Error::NoAuth
    );
    assert_eq!(
        within(stranger.create("/private/kid", b"", &open()))
            .await
            .unwrap_err(),
        Error::NoAuth
    );
    assert_eq!(
        within(stranger.get_acl("/private")).await.unwrap_err(),
        Error::NoAuth
    );
    assert_eq!(
        within(stranger.list_children("/private"))
            .await
            .unwrap_err(),
        Error::NoAuth
    );
    assert!(within(stranger.check_stat("/private"))
        .await
        .expect("exists")
        .is_some());
    // Wrong password: still NoAuth. Right password on another session: allowed.
    let mut mallory = raw_digest(&server, "alice:guess");
    let (h, _) = mallory.call(&Request::GetData {
        path: "/private".into(),
        watch: false,
    });
    assert_eq!(h.err, err::NO_AUTH);
    let mut again = raw_digest(&server, "alice:secret");
    let (h, body) = again.call(&Request::GetData {
        path: "/private".into(),
        watch: false,
    });
    assert_eq!(h.err, err::OK);
    assert!(
        matches!(body, Some(corral_core::jute::Response::GetData { data, .. }) if data == b"s")
    );
    // whoAmI on the raw session lists its ip and digest ids.
    let (h, body) = again.call(&Request::WhoAmI);
    assert_eq!(h.err, err::OK);
    let Some(corral_core::jute::Response::WhoAmI { clients }) = body else {
        panic!("{body:?}")
    };
    let mut ids: Vec<(&str, &str)> = clients
        .iter()
        .map(|c| (c.auth_scheme.as_str(), c.user.as_str()))
        .collect();
    ids.sort();
    assert_eq!(ids, [("digest", "alice"), ("ip", "127.0.0.1")]);
}

/// ZooKeeper answers an auth packet with the request's own xid.
#[test]
fn auth_reply_echoes_the_request_xid() {
    let server = Server::start("");
    let mut raw = Raw::connect(&server);
    raw.handshake(10_000);
    raw.send(&corral_core::jute::encode_request(
        7,
        &Request::Auth {
            auth_type: 0,
            scheme: "digest".into(),
            auth: b"alice:secret".to_vec(),
        },
    ));
    assert_eq!(raw.expect_reply(7).err, err::OK);
}
