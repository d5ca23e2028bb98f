//! Property tests over random operation sequences: the tables stay
//! consistent, queues are counted exactly, nobody stays paused once every
//! reader catches up, nothing reaches a closed session, and no input or
//! setting panics.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use proptest::prelude::*;
use tcphub_core::{AliasPolicy, CloseReason, Event, Hub, HubConfig, Output, SessionHandle};

#[derive(Debug, Clone)]
enum Op {
    Connect,
    /// Operations on "the n-th open session", modulo how many are open.
    Sync(usize, usize),
    Relay(usize, usize),
    RelayAll(usize),
    Raw(usize, Vec<u8>),
    Disconnect(usize),
    HostClose(usize),
    HostBroadcast,
    HostSend(usize),
    Advance(u64),
    /// The session's reader stops reporting writes.
    Stall(usize),
    /// The session's reader catches up and keeps up.
    Read(usize),
    /// The session's peer half-closes.
    Eof(usize),
    /// A host message large enough to back queues up.
    HostFlood,
}

const ALIASES: [&str; 5] = ["a", "b", "客户端", "*", "#bad"];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Connect),
        3 => (any::<usize>(), 0..ALIASES.len()).prop_map(|(s, a)| Op::Sync(s, a)),
        2 => (any::<usize>(), 0..ALIASES.len()).prop_map(|(s, a)| Op::Relay(s, a)),
        1 => any::<usize>().prop_map(Op::RelayAll),
        2 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 0..64)).prop_map(|(s, b)| Op::Raw(s, b)),
        1 => any::<usize>().prop_map(Op::Disconnect),
        1 => any::<usize>().prop_map(Op::HostClose),
        1 => Just(Op::HostBroadcast),
        1 => (0..ALIASES.len()).prop_map(Op::HostSend),
        1 => (0u64..3000).prop_map(Op::Advance),
        2 => any::<usize>().prop_map(Op::Stall),
        2 => any::<usize>().prop_map(Op::Read),
        1 => any::<usize>().prop_map(Op::Eof),
        1 => Just(Op::HostFlood),
    ]
}

fn policy() -> impl Strategy<Value = AliasPolicy> {
    prop_oneof![
        Just(AliasPolicy::Takeover),
        Just(AliasPolicy::Reject),
        Just(AliasPolicy::Share)
    ]
}

/// What the test knows independently of the hub's tables.
#[derive(Default)]
struct Observed {
    /// Opened and not yet closed, according to events.
    open: BTreeSet<SessionHandle>,
    closed: BTreeSet<SessionHandle>,
    /// Alias per session, according to Synced/Released events.
    aliases: BTreeMap<SessionHandle, String>,
    /// Sessions whose reader is stalled, and the bytes each has unread.
    stalled: BTreeMap<SessionHandle, usize>,
    /// Sessions the hub asked not to be read.
    paused: BTreeSet<SessionHandle>,
}

fn drain(hub: &mut Hub, now: Duration, seen: &mut Observed) -> Result<(), TestCaseError> {
    while let Some(output) = hub.poll_output() {
        match output {
            Output::Transmit {
                handle: session,
                frame,
            } => {
                prop_assert!(!seen.closed.contains(&session), "frame to closed {session}");
                prop_assert!(serde_json::from_slice::<serde_json::Value>(&frame).is_ok());
                match seen.stalled.get_mut(&session) {
                    Some(unread) => *unread += frame.len(),
                    // A session closed later in this same batch of outputs
                    // is already gone from the hub: its writes count for
                    // nothing, as for any driver.
                    None if hub.session(session).is_none() => {}
                    None => hub.handle_written(now, session, frame.len()).unwrap(),
                }
            }
            Output::Close {
                handle: session,
                farewell,
                ..
            } => {
                prop_assert!(!seen.closed.contains(&session), "closed twice {session}");
                prop_assert!(serde_json::from_slice::<serde_json::Value>(&farewell).is_ok());
                seen.stalled.remove(&session);
                seen.paused.remove(&session);
            }
            Output::Authenticate(request) => {
                prop_assert!(false, "authentication is off, yet asked: {request:?}");
            }
            Output::PauseReading { handle: session } => {
                prop_assert!(!seen.closed.contains(&session));
                prop_assert!(seen.paused.insert(session), "paused twice {session}");
            }
            Output::ResumeReading { handle: session } => {
                prop_assert!(!seen.closed.contains(&session));
                prop_assert!(seen.paused.remove(&session), "resumed unpaused {session}");
            }
            Output::Event(Event::Opened {
                handle: session, ..
            }) => {
                prop_assert!(seen.open.insert(session));
            }
            Output::Event(Event::Closed {
                handle: session, ..
            }) => {
                prop_assert!(seen.open.remove(&session));
                prop_assert!(
                    !seen.aliases.contains_key(&session),
                    "closed while holding an alias"
                );
                seen.closed.insert(session);
                seen.stalled.remove(&session);
                seen.paused.remove(&session);
            }
            Output::Event(Event::Synced {
                handle: session,
                alias,
                ..
            }) => {
                prop_assert!(seen.aliases.insert(session, alias.to_string()).is_none());
            }
            Output::Event(Event::Released {
                handle: session,
                alias,
                ..
            }) => {
                prop_assert_eq!(seen.aliases.remove(&session), Some(alias.to_string()));
            }
            Output::Event(_) => {}
        }
    }
    Ok(())
}

/// Queues are counted exactly, pauses match what the driver was told, and
/// no queue outgrows the hard cap.
fn check_flow(hub: &Hub, seen: &Observed) -> Result<(), TestCaseError> {
    let config = hub.config();
    for s in hub.sessions() {
        let queued = hub.queued_bytes(s.handle).unwrap();
        prop_assert_eq!(queued, seen.stalled.get(&s.handle).copied().unwrap_or(0));
        prop_assert!(queued <= config.max_queued_bytes, "{queued} over the cap");
        prop_assert_eq!(
            hub.is_reading_paused(s.handle),
            Some(seen.paused.contains(&s.handle))
        );
    }
    Ok(())
}

fn check_tables(hub: &Hub, policy: AliasPolicy, seen: &Observed) -> Result<(), TestCaseError> {
    let open: BTreeSet<SessionHandle> = hub.sessions().map(|s| s.handle).collect();
    prop_assert_eq!(&open, &seen.open, "session table vs events");
    for s in hub.sessions() {
        prop_assert_eq!(
            s.alias.map(|a| a.to_string()),
            seen.aliases.get(&s.handle).cloned()
        );
        if let Some(alias) = s.alias {
            prop_assert!(hub.alias_holders(alias.as_str()).contains(&s.handle));
        }
    }
    for alias in ALIASES {
        let holders = hub.alias_holders(alias);
        if policy != AliasPolicy::Share {
            prop_assert!(
                holders.len() <= 1,
                "{alias} held by {holders:?} under {policy}"
            );
        }
        for id in holders {
            let session = hub.session(*id);
            prop_assert!(session.is_some(), "holder {id} of {alias} is not open");
            prop_assert_eq!(session.unwrap().alias.map(|a| a.as_str()), Some(alias));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn tables_stay_consistent(policy in policy(), ops in proptest::collection::vec(op(), 1..80)) {
        let config = HubConfig {
            alias_policy: policy,
            max_sessions: 6,
            max_frame_len: 256,
            idle_timeout: Some(Duration::from_secs(5)),
            high_watermark: 300,
            low_watermark: 100,
            max_queued_bytes: 2048,
            write_deadline: Some(Duration::from_secs(2)),
            frame_timeout: Some(Duration::from_secs(1)),
            ..HubConfig::default()
        };
        let mut hub = Hub::new(config).unwrap();
        let mut seen = Observed::default();
        let mut now = Duration::ZERO;
        let mut next_port = 0u32;
        for op in ops {
            let open: Vec<SessionHandle> = hub.sessions().map(|s| s.handle).collect();
            let pick = |n: usize| (!open.is_empty()).then(|| open[n % open.len()]);
            match op {
                Op::Connect => {
                    next_port += 1;
                    hub.handle_accept(now, &format!("10.0.0.1:{next_port}")).unwrap();
                }
                Op::Sync(s, a) => if let Some(id) = pick(s) {
                    hub.handle_data(now, id, &tcphub_core::encode_sync(ALIASES[a])).unwrap();
                },
                Op::Relay(s, a) => if let Some(id) = pick(s) {
                    let msg = serde_json::value::RawValue::from_string("[1]".into()).unwrap();
                    hub.handle_data(now, id, &tcphub_core::encode_info(Some(ALIASES[a]), &msg)).unwrap();
                },
                Op::RelayAll(s) => if let Some(id) = pick(s) {
                    hub.handle_data(now, id, br#"{"type":"info","to":"*","message":0}"#).unwrap();
                },
                Op::Raw(s, bytes) => if let Some(id) = pick(s) {
                    hub.handle_data(now, id, &bytes).unwrap();
                },
                Op::Disconnect(s) => if let Some(id) = pick(s) {
                    hub.handle_close(now, id).unwrap();
                },
                Op::HostClose(s) => if let Some(id) = pick(s) {
                    hub.close_session(id, CloseReason::ClosedByHost).unwrap();
                },
                Op::HostBroadcast => {
                    prop_assert_eq!(hub.broadcast("all").unwrap(), open.len());
                }
                Op::HostSend(a) => {
                    let holders = hub.alias_holders(ALIASES[a]).len();
                    match hub.send_to_alias(ALIASES[a], &1) {
                        Ok(n) => prop_assert_eq!(n, holders),
                        Err(_) => prop_assert_eq!(holders, 0),
                    }
                }
                Op::Advance(ms) => {
                    now += Duration::from_millis(ms);
                    hub.handle_timeout(now).unwrap();
                }
                Op::Stall(s) => if let Some(id) = pick(s) {
                    seen.stalled.entry(id).or_insert(0);
                },
                Op::Read(s) => if let Some(id) = pick(s) {
                    if let Some(unread) = seen.stalled.remove(&id) {
                        hub.handle_written(now, id, unread).unwrap();
                    }
                },
                Op::Eof(s) => if let Some(id) = pick(s) {
                    hub.handle_eof(now, id).unwrap();
                },
                Op::HostFlood => {
                    hub.broadcast(&"x".repeat(200)).unwrap();
                }
            }
            drain(&mut hub, now, &mut seen)?;
            check_tables(&hub, policy, &seen)?;
            check_flow(&hub, &seen)?;
            if let Some(deadline) = hub.poll_timeout() {
                prop_assert!(deadline > now, "a passed deadline was left unhandled");
            }
        }
        // Once every reader catches up, nobody is left paused: every
        // wait was released, and input kept meanwhile was processed.
        let stalled: Vec<(SessionHandle, usize)> = std::mem::take(&mut seen.stalled).into_iter().collect();
        for (id, unread) in stalled {
            if hub.session(id).is_some() {
                hub.handle_written(now, id, unread).unwrap();
            }
            drain(&mut hub, now, &mut seen)?;
        }
        check_flow(&hub, &seen)?;
        prop_assert!(seen.paused.is_empty(), "still paused: {:?}", seen.paused);
    }

    #[test]
    fn extreme_settings_and_times_never_panic(
        sizes in proptest::collection::vec(prop_oneof![Just(0usize), Just(1), Just(255), Just(256), Just(1 << 20), Just(usize::MAX / 2), Just(usize::MAX)], 6),
        durations in proptest::collection::vec(prop_oneof![Just(None), Just(Some(Duration::ZERO)), Just(Some(Duration::from_nanos(1))), Just(Some(Duration::from_secs(u64::MAX / 2))), Just(Some(Duration::MAX))], 3),
        steps in proptest::collection::vec(prop_oneof![Just(Duration::ZERO), Just(Duration::from_nanos(1)), Just(Duration::from_secs(1)), Just(Duration::MAX / 2), Just(Duration::MAX)], 1..8),
    ) {
        let config = HubConfig {
            max_frame_len: sizes[0],
            max_sessions: sizes[1],
            high_watermark: sizes[2],
            low_watermark: sizes[3],
            max_queued_bytes: sizes[4],
            max_list_rows: sizes[5],
            idle_timeout: durations[0],
            write_deadline: durations[1],
            frame_timeout: durations[2],
            ..HubConfig::default()
        };
        let Ok(mut hub) = Hub::new(config) else {
            return Ok(());
        };
        let mut now = Duration::ZERO;
        let id = hub.handle_accept(now, "x:1").unwrap();
        hub.handle_data(now, id, br#"{"type":"sync","clientName":"a"}{"type":"list","limit":99999999999999999999}{"type":"info","to":"a","message":1}{"partial""#).unwrap();
        for step in steps {
            now = now.saturating_add(step);
            hub.handle_timeout(now).unwrap();
            let _ = hub.handle_written(now, id, usize::MAX);
            let _ = hub.broadcast("x");
            while hub.poll_output().is_some() {}
            if let Some(deadline) = hub.poll_timeout() {
                prop_assert!(deadline > now, "a passed deadline was left unhandled");
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 1..20)) {
        let mut hub = Hub::new(HubConfig { max_frame_len: 512, ..HubConfig::default() }).unwrap();
        let id = hub.handle_accept(Duration::ZERO, "x:1").unwrap();
        for chunk in &chunks {
            // An Err here only means the session was closed (frame too large).
            if hub.handle_data(Duration::ZERO, id, chunk).is_err() {
                prop_assert!(hub.session(id).is_none());
            }
            while let Some(out) = hub.poll_output() {
                if let Output::Transmit { frame, .. } = out {
                    prop_assert!(serde_json::from_slice::<serde_json::Value>(&frame).is_ok());
                }
            }
        }
    }

    #[test]
    fn json_like_bytes_never_panic(text in r#"[{}\[\]":,a-z0-9 \n\\]{0,300}"#) {
        let mut hub = Hub::new(HubConfig::default()).unwrap();
        let id = hub.handle_accept(Duration::ZERO, "x:1").unwrap();
        hub.handle_data(Duration::ZERO, id, text.as_bytes()).unwrap();
        while hub.poll_output().is_some() {}
        prop_assert!(hub.session(id).is_some(), "nothing under the frame limit closes a session");
    }

    #[test]
    fn the_hash_seed_changes_nothing_the_hub_sends(
        policy in policy(),
        seed in 1u64..,
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        prop_assert_eq!(transcript(policy, 0, &ops), transcript(policy, seed, &ops));
    }
}

/// Everything a hub with this seed puts out for `ops` (readers keep up).
fn transcript(policy: AliasPolicy, hash_seed: u64, ops: &[Op]) -> Vec<String> {
    let mut hub = Hub::new(HubConfig {
        alias_policy: policy,
        max_sessions: 6,
        hash_seed,
        ..HubConfig::default()
    })
    .unwrap();
    let now = Duration::ZERO;
    let mut out = Vec::new();
    for (port, op) in ops.iter().enumerate() {
        let open: Vec<SessionHandle> = hub.sessions().map(|s| s.handle).collect();
        let pick = |n: usize| (!open.is_empty()).then(|| open[n % open.len()]);
        let message = serde_json::value::RawValue::from_string("[1]".into()).unwrap();
        let sent = match op {
            Op::Connect => hub
                .handle_accept(now, &format!("10.0.0.1:{port}"))
                .map(|_| ()),
            Op::Sync(s, a) => pick(*s).map_or(Ok(()), |id| {
                hub.handle_data(now, id, &tcphub_core::encode_sync(ALIASES[*a]))
            }),
            Op::Relay(s, a) => pick(*s).map_or(Ok(()), |id| {
                hub.handle_data(
                    now,
                    id,
                    &tcphub_core::encode_info(Some(ALIASES[*a]), &message),
                )
            }),
            Op::Raw(s, bytes) => pick(*s).map_or(Ok(()), |id| hub.handle_data(now, id, bytes)),
            Op::Disconnect(s) => pick(*s).map_or(Ok(()), |id| hub.handle_close(now, id)),
            Op::HostSend(a) => hub.send_to_alias(ALIASES[*a], &1).map(|_| ()),
            _ => Ok(()),
        };
        out.push(format!("{sent:?}"));
        while let Some(output) = hub.poll_output() {
            if let Output::Transmit { handle, frame } = &output {
                hub.handle_written(now, *handle, frame.len()).unwrap();
            }
            out.push(format!("{output:?}"));
        }
    }
    out
}
