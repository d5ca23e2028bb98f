//! The Lua scripts that keep the shared directory consistent, each run
//! atomically by Redis (`lua/*.lua` says what each does and takes).

use redis::aio::MultiplexedConnection;
use redis::{Cmd, RedisResult, Script};

const CLAIM: &str = include_str!("lua/claim.lua");
const RELEASE: &str = include_str!("lua/release.lua");
const DIRECTORY: &str = include_str!("lua/directory.lua");
const REAP: &str = include_str!("lua/reap.lua");
const SNAPSHOT: &str = include_str!("lua/snapshot.lua");
const RESOLVE: &str = include_str!("lua/resolve.lua");

/// Every script, with its SHA1 for `EVALSHA`.
#[derive(Debug)]
pub(crate) struct Scripts {
    pub(crate) claim: Script,
    pub(crate) release: Script,
    pub(crate) directory: Script,
    pub(crate) reap: Script,
    pub(crate) snapshot: Script,
    pub(crate) resolve: Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        Scripts {
            claim: Script::new(CLAIM),
            release: Script::new(RELEASE),
            directory: Script::new(DIRECTORY),
            reap: Script::new(REAP),
            snapshot: Script::new(SNAPSHOT),
            resolve: Script::new(RESOLVE),
        }
    }

    /// Loads every script, so `EVALSHA` finds them; done on every
    /// (re)connect, since a restarted Redis has forgotten them.
    pub(crate) async fn load(&self, conn: &mut MultiplexedConnection) -> RedisResult<()> {
        let mut pipe = redis::pipe();
        for code in [CLAIM, RELEASE, DIRECTORY, REAP, SNAPSHOT, RESOLVE] {
            pipe.cmd("SCRIPT").arg("LOAD").arg(code).ignore();
        }
        pipe.exec_async(conn).await
    }
}

/// `EVALSHA script 0 ...`: the scripts take no declared keys, only the key
/// prefix among their arguments, since they build other nodes' keys.
pub(crate) fn evalsha(script: &Script) -> Cmd {
    let mut cmd = redis::cmd("EVALSHA");
    cmd.arg(script.get_hash()).arg(0);
    cmd
}

/// Whether a server error says the script cache was emptied (Redis
/// restarted): load the scripts again and retry.
pub(crate) fn is_noscript(error: &redis::ServerError) -> bool {
    error.code() == "NOSCRIPT"
}
