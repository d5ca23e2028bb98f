//! A throwaway redis-server on a free loopback port, for the cluster
//! tests: no persistence, killed when dropped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
}

impl RedisServer {
    /// Starts redis-server on a port the OS says is free, and waits until
    /// it answers `PING`.
    pub fn start() -> RedisServer {
        let port = free_port();
        let mut server = RedisServer { child: None, port };
        server.spawn();
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills it (SIGKILL): every connection drops and, without
    /// persistence, everything it held is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, empty.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (tests/run_all.sh installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.answers_ping() {
            assert!(
                Instant::now() < deadline,
                "redis-server never answered PING"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn answers_ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let mut answer = [0u8; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut answer).is_ok()
            && &answer == b"+PONG\r\n"
    }

    /// Calls of one command since the last [`reset_stats`](Self::reset_stats)
    /// (`INFO commandstats`; commands run by scripts count too).
    pub fn calls(&self, command: &str) -> u64 {
        let info: String = ::redis::cmd("INFO")
            .arg("commandstats")
            .query(&mut self.connection())
            .expect("INFO");
        let prefix = format!("cmdstat_{command}:calls=");
        info.lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .and_then(|rest| rest.split(',').next())
            .map_or(0, |n| n.parse().expect("a count"))
    }

    /// Entries in a stream (0 when it does not exist).
    pub fn xlen(&self, key: &str) -> u64 {
        ::redis::cmd("XLEN")
            .arg(key)
            .query(&mut self.connection())
            .expect("XLEN")
    }

    /// Frames held in a stream of frame entries: the sum of their `n`.
    pub fn frames(&self, key: &str) -> u64 {
        let entries: Vec<(String, Vec<Vec<u8>>)> = ::redis::cmd("XRANGE")
            .arg(key)
            .arg("-")
            .arg("+")
            .query(&mut self.connection())
            .expect("XRANGE");
        entries
            .iter()
            .flat_map(|(_, fields)| fields.chunks(2))
            .filter(|pair| pair[0] == b"n")
            .map(|pair| {
                std::str::from_utf8(&pair[1])
                    .ok()
                    .and_then(|n| n.parse::<u64>().ok())
                    .expect("a count")
            })
            .sum()
    }

    pub fn reset_stats(&self) {
        ::redis::cmd("CONFIG")
            .arg("RESETSTAT")
            .exec(&mut self.connection())
            .expect("CONFIG RESETSTAT");
    }

    fn connection(&self) -> ::redis::Connection {
        let client = ::redis::Client::open(self.url()).expect("redis url");
        client.get_connection().expect("redis connection")
    }

    /// A hash's fields and values.
    pub fn hgetall(&self, key: &str) -> Vec<(String, String)> {
        ::redis::cmd("HGETALL")
            .arg(key)
            .query(&mut self.connection())
            .expect("HGETALL")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
