//! The first `sh` block of docs/cluster.md, run as written: a redis-server,
//! two nodes, and two `tcphub connect` clients on different nodes. Each
//! command runs with exactly the block's arguments, except addresses: the
//! test's redis-server and nodes take free ports, and the clients are
//! pointed at the node the block's address names. A `# type:` comment is
//! typed into that client, a `# prints:` comment must be printed by it.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use common::redis::RedisServer;
use common::serve::{wait_for_text, ClientProcess, ServeProcess};

/// One line of the block: its words, and what its comment asks.
struct Line {
    words: Vec<String>,
    typed: Option<String>,
    printed: Option<String>,
}

fn block() -> Vec<Line> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/cluster.md");
    let docs = std::fs::read_to_string(path).expect("docs/cluster.md");
    let start = docs.find("```sh\n").expect("an sh block") + "```sh\n".len();
    let body = &docs[start..start + docs[start..].find("```").unwrap()];
    body.lines()
        .map(|line| {
            let (command, comment) = line.split_once('#').unwrap_or((line, ""));
            let comment = comment.trim();
            Line {
                words: command
                    .trim()
                    .trim_end_matches('&')
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect(),
                typed: comment.strip_prefix("type: ").map(str::to_owned),
                printed: comment.strip_prefix("prints: ").map(str::to_owned),
            }
        })
        .collect()
}

/// The value after `flag` in `words`.
fn value_of<'a>(words: &'a [String], flag: &str) -> &'a str {
    let at = words.iter().position(|w| w == flag).unwrap_or_else(|| {
        panic!("{flag} in {words:?}");
    });
    &words[at + 1]
}

#[test]
fn the_two_node_example_runs_as_written() {
    let lines = block();
    let mut redis = None;
    let mut nodes: BTreeMap<String, ServeProcess> = BTreeMap::new();
    let mut clients = Vec::new();
    for line in &lines {
        let words = &line.words;
        match words[0].as_str() {
            "redis-server" => {
                // The fixture starts it the same way, on a free port.
                assert_eq!(words[3..], ["--save", "''", "--appendonly", "no"]);
                redis = Some(RedisServer::start());
            }
            "tcphub" if words[1] == "serve" => {
                let redis = redis.as_ref().expect("redis-server comes first");
                let url = redis.url();
                let args: Vec<&str> = words[1..]
                    .iter()
                    .enumerate()
                    .map(|(i, w)| match words[i].as_str() {
                        "--listen" => "127.0.0.1:0",
                        "--cluster" => url.as_str(),
                        _ => w.as_str(),
                    })
                    .collect();
                let node = ServeProcess::start_exactly(&args, &[("TCPHUB_LOG_FORMAT", "json")]);
                nodes.insert(value_of(words, "--listen").to_owned(), node);
            }
            "tcphub" if words[1] == "connect" => {
                let addr: SocketAddr = nodes[value_of(words, "--server")].addr;
                let addr = addr.to_string();
                let args: Vec<&str> = words[1..]
                    .iter()
                    .enumerate()
                    .map(|(i, w)| match words[i].as_str() {
                        "--server" => addr.as_str(),
                        _ => w.as_str(),
                    })
                    .collect();
                let mut client = ClientProcess::start_typing(&args, &[]);
                let name = value_of(words, "--name");
                // The status line goes to stderr, messages to stdout.
                wait_for_text(&client.stderr, &format!("as {name}"));
                if let Some(typed) = &line.typed {
                    client.type_line(typed);
                }
                clients.push((client, line.printed.clone()));
            }
            other => panic!("the block runs only redis-server and tcphub, not {other}"),
        }
    }
    assert_eq!(nodes.len(), 2, "two nodes");
    let printed: Vec<_> = clients.iter().filter(|(_, p)| p.is_some()).collect();
    assert!(!printed.is_empty(), "the block says what a client prints");
    for (client, expected) in printed {
        wait_for_text(&client.stdout, expected.as_deref().unwrap());
    }
}
