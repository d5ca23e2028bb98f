//! Several `tcphub serve --cluster` nodes on loopback acting as one hub
//! over a redis-server of the test's own (docs/design/cluster.md): the
//! tutorial across nodes, relays, `*`, `unknown_alias`, the three alias
//! policies with simultaneous claims, a node killed with SIGKILL, and Redis
//! restarted under the nodes.
//!
//! A node learns of an alias claimed on another node through the
//! directory stream, a moment later: tests wait for that (a probe relayed
//! until it arrives) rather than assume it is instant.

mod common;

use std::time::Duration;

use common::redis::{free_port, RedisServer};
use common::serve::{tcphub_with_env, wait_for_text, ServeProcess};
use common::*;
use serde_json::json;
use tcphub_core::{HubFrame, WatchScope, HUB_NAME};
use tcphub_native::client::{Client, ClientError};

/// A node of the cluster at `redis`, with these extra `serve` options.
fn node(redis: &RedisServer, id: &str, args: &[&str]) -> ServeProcess {
    let url = redis.url();
    let mut all = vec!["--cluster", &url, "--node-id", id];
    all.extend_from_slice(args);
    ServeProcess::start(&all, &[])
}

async fn client(node: &ServeProcess) -> Client {
    Client::connect(node.addr).await.expect("connect")
}

async fn synced(node: &ServeProcess, alias: &str) -> Client {
    let mut c = client(node).await;
    within(c.sync(alias)).await.expect("sync");
    c
}

fn is_probe(frame: &HubFrame) -> bool {
    matches!(frame, HubFrame::Info { message, .. } if message.get("probe").is_some())
}

/// Relays probes from `sender` to `to` until `receiver` gets one: then
/// the sender's node knows where `to` is. Probes sent while it did not
/// are answered `unknown_alias`, which is dropped here.
async fn await_route(sender: &mut Client, to: &str, receiver: &mut Client) {
    within(async {
        for n in 0u64.. {
            sender
                .send_info(Some(to), &raw(&json!({ "probe": n }).to_string()))
                .await
                .unwrap();
            sender.ping().await.unwrap();
            for frame in sender.until_pong().await.unwrap() {
                assert!(
                    matches!(&frame, HubFrame::Error { code, .. } if code == "unknown_alias"),
                    "{frame:?}"
                );
            }
            // A bounded wait for the condition, not a sleep: it ends as
            // soon as the probe arrives.
            if let Ok(frame) =
                tokio::time::timeout(Duration::from_millis(50), receiver.expect_frame()).await
            {
                let frame = frame.expect("a frame");
                assert!(is_probe(&frame), "{frame:?}");
                return;
            }
        }
    })
    .await;
}

/// The next frame that is not a probe.
async fn frame_after_probes(client: &mut Client) -> HubFrame {
    loop {
        let frame = frame(client).await;
        if !is_probe(&frame) {
            return frame;
        }
    }
}

async fn expect_info_after_probes(client: &mut Client, from: &str, message: serde_json::Value) {
    match frame_after_probes(client).await {
        HubFrame::Info {
            from: f,
            message: m,
            ..
        } => assert_eq!((f.as_str(), m), (from, message)),
        other => panic!("expected info from {from}, got {other:?}"),
    }
}

/// Nothing more but probes before a `pong`.
async fn expect_only_probes(client: &mut Client) {
    client.ping().await.unwrap();
    let before = within(client.until_pong()).await.unwrap();
    assert!(before.iter().all(is_probe), "unexpected frames: {before:?}");
}

#[tokio::test]
async fn the_tutorial_across_three_nodes() {
    let redis = RedisServer::start();
    let a = node(&redis, "a", &[]);
    let b = node(&redis, "b", &[]);
    let mut c = node(&redis, "c", &["--console"]);
    let mut one = synced(&a, "Client-1").await;
    let mut two = synced(&b, "Client-2").await;
    let mut watcher = client(&c).await;
    // The host on c sends once c's replica knows both aliases.
    for (to, receiver) in [("Client-1", &mut one), ("Client-2", &mut two)] {
        await_route(&mut watcher, to, receiver).await;
    }
    c.console("* 大家来领物资了");
    c.console("@Client-1 赶紧来做核酸了");
    // Both arrive, but not necessarily in the order sent: the broadcast
    // crosses by the `all` stream and the directed message by a's inbox,
    // and a node reads the two streams one after the other (a known gap,
    // docs/cluster.md "Order"; it made this test fail about 1 run in 30).
    let mut got = Vec::new();
    for _ in 0..2 {
        match frame_after_probes(&mut one).await {
            HubFrame::Info { from, message, .. } if from == HUB_NAME => got.push(message),
            other => panic!("expected info from the host, got {other:?}"),
        }
    }
    got.sort_by_key(|m| m.to_string());
    assert_eq!(got, [json!("大家来领物资了"), json!("赶紧来做核酸了")]);
    expect_info_after_probes(&mut two, HUB_NAME, json!("大家来领物资了")).await;
    expect_info_after_probes(&mut watcher, HUB_NAME, json!("大家来领物资了")).await;

    // Relay each way between the nodes.
    await_route(&mut one, "Client-2", &mut two).await;
    await_route(&mut two, "Client-1", &mut one).await;
    one.send_text(Some("Client-2"), "hi 2").await.unwrap();
    expect_info_after_probes(&mut two, "Client-1", json!("hi 2")).await;
    two.send_text(Some("Client-1"), "hi 1").await.unwrap();
    expect_info_after_probes(&mut one, "Client-2", json!("hi 1")).await;

    // `*` reaches every other session of every node exactly once.
    let mut anonymous = client(&a).await;
    let mut third = synced(&c, "Client-3").await;
    one.send_text(Some("*"), "to all").await.unwrap();
    for receiver in [&mut two, &mut watcher, &mut anonymous, &mut third] {
        expect_info_after_probes(receiver, "Client-1", json!("to all")).await;
    }
    for each in [&mut one, &mut two, &mut watcher, &mut anonymous, &mut third] {
        expect_only_probes(each).await;
    }
}

#[tokio::test]
async fn a_room_s_members_on_every_node_get_its_messages() {
    let redis = RedisServer::start();
    let a = node(&redis, "a", &[]);
    let b = node(&redis, "b", &[]);
    let mut sender = synced(&a, "Sender").await;
    let mut near = synced(&a, "Near").await;
    let mut far = synced(&b, "Far").await;
    let mut outsider = synced(&b, "Outsider").await;
    for member in [&mut sender, &mut near, &mut far] {
        within(member.join("lobby")).await.unwrap();
    }
    // a learns that b has members of the lobby through the directory.
    within(async {
        for n in 0u64.. {
            let probe = raw(&json!({ "probe": n }).to_string());
            sender.send_to_room("lobby", &probe).await.unwrap();
            if let Ok(frame) =
                tokio::time::timeout(Duration::from_millis(50), far.expect_frame()).await
            {
                assert!(is_probe(&frame.unwrap()));
                return;
            }
        }
    })
    .await;
    sender.send_text_to_room("lobby", "hello").await.unwrap();
    for member in [&mut near, &mut far] {
        match frame_after_probes(member).await {
            HubFrame::Info {
                from,
                room,
                message,
                ..
            } => {
                assert_eq!(
                    (from.as_str(), room.as_deref(), message),
                    ("Sender", Some("lobby"), json!("hello"))
                );
            }
            other => panic!("{other:?}"),
        }
    }
    expect_nothing_more(&mut outsider).await;
    expect_only_probes(&mut far).await;
}

#[tokio::test]
async fn a_directed_message_or_a_broadcast_crosses_once() {
    let redis = RedisServer::start();
    let a = node(&redis, "a", &[]);
    let b = node(&redis, "b", &[]);
    let c = node(&redis, "c", &[]);
    let mut sender = synced(&a, "Sender").await;
    let mut receiver = synced(&b, "Receiver").await;
    let mut other = synced(&c, "Other").await;
    // Unlike `await_route`, leaves nothing in flight: a message is sent
    // again only when the answer was `unknown_alias`.
    within(async {
        loop {
            sender.send_text(Some("Receiver"), "first").await.unwrap();
            sender.ping().await.unwrap();
            if sender.until_pong().await.unwrap().is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    expect_info(&mut receiver, "Sender", json!("first")).await;
    // Every alias held is in the directory stream, so no directory change
    // (an XADD inside a script) is counted below.
    let directory = "tcphub:{tcphub}:directory";
    within(async {
        while redis.xlen(directory) < 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    // Each message is one frame in one stream: a directed one in its
    // recipient's node's inbox only, a broadcast in `all` only. Frames
    // sent together share an entry, so there are at most as many entries
    // (and `XADD`s) as messages, often fewer.
    let streams =
        ["inbox:a", "inbox:b", "inbox:c", "all"].map(|s| format!("tcphub:{{tcphub}}:{s}"));
    let counts = || streams.clone().map(|s| (redis.xlen(&s), redis.frames(&s)));
    let before = counts();
    redis.reset_stats();
    const N: u64 = 50;
    for n in 0..N {
        sender
            .send_info(Some("Receiver"), &raw(&n.to_string()))
            .await
            .unwrap();
    }
    for n in 0..N {
        expect_info_after_probes(&mut receiver, "Sender", json!(n)).await;
    }
    let after = counts();
    let (entries, frames) = (after[1].0 - before[1].0, after[1].1 - before[1].1);
    assert_eq!(frames, N, "each directed message crosses once");
    assert!((1..=N).contains(&entries), "{entries} entries");
    assert_eq!(redis.calls("xadd"), entries, "one XADD per entry");
    for i in [0, 2, 3] {
        assert_eq!(after[i], before[i], "nothing crosses to {}", streams[i]);
    }
    let before = after;
    redis.reset_stats();
    for n in 0..N {
        sender
            .send_info(Some("*"), &raw(&n.to_string()))
            .await
            .unwrap();
    }
    for n in 0..N {
        expect_info_after_probes(&mut receiver, "Sender", json!(n)).await;
        expect_info_after_probes(&mut other, "Sender", json!(n)).await;
    }
    let after = counts();
    let (entries, frames) = (after[3].0 - before[3].0, after[3].1 - before[3].1);
    assert_eq!(frames, N, "each broadcast crosses once, whatever the nodes");
    assert!((1..=N).contains(&entries), "{entries} entries");
    assert_eq!(redis.calls("xadd"), entries, "one XADD per entry");
    for i in [0, 1, 2] {
        assert_eq!(after[i], before[i], "nothing crosses to {}", streams[i]);
    }
    // Nothing crosses for a message whose recipients are all local (the
    // claim of `Local` itself adds a directory change, so frames are
    // counted by what the frame streams hold).
    let mut local = synced(&a, "Local").await;
    let before = counts();
    for n in 0..N {
        sender
            .send_info(Some("Local"), &raw(&n.to_string()))
            .await
            .unwrap();
    }
    for n in 0..N {
        expect_info(&mut local, "Sender", json!(n)).await;
    }
    assert_eq!(counts(), before);
}

#[tokio::test]
async fn a_relay_right_after_a_claim_elsewhere_is_resolved_by_the_directory() {
    let redis = RedisServer::start();
    let a = node(&redis, "a", &[]);
    let b = node(&redis, "b", &[]);
    let mut sender = synced(&a, "Sender").await;
    for round in 0..10 {
        let alias = format!("Fresh{round}");
        let mut fresh = synced(&b, &alias).await;
        // No waiting for a's replica: what it does not know yet, the
        // directory in Redis does.
        sender.send_text(Some(&alias), "right away").await.unwrap();
        expect_info(&mut fresh, "Sender", json!("right away")).await;
        expect_nothing_more(&mut sender).await;
    }
}

#[tokio::test]
async fn list_shows_every_session_of_the_cluster_and_its_node() {
    let redis = RedisServer::start();
    let mut a = node(&redis, "a", &["--console"]);
    let b = node(&redis, "b", &[]);
    let mut one = synced(&a, "Client-1").await;
    let _two = synced(&b, "Client-2").await;
    let _anonymous = client(&b).await;
    // b's sessions reach a's replica through the directory stream.
    let rows = within(async {
        loop {
            let rows = one.list().await.unwrap();
            if rows.len() == 3 && rows.iter().all(|r| r.node.is_some()) {
                return rows;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let mut seen: Vec<(Option<&str>, &str)> = rows
        .iter()
        .map(|r| (r.client_name.as_deref(), r.node.as_deref().unwrap()))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            (None, "b"),
            (Some("Client-1"), "a"),
            (Some("Client-2"), "b")
        ]
    );
    // The host's listing on a (its console's /list) has them too.
    a.console("/list");
    wait_for_text(&a.stdout, "Client-2");
    let table = a.stdout.lock().unwrap().clone();
    assert!(
        table.contains("b/") && table.contains("Client-1"),
        "{table}"
    );
}

#[tokio::test]
async fn a_watcher_on_one_node_sees_an_alias_come_and_go_on_another() {
    let redis = RedisServer::start();
    let a = node(&redis, "a", &[]);
    let b = node(&redis, "b", &[]);
    let mut watcher = synced(&a, "Watcher").await;
    within(watcher.watch(&WatchScope::Aliases(vec!["X".into()])))
        .await
        .unwrap();
    // b hears that a has a watcher through the directory; until then a
    // claim on b is not announced to a. Claim and drop X until one is
    // (the `closed` of an earlier one may be announced first: skipped).
    within(async {
        loop {
            let x = synced(&b, "X").await;
            while let Ok(frame) =
                tokio::time::timeout(Duration::from_millis(100), watcher.expect_frame()).await
            {
                match frame.unwrap() {
                    HubFrame::Presence { event, alias, .. } if alias.as_deref() == Some("X") => {
                        if event == "synced" {
                            drop(x);
                            return;
                        }
                    }
                    other => panic!("{other:?}"),
                }
            }
            drop(x);
        }
    })
    .await;
    // The session holding X went: a's watcher is told.
    loop {
        match frame(&mut watcher).await {
            HubFrame::Presence { event, alias, .. } if alias.as_deref() == Some("X") => {
                if event != "synced" {
                    assert!(event == "closed" || event == "released", "{event}");
                    break;
                }
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn an_alias_no_node_holds_is_unknown_on_every_node() {
    let redis = RedisServer::start();
    let a = node(&redis, "a", &[]);
    let b = node(&redis, "b", &[]);
    let _held = synced(&b, "Somebody").await;
    let mut sender = synced(&a, "Sender").await;
    sender.send_text(Some("Nobody"), "?").await.unwrap();
    match frame(&mut sender).await {
        HubFrame::Error { code, message, .. } => {
            assert_eq!(code, "unknown_alias");
            assert!(message.contains("Nobody"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

/// Two nodes claim one alias at the same instant; returns both answers.
async fn claim_at_once(
    a: &ServeProcess,
    b: &ServeProcess,
    alias: &str,
) -> [Result<String, ClientError>; 2] {
    let (mut x, mut y) = (client(a).await, client(b).await);
    let (first, second) = tokio::join!(within(x.sync(alias)), within(y.sync(alias)));
    // Keep both sessions open until both answers are in.
    let answers = [first, second];
    drop((x, y));
    answers
}

#[tokio::test]
async fn under_reject_two_nodes_claiming_at_once_give_exactly_one_winner() {
    let redis = RedisServer::start();
    let policy = ["--alias-policy", "reject"];
    let a = node(&redis, "a", &policy);
    let b = node(&redis, "b", &policy);
    for round in 0..8 {
        let alias = format!("X{round}");
        let answers = claim_at_once(&a, &b, &alias).await;
        let won = answers.iter().filter(|r| r.is_ok()).count();
        assert_eq!(won, 1, "round {round}: {answers:?}");
        for answer in &answers {
            if let Err(e) = answer {
                assert!(
                    matches!(e, ClientError::Hub { code, .. } if code == "alias_taken"),
                    "{e}"
                );
            }
        }
    }
    // A claim while another node holds it is refused too.
    let _holder = synced(&a, "Held").await;
    let mut late = client(&b).await;
    let refused = within(late.sync("Held")).await.unwrap_err();
    assert!(refused.to_string().contains("alias_taken"), "{refused}");
}

#[tokio::test]
async fn under_takeover_the_holder_on_another_node_gets_bye_taken_over() {
    let redis = RedisServer::start();
    let a = node(&redis, "a", &[]);
    let b = node(&redis, "b", &[]);
    let c = node(&redis, "c", &[]);
    let mut old = synced(&a, "X").await;
    let mut new = synced(&b, "X").await;
    match frame(&mut old).await {
        HubFrame::Bye { reason, message } => {
            assert_eq!(reason, "taken_over");
            assert!(message.contains("another node"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // Messages to X now reach the new holder only.
    let mut sender = synced(&c, "S").await;
    await_route(&mut sender, "X", &mut new).await;
    sender.send_text(Some("X"), "to the new X").await.unwrap();
    expect_info_after_probes(&mut new, "S", json!("to the new X")).await;

    // Simultaneous claims: both are granted in some order, and exactly
    // one holder is left, the other told `taken_over`.
    let (mut x, mut y) = (client(&a).await, client(&c).await);
    let (first, second) = tokio::join!(within(x.sync("Y")), within(y.sync("Y")));
    first.unwrap();
    second.unwrap();
    // The earlier claim is displaced, never the later: once one session
    // is told, the other is the holder and hears nothing.
    let (told, mut holder) = within(async {
        tokio::select! {
            f = x.expect_frame() => (f, y),
            f = y.expect_frame() => (f, x),
        }
    })
    .await;
    assert!(
        matches!(&told, Ok(HubFrame::Bye { reason, .. }) if reason == "taken_over"),
        "{told:?}"
    );
    expect_nothing_more(&mut holder).await;
}

#[tokio::test]
async fn under_share_every_holder_on_every_node_receives() {
    let redis = RedisServer::start();
    let policy = ["--alias-policy", "share"];
    let a = node(&redis, "a", &policy);
    let b = node(&redis, "b", &policy);
    let c = node(&redis, "c", &policy);
    let mut x1 = synced(&a, "X").await;
    let mut x2 = synced(&b, "X").await;
    let mut sender = synced(&c, "S").await;
    // Once c routes to both nodes, every later message reaches both.
    await_route(&mut sender, "X", &mut x1).await;
    await_route(&mut sender, "X", &mut x2).await;
    sender.send_text(Some("X"), "to both").await.unwrap();
    expect_info_after_probes(&mut x1, "S", json!("to both")).await;
    expect_info_after_probes(&mut x2, "S", json!("to both")).await;
    expect_only_probes(&mut x1).await;
    expect_only_probes(&mut x2).await;
}

#[tokio::test]
async fn a_killed_node_s_aliases_are_free_after_its_lease_even_under_reject() {
    let redis = RedisServer::start();
    let options = ["--alias-policy", "reject", "--cluster-lease", "1s"];
    let mut a = node(&redis, "a", &options);
    let b = node(&redis, "b", &options);
    let mut holder = synced(&a, "X").await;
    let mut sender = synced(&b, "S").await;
    await_route(&mut sender, "X", &mut holder).await;
    a.kill();
    // Within the lease the alias is still held; after it, the claim
    // script ignores the dead node and the reaper frees its aliases.
    let started = std::time::Instant::now();
    let mut claimant = client(&b).await;
    within(async {
        loop {
            match claimant.sync("X").await {
                Ok(_) => return,
                Err(ClientError::Hub { code, .. }) if code == "alias_taken" => {
                    // Each refusal is an answer: ask again after a moment.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("{e}"),
            }
        }
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?} for a 1 s lease",
        started.elapsed()
    );
    // And b routes X to its own new holder.
    await_route(&mut sender, "X", &mut claimant).await;
}

#[tokio::test]
async fn a_node_stalled_past_its_lease_is_reaped_then_comes_back_whole() {
    let redis = RedisServer::start();
    let options = ["--cluster-lease", "1s"];
    let a = node(&redis, "a", &options);
    let b = node(&redis, "b", &options);
    let mut one = synced(&a, "Client-1").await;
    let mut sender = synced(&b, "Sender").await;
    await_route(&mut sender, "Client-1", &mut one).await;
    // Frozen, a refreshes nothing and reads nothing, as if cut off.
    a.signal("STOP");
    sender
        .send_text(Some("Client-1"), "while a is stalled")
        .await
        .unwrap();
    // Once b's reaper has found a's lease gone, a's aliases are unknown:
    // the sender is told, not left guessing.
    // (The log line comes just before b's hub hears it, so probes go
    // until one is refused; those sent before reach a's kept inbox.)
    wait_for_text(&b.stderr, "a node is gone");
    probe_until_unknown(&mut sender, "Client-1").await;
    a.signal("CONT");
    // a finds what was sent before the reap in its inbox (kept for a
    // while), sees it was reaped, and re-asserts its aliases.
    expect_info_after_probes(&mut one, "Sender", json!("while a is stalled")).await;
    wait_for_text(&a.stderr, "re-asserting");
    await_route(&mut sender, "Client-1", &mut one).await;
    sender
        .send_text(Some("Client-1"), "welcome back")
        .await
        .unwrap();
    expect_info_after_probes(&mut one, "Sender", json!("welcome back")).await;
}

/// Sends numbered probes to `alias` until one is refused with
/// `unknown_alias`, and checks nothing else was answered. Refusals come
/// from Redis's resolve script, so one may come after the pong of its own
/// probe, with the next one's; probes sent before are delivered.
async fn probe_until_unknown(sender: &mut Client, alias: &str) {
    within(async {
        for n in 0u64.. {
            let probe = raw(&json!({ "probe": n }).to_string());
            sender.send_info(Some(alias), &probe).await.unwrap();
            sender.ping().await.unwrap();
            let answers = sender.until_pong().await.unwrap();
            if !answers.is_empty() {
                assert!(
                    answers.iter().all(
                        |f| matches!(f, HubFrame::Error { code, .. } if code == "unknown_alias")
                    ),
                    "{answers:?}"
                );
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn nodes_recover_from_a_redis_restart_and_deliver_what_was_sent_meanwhile() {
    let mut redis = RedisServer::start();
    let a = node(&redis, "a", &[]);
    let b = node(&redis, "b", &[]);
    let mut one = synced(&a, "Client-1").await;
    let mut two = synced(&b, "Client-2").await;
    await_route(&mut one, "Client-2", &mut two).await;
    redis.kill();
    // Sent while Redis is down: a still knows where Client-2 is, so the
    // frame waits in a's queue for Redis.
    one.send_text(Some("Client-2"), "sent during the outage")
        .await
        .unwrap();
    one.ping().await.unwrap();
    let answered = within(one.until_pong()).await.unwrap();
    assert!(answered.is_empty(), "{answered:?}");
    redis.restart();
    for n in [&a, &b] {
        wait_for_text(&n.stderr, "lost Redis");
        wait_for_text(&n.stderr, "holdings asserted");
    }
    expect_info_after_probes(&mut two, "Client-1", json!("sent during the outage")).await;
    // Both nodes re-asserted their aliases in the new (empty) Redis:
    // relays work both ways again, and the sessions were never closed.
    await_route(&mut two, "Client-1", &mut one).await;
    await_route(&mut one, "Client-2", &mut two).await;
    // The directory in the new Redis has Client-1 (hex) held on node a.
    let holders = redis.hgetall("tcphub:{tcphub}:alias:436c69656e742d31");
    assert!(
        holders.len() == 1 && holders[0].0.starts_with("a/") && holders[0].1 == "a",
        "{holders:?}"
    );
    two.send_text(Some("Client-1"), "after").await.unwrap();
    expect_info_after_probes(&mut one, "Client-2", json!("after")).await;
}

#[tokio::test]
async fn a_node_that_died_while_redis_was_away_is_forgotten_after_its_lease() {
    let mut redis = RedisServer::start();
    let options = ["--cluster-lease", "1s"];
    let mut a = node(&redis, "a", &options);
    let b = node(&redis, "b", &options);
    let mut gone = synced(&a, "Gone").await;
    let mut sender = synced(&b, "Sender").await;
    await_route(&mut sender, "Gone", &mut gone).await;
    redis.kill();
    a.kill();
    redis.restart();
    // The new Redis never heard of a, so no reaper will report it; b
    // waits a lease for a to come back, then forgets it.
    wait_for_text(&b.stderr, "is gone");
    probe_until_unknown(&mut sender, "Gone").await;
}

#[test]
fn redis_down_at_start_exits_1_naming_the_url() {
    let url = format!("redis://127.0.0.1:{}", free_port());
    let out = tcphub_with_env(
        &["serve", "--listen", "127.0.0.1:0", "--cluster", &url],
        &[],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&url), "{stderr}");
    assert!(stderr.contains("cannot join the cluster"), "{stderr}");
    // The same from the environment, and a URL that does not parse.
    let out = tcphub_with_env(
        &["serve", "--listen", "127.0.0.1:0"],
        &[("TCPHUB_CLUSTER", "nonsense://x")],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nonsense://x"));
}

#[tokio::test]
async fn a_request_crosses_nodes_to_its_answer_and_one_to_nobody_is_unknown() {
    let redis = RedisServer::start();
    let a = node(&redis, "a", &[]);
    let b = node(&redis, "b", &[]);
    let mut clock = synced(&b, "clock").await;
    let mut asker = synced(&a, "asker").await;
    // Node a need not have heard of `clock` yet: the directory is asked.
    let id = asker
        .send_request(Some("clock"), &raw("{\"q\":\"time?\"}"), Some(10_000))
        .await
        .unwrap();
    let reply_to = match frame(&mut clock).await {
        HubFrame::Request {
            from,
            reply_to,
            message,
        } => {
            assert_eq!(from, "asker");
            assert_eq!(message, json!({"q": "time?"}));
            // The request waits on the asker's node, which the reply names.
            assert!(reply_to.starts_with("a/"), "{reply_to}");
            reply_to
        }
        other => panic!("{other:?}"),
    };
    clock
        .send_reply(&reply_to, &raw("\"12:00\""))
        .await
        .unwrap();
    let answer = frame(&mut asker).await;
    assert!(id.is_answered_by(&answer), "{answer:?}");
    match answer {
        HubFrame::Reply { from, message, .. } => {
            assert_eq!((from.as_str(), message), ("clock", json!("12:00")))
        }
        other => panic!("{other:?}"),
    }

    // Nobody on any node holds `nobody`: unknown_alias, naming it.
    match within(asker.request(Some("nobody"), &raw("1"), Some(10_000))).await {
        Err(ClientError::Hub { code, message }) => {
            assert_eq!(code, "unknown_alias");
            assert!(message.contains("nobody"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // A second reply to the answered request goes nowhere: the asker's
    // node drops it. The next request's reply, sent after it over the
    // same way back, is the next frame the asker gets.
    clock.send_reply(&reply_to, &raw("\"late\"")).await.unwrap();
    asker
        .send_request(Some("clock"), &raw("2"), Some(10_000))
        .await
        .unwrap();
    let HubFrame::Request { reply_to, .. } = frame(&mut clock).await else {
        panic!("a request");
    };
    clock
        .send_reply(&reply_to, &raw("\"second\""))
        .await
        .unwrap();
    match frame(&mut asker).await {
        HubFrame::Reply { message, .. } => assert_eq!(message, json!("second")),
        other => panic!("{other:?}"),
    }
}
