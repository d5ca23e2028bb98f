//! The first `sh` block of docs/cluster.md, run as written: a redis-server,
//! two nodes, and two `tcphub connect` clients on different nodes. Each
//! command runs with exactly the block's arguments, except addresses: the
//! test's redis-server and nodes take free ports, and the clients are
//! pointed at the node the block's address names. A `# type:` comment is
//! typed into that client, a `# prints:` comment must be printed by it.

mod common;

use std::collections::BTreeMap;

use common::doc_block::{sh_block, value_of, with_value};
use common::redis::RedisServer;
use common::serve::{wait_for_text, ClientProcess, ServeProcess};

#[test]
fn the_two_node_example_runs_as_written() {
    let lines = sh_block("cluster.md");
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
                let args = with_value(&words[1..], "--listen", "127.0.0.1:0");
                let args = with_value(&args, "--cluster", &redis.url());
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let node = ServeProcess::start_exactly(&args, &[("TCPHUB_LOG_FORMAT", "json")]);
                nodes.insert(value_of(words, "--listen").to_owned(), node);
            }
            "tcphub" if words[1] == "connect" => {
                let addr = nodes[value_of(words, "--server")].server_arg();
                let args = with_value(&words[1..], "--server", &addr);
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
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
