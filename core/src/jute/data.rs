//! The shared data records of zookeeper.jute: `Id`, `ACL`, `Stat`.

use super::codec::{JuteError, Reader, Record, Writer};
use serde::{Deserialize, Serialize};

/// `org.apache.zookeeper.data.Id`: an authentication scheme and an identity within it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Id {
    /// Scheme: `world`, `auth`, `digest`, `ip`, `super`, ...
    pub scheme: String,
    /// Identity within the scheme.
    pub id: String,
}

impl Id {
    /// Builds an id.
    pub fn new(scheme: &str, id: &str) -> Id {
        Id {
            scheme: scheme.to_owned(),
            id: id.to_owned(),
        }
    }
}

impl Record for Id {
    fn read(r: &mut Reader<'_>) -> Result<Self, JuteError> {
        Ok(Id {
            scheme: r.read_string()?,
            id: r.read_string()?,
        })
    }
    fn write(&self, w: &mut Writer) {
        w.write_string(&self.scheme);
        w.write_string(&self.id);
    }
}

/// Permission bits of an ACL entry.
pub mod perms {
    /// May read data and list children.
    pub const READ: i32 = 1;
    /// May set data.
    pub const WRITE: i32 = 2;
    /// May create children.
    pub const CREATE: i32 = 4;
    /// May delete children.
    pub const DELETE: i32 = 8;
    /// May set the ACL.
    pub const ADMIN: i32 = 16;
    /// Every permission.
    pub const ALL: i32 = READ | WRITE | CREATE | DELETE | ADMIN;
}

/// `org.apache.zookeeper.data.ACL`: permissions granted to an id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Acl {
    /// Bitwise OR of [`perms`] values.
    pub perms: i32,
    /// Who is granted them.
    pub id: Id,
}

impl Acl {
    /// `world:anyone` with every permission (`Ids.OPEN_ACL_UNSAFE`).
    pub fn open_unsafe() -> Vec<Acl> {
        vec![Acl {
            perms: perms::ALL,
            id: Id::new("world", "anyone"),
        }]
    }
}

impl Record for Acl {
    fn read(r: &mut Reader<'_>) -> Result<Self, JuteError> {
        Ok(Acl {
            perms: r.read_i32()?,
            id: Id::read(r)?,
        })
    }
    fn write(&self, w: &mut Writer) {
        w.write_i32(self.perms);
        self.id.write(w);
    }
}

/// Reads a `vector<ACL>`.
pub fn read_acl_vec(r: &mut Reader<'_>) -> Result<Vec<Acl>, JuteError> {
    r.read_vec(Acl::read)
}

/// Writes a `vector<ACL>`.
pub fn write_acl_vec(w: &mut Writer, acl: &[Acl]) {
    w.write_vec(acl, |w, a| a.write(w));
}

/// `org.apache.zookeeper.data.Stat`: the metadata of a znode, in wire order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Stat {
    /// Zxid of the transaction that created the node.
    pub czxid: i64,
    /// Zxid of the transaction that last modified the node's data.
    pub mzxid: i64,
    /// Creation time, ms since the epoch.
    pub ctime: i64,
    /// Last data modification time, ms since the epoch.
    pub mtime: i64,
    /// Number of data changes.
    pub version: i32,
    /// Number of child changes.
    pub cversion: i32,
    /// Number of ACL changes.
    pub aversion: i32,
    /// Owning session id for an ephemeral node, else 0 (TTL nodes carry their TTL here, as ZooKeeper).
    pub ephemeral_owner: i64,
    /// Length of the data.
    pub data_length: i32,
    /// Number of children.
    pub num_children: i32,
    /// Zxid of the last change to the children.
    pub pzxid: i64,
}

impl Record for Stat {
    fn read(r: &mut Reader<'_>) -> Result<Self, JuteError> {
        Ok(Stat {
            czxid: r.read_i64()?,
            mzxid: r.read_i64()?,
            ctime: r.read_i64()?,
            mtime: r.read_i64()?,
            version: r.read_i32()?,
            cversion: r.read_i32()?,
            aversion: r.read_i32()?,
            ephemeral_owner: r.read_i64()?,
            data_length: r.read_i32()?,
            num_children: r.read_i32()?,
            pzxid: r.read_i64()?,
        })
    }
    fn write(&self, w: &mut Writer) {
        w.write_i64(self.czxid);
        w.write_i64(self.mzxid);
        w.write_i64(self.ctime);
        w.write_i64(self.mtime);
        w.write_i32(self.version);
        w.write_i32(self.cversion);
        w.write_i32(self.aversion);
        w.write_i64(self.ephemeral_owner);
        w.write_i32(self.data_length);
        w.write_i32(self.num_children);
        w.write_i64(self.pzxid);
    }
}
