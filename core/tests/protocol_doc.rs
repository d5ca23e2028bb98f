//! Replays the ```transcript blocks of docs/PROTOCOL.md against the hub, so
//! the examples there are what the hub does, byte for byte of JSON.
//!
//! Each block runs on a fresh hub with the default settings. A line is
//! `X> frame` (client X sends it; X connects from `10.0.0.N:500N`, N being
//! X's place in the alphabet, on first use), `X< frame` (the next frame X
//! receives, compared as JSON), or `X! drop` (X's connection goes away).
//! Every frame a client receives must be listed.

mod common;

use std::collections::BTreeMap;

use common::Harness;
use tcphub_core::{HubConfig, HubFrame, SessionHandle};

fn blocks(doc: &str) -> Vec<Vec<(usize, &str)>> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<(usize, &str)>> = None;
    for (n, line) in doc.lines().enumerate() {
        match (&mut current, line.trim_end()) {
            (None, "```transcript") => current = Some(Vec::new()),
            (Some(_), "```") => blocks.push(current.take().unwrap()),
            (Some(lines), line) => lines.push((n + 1, line)),
            (None, _) => {}
        }
    }
    assert!(current.is_none(), "unterminated transcript block");
    blocks
}

fn peer(client: char) -> String {
    let n = client as u32 - 'A' as u32 + 1;
    format!("10.0.0.{n}:{}", 5000 + n)
}

#[test]
fn protocol_transcripts_are_what_the_hub_does() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/PROTOCOL.md");
    let doc = std::fs::read_to_string(path).expect("docs/PROTOCOL.md");
    let blocks = blocks(&doc);
    assert!(blocks.len() >= 3, "the transcripts are still there");
    for block in blocks {
        let mut h = Harness::new(HubConfig::default());
        let mut clients: BTreeMap<char, SessionHandle> = BTreeMap::new();
        let mut read: BTreeMap<char, usize> = BTreeMap::new();
        for (n, line) in block {
            let mut chars = line.chars();
            let (client, op) = (chars.next().unwrap(), chars.next().unwrap());
            let rest = line[2..].trim();
            let id = *clients
                .entry(client)
                .or_insert_with(|| h.connect(&peer(client)));
            match op {
                '>' => h.send(id, rest.as_bytes()),
                '!' => {
                    assert_eq!(rest, "drop", "line {n}");
                    h.disconnect(id);
                }
                '<' => {
                    let expected: serde_json::Value = serde_json::from_str(rest)
                        .unwrap_or_else(|e| panic!("line {n} is not JSON: {e}"));
                    let next = read.entry(client).or_default();
                    let frames = &h.inboxes.get(&id).map(|i| &i.frames[..]).unwrap_or(&[]);
                    let Some(got) = frames.get(*next) else {
                        panic!("line {n}: {client} received nothing more, expected {rest}");
                    };
                    let got = serde_json::to_value(got).unwrap();
                    assert_eq!(got, expected, "line {n}");
                    *next += 1;
                }
                other => panic!("line {n}: unknown operation {other:?}"),
            }
        }
        for (client, id) in clients {
            let frames: &[HubFrame] = h.inboxes.get(&id).map_or(&[], |i| &i.frames[..]);
            let seen = read.get(&client).copied().unwrap_or(0);
            assert_eq!(
                &frames[seen..],
                &[],
                "{client} received frames the transcript does not list"
            );
        }
    }
}
