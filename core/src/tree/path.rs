//! Paths: validation, parent/name splitting, and the order of the node table.
//!
//! The node table is keyed by full path but ordered by `(parent, name)`, so the children of a
//! node are one contiguous range of the table and no node needs a set of child names. The
//! "parent part" of a key is the path up to its last `/`: `""` for `/` and for `/a`, `"/a"` for
//! `/a/b`. Lookups borrow the key as `dyn KeyParts`, so they never allocate.

use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::cmp::Ordering;

/// The root path.
pub const ROOT: &str = "/";

/// Whether ZooKeeper would accept `path` as a znode path (`PathUtils.validatePath`).
///
/// A path starts with `/`, does not end with `/` (except `/` itself), has no empty, `.` or `..`
/// component, and contains no NUL, no control character (U+0001..U+001F, U+007F..U+009F) and no
/// character ZooKeeper rejects (U+D800..U+F8FF, U+FFF0..U+FFFF, or beyond U+FFFF, which Java sees
/// as surrogates).
pub fn is_valid_path(path: &str) -> bool {
    if path == ROOT {
        return true;
    }
    if !path.starts_with('/') || path.ends_with('/') {
        return false;
    }
    // One pass over the bytes for the common, all-ASCII path; characters beyond ASCII take
    // the general check below.
    let bytes = path.as_bytes();
    let mut component_start = 1;
    for (i, &b) in bytes.iter().enumerate().skip(1) {
        match b {
            0..=0x1f | 0x7f => return false,
            0x80.. => return chars_are_valid(path) && components_are_valid(path),
            b'/' => {
                if !is_valid_component(&bytes[component_start..i]) {
                    return false;
                }
                component_start = i + 1;
            }
            _ => {}
        }
    }
    is_valid_component(&bytes[component_start..])
}

fn is_valid_component(component: &[u8]) -> bool {
    !component.is_empty() && component != b"." && component != b".."
}

fn chars_are_valid(path: &str) -> bool {
    path.chars().all(|c| {
        !matches!(c,
            '\u{0}'..='\u{1f}'
            | '\u{7f}'..='\u{9f}'
            | '\u{e000}'..='\u{f8ff}'
            | '\u{fff0}'..='\u{10ffff}')
    })
}

fn components_are_valid(path: &str) -> bool {
    path[1..]
        .split('/')
        .all(|part| is_valid_component(part.as_bytes()))
}

/// The parent of a path: `/a/b` -> `/a`, `/a` -> `/`, `/` -> `None`.
pub fn parent_path(path: &str) -> Option<&str> {
    if path == ROOT {
        return None;
    }
    match path.rfind('/') {
        Some(0) => Some(ROOT),
        Some(i) => Some(&path[..i]),
        None => None,
    }
}

/// The last component of a path (`""` for `/`).
pub fn name_of(path: &str) -> &str {
    key_parts_of(path).1
}

/// Joins a parent path and a child name: `("/", "a")` -> `/a`, `("/a", "b")` -> `/a/b`.
pub fn join(parent: &str, name: &str) -> String {
    let mut out = String::with_capacity(parent.len() + 1 + name.len());
    if parent != ROOT {
        out.push_str(parent);
    }
    out.push('/');
    out.push_str(name);
    out
}

/// The `(parent part, name)` a path is ordered by.
pub(crate) fn key_parts_of(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    }
}

/// The parent part that the keys of `path`'s children carry.
pub(crate) fn child_prefix(path: &str) -> &str {
    if path == ROOT {
        ""
    } else {
        path
    }
}

/// A view of a key as `(parent part, name)`; both the stored key and a borrowed lookup key
/// implement it, and their orders agree.
pub(crate) trait KeyParts {
    /// The `(parent part, name)` pair.
    fn key_parts(&self) -> (&str, &str);
}

/// A lookup key made of borrowed parts.
pub(crate) struct Parts<'a>(pub &'a str, pub &'a str);

impl KeyParts for Parts<'_> {
    fn key_parts(&self) -> (&str, &str) {
        (self.0, self.1)
    }
}

impl<'a> Parts<'a> {
    /// The lookup key of a full path.
    pub(crate) fn of(path: &'a str) -> Parts<'a> {
        let (parent, name) = key_parts_of(path);
        Parts(parent, name)
    }
}

impl PartialEq for dyn KeyParts + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.key_parts() == other.key_parts()
    }
}

impl Eq for dyn KeyParts + '_ {}

impl PartialOrd for dyn KeyParts + '_ {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for dyn KeyParts + '_ {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key_parts().cmp(&other.key_parts())
    }
}

/// The stored key of the node table: a full, valid path, with the position of its last `/`
/// kept so that comparisons (the hot path of every lookup) never search for it again.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "Box<str>", into = "Box<str>")]
pub(crate) struct PathKey {
    path: Box<str>,
    /// Byte index of the last `/`, or `u32::MAX` when there is none.
    split: u32,
}

impl PathKey {
    /// The key of a full path.
    pub(crate) fn new(path: Box<str>) -> PathKey {
        let split = path.rfind('/').map_or(u32::MAX, |i| i as u32);
        PathKey { path, split }
    }

    /// The full path.
    pub(crate) fn as_str(&self) -> &str {
        &self.path
    }
}

impl From<Box<str>> for PathKey {
    fn from(path: Box<str>) -> PathKey {
        PathKey::new(path)
    }
}

impl From<PathKey> for Box<str> {
    fn from(key: PathKey) -> Box<str> {
        key.path
    }
}

impl KeyParts for PathKey {
    fn key_parts(&self) -> (&str, &str) {
        if self.split == u32::MAX {
            return ("", &self.path);
        }
        let i = self.split as usize;
        (&self.path[..i], &self.path[i + 1..])
    }
}

impl PartialEq for PathKey {
    fn eq(&self, other: &Self) -> bool {
        self.key_parts() == other.key_parts()
    }
}

impl Eq for PathKey {}

impl PartialOrd for PathKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PathKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key_parts().cmp(&other.key_parts())
    }
}

impl<'a> Borrow<dyn KeyParts + 'a> for PathKey {
    fn borrow(&self) -> &(dyn KeyParts + 'a) {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_matches_zookeeper_rules() {
        for ok in ["/", "/a", "/a/b", "/zookeeper/quota", "/a.b", "/...", "/é"] {
            assert!(is_valid_path(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "/a/",
            "//",
            "/a//b",
            "/.",
            "/a/..",
            "/a\0",
            "/\u{1}",
            "/\u{fff5}",
        ] {
            assert!(!is_valid_path(bad), "{bad:?}");
        }
        assert!(!is_valid_path("/\u{1F600}"));
    }

    proptest::proptest! {
        /// The one-pass ASCII check agrees with the character-by-character rules.
        #[test]
        fn the_fast_check_agrees_with_the_rules(
            path in "/?[/a.\u{0}\u{1f}\u{7f}\u{80}\u{9f}\u{e9}\u{fff5}]{0,12}"
        ) {
            let rules = path == ROOT
                || (path.starts_with('/')
                    && !path.ends_with('/')
                    && chars_are_valid(&path)
                    && components_are_valid(&path));
            proptest::prop_assert_eq!(is_valid_path(&path), rules, "{:?}", path);
        }
    }

    #[test]
    fn parents_and_names() {
        assert_eq!(parent_path("/"), None);
        assert_eq!(parent_path("/a"), Some("/"));
        assert_eq!(parent_path("/a/b"), Some("/a"));
        assert_eq!(name_of("/a/b"), "b");
        assert_eq!(name_of("/"), "");
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
    }

    #[test]
    fn children_are_contiguous_in_key_order() {
        let mut keys: Vec<PathKey> = ["/a/b/c", "/a", "/b", "/a/b", "/", "/a/c", "/ab"]
            .iter()
            .map(|p| PathKey::new((*p).into()))
            .collect();
        keys.sort();
        let order: Vec<&str> = keys.iter().map(PathKey::as_str).collect();
        assert_eq!(order, ["/", "/a", "/ab", "/b", "/a/b", "/a/c", "/a/b/c"]);
    }
}
