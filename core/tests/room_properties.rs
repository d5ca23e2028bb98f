//! Property tests for rooms and presence under random operations: room
//! membership as the hub keeps it, as its events report it and as each
//! session sees it agree; a room message reaches exactly the other
//! members; presence frames never describe their watcher and tell each
//! alias's story in order.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::Harness;
use proptest::prelude::*;
use tcphub_core::{AliasPolicy, Event, HubConfig, HubFrame, SessionHandle};

#[derive(Debug, Clone)]
enum Op {
    Connect,
    /// Operations on "the n-th open session but the observer".
    Sync(usize, usize),
    SyncWithWill(usize, usize, usize),
    Join(usize, usize),
    Leave(usize, usize),
    Say(usize, usize),
    WatchRoom(usize, usize),
    WatchAlias(usize, usize),
    Unwatch(usize),
    HostJoin(usize, usize),
    HostLeave(usize, usize),
    HostSay(usize),
    Bye(usize),
    Disconnect(usize),
    Stall(usize),
    Read(usize),
    Advance(u64),
    /// The host falls behind on events, or catches up.
    HostBehind(bool),
}

const ALIASES: [&str; 4] = ["a", "b", "c", "*"];
const ROOMS: [&str; 4] = ["lobby", "ops", "大厅", "#bad"];

fn op() -> impl Strategy<Value = Op> {
    let s = any::<usize>;
    let room = || 0..ROOMS.len();
    let alias = || 0..ALIASES.len();
    prop_oneof![
        3 => Just(Op::Connect),
        2 => (s(), alias()).prop_map(|(s, a)| Op::Sync(s, a)),
        1 => (s(), alias(), room()).prop_map(|(s, a, r)| Op::SyncWithWill(s, a, r)),
        4 => (s(), room()).prop_map(|(s, r)| Op::Join(s, r)),
        2 => (s(), room()).prop_map(|(s, r)| Op::Leave(s, r)),
        4 => (s(), room()).prop_map(|(s, r)| Op::Say(s, r)),
        1 => (s(), room()).prop_map(|(s, r)| Op::WatchRoom(s, r)),
        1 => (s(), alias()).prop_map(|(s, a)| Op::WatchAlias(s, a)),
        1 => s().prop_map(Op::Unwatch),
        1 => (s(), room()).prop_map(|(s, r)| Op::HostJoin(s, r)),
        1 => (s(), room()).prop_map(|(s, r)| Op::HostLeave(s, r)),
        1 => room().prop_map(Op::HostSay),
        1 => s().prop_map(Op::Bye),
        1 => s().prop_map(Op::Disconnect),
        1 => s().prop_map(Op::Stall),
        1 => s().prop_map(Op::Read),
        1 => (0u64..3000).prop_map(Op::Advance),
        1 => any::<bool>().prop_map(Op::HostBehind),
    ]
}

/// Room membership according to the hub's events alone.
#[derive(Default)]
struct Membership(BTreeMap<String, BTreeSet<SessionHandle>>);

impl Membership {
    fn follow(&mut self, events: &[Event]) {
        for event in events {
            match event {
                Event::Joined { handle, room, .. } => {
                    assert!(
                        self.0.entry(room.to_string()).or_default().insert(*handle),
                        "joined twice"
                    );
                }
                Event::Left { handle, room, .. } => {
                    let members = self
                        .0
                        .get_mut(room.as_str())
                        .expect("left a room it was in");
                    assert!(members.remove(handle));
                }
                Event::Closed { handle, .. } => {
                    for members in self.0.values_mut() {
                        members.remove(handle);
                    }
                }
                _ => {}
            }
        }
        self.0.retain(|_, members| !members.is_empty());
    }
}

/// Whether each (alias, session id) is up, according to one watcher of
/// every alias.
#[derive(Default)]
struct AliasStory(BTreeSet<(String, String)>);

impl AliasStory {
    fn follow(&mut self, frames: &[HubFrame]) -> Result<(), TestCaseError> {
        for frame in frames {
            let HubFrame::Presence {
                event,
                alias,
                session_id,
                ..
            } = frame
            else {
                continue;
            };
            let Some(alias) = alias else { continue };
            let key = (alias.clone(), session_id.clone());
            match event.as_str() {
                "synced" => prop_assert!(self.0.insert(key), "synced twice: {alias} {session_id}"),
                "released" | "taken_over" | "closed" => {
                    prop_assert!(
                        self.0.remove(&key),
                        "{event} without synced: {alias} {session_id}"
                    )
                }
                // Joined and left reach room watchers only.
                other => prop_assert!(false, "{other} for an alias watcher"),
            }
        }
        Ok(())
    }
}

fn check(h: &Harness, membership: &Membership) -> Result<(), TestCaseError> {
    let rooms: BTreeMap<String, BTreeSet<SessionHandle>> = h
        .hub
        .rooms()
        .map(|(room, count)| {
            let members: BTreeSet<_> = h
                .hub
                .room_members(room.as_str())
                .map(|s| s.handle)
                .collect();
            assert_eq!(members.len(), count);
            (room.to_string(), members)
        })
        .collect();
    prop_assert_eq!(&rooms, &membership.0, "hub vs events");
    for session in h.hub.sessions() {
        let own: BTreeSet<String> = session.rooms.iter().map(|r| r.to_string()).collect();
        let listed: BTreeSet<String> = rooms
            .iter()
            .filter(|(_, m)| m.contains(&session.handle))
            .map(|(r, _)| r.clone())
            .collect();
        prop_assert_eq!(own, listed, "session {} vs table", session.handle);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn rooms_and_presence_hold_their_invariants(
        share in any::<bool>(),
        observe in any::<bool>(),
        ops in proptest::collection::vec(op(), 1..100),
    ) {
        let mut h = Harness::new(HubConfig {
            alias_policy: if share { AliasPolicy::Share } else { AliasPolicy::Takeover },
            max_rooms_per_session: 2,
            observe,
            high_watermark: 2048,
            low_watermark: 512,
            ..HubConfig::default()
        });
        let observer = h.connect("observer:1");
        h.send(observer, br#"{"type":"watch"}"#);
        h.take(observer);
        let mut membership = Membership::default();
        let mut story = AliasStory::default();
        let mut said = 0u64;
        let mut connected = 0u32;
        for op in ops {
            let others: Vec<SessionHandle> =
                h.hub.sessions().map(|s| s.handle).filter(|&s| s != observer).collect();
            let pick = |n: usize| (!others.is_empty()).then(|| others[n % others.len()]);
            let mut room_message = None;
            match op {
                Op::Connect => {
                    connected += 1;
                    h.connect(&format!("10.0.0.{connected}:1"));
                }
                Op::Sync(s, a) => if let Some(s) = pick(s) { h.sync(s, ALIASES[a]) },
                Op::SyncWithWill(s, a, r) => if let Some(s) = pick(s) {
                    let frame = format!(
                        r#"{{"type":"sync","clientName":"{}","lastWill":{{"room":"{}","message":"will"}}}}"#,
                        ALIASES[a], ROOMS[r]
                    );
                    h.send(s, frame.as_bytes());
                },
                Op::Join(s, r) => if let Some(s) = pick(s) {
                    h.send(s, format!(r#"{{"type":"join","room":"{}"}}"#, ROOMS[r]).as_bytes());
                },
                Op::Leave(s, r) => if let Some(s) = pick(s) {
                    h.send(s, format!(r#"{{"type":"leave","room":"{}"}}"#, ROOMS[r]).as_bytes());
                },
                Op::Say(s, r) => if let Some(s) = pick(s) {
                    said += 1;
                    let paused = h.hub.is_reading_paused(s) == Some(true);
                    let expected: BTreeSet<SessionHandle> = membership.0.get(ROOMS[r])
                        .map(|m| m.iter().copied().filter(|&m| m != s).collect())
                        .unwrap_or_default();
                    let before: BTreeMap<SessionHandle, usize> =
                        h.inboxes.iter().map(|(id, i)| (*id, i.frames.len())).collect();
                    h.send(s, format!(r#"{{"type":"info","room":"{}","message":{said}}}"#, ROOMS[r]).as_bytes());
                    if !paused {
                        room_message = Some((said, expected, before));
                    }
                },
                Op::WatchRoom(s, r) => if let Some(s) = pick(s) {
                    h.send(s, format!(r#"{{"type":"watch","room":"{}"}}"#, ROOMS[r]).as_bytes());
                },
                Op::WatchAlias(s, a) => if let Some(s) = pick(s) {
                    h.send(s, format!(r#"{{"type":"watch","aliases":["{}"]}}"#, ALIASES[a]).as_bytes());
                },
                Op::Unwatch(s) => if let Some(s) = pick(s) { h.send(s, br#"{"type":"unwatch"}"#) },
                Op::HostJoin(s, r) => if let Some(s) = pick(s) {
                    let _ = h.hub.join_room(s, ROOMS[r]);
                    h.drain();
                },
                Op::HostLeave(s, r) => if let Some(s) = pick(s) {
                    let _ = h.hub.leave_room(s, ROOMS[r]);
                    h.drain();
                },
                Op::HostSay(r) => {
                    let _ = h.hub.send_to_room(ROOMS[r], "host");
                    h.drain();
                }
                Op::Bye(s) => if let Some(s) = pick(s) { h.send(s, br#"{"type":"bye"}"#) },
                Op::Disconnect(s) => if let Some(s) = pick(s) { h.disconnect(s) },
                Op::Stall(s) => if let Some(s) = pick(s) { h.stall(s) },
                Op::Read(s) => if let Some(s) = pick(s) { h.read(s) },
                Op::Advance(ms) => h.advance(Duration::from_millis(ms)),
                Op::HostBehind(behind) => {
                    h.hub.handle_host_backlog(behind);
                    h.drain();
                }
            }
            membership.follow(&h.take_events());
            check(&h, &membership)?;
            if let Some((n, expected, before)) = room_message {
                let got: BTreeSet<SessionHandle> = h.inboxes.iter()
                    .filter(|(id, inbox)| inbox.frames[before.get(id).copied().unwrap_or(0)..].iter().any(|f| matches!(
                        f,
                        HubFrame::Info { room: Some(_), message, last_will: false, .. } if *message == serde_json::json!(n)
                    )))
                    .map(|(id, _)| *id)
                    .collect();
                prop_assert_eq!(got, expected, "room message {}", n);
            }
            // Presence never describes its own watcher.
            for (id, inbox) in &h.inboxes {
                let own = h.hub.session(*id).map(|s| s.session_id.to_string());
                for frame in &inbox.frames {
                    if let HubFrame::Presence { session_id, .. } = frame {
                        prop_assert!(Some(session_id) != own.as_ref(), "{id} told about itself");
                    }
                }
            }
            let observed = h.take(observer);
            story.follow(&observed)?;
        }
        // Once the host catches up and every reader reads, nobody waits.
        h.hub.handle_host_backlog(false);
        h.drain();
        let stalled: Vec<SessionHandle> = h.stalled.iter().copied().collect();
        for id in stalled {
            h.read(id);
        }
        for session in h.hub.sessions() {
            prop_assert_eq!(h.hub.is_reading_paused(session.handle), Some(false), "{} still paused", session.handle);
        }
        let observed = h.take(observer);
        story.follow(&observed)?;
        // Every alias up in the watcher's story is held now, and the other
        // way round.
        let held: BTreeSet<(String, String)> = h.hub.sessions()
            .filter_map(|s| s.alias.map(|a| (a.to_string(), s.session_id.to_string())))
            .collect();
        prop_assert_eq!(story.0, held);
    }
}
