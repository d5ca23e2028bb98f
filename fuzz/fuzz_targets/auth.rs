//! Fuzzes a hub with authentication on: arbitrary bytes and `sync`s with
//! arbitrary tokens from sessions on a few addresses, the driver's answers
//! granted under arbitrary identities and permissions (patterns included),
//! denied, late or never given, time passing, closes and half-closes.
//!
//! Invariants checked after every step:
//! - no panic, and no `Err` but the driver's own misuse (none here);
//! - no output names a session after its close, none is closed twice, and
//!   pauses and resumes alternate;
//! - every holder of an alias was granted that alias under the identity it
//!   holds it as, and an alias's holders share one identity;
//! - a session holding no grant is never the sender of a relayed frame;
//! - a question is answered at most once: a second answer, or one after
//!   its session closed, is reported as not wanted.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tcphub_core::{
    AliasPattern, AliasPolicy, AuthDecision, AuthRequest, Grant, Hub, HubConfig, HubFrame, Output,
    Permissions, SessionHandle,
};

#[derive(Debug, Arbitrary)]
enum Step {
    Connect {
        address: u8,
    },
    Data {
        session: u8,
        bytes: Vec<u8>,
    },
    Sync {
        session: u8,
        alias: u8,
        token: String,
    },
    Grant {
        request: u8,
        identity: u8,
        patterns: Vec<String>,
        broadcast: bool,
        list: bool,
    },
    Deny {
        request: u8,
    },
    /// Answers a question already answered (or forgotten) again.
    AnswerAgain {
        request: u8,
    },
    Advance {
        ms: u16,
    },
    Eof {
        session: u8,
    },
    Close {
        session: u8,
    },
}

#[derive(Debug, Arbitrary)]
struct Input {
    policy: u8,
    auth_timeout_ms: u16,
    steps: Vec<Step>,
}

const ALIASES: [&str; 3] = ["A", "B", "Client-1"];

#[derive(Default)]
struct Driver {
    now: Duration,
    sessions: Vec<SessionHandle>,
    closed: BTreeSet<SessionHandle>,
    paused: BTreeSet<SessionHandle>,
    open_questions: Vec<AuthRequest>,
    answered: Vec<AuthRequest>,
    /// Every (alias, identity) each session was granted.
    grants: BTreeMap<SessionHandle, Vec<(String, String)>>,
    /// Aliases of sessions the hub has confirmed with `synced`, by session.
    senders: BTreeSet<String>,
}

impl Driver {
    fn pick(&self, i: u8) -> Option<SessionHandle> {
        let open: Vec<SessionHandle> = self
            .sessions
            .iter()
            .copied()
            .filter(|s| !self.closed.contains(s))
            .collect();
        (!open.is_empty()).then(|| open[usize::from(i) % open.len()])
    }

    fn drain(&mut self, hub: &mut Hub) {
        while let Some(output) = hub.poll_output() {
            match output {
                Output::Transmit { handle, frame } => {
                    assert!(!self.closed.contains(&handle), "frame to closed {handle}");
                    let parsed = HubFrame::parse(&frame).expect("hub frames parse");
                    match parsed {
                        HubFrame::Synced { client_name, .. } => {
                            self.senders.insert(client_name);
                        }
                        HubFrame::Info { from, .. } => assert!(
                            from == "#hub" || self.senders.contains(&from),
                            "a relay from {from:?}, never granted"
                        ),
                        _ => {}
                    }
                    if hub.session(handle).is_some() {
                        hub.handle_written(self.now, handle, frame.len()).unwrap();
                    }
                }
                Output::Close { handle, .. } => {
                    assert!(self.closed.insert(handle), "closed twice: {handle}");
                    self.paused.remove(&handle);
                }
                Output::PauseReading { handle } => {
                    assert!(!self.closed.contains(&handle));
                    assert!(self.paused.insert(handle), "paused twice: {handle}");
                }
                Output::ResumeReading { handle } => {
                    assert!(!self.closed.contains(&handle));
                    assert!(self.paused.remove(&handle), "resumed unpaused: {handle}");
                }
                Output::Authenticate(request) => {
                    assert!(!self.closed.contains(&request.handle));
                    self.open_questions.push(request);
                }
                Output::Event(tcphub_core::Event::Closed { handle, .. }) => {
                    self.closed.insert(handle);
                    self.paused.remove(&handle);
                }
                Output::Event(_) => {}
            }
        }
    }

    fn check(&self, hub: &Hub) {
        for alias in ALIASES {
            let mut identities = BTreeSet::new();
            for holder in hub.alias_holders(alias) {
                let info = hub.session(*holder).expect("holders are open");
                let identity = info.identity.expect("holders authenticated");
                identities.insert(identity.to_owned());
                let grants = self
                    .grants
                    .get(holder)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                assert!(
                    grants.iter().any(|(a, i)| a == alias && i == identity),
                    "{holder} holds {alias} as {identity}, granted {grants:?}"
                );
            }
            assert!(identities.len() <= 1, "{alias} held by {identities:?}");
        }
    }
}

fn permissions(patterns: &[String], broadcast: bool, list: bool) -> Permissions {
    let relay: Vec<AliasPattern> = patterns
        .iter()
        .take(4)
        .filter_map(|p| AliasPattern::new(p).ok())
        .collect();
    Permissions {
        relay,
        broadcast,
        list,
    }
}

fuzz_target!(|input: Input| {
    let config = HubConfig {
        authentication: true,
        alias_policy: match input.policy % 3 {
            0 => AliasPolicy::Takeover,
            1 => AliasPolicy::Share,
            _ => AliasPolicy::Reject,
        },
        auth_timeout: Duration::from_millis(1 + u64::from(input.auth_timeout_ms % 5000)),
        max_frame_len: 4096,
        ..HubConfig::default()
    };
    let mut hub = Hub::new(config).unwrap();
    let mut d = Driver::default();
    let mut port = 0u32;
    for step in input.steps.into_iter().take(200) {
        match step {
            Step::Connect { address } => {
                port += 1;
                let peer = format!("10.0.0.{}:{port}", address % 4);
                let handle = hub.handle_accept(d.now, &peer).unwrap();
                d.sessions.push(handle);
            }
            Step::Data { session, bytes } => {
                if let Some(s) = d.pick(session) {
                    hub.handle_data(d.now, s, &bytes).unwrap();
                }
            }
            Step::Sync {
                session,
                alias,
                token,
            } => {
                if let Some(s) = d.pick(session) {
                    let alias = ALIASES[usize::from(alias) % ALIASES.len()];
                    let frame = tcphub_core::encode_sync_request(alias, Some(&token), None);
                    hub.handle_data(d.now, s, &frame).unwrap();
                }
            }
            Step::Grant {
                request,
                identity,
                patterns,
                broadcast,
                list,
            } => {
                if d.open_questions.is_empty() {
                    continue;
                }
                let i = usize::from(request) % d.open_questions.len();
                let request = d.open_questions.remove(i);
                let identity = ["alice", "bob"][usize::from(identity % 2)];
                let grant = Grant {
                    identity: Some(Arc::from(identity)),
                    permissions: permissions(&patterns, broadcast, list),
                };
                let wanted = hub
                    .handle_auth_decision(d.now, request.id, AuthDecision::Grant(grant))
                    .unwrap();
                if wanted {
                    d.grants
                        .entry(request.handle)
                        .or_default()
                        .push((request.alias.to_string(), identity.to_owned()));
                }
                d.answered.push(request);
            }
            Step::Deny { request } => {
                if d.open_questions.is_empty() {
                    continue;
                }
                let i = usize::from(request) % d.open_questions.len();
                let request = d.open_questions.remove(i);
                hub.handle_auth_decision(d.now, request.id, AuthDecision::Deny)
                    .unwrap();
                d.answered.push(request);
            }
            Step::AnswerAgain { request } => {
                if d.answered.is_empty() {
                    continue;
                }
                let i = usize::from(request) % d.answered.len();
                let id = d.answered[i].id;
                let wanted = hub
                    .handle_auth_decision(d.now, id, AuthDecision::Grant(Grant::allow_all()))
                    .unwrap();
                assert!(!wanted, "{id} was answered already");
            }
            Step::Advance { ms } => {
                d.now += Duration::from_millis(u64::from(ms));
                hub.handle_timeout(d.now).unwrap();
                // Every deadline due was acted on: none is left in the
                // past for a driver to spin on.
                assert!(hub.poll_timeout().is_none_or(|at| at > d.now));
            }
            Step::Eof { session } => {
                if let Some(s) = d.pick(session) {
                    hub.handle_eof(d.now, s).unwrap();
                }
            }
            Step::Close { session } => {
                if let Some(s) = d.pick(session) {
                    hub.handle_close(d.now, s).unwrap();
                    d.closed.insert(s);
                    d.paused.remove(&s);
                }
            }
        }
        d.drain(&mut hub);
        d.check(&hub);
    }
});
