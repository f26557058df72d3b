//! Opcodes, error codes, special xids, watcher event types and create modes, as ZooKeeper numbers them.

/// Request opcodes (`ZooDefs.OpCode`).
pub mod op {
    /// Watch notification (server to client only).
    pub const NOTIFICATION: i32 = 0;
    /// create
    pub const CREATE: i32 = 1;
    /// delete
    pub const DELETE: i32 = 2;
    /// exists
    pub const EXISTS: i32 = 3;
    /// getData
    pub const GET_DATA: i32 = 4;
    /// setData
    pub const SET_DATA: i32 = 5;
    /// getACL
    pub const GET_ACL: i32 = 6;
    /// setACL
    pub const SET_ACL: i32 = 7;
    /// getChildren
    pub const GET_CHILDREN: i32 = 8;
    /// sync
    pub const SYNC: i32 = 9;
    /// ping
    pub const PING: i32 = 11;
    /// getChildren2
    pub const GET_CHILDREN2: i32 = 12;
    /// check (only inside multi)
    pub const CHECK: i32 = 13;
    /// multi
    pub const MULTI: i32 = 14;
    /// create2
    pub const CREATE2: i32 = 15;
    /// reconfig
    pub const RECONFIG: i32 = 16;
    /// checkWatches
    pub const CHECK_WATCHES: i32 = 17;
    /// removeWatches
    pub const REMOVE_WATCHES: i32 = 18;
    /// createContainer
    pub const CREATE_CONTAINER: i32 = 19;
    /// deleteContainer (server internal)
    pub const DELETE_CONTAINER: i32 = 20;
    /// createTTL
    pub const CREATE_TTL: i32 = 21;
    /// multiRead
    pub const MULTI_READ: i32 = 22;
    /// auth
    pub const AUTH: i32 = 100;
    /// setWatches
    pub const SET_WATCHES: i32 = 101;
    /// sasl
    pub const SASL: i32 = 102;
    /// getEphemerals
    pub const GET_EPHEMERALS: i32 = 103;
    /// getAllChildrenNumber
    pub const GET_ALL_CHILDREN_NUMBER: i32 = 104;
    /// setWatches2
    pub const SET_WATCHES2: i32 = 105;
    /// addWatch
    pub const ADD_WATCH: i32 = 106;
    /// whoAmI
    pub const WHO_AM_I: i32 = 107;
    /// createSession (server internal)
    pub const CREATE_SESSION: i32 = -10;
    /// closeSession
    pub const CLOSE_SESSION: i32 = -11;
    /// error (transaction type of a failed write; multi result entry)
    pub const ERROR: i32 = -1;
}

/// Error codes (`KeeperException.Code`).
pub mod err {
    /// Everything is OK.
    pub const OK: i32 = 0;
    /// A system error.
    pub const SYSTEM_ERROR: i32 = -1;
    /// A runtime inconsistency (later ops of a failed multi).
    pub const RUNTIME_INCONSISTENCY: i32 = -2;
    /// Data inconsistency.
    pub const DATA_INCONSISTENCY: i32 = -3;
    /// Connection to the server lost.
    pub const CONNECTION_LOSS: i32 = -4;
    /// Error marshalling or unmarshalling.
    pub const MARSHALLING_ERROR: i32 = -5;
    /// Operation unimplemented.
    pub const UNIMPLEMENTED: i32 = -6;
    /// Operation timeout.
    pub const OPERATION_TIMEOUT: i32 = -7;
    /// Invalid arguments.
    pub const BAD_ARGUMENTS: i32 = -8;
    /// No quorum of the new config is connected.
    pub const NEW_CONFIG_NO_QUORUM: i32 = -13;
    /// Another reconfiguration is in progress.
    pub const RECONFIG_IN_PROGRESS: i32 = -14;
    /// Unknown session (internal).
    pub const UNKNOWN_SESSION: i32 = -12;
    /// API errors start here.
    pub const API_ERROR: i32 = -100;
    /// Node does not exist.
    pub const NO_NODE: i32 = -101;
    /// Not authenticated.
    pub const NO_AUTH: i32 = -102;
    /// Version conflict.
    pub const BAD_VERSION: i32 = -103;
    /// Ephemeral nodes may not have children.
    pub const NO_CHILDREN_FOR_EPHEMERALS: i32 = -108;
    /// The node already exists.
    pub const NODE_EXISTS: i32 = -110;
    /// The node has children.
    pub const NOT_EMPTY: i32 = -111;
    /// The session has been expired by the server.
    pub const SESSION_EXPIRED: i32 = -112;
    /// Invalid callback.
    pub const INVALID_CALLBACK: i32 = -113;
    /// Invalid ACL.
    pub const INVALID_ACL: i32 = -114;
    /// Client authentication failed.
    pub const AUTH_FAILED: i32 = -115;
    /// Session moved to another server.
    pub const SESSION_MOVED: i32 = -118;
    /// State-changing request passed to a read-only server.
    pub const NOT_READ_ONLY: i32 = -119;
    /// Attempt to create an ephemeral node on a local session.
    pub const EPHEMERAL_ON_LOCAL_SESSION: i32 = -120;
    /// Attempt to remove a non-existing watcher.
    pub const NO_WATCHER: i32 = -121;
    /// Request not completed within max allowed time.
    pub const REQUEST_TIMEOUT: i32 = -122;
    /// Reconfig is disabled.
    pub const RECONFIG_DISABLED: i32 = -123;
    /// The session was closed by the client.
    pub const SESSION_CLOSED_REQUIRE_SASL_AUTH: i32 = -124;
    /// The server's quota was exceeded.
    pub const QUOTA_EXCEEDED: i32 = -125;
    /// The request was throttled.
    pub const THROTTLED_OP: i32 = -127;
}

/// Reserved xids in request and reply headers.
pub mod xid {
    /// Watch notification.
    pub const NOTIFICATION: i32 = -1;
    /// Ping.
    pub const PING: i32 = -2;
    /// Auth packet.
    pub const AUTH: i32 = -4;
    /// setWatches packet sent on reconnect.
    pub const SET_WATCHES: i32 = -8;
}

/// `Watcher.Event.EventType` values.
pub mod event {
    /// No event (state change only).
    pub const NONE: i32 = -1;
    /// Node created.
    pub const NODE_CREATED: i32 = 1;
    /// Node deleted.
    pub const NODE_DELETED: i32 = 2;
    /// Node data changed.
    pub const NODE_DATA_CHANGED: i32 = 3;
    /// Node children changed.
    pub const NODE_CHILDREN_CHANGED: i32 = 4;
    /// A data watch was removed.
    pub const DATA_WATCH_REMOVED: i32 = 5;
    /// A child watch was removed.
    pub const CHILD_WATCH_REMOVED: i32 = 6;
    /// A persistent watch was removed.
    pub const PERSISTENT_WATCH_REMOVED: i32 = 7;
}

/// `Watcher.Event.KeeperState` values.
pub mod keeper_state {
    /// Disconnected.
    pub const DISCONNECTED: i32 = 0;
    /// Connected.
    pub const SYNC_CONNECTED: i32 = 3;
    /// Authentication failed.
    pub const AUTH_FAILED: i32 = 4;
    /// Connected read-only.
    pub const CONNECTED_READ_ONLY: i32 = 5;
    /// SASL authenticated.
    pub const SASL_AUTHENTICATED: i32 = 6;
    /// Session expired.
    pub const EXPIRED: i32 = -112;
    /// Closed.
    pub const CLOSED: i32 = 7;
}

/// `CreateMode` flag values as sent in create requests.
pub mod create_mode {
    /// Persistent.
    pub const PERSISTENT: i32 = 0;
    /// Ephemeral.
    pub const EPHEMERAL: i32 = 1;
    /// Persistent sequential.
    pub const PERSISTENT_SEQUENTIAL: i32 = 2;
    /// Ephemeral sequential.
    pub const EPHEMERAL_SEQUENTIAL: i32 = 3;
    /// Container.
    pub const CONTAINER: i32 = 4;
    /// Persistent with TTL.
    pub const PERSISTENT_WITH_TTL: i32 = 5;
    /// Persistent sequential with TTL.
    pub const PERSISTENT_SEQUENTIAL_WITH_TTL: i32 = 6;
}

/// `AddWatchMode` values.
pub mod add_watch_mode {
    /// Persistent watch.
    pub const PERSISTENT: i32 = 0;
    /// Persistent recursive watch.
    pub const PERSISTENT_RECURSIVE: i32 = 1;
}

/// `WatcherType` values for checkWatches / removeWatches.
pub mod watcher_type {
    /// Child watches.
    pub const CHILDREN: i32 = 1;
    /// Data (and exist) watches.
    pub const DATA: i32 = 2;
    /// Any watch.
    pub const ANY: i32 = 3;
}
