//! Paths: validation, parent/name splitting, and the order of the node table.
//!
//! The node table is keyed by full path but ordered by `(parent, name)`, so the children of a
//! node are one contiguous range of the table and no node needs a set of child names. The
//! "parent part" of a key is the path up to its last `/`: `""` for `/` and for `/a`, `"/a"` for
//! `/a/b`. The order is kept as bytes: see [`SearchKey`].

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

/// A view of a key as `(parent part, name)`; the stored nodes, the table's index keys and a
/// borrowed lookup key implement it, and their orders agree. The parts are bytes (ordered as
/// their `str`s would be) so that a stored node need not prove its path is UTF-8 again on every
/// comparison.
pub(crate) trait KeyParts {
    /// The `(parent part, name)` pair.
    fn key_parts(&self) -> (&[u8], &[u8]);
}

/// A lookup key made of borrowed parts.
pub(crate) struct Parts<'a>(pub &'a str, pub &'a str);

impl KeyParts for Parts<'_> {
    fn key_parts(&self) -> (&[u8], &[u8]) {
        (self.0.as_bytes(), self.1.as_bytes())
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

/// Compares a key given as `(parent part, name)` with an encoded key (see [`SearchKey`]), as
/// their encodings would compare, without building the encoding.
pub(crate) fn cmp_parts_encoded(parent: &[u8], name: &[u8], key: &[u8]) -> Ordering {
    let p = parent.len();
    match parent.cmp(&key[..p.min(key.len())]) {
        Ordering::Equal => {}
        other => return other,
    }
    match key.get(p) {
        // The key ends where the parts' separator would be: it is a prefix of their encoding.
        None => Ordering::Greater,
        Some(0) => name.cmp(&key[p + 1..]),
        // The separator (NUL) sorts below every byte of a valid path.
        Some(_) => Ordering::Less,
    }
}

/// Bytes a [`SearchKey`] keeps on the stack; longer keys go to the heap.
const SEARCH_KEY_INLINE: usize = 128;

/// A key in the node table's byte order: the parent part, a NUL byte, the name. A path
/// cannot contain NUL, and NUL sorts below every other byte, so plain byte comparison of two
/// encodings orders them exactly as `(parent, name)` pairs: a parent that is a prefix of
/// another sorts first, then names decide. Comparing one byte string (`memcmp`) is what makes
/// lookups cheap; no `dyn` call, no splitting per comparison.
pub(crate) struct SearchKey {
    inline: [u8; SEARCH_KEY_INLINE],
    len: usize,
    heap: Vec<u8>,
}

impl SearchKey {
    /// The encoding of `(parent, name)`.
    pub(crate) fn from_parts(parent: &[u8], name: &[u8]) -> SearchKey {
        let len = parent.len() + 1 + name.len();
        let mut key = SearchKey {
            inline: [0; SEARCH_KEY_INLINE],
            len,
            heap: Vec::new(),
        };
        let buf: &mut [u8] = if len <= SEARCH_KEY_INLINE {
            &mut key.inline[..len]
        } else {
            key.heap.resize(len, 0);
            &mut key.heap
        };
        buf[..parent.len()].copy_from_slice(parent);
        buf[parent.len()] = 0;
        buf[parent.len() + 1..].copy_from_slice(name);
        key
    }

    /// The encoding of a key given as parts.
    pub(crate) fn of(key: &dyn KeyParts) -> SearchKey {
        let (parent, name) = key.key_parts();
        SearchKey::from_parts(parent, name)
    }

    /// The encoded bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        if self.len <= SEARCH_KEY_INLINE {
            &self.inline[..self.len]
        } else {
            &self.heap
        }
    }
}

/// The index key of a leaf of the node table: the encoding (see [`SearchKey`]) of its first
/// node's path, owned.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct PathKey {
    encoded: Box<[u8]>,
}

impl PathKey {
    /// The key of a full path.
    pub(crate) fn new(path: &str) -> PathKey {
        let (parent, name) = key_parts_of(path);
        PathKey {
            encoded: SearchKey::from_parts(parent.as_bytes(), name.as_bytes())
                .as_bytes()
                .into(),
        }
    }

    /// The full path, for messages.
    pub(crate) fn path(&self) -> String {
        let Some(i) = self.encoded.iter().rposition(|b| *b == 0) else {
            return String::from_utf8_lossy(&self.encoded).into_owned();
        };
        let parent = String::from_utf8_lossy(&self.encoded[..i]);
        let name = String::from_utf8_lossy(&self.encoded[i + 1..]);
        format!("{parent}/{name}")
    }

    /// Whether this is the key of `parts`.
    pub(crate) fn is_key_of(&self, parts: &dyn KeyParts) -> bool {
        let (parent, name) = parts.key_parts();
        cmp_parts_encoded(parent, name, &self.encoded) == Ordering::Equal
    }
}

impl Borrow<[u8]> for PathKey {
    fn borrow(&self) -> &[u8] {
        &self.encoded
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

    proptest::proptest! {
        /// Encoded keys compare as their `(parent, name)` pairs, and a node compares with an
        /// encoded key as the two encodings do.
        #[test]
        fn encodings_order_as_parent_name_pairs(
            a in "/[ab/]{0,6}[ab]",
            b in "/[ab/]{0,6}[ab]",
        ) {
            let (pa, na) = key_parts_of(&a);
            let (pb, nb) = key_parts_of(&b);
            let by_parts = (pa.as_bytes(), na.as_bytes()).cmp(&(pb.as_bytes(), nb.as_bytes()));
            let ea = SearchKey::from_parts(pa.as_bytes(), na.as_bytes());
            let eb = SearchKey::from_parts(pb.as_bytes(), nb.as_bytes());
            proptest::prop_assert_eq!(ea.as_bytes().cmp(eb.as_bytes()), by_parts);
            proptest::prop_assert_eq!(
                cmp_parts_encoded(pa.as_bytes(), na.as_bytes(), eb.as_bytes()),
                by_parts
            );
            proptest::prop_assert_eq!(PathKey::new(&a).cmp(&PathKey::new(&b)), by_parts);
            proptest::prop_assert_eq!(PathKey::new(&a).path(), a);
        }
    }

    #[test]
    fn children_are_contiguous_in_key_order() {
        let mut keys: Vec<PathKey> = ["/a/b/c", "/a", "/b", "/a/b", "/", "/a/c", "/ab"]
            .iter()
            .map(|p| PathKey::new(p))
            .collect();
        keys.sort();
        let order: Vec<String> = keys.iter().map(PathKey::path).collect();
        assert_eq!(order, ["/", "/a", "/ab", "/b", "/a/b", "/a/c", "/a/b/c"]);
    }
}
