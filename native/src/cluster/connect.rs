//! Opening connections to Redis, and waiting between attempts.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, RedisResult};

/// Longest wait for a TCP connection to Redis.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest wait for an answer to a command (not a blocking read): past
/// it the connection is taken as lost and opened again.
pub(crate) const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// A new multiplexed connection; `extra` is added to the response timeout
/// for a connection that blocks in `XREAD` that long.
pub(crate) async fn open(client: &Client, extra: Duration) -> RedisResult<MultiplexedConnection> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT + extra));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

/// Waits between attempts to reach Redis: 100 ms, doubling to 2 s, so a
/// restarted Redis is found again within about two seconds.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
    /// Attempts failed in a row, to log the first at `warn` and the rest
    /// at `debug`.
    pub(crate) failures: u32,
}

const FIRST: Duration = Duration::from_millis(100);
const MOST: Duration = Duration::from_secs(2);

impl Backoff {
    pub(crate) fn new() -> Self {
        Backoff {
            next: FIRST,
            failures: 0,
        }
    }

    pub(crate) async fn wait(&mut self) {
        self.failures += 1;
        tokio::time::sleep(self.next).await;
        self.next = (self.next * 2).min(MOST);
    }

    pub(crate) fn reset(&mut self) {
        *self = Backoff::new();
    }
}

/// The URL as logs and errors may show it: without a password.
pub(crate) fn redacted(url: &str) -> String {
    // scheme://user:password@host... -> scheme://user:***@host...
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_a_log() {
        assert_eq!(redacted("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(redacted("redis://:s3cret@h:1/0"), "redis://:***@h:1/0");
        assert_eq!(redacted("redis://u:p@ss@h"), "redis://u:***@h");
        assert_eq!(redacted("redis://u@h"), "redis://u@h");
    }
}
