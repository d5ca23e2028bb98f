//! Rooms, presence, last wills and host pacing under abuse and at their
//! edges: each test is a defect a review found (and the fix keeps fixed).

mod common;

use common::Harness;
use tcphub_core::{Event, HubConfig, HubFrame, SessionHandle};

fn observing() -> Harness {
    Harness::new(HubConfig {
        observe: true,
        ..HubConfig::default()
    })
}

fn wills(frames: &[HubFrame]) -> usize {
    frames
        .iter()
        .filter(|f| {
            matches!(
                f,
                HubFrame::Info {
                    last_will: true,
                    ..
                }
            )
        })
        .count()
}

/// While an observing host is behind, a client is paused after any frame
/// that gives the host an event (syncs, joins, mistakes, not only relays),
/// so the events a driver holds back stay bounded.
#[test]
fn every_event_a_client_causes_is_paced_while_an_observing_host_is_behind() {
    let mut h = observing();
    let a = h.connect("a:1");
    h.take_events();
    h.hub.handle_host_backlog(true);
    let burst = br#"{"type":"sync","clientName":"A"}{"type":"sync","clientName":"B"}{"type":"join","room":"r"}{"type":"leave","room":"r"}{"type":"nope"}"#.repeat(1000);
    h.send(a, &burst);
    let events = h.take_events().len();
    assert!(
        h.inboxes[&a].paused,
        "host behind, yet {a} was never paused after producing {events} events"
    );
}

/// A last will naming the same alias several times reaches it once, not
/// up to 100 copies of a 4 KiB will.
#[test]
fn a_will_naming_an_alias_many_times_is_delivered_once() {
    let mut h = Harness::new(HubConfig::default());
    let b = h.connect("b:1");
    h.sync(b, "B");
    h.take(b);
    let a = h.connect("a:1");
    let to = vec!["B"; 100];
    let frame = format!(
        r#"{{"type":"sync","clientName":"A","lastWill":{{"to":{},"message":"{}"}}}}"#,
        serde_json::to_string(&to).unwrap(),
        "x".repeat(4000)
    );
    h.send(a, frame.as_bytes());
    h.disconnect(a);
    assert_eq!(wills(&h.take(b)), 1, "B should get the will once");
}

/// A client that says `bye` and then drops leaves cleanly (no will) even
/// when the hub had held its `bye` back unread, paused for the host.
#[test]
fn a_bye_held_back_by_host_pacing_still_counts_as_clean() {
    let mut h = observing();
    let w = h.connect("w:1");
    h.send(w, br#"{"type":"join","room":"lobby"}"#);
    h.take(w);
    let a = h.connect("a:1");
    h.send(
        a,
        br#"{"type":"sync","clientName":"A","lastWill":{"room":"lobby","message":"A died"}}"#,
    );
    h.hub.handle_host_backlog(true);
    // A clean goodbye: a last note for the host, then bye, then close.
    h.send(a, br#"{"type":"info","message":"done"}{"type":"bye"}"#);
    h.disconnect(a);
    assert_eq!(wills(&h.take(w)), 0, "A said bye: no will");
}

/// The same with a backed-up recipient instead of the host.
#[test]
fn a_bye_held_back_by_a_backed_up_recipient_still_counts_as_clean() {
    let mut h = Harness::new(HubConfig::default());
    let w = h.connect("w:1");
    h.send(w, br#"{"type":"join","room":"lobby"}"#);
    h.take(w);
    let slow = h.connect("s:1");
    h.sync(slow, "S");
    h.stall(slow);
    let a = h.connect("a:1");
    h.send(
        a,
        br#"{"type":"sync","clientName":"A","lastWill":{"room":"lobby","message":"A died"}}"#,
    );
    let big = format!(
        r#"{{"type":"info","to":"S","message":"{}"}}"#,
        "x".repeat(60_000)
    );
    let mut burst = big.repeat(10).into_bytes();
    burst.extend_from_slice(br#"{"type":"bye"}"#);
    h.send(a, &burst);
    assert!(h.inboxes[&a].paused);
    h.disconnect(a);
    assert_eq!(wills(&h.take(w)), 0, "A said bye: no will");
}

/// Presence fan-out from a sync loop is paced by a stalled watcher.
#[test]
fn presence_from_a_sync_loop_is_paced_by_a_stalled_watcher() {
    let mut h = Harness::new(HubConfig::default());
    let w = h.connect("w:1");
    h.send(w, br#"{"type":"watch"}"#);
    h.stall(w);
    let a = h.connect("a:1");
    let burst =
        br#"{"type":"sync","clientName":"A"}{"type":"sync","clientName":"B"}"#.repeat(20_000);
    h.send(a, &burst);
    assert!(h.inboxes[&a].paused, "the syncer waits for its watcher");
    assert!(h.hub.queued_bytes(w).unwrap() < 600 * 1024);
}

/// A shutdown tells no watcher about the others' closes: with N watchers of
/// every alias that would be N*(N-1)/2 presence frames.
#[test]
fn a_shutdown_sends_no_presence_between_the_closing_sessions() {
    let mut h = Harness::new(HubConfig::default());
    let n = 200;
    let ids: Vec<SessionHandle> = (0..n)
        .map(|i| {
            let id = h.connect(&format!("10.0.{}.{}:1", i / 250, i % 250));
            h.send(id, br#"{"type":"watch"}"#);
            h.sync(id, &format!("c{i}"));
            id
        })
        .collect();
    for &id in &ids {
        h.take(id);
    }
    h.hub.shutdown();
    let mut transmits = 0;
    while let Some(o) = h.hub.poll_output() {
        if matches!(o, tcphub_core::Output::Transmit { .. }) {
            transmits += 1;
        }
    }
    assert_eq!(
        transmits, 0,
        "presence frames to sessions that are all being shut down"
    );
    let _ = Event::Opened {
        handle: ids[0],
        session_id: "x".into(),
    };
}

/// An observed will to two aliases: each `Relayed` event comes right after
/// its own delivery.
#[test]
fn each_observed_will_follows_its_own_delivery() {
    let mut h = observing();
    let b = h.connect("b:1");
    h.sync(b, "B");
    let c = h.connect("c:1");
    h.sync(c, "C");
    let a = h.connect("a:1");
    h.send(
        a,
        br#"{"type":"sync","clientName":"A","lastWill":{"to":["B","C"],"message":1}}"#,
    );
    h.drain();
    h.hub.handle_close(h.now, a).unwrap();
    let mut order = Vec::new();
    while let Some(o) = h.hub.poll_output() {
        match o {
            tcphub_core::Output::Transmit { handle, .. } => order.push(format!("T{handle}")),
            tcphub_core::Output::Event(Event::Relayed { target, .. }) => {
                order.push(format!("R{target:?}"))
            }
            _ => {}
        }
    }
    assert_eq!(order.len(), 4);
    assert!(order[1].starts_with('R'), "{order:?}");
}

/// Two sessions past their idle deadline: closing the first sends the
/// second its last will, which backs its queue up and pauses it (stopping
/// its timer). It is closed all the same: its deadline had passed (found
/// by the hub fuzz target).
#[test]
fn a_session_past_its_idle_deadline_is_closed_even_if_a_will_paused_it() {
    let mut h = Harness::new(HubConfig {
        idle_timeout: Some(std::time::Duration::from_secs(1)),
        high_watermark: 16,
        low_watermark: 8,
        ..HubConfig::default()
    });
    let a = h.connect("a:1");
    h.send(
        a,
        br#"{"type":"sync","clientName":"A","lastWill":{"room":"lobby","message":"A idled out"}}"#,
    );
    let b = h.connect("b:1");
    h.send(b, br#"{"type":"join","room":"lobby"}"#);
    h.advance(std::time::Duration::from_secs(2));
    assert_eq!(h.closed(a), Some(tcphub_core::CloseReason::IdleTimeout));
    assert_eq!(h.closed(b), Some(tcphub_core::CloseReason::IdleTimeout));
}
