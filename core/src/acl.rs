//! Authentication ids and ACL checks: the `world`, `auth`, `digest`, `ip` and `super` schemes.

use crate::jute::{err, perms, Acl, Id};
use base64::Engine;
use sha1::{Digest, Sha1};

/// The digest id ZooKeeper derives from `user:password`: `user:base64(sha1("user:password"))`.
pub fn digest_id(user_password: &str) -> Option<String> {
    // Without a colon, ZooKeeper takes the whole string as the user name.
    let user = user_password.split(':').next()?;
    let hash = Sha1::digest(user_password.as_bytes());
    let b64 = base64::engine::general_purpose::STANDARD.encode(hash);
    Some(format!("{user}:{b64}"))
}

/// What a connection has proven about itself: its address and every id added by `auth` packets.
#[derive(Debug, Clone, Default)]
pub struct AuthInfo {
    /// Ids in the order they were added; `ip:<address>` is always first.
    pub ids: Vec<Id>,
}

impl AuthInfo {
    /// A connection from `ip` (no port) that has not authenticated yet.
    pub fn for_ip(ip: &str) -> AuthInfo {
        AuthInfo {
            ids: vec![Id::new("ip", ip)],
        }
    }

    /// Adds an id from an `auth` packet. Returns the error code ZooKeeper answers with.
    pub fn add(&mut self, scheme: &str, auth: &[u8]) -> i32 {
        match scheme {
            "digest" => {
                let Ok(text) = std::str::from_utf8(auth) else {
                    return err::AUTH_FAILED;
                };
                let Some(id) = digest_id(text) else {
                    return err::AUTH_FAILED;
                };
                let id = Id::new("digest", &id);
                if !self.ids.contains(&id) {
                    self.ids.push(id);
                }
                err::OK
            }
            _ => err::AUTH_FAILED,
        }
    }

    /// True when the connection holds `super` rights.
    fn is_super(&self) -> bool {
        self.ids.iter().any(|id| id.scheme == "super")
    }

    /// What `whoAmI` reports, as ZooKeeper lists it: authenticated ids first (digest ids by
    /// user name only), then the address.
    pub fn who_am_i(&self) -> Vec<(String, String)> {
        let named = self.authenticated().map(|id| {
            let user = match id.scheme.as_str() {
                "digest" => id.id.split(':').next().unwrap_or_default().to_owned(),
                _ => id.id.clone(),
            };
            (id.scheme.clone(), user)
        });
        let ips = self.ids.iter().filter(|id| id.scheme == "ip");
        named
            .chain(ips.map(|id| (id.scheme.clone(), id.id.clone())))
            .collect()
    }

    /// The ids an `auth` ACL entry expands to: every authenticated (non-ip) id.
    pub fn authenticated(&self) -> impl Iterator<Item = &Id> {
        self.ids.iter().filter(|id| id.scheme != "ip")
    }
}

/// True when `acl` grants any bit of `perm` to `auth`.
pub fn check(acl: &[Acl], perm: i32, auth: &AuthInfo) -> bool {
    if auth.is_super() || acl.is_empty() {
        return true;
    }
    acl.iter().filter(|a| a.perms & perm != 0).any(|a| {
        let id = &a.id;
        match id.scheme.as_str() {
            "world" => id.id == "anyone",
            "ip" => auth
                .ids
                .iter()
                .any(|mine| mine.scheme == "ip" && ip_matches(&id.id, &mine.id)),
            _ => auth.ids.iter().any(|mine| mine == id),
        }
    })
}

/// Validates a requested ACL and expands `auth` entries, as ZooKeeper's `fixupACL` does.
/// Returns `INVALID_ACL` when the list is empty, names an unknown scheme, holds a malformed id,
/// or uses `auth` on a connection with no authenticated id.
pub fn fixup(requested: &[Acl], auth: &AuthInfo) -> Result<Vec<Acl>, i32> {
    if requested.is_empty() {
        return Err(err::INVALID_ACL);
    }
    let mut out: Vec<Acl> = Vec::with_capacity(requested.len());
    for a in requested {
        if a.perms & !perms::ALL != 0 {
            return Err(err::INVALID_ACL);
        }
        match a.id.scheme.as_str() {
            "world" if a.id.id == "anyone" => push_unique(&mut out, a.clone()),
            "auth" => {
                let mut any = false;
                for id in auth.authenticated() {
                    any = true;
                    push_unique(
                        &mut out,
                        Acl {
                            perms: a.perms,
                            id: id.clone(),
                        },
                    );
                }
                if !any {
                    return Err(err::INVALID_ACL);
                }
            }
            "digest" if a.id.id.split(':').count() == 2 => push_unique(&mut out, a.clone()),
            "ip" if valid_ip_pattern(&a.id.id) => push_unique(&mut out, a.clone()),
            "super" => push_unique(&mut out, a.clone()),
            _ => return Err(err::INVALID_ACL),
        }
    }
    Ok(out)
}

fn push_unique(out: &mut Vec<Acl>, a: Acl) {
    if !out.contains(&a) {
        out.push(a);
    }
}

/// Parses an IPv4 or IPv6 address into bytes.
fn parse_ip(s: &str) -> Option<Vec<u8>> {
    if let Ok(v4) = s.parse::<core::net::Ipv4Addr>() {
        return Some(v4.octets().to_vec());
    }
    s.parse::<core::net::Ipv6Addr>()
        .ok()
        .map(|v6| v6.octets().to_vec())
}

fn valid_ip_pattern(pattern: &str) -> bool {
    let (addr, bits) = match pattern.split_once('/') {
        Some((a, b)) => (a, b.parse::<usize>().ok()),
        None => (pattern, None),
    };
    match parse_ip(addr) {
        Some(bytes) => bits.is_none_or(|b| b <= bytes.len() * 8),
        None => false,
    }
}

/// True when `client` lies in `pattern` (`addr` or `addr/bits`).
fn ip_matches(pattern: &str, client: &str) -> bool {
    let (addr, bits) = match pattern.split_once('/') {
        Some((a, b)) => match b.parse::<usize>() {
            Ok(bits) => (a, Some(bits)),
            Err(_) => return false,
        },
        None => (pattern, None),
    };
    let (Some(want), Some(have)) = (parse_ip(addr), parse_ip(client)) else {
        return false;
    };
    if want.len() != have.len() {
        return false;
    }
    let bits = bits.unwrap_or(want.len() * 8).min(want.len() * 8);
    (0..bits).all(|i| {
        let mask = 0x80u8 >> (i % 8);
        want[i / 8] & mask == have[i / 8] & mask
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_matches_zookeeper() {
        // Known value from ZooKeeper's DigestAuthenticationProvider for "super:test".
        assert_eq!(
            digest_id("super:test").as_deref(),
            Some("super:D/InIHSb7yEEbrWz8b9l71RjZJU=")
        );
        assert!(digest_id("nocolon").is_some_and(|id| id.starts_with("nocolon:")));
    }

    #[test]
    fn world_ip_and_digest_checks() {
        let mut auth = AuthInfo::for_ip("10.1.2.3");
        let world = Acl::open_unsafe();
        assert!(check(&world, perms::READ, &auth));
        let read_only = vec![Acl {
            perms: perms::READ,
            id: Id::new("world", "anyone"),
        }];
        assert!(!check(&read_only, perms::WRITE, &auth));
        let net = vec![Acl {
            perms: perms::ALL,
            id: Id::new("ip", "10.0.0.0/8"),
        }];
        assert!(check(&net, perms::WRITE, &auth));
        assert!(!check(&net, perms::WRITE, &AuthInfo::for_ip("11.0.0.1")));
        let user = digest_id("bob:secret").unwrap_or_default();
        let bob = vec![Acl {
            perms: perms::ALL,
            id: Id::new("digest", &user),
        }];
        assert!(!check(&bob, perms::READ, &auth));
        assert_eq!(auth.add("digest", b"bob:secret"), err::OK);
        assert!(check(&bob, perms::READ, &auth));
        assert_eq!(auth.add("kerberos", b"x"), err::AUTH_FAILED);
    }

    #[test]
    fn fixup_expands_auth_and_rejects_bad_acls() {
        let mut auth = AuthInfo::for_ip("127.0.0.1");
        let want_auth = vec![Acl {
            perms: perms::ALL,
            id: Id::new("auth", ""),
        }];
        assert_eq!(fixup(&want_auth, &auth), Err(err::INVALID_ACL));
        auth.add("digest", b"bob:secret");
        let fixed = fixup(&want_auth, &auth).unwrap_or_default();
        assert_eq!(fixed.len(), 1);
        assert_eq!(fixed[0].id.scheme, "digest");
        assert_eq!(fixup(&[], &auth), Err(err::INVALID_ACL));
        let bad = vec![Acl {
            perms: perms::ALL,
            id: Id::new("nope", "x"),
        }];
        assert_eq!(fixup(&bad, &auth), Err(err::INVALID_ACL));
        let bad_ip = vec![Acl {
            perms: perms::ALL,
            id: Id::new("ip", "300.1.1.1"),
        }];
        assert_eq!(fixup(&bad_ip, &auth), Err(err::INVALID_ACL));
    }
}
