//! The walkthroughs of docs/native.md's "Rooms, presence and last wills"
//! and "Request and reply", run as written: every `$` command line of its console blocks is run
//! with exactly those arguments, every line typed (`> `) is typed into the
//! process of its block, and every printed line shown must be printed by
//! that process, in the order shown. Only addresses differ: the test
//! points the commands at its own hub through `TCPHUB_LISTEN` and
//! `TCPHUB_SERVER`, and ports are compared as `ADDR`.

mod common;

use std::sync::{Arc, Mutex};

use common::serve::*;
use common::shell::{self, ConsoleCommand};

const ROOMS_SECTION: &str = "### Rooms, presence and last wills";
const REQUEST_SECTION: &str = "### Request and reply";

/// The command of one console block (the docs give each process a block),
/// what is typed into it and what it prints.
type Block = ConsoleCommand;

/// The arguments after `tcphub`.
fn args(block: &Block) -> Vec<String> {
    let words = shell_words(&block.command);
    assert_eq!(words[0], "tcphub", "{}", block.command);
    words[1..].to_vec()
}

/// The next line the docs type into this block's process.
fn next_typed(block: &mut Block) -> String {
    block
        .typed
        .pop_front()
        .unwrap_or_else(|| panic!("the docs type nothing more into `{}`", block.command))
}

fn section_blocks(heading: &str) -> Vec<Block> {
    shell::section("native.md", heading)
        .console
        .into_iter()
        .map(|mut block| {
            assert_eq!(block.len(), 1, "one command per block: {block:?}");
            block.remove(0)
        })
        .collect()
}

/// Takes the block whose command starts with `starts` out of `blocks`.
fn take(blocks: &mut Vec<Block>, starts: &str) -> Block {
    let at = blocks
        .iter()
        .position(|b| b.command.starts_with(starts))
        .unwrap_or_else(|| panic!("no `{starts}` block in the section"));
    blocks.remove(at)
}

/// Splits a command line as sh does for the quoting the docs use: words
/// on spaces, single quotes around words with spaces. Anything fancier is
/// refused, so the docs stay runnable by this test.
fn shell_words(line: &str) -> Vec<String> {
    assert!(
        !line.contains(['"', '\\', '$', '|', '&', ';', '<', '>', '`']),
        "the docs' command lines use only single quotes: {line}"
    );
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut in_word = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                in_word = true;
            }
            ' ' if !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    assert!(!quoted, "unclosed quote: {line}");
    if in_word {
        words.push(word);
    }
    words
}

/// Asserts every line `block` shows printed was printed: stdout lines in
/// the order shown, status lines (stderr) anywhere.
fn assert_printed(block: &Block, stdout: &Arc<Mutex<String>>, stderr: &Arc<Mutex<String>>) {
    shell::assert_shown(block, &stdout.lock().unwrap(), &stderr.lock().unwrap());
}

#[test]
fn the_chat_room_walkthrough_runs_as_written() {
    let mut blocks = section_blocks(ROOMS_SECTION);
    let mut hub_block = take(&mut blocks, "tcphub serve");
    let mut one_block = take(&mut blocks, "tcphub connect --name Client-1");
    let mut two_block = take(&mut blocks, "tcphub connect --name Client-2");
    let send_block = take(&mut blocks, "tcphub send");
    assert!(
        blocks.is_empty(),
        "blocks this test does not run: {blocks:?}"
    );

    let hub_args = args(&hub_block);
    let hub_args: Vec<&str> = hub_args.iter().map(String::as_str).collect();
    let mut hub = ServeProcess::start_exactly(
        &hub_args,
        &[
            ("TCPHUB_LISTEN", "127.0.0.1:0"),
            ("TCPHUB_LOG_FORMAT", "json"),
        ],
    );
    let server = hub.server_arg();
    let env = [("TCPHUB_SERVER", server.as_str())];
    let start = |block: &Block| {
        let args = args(block);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let client = ClientProcess::start_typing(&args, &env);
        wait_for_text(&client.stderr, "connected to");
        client
    };

    // Client-1 joins and watches the room.
    let mut one = start(&one_block);
    wait_for_text(&hub.stdout, "Client-1 joined #lobby");
    one.type_line(&next_typed(&mut one_block));
    wait_for_text(&one.stdout, "[hub] watching");

    // Client-2 joins with its last will, and says hi.
    let mut two = start(&two_block);
    wait_for_text(&one.stdout, "[presence] Client-2 joined #lobby");
    two.type_line(&next_typed(&mut two_block));
    wait_for_text(&one.stdout, "[Client-2 #lobby] hi Client-1");
    wait_for_text(&hub.stdout, "[Client-2 -> #lobby] hi Client-1");

    // The host lists the rooms and speaks to the room.
    hub.console(&next_typed(&mut hub_block));
    wait_for_text(&hub.stdout, "ROOM");
    hub.console(&next_typed(&mut hub_block));
    wait_for_text(&one.stdout, "[server #lobby] the kitchen closes at 21:00");
    wait_for_text(&two.stdout, "[server #lobby] the kitchen closes at 21:00");

    // Client-1 answers the room.
    one.type_line(&next_typed(&mut one_block));
    wait_for_text(&two.stdout, "[Client-1 #lobby] thanks!");
    wait_for_text(&hub.stdout, "[Client-1 -> #lobby] thanks!");

    // A one-shot send from a fourth terminal.
    let send_args = args(&send_block);
    let send_args: Vec<&str> = send_args.iter().map(String::as_str).collect();
    let sent = tcphub_with_env(&send_args, &env, "");
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    wait_for_text(&one.stdout, "[ops #lobby] lunch is served");
    wait_for_text(&two.stdout, "[ops #lobby] lunch is served");
    wait_for_text(&hub.stdout, "[ops -> #lobby] lunch is served");

    // Client-1 lists the room's members.
    one.type_line(&next_typed(&mut one_block));
    wait_for_text(&one.stdout, "[hub] members of #lobby");

    // Client-2 drops out without a bye: its last will goes to the room.
    two.kill();
    wait_for_text(
        &one.stdout,
        "[Client-2 #lobby] (last will) Client-2 dropped out",
    );
    wait_for_text(&one.stdout, "[presence] Client-2 closed (peer_closed)");
    wait_for_text(
        &hub.stdout,
        "[Client-2 -> #lobby] (last will) Client-2 dropped out",
    );

    // Client-1 leaves cleanly.
    one.type_line(&next_typed(&mut one_block));
    let (one_out, one_err) = (one.stdout.clone(), one.stderr.clone());
    let (status, _) = one.wait();
    assert!(status.success(), "{status:?}");

    for block in [&hub_block, &one_block, &two_block] {
        assert!(
            block.typed.is_empty(),
            "the docs type lines into `{}` that this test did not: {:?}",
            block.command,
            block.typed
        );
    }
    assert!(send_block.printed.is_empty() && send_block.typed.is_empty());
    assert_printed(&one_block, &one_out, &one_err);
    assert_printed(&two_block, &two.stdout, &two.stderr);
    let (status, hub_out, logs) = hub.terminate();
    assert!(status.success(), "{logs}");
    assert_printed(
        &hub_block,
        &Arc::new(Mutex::new(hub_out)),
        &Arc::new(Mutex::new(logs.clone())),
    );
    // The close reasons behind the story: a bye for Client-1, a dropped
    // connection for Client-2.
    let closed = |alias: &str, reason: &str| {
        logs.lines().any(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap_or_default();
            v["message"] == "closed" && v["alias"] == alias && v["reason"] == reason
        })
    };
    assert!(closed("Client-1", "client_bye"), "{logs}");
    assert!(closed("Client-2", "peer_closed"), "{logs}");
}

/// The output of a finished command, as `assert_printed` reads it.
fn shared(bytes: &[u8]) -> Arc<Mutex<String>> {
    Arc::new(Mutex::new(String::from_utf8_lossy(bytes).into_owned()))
}

#[test]
fn the_request_walkthrough_runs_as_written() {
    let mut blocks = section_blocks(REQUEST_SECTION);
    let mut hub_block = take(&mut blocks, "tcphub serve");
    let reply_block = take(&mut blocks, "tcphub reply");
    let upper_block = take(&mut blocks, "tcphub request --name ops upper");
    let host_block = take(&mut blocks, "tcphub request --host");
    let nobody_block = take(&mut blocks, "tcphub request nobody");
    assert!(
        blocks.is_empty(),
        "blocks this test does not run: {blocks:?}"
    );

    let hub_args = args(&hub_block);
    let hub_args: Vec<&str> = hub_args.iter().map(String::as_str).collect();
    let mut hub = ServeProcess::start_exactly(
        &hub_args,
        &[
            ("TCPHUB_LISTEN", "127.0.0.1:0"),
            ("TCPHUB_LOG_FORMAT", "json"),
        ],
    );
    let server = hub.server_arg();
    let env = [("TCPHUB_SERVER", server.as_str())];

    // The responder, ready when it says so.
    let reply_args = args(&reply_block);
    let reply_args: Vec<&str> = reply_args.iter().map(String::as_str).collect();
    let mut responder = ClientProcess::start_typing(&reply_args, &env);
    wait_for_text(&responder.stderr, "answering requests to upper");

    // A request it answers.
    let upper_args = args(&upper_block);
    let upper_args: Vec<&str> = upper_args.iter().map(String::as_str).collect();
    let upper = tcphub_with_env(&upper_args, &env, "");
    assert_eq!(upper.status.code(), Some(0), "{upper:?}");
    assert_printed(&upper_block, &shared(&upper.stdout), &shared(&upper.stderr));
    wait_for_text(&responder.stdout, "(request 2.1) hello");

    // A request the host answers on its console.
    let host_args = args(&host_block);
    let host_args: Vec<&str> = host_args.iter().map(String::as_str).collect();
    let asking = ClientProcess::start_typing(&host_args, &env);
    wait_for_text(&hub.stdout, "(request 3.2) is the kitchen open?");
    hub.console(&next_typed(&mut hub_block));
    let (asking_out, asking_err) = (asking.stdout.clone(), asking.stderr.clone());
    let (status, _) = asking.wait();
    assert_eq!(status.code(), Some(0), "{}", asking_err.lock().unwrap());
    assert_printed(&host_block, &asking_out, &asking_err);

    // A request to nobody: status 1, the code named.
    let nobody_args = args(&nobody_block);
    let nobody_args: Vec<&str> = nobody_args.iter().map(String::as_str).collect();
    let nobody = tcphub_with_env(&nobody_args, &env, "");
    assert_eq!(nobody.status.code(), Some(1), "{nobody:?}");
    assert_printed(
        &nobody_block,
        &shared(&nobody.stdout),
        &shared(&nobody.stderr),
    );

    assert!(
        hub_block.typed.is_empty(),
        "the docs type lines into `{}` that this test did not: {:?}",
        hub_block.command,
        hub_block.typed
    );
    assert!(reply_block.typed.is_empty());
    responder.kill();
    assert_printed(&reply_block, &responder.stdout, &responder.stderr);
    let (status, hub_out, logs) = hub.terminate();
    assert!(status.success(), "{logs}");
    assert_printed(
        &hub_block,
        &Arc::new(Mutex::new(hub_out)),
        &Arc::new(Mutex::new(logs)),
    );
}
