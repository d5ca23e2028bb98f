//! The simulator: a [`Hub`] driven the way the native server drives it,
//! with virtual clients on the other end of a virtual network.
//!
//! Rules of the run:
//! - One thing happens per [`Simulator::step`]: a piece of data (or the end
//!   of a stream) arrives, the hub's idle timer fires, a step of the script
//!   runs, or the clock moves on to the end of a `wait`.
//! - The earliest comes first; at equal times, arrivals, then the timer,
//!   then the script, then the clock.
//! - A step with an `at` runs at that time, whatever is in flight, as a
//!   real program acting on a timer would. A step without one waits until
//!   nothing is in flight. In a script whose timed steps are further apart
//!   than the longest delay, split, join and delay faults change when
//!   things happen, never what reaches whom; drops and stalls change the
//!   story on purpose.
//! - Every routing decision is the hub's. The simulator only carries bytes,
//!   cuts them where the seed says, and reads what the hub outputs.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::value::{to_raw_value, RawValue};
use tcphub_core::{
    encode_info, encode_list, encode_ping, encode_sync, CloseReason, Event, Hub, HubError, Output,
    SessionId,
};

use super::connection::{virtual_addr, Client, Connection};
use super::network::{End, Network, Piece};
use super::rng::SimRng;
use super::scenario::{Action, FaultSettings, NetworkSettings, Scenario, Step};
use super::trace::{Direction, Entry, Stats, Trace, WireBytes};
use super::view::{ClientView, SessionView, StateView};
use super::SimError;

/// A deterministic run of one [`Scenario`].
#[derive(Debug)]
pub struct Simulator {
    /// As loaded, for [`Simulator::scenario`] and resets.
    scenario: Scenario,
    hub: Hub,
    rng: SimRng,
    /// Virtual time, ms.
    now: u64,
    /// The clock runs on to here after a `wait`, even with nothing to do.
    hold_until: u64,
    faults: FaultSettings,
    network_settings: NetworkSettings,
    clients: Vec<Client>,
    client_by_name: BTreeMap<String, usize>,
    connections: Vec<Connection>,
    /// Connection index by session handle (handles count up from 1).
    connection_of_session: Vec<Option<usize>>,
    network: Network,
    /// Steps asked for while running (clicks): they go before the script.
    interactive: VecDeque<Step>,
    /// What is left of the script.
    script: VecDeque<Step>,
    /// Steps run so far, each with the time it ran at.
    executed: Vec<Step>,
    trace: Trace,
    stats: Stats,
}

/// What [`Simulator::step`] chose to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    Arrival,
    Timer(u64),
    Script(u64),
    Clock(u64),
}

impl Simulator {
    /// A simulator at time 0 with the scenario's script queued.
    pub fn new(scenario: Scenario) -> Result<Self, SimError> {
        let hub = Hub::new(scenario.hub.to_config()?)?;
        scenario.faults.validate()?;
        Ok(Simulator {
            rng: SimRng::new(scenario.seed),
            hub,
            now: 0,
            hold_until: 0,
            faults: scenario.faults.clone(),
            network_settings: scenario.network.clone(),
            clients: Vec::new(),
            client_by_name: BTreeMap::new(),
            connections: Vec::new(),
            connection_of_session: Vec::new(),
            network: Network::default(),
            interactive: VecDeque::new(),
            script: scenario.steps.iter().cloned().collect(),
            executed: Vec::new(),
            trace: Trace::new(scenario.trace),
            stats: Stats::default(),
            scenario,
        })
    }

    /// Parses a scenario and starts it.
    pub fn from_json(json: &str) -> Result<Self, SimError> {
        Self::new(Scenario::from_json(json)?)
    }

    // ----- getters -----

    /// Virtual time, ms.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// The trace so far.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The hub being driven, for reading its state.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Whether nothing is left to happen.
    pub fn is_done(&self) -> bool {
        self.next().is_none()
    }

    /// The scenario as loaded.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The run so far as a scenario that replays it: the steps run, with
    /// the times they ran at, then what is still queued.
    pub fn recorded_scenario(&self) -> Scenario {
        let mut scenario = self.scenario.clone();
        scenario.steps = self
            .executed
            .iter()
            .chain(&self.interactive)
            .chain(&self.script)
            .cloned()
            .collect();
        scenario
    }

    /// The clients, the hub's sessions and the counters, for display.
    pub fn state(&self) -> StateView {
        let clients = self
            .clients
            .iter()
            .map(|client| {
                let connection = client.current.map(|c| &self.connections[c]);
                let session = connection
                    .filter(|c| c.hub_open)
                    .and_then(|c| self.hub.session(c.session));
                ClientView {
                    name: client.name.clone(),
                    addr: connection.map(|c| c.addr.to_string()),
                    connected: connection.is_some(),
                    alias: session.and_then(|s| s.alias).map(|a| a.to_string()),
                    reading: connection.is_some_and(|c| c.reading),
                    unread: connection.map_or(0, |c| c.unread.len()),
                    queued: connection.map_or(0, |c| c.queued),
                }
            })
            .collect();
        let sessions = self
            .hub
            .sessions()
            .map(|s| SessionView {
                session: s.id.0,
                session_id: s.peer.to_string(),
                alias: s.alias.map(|a| a.to_string()),
                client: self
                    .connection_index(s.id)
                    .map(|c| self.clients[self.connections[c].client].name.clone()),
            })
            .collect();
        StateView {
            now: self.now,
            done: self.is_done(),
            in_flight: self.network.in_flight(),
            queued_steps: self.interactive.len() + self.script.len(),
            faults: self.faults.enabled,
            clients,
            sessions,
            stats: self.stats,
        }
    }

    // ----- driving -----

    /// Queues a step to run as soon as the network settles, before the rest
    /// of the script (a click on the page).
    pub fn act(&mut self, action: Action) {
        self.interactive.push_back(Step::now(action));
    }

    /// Does the next thing; `false` when nothing is left.
    pub fn step(&mut self) -> bool {
        let Some(next) = self.next() else {
            return false;
        };
        match next {
            Next::Arrival => {
                let arrival = self
                    .network
                    .pop()
                    .expect("next() saw an arrival in the queue");
                self.now = self.now.max(arrival.time);
                self.arrive(arrival.conn, arrival.dir);
            }
            Next::Timer(at) => {
                self.now = self.now.max(at);
                self.hub_call(|hub, now| hub.handle_timeout(now));
                self.drain();
            }
            Next::Script(at) => {
                self.now = self.now.max(at);
                let step = match self.interactive.pop_front() {
                    Some(step) => step,
                    None => self.script.pop_front().expect("next() saw a step"),
                };
                self.run_step(step.action);
            }
            Next::Clock(at) => self.now = self.now.max(at),
        }
        true
    }

    /// Runs up to `max_steps` steps; returns how many ran.
    pub fn run(&mut self, max_steps: u64) -> u64 {
        let mut ran = 0;
        while ran < max_steps && self.step() {
            ran += 1;
        }
        ran
    }

    /// Runs until nothing is left to do; returns how many steps ran.
    pub fn run_to_end(&mut self) -> u64 {
        self.run(u64::MAX)
    }

    // ----- internals -----

    fn next(&self) -> Option<Next> {
        let arrival = self.network.next_time();
        let timer = self
            .hub
            .poll_timeout()
            .map(|d| (d.as_nanos().div_ceil(1_000_000) as u64).max(self.now));
        // A timed step runs at its time; an untimed one once the network
        // has settled.
        let script = match self.interactive.front().or(self.script.front()) {
            Some(Step { at: Some(at), .. }) => Some(*at),
            Some(Step { at: None, .. }) if arrival.is_none() => Some(0),
            _ => None,
        }
        .map(|at| at.max(self.hold_until).max(self.now));
        let clock = (self.hold_until > self.now).then_some(self.hold_until);
        let candidates = [
            arrival.map(|t| (t, Next::Arrival)),
            timer.map(|t| (t, Next::Timer(t))),
            script.map(|t| (t, Next::Script(t))),
            clock.map(|t| (t, Next::Clock(t))),
        ];
        // `min_by_key` keeps the first of equals: the order above breaks ties.
        candidates
            .into_iter()
            .flatten()
            .min_by_key(|(t, _)| *t)
            .map(|(_, next)| next)
    }

    fn connection_index(&self, session: SessionId) -> Option<usize> {
        self.connection_of_session
            .get(usize::try_from(session.0).ok()?)
            .copied()
            .flatten()
    }

    /// Calls the hub with the current time. The simulator only moves time
    /// forward, so the one misuse error the hub could report cannot happen;
    /// an unknown session is the legitimate race of data with a close.
    fn hub_call(&mut self, call: impl FnOnce(&mut Hub, Duration) -> Result<(), HubError>) -> bool {
        let now = Duration::from_millis(self.now);
        match call(&mut self.hub, now) {
            Ok(()) => true,
            Err(HubError::UnknownSession(_)) => false,
            Err(other) => unreachable!("the simulator misused the hub: {other}"),
        }
    }

    fn run_step(&mut self, action: Action) {
        self.stats.steps += 1;
        if self.trace.wants_any() {
            self.trace.push(Entry::Step {
                t: self.now,
                index: self.executed.len(),
                step: Step::now(action.clone()),
            });
        }
        let acting = action.client().map(str::to_owned);
        self.executed.push(Step::at(self.now, action.clone()));
        match action {
            Action::Connect { client } => self.connect(&client),
            Action::Sync { client, alias } => {
                self.client_write(&client, encode_sync(&alias).into())
            }
            Action::Send {
                client,
                to,
                message,
            } => self.client_write(&client, encode_info(to.as_deref(), &message).into()),
            Action::Write { client, data } => self.client_write(&client, data.into_bytes().into()),
            Action::List { client } => {
                self.client_write(&client, Bytes::from_static(encode_list()))
            }
            Action::Ping { client } => {
                self.client_write(&client, Bytes::from_static(encode_ping()))
            }
            Action::Disconnect { client } => {
                if let Some(conn) = self.open_connection(&client) {
                    self.client_close(conn, false);
                }
            }
            Action::StopReading { client } => {
                if let Some(conn) = self.open_connection(&client) {
                    self.connections[conn].reading = false;
                }
            }
            Action::ResumeReading { client } => {
                if let Some(conn) = self.open_connection(&client) {
                    let c = &mut self.connections[conn];
                    c.reading = true;
                    c.stall_after = None;
                    let unread = std::mem::take(&mut c.unread);
                    self.client_read(conn, &unread);
                }
            }
            Action::Faults { enabled } => self.faults.enabled = enabled,
            Action::Wait { ms } => self.hold_until = self.now + ms,
            Action::Broadcast { message } => {
                let result = self.hub.broadcast(&message);
                self.host_result("broadcast", result);
            }
            Action::SendToAlias { alias, message } => {
                let result = self.hub.send_to_alias(&alias, &message);
                self.host_result("send_to_alias", result);
            }
            Action::CloseSession { session } => {
                let result = match self.hub.session_by_peer(&session) {
                    Some(id) => self
                        .hub
                        .close_session(id, CloseReason::ClosedByHost)
                        .map(|()| 1),
                    None => Err(HubError::UnknownSessionId(session)),
                };
                self.host_result("close_session", result);
            }
            Action::Shutdown => {
                let open = self.hub.session_count();
                self.hub.shutdown();
                self.host_result("shutdown", Ok(open));
            }
        }
        if let Some(client) = acting {
            self.maybe_drop(&client);
        }
    }

    fn host_result(&mut self, command: &'static str, result: Result<usize, HubError>) {
        let (reached, error) = match result {
            Ok(n) => (Some(n), None),
            Err(e) => (None, Some(e.to_string())),
        };
        self.trace.push(Entry::Host {
            t: self.now,
            command,
            reached,
            error,
        });
        self.drain();
    }

    fn skip(&mut self, reason: String) {
        self.trace.push(Entry::Skip {
            t: self.now,
            reason,
        });
    }

    fn connect(&mut self, name: &str) {
        let client = match self.client_by_name.get(name) {
            Some(&c) => c,
            None => {
                self.clients.push(Client {
                    name: name.to_owned(),
                    current: None,
                    opened: 0,
                });
                self.client_by_name
                    .insert(name.to_owned(), self.clients.len() - 1);
                self.clients.len() - 1
            }
        };
        if self.clients[client].current.is_some() {
            return self.skip(format!("{name} is already connected"));
        }
        let addr: Arc<str> = virtual_addr(client, self.clients[client].opened).into();
        self.clients[client].opened += 1;
        let session = match self
            .hub
            .handle_accept(Duration::from_millis(self.now), &addr)
        {
            Ok(session) => session,
            // Addresses are unique per client and connection, so this is a
            // broken invariant; report it in the trace rather than panic.
            Err(e) => return self.skip(format!("{name} could not connect: {e}")),
        };
        let conn = self.connections.len();
        let mut connection = Connection::new(client, session, addr.clone());
        if self.faults.enabled && self.rng.chance(self.faults.stall) {
            let limit = self.network_settings.max_queued_bytes as u64;
            connection.stall_after = Some(self.rng.below(limit / 4 + 1));
        }
        self.connections.push(connection);
        let slot = session.0 as usize;
        if self.connection_of_session.len() <= slot {
            self.connection_of_session.resize(slot + 1, None);
        }
        self.connection_of_session[slot] = Some(conn);
        self.clients[client].current = Some(conn);
        self.trace.push(Entry::Connect {
            t: self.now,
            client: name.to_owned(),
            addr: addr.to_string(),
            session: session.0,
        });
        self.drain();
    }

    /// The client's open connection, or `None` after tracing why not.
    fn open_connection(&mut self, name: &str) -> Option<usize> {
        let Some(&client) = self.client_by_name.get(name) else {
            self.skip(format!("there is no client named {name}; connect it first"));
            return None;
        };
        let current = self.clients[client].current;
        if current.is_none() {
            self.skip(format!("{name} is not connected"));
        }
        current
    }

    fn client_write(&mut self, name: &str, bytes: Bytes) {
        if let Some(conn) = self.open_connection(name) {
            self.stats.bytes_to_hub += bytes.len() as u64;
            self.put_on_wire(conn, Direction::ToHub, bytes);
        }
    }

    /// The client closes its socket: it reads nothing more, and the hub
    /// learns of it when the end of the stream arrives.
    fn client_close(&mut self, conn: usize, abrupt: bool) {
        let c = &mut self.connections[conn];
        c.client_open = false;
        c.unread = Vec::new();
        c.partial = Vec::new();
        let client = c.client;
        self.clients[client].current = None;
        let reason = if abrupt { "reset" } else { "disconnect" };
        self.trace.push(Entry::Close {
            t: self.now,
            client: self.clients[client].name.clone(),
            at: "client",
            reason: reason.to_owned(),
        });
        self.end_stream(conn, Direction::ToHub, End::ClientClosed { abrupt });
    }

    /// The drop fault: after one of its steps, a client may vanish.
    fn maybe_drop(&mut self, name: &str) {
        if !self.faults.enabled || self.faults.drop == 0 {
            return;
        }
        let Some(conn) = self
            .client_by_name
            .get(name)
            .and_then(|&c| self.clients[c].current)
        else {
            return;
        };
        if self.rng.chance(self.faults.drop) {
            self.trace.push(Entry::Fault {
                t: self.now,
                client: name.to_owned(),
                fault: "drop",
            });
            self.client_close(conn, true);
        }
    }

    fn delay(&mut self) -> u64 {
        let jitter = if self.faults.enabled && self.faults.max_delay_ms > 0 {
            self.rng.below(self.faults.max_delay_ms + 1)
        } else {
            0
        };
        self.network_settings.latency_ms + jitter
    }

    /// One write onto the network, cut or joined as the seed says.
    fn put_on_wire(&mut self, conn: usize, dir: Direction, bytes: Bytes) {
        let faulty = self.faults.enabled;
        let wire = self.trace.wants_wire();
        let client = self.connections[conn].client;
        let join = faulty
            && self.connections[conn].pipe(dir).joinable().is_some()
            && self.rng.chance(self.faults.join);
        if join {
            if wire {
                self.trace.push(Entry::Write {
                    t: self.now,
                    client: self.clients[client].name.clone(),
                    dir,
                    bytes: WireBytes::new(&bytes),
                    pieces: 1,
                    joined: true,
                });
            }
            let (last, _) = self.connections[conn]
                .pipe(dir)
                .joinable()
                .expect("checked joinable above");
            let mut joined = Vec::with_capacity(last.len() + bytes.len());
            joined.extend_from_slice(last);
            joined.extend_from_slice(&bytes);
            *last = joined.into();
            return;
        }
        let mut cuts = Vec::new();
        if faulty && bytes.len() > 1 && self.rng.chance(self.faults.split) {
            let count = 1 + self.rng.below(3);
            for _ in 0..count {
                cuts.push(1 + self.rng.below(bytes.len() as u64 - 1) as usize);
            }
            cuts.sort_unstable();
            cuts.dedup();
        }
        if wire {
            self.trace.push(Entry::Write {
                t: self.now,
                client: self.clients[client].name.clone(),
                dir,
                bytes: WireBytes::new(&bytes),
                pieces: cuts.len() + 1,
                joined: false,
            });
        }
        let mut start = 0;
        for end in cuts.into_iter().chain([bytes.len()]) {
            let piece = bytes.slice(start..end);
            start = end;
            let delay = self.delay();
            let now = self.now;
            let pipe = self.connections[conn].pipe(dir);
            let at = pipe.arrival(now, delay);
            pipe.pieces.push_back(Piece::Data {
                bytes: piece,
                sent: now,
            });
            self.network.schedule(at, conn, dir);
        }
    }

    fn end_stream(&mut self, conn: usize, dir: Direction, end: End) {
        let delay = self.delay();
        let now = self.now;
        let pipe = self.connections[conn].pipe(dir);
        let at = pipe.arrival(now, delay);
        pipe.pieces.push_back(Piece::End(end));
        self.network.schedule(at, conn, dir);
    }

    /// The front piece of a pipe arrives.
    fn arrive(&mut self, conn: usize, dir: Direction) {
        let piece = self.connections[conn]
            .pipe(dir)
            .pieces
            .pop_front()
            .expect("every scheduled arrival has its piece queued");
        let client = self.connections[conn].client;
        match (dir, piece) {
            (Direction::ToHub, Piece::Data { bytes, sent }) => {
                self.trace_arrival(client, dir, &bytes, sent);
                let c = &self.connections[conn];
                let session = c.session;
                if !(c.hub_open && self.hub_call(|hub, now| hub.handle_data(now, session, &bytes)))
                {
                    return self.discard(client, dir, bytes.len());
                }
                self.drain();
            }
            (Direction::ToHub, Piece::End(End::ClientClosed { abrupt })) => {
                let c = &mut self.connections[conn];
                if !c.hub_open {
                    return;
                }
                c.hub_open = false;
                let session = c.session;
                self.trace.push(Entry::Close {
                    t: self.now,
                    client: self.clients[client].name.clone(),
                    at: "hub",
                    reason: if abrupt { "reset" } else { "peer_closed" }.to_owned(),
                });
                self.hub_call(|hub, now| hub.handle_close(now, session));
                self.drain();
            }
            (Direction::ToClient, Piece::Data { bytes, sent }) => {
                self.trace_arrival(client, dir, &bytes, sent);
                let c = &mut self.connections[conn];
                if !c.client_open {
                    c.queued = c.queued.saturating_sub(bytes.len());
                    return self.discard(client, dir, bytes.len());
                }
                if c.reading {
                    self.client_read(conn, &bytes);
                } else {
                    c.unread.extend_from_slice(&bytes);
                }
            }
            (Direction::ToClient, Piece::End(End::HubClosed(reason))) => {
                let c = &mut self.connections[conn];
                if !c.client_open {
                    return;
                }
                c.client_open = false;
                self.clients[client].current = None;
                self.trace.push(Entry::Close {
                    t: self.now,
                    client: self.clients[client].name.clone(),
                    at: "client",
                    reason: reason.as_str().to_owned(),
                });
            }
            (dir, Piece::End(end)) => {
                unreachable!("{end:?} never travels {dir:?}")
            }
        }
    }

    fn trace_arrival(&mut self, client: usize, dir: Direction, bytes: &[u8], sent: u64) {
        self.stats.pieces += 1;
        if self.trace.wants_wire() {
            self.trace.push(Entry::Arrive {
                t: self.now,
                sent,
                client: self.clients[client].name.clone(),
                dir,
                bytes: WireBytes::new(bytes),
            });
        }
    }

    fn discard(&mut self, client: usize, dir: Direction, len: usize) {
        if self.trace.wants_any() {
            self.trace.push(Entry::Discard {
                t: self.now,
                client: self.clients[client].name.clone(),
                dir,
                len,
            });
        }
    }

    /// The client reads `data`, delivering each whole line, unless a stall
    /// fault stops it part way.
    fn client_read(&mut self, conn: usize, data: &[u8]) {
        let c = &mut self.connections[conn];
        let mut readable = data.len();
        if let Some(limit) = c.stall_after {
            let room = limit.saturating_sub(c.read) as usize;
            if room < readable {
                readable = room;
                c.reading = false;
                c.stall_after = None;
                c.unread.extend_from_slice(&data[readable..]);
                let name = self.clients[c.client].name.clone();
                self.trace.push(Entry::Fault {
                    t: self.now,
                    client: name,
                    fault: "stall",
                });
            }
        }
        let c = &mut self.connections[conn];
        c.read += readable as u64;
        c.queued = c.queued.saturating_sub(readable);
        let mut rest = &data[..readable];
        let mut partial = std::mem::take(&mut c.partial);
        let client = c.client;
        while let Some(newline) = memchr::memchr(b'\n', rest) {
            if partial.is_empty() {
                self.deliver(client, &rest[..newline]);
            } else {
                partial.extend_from_slice(&rest[..newline]);
                self.deliver(client, &partial);
                partial.clear();
            }
            rest = &rest[newline + 1..];
        }
        partial.extend_from_slice(rest);
        self.connections[conn].partial = partial;
    }

    fn deliver(&mut self, client: usize, line: &[u8]) {
        // The hub writes every `info` frame with this exact prefix.
        const INFO: &[u8] = br#"{"type":"info","#;
        self.stats.deliveries += 1;
        if line.starts_with(INFO) {
            self.stats.info_deliveries += 1;
        }
        if !self.trace.wants_any() {
            return;
        }
        #[derive(Deserialize)]
        struct Head {
            #[serde(rename = "type")]
            frame: String,
            from: Option<String>,
        }
        let text = String::from_utf8_lossy(line).into_owned();
        let (frame, from) = match serde_json::from_str::<Head>(&text) {
            Ok(head) => (head.frame, head.from),
            Err(_) => ("garbled".to_owned(), None),
        };
        let line = RawValue::from_string(text.clone())
            .unwrap_or_else(|_| to_raw_value(&text).expect("a string always serializes"));
        self.trace.push(Entry::Deliver {
            t: self.now,
            client: self.clients[client].name.clone(),
            frame,
            from,
            line,
        });
    }

    /// Carries out everything the hub asked for, as the native driver does.
    fn drain(&mut self) {
        while let Some(output) = self.hub.poll_output() {
            match output {
                Output::Transmit { session, frame } => self.transmit(session, frame),
                Output::Close { session, reason } => {
                    let Some(conn) = self.connection_index(session) else {
                        continue;
                    };
                    self.connections[conn].hub_open = false;
                    let client = self.connections[conn].client;
                    self.trace.push(Entry::Close {
                        t: self.now,
                        client: self.clients[client].name.clone(),
                        at: "hub",
                        reason: reason.as_str().to_owned(),
                    });
                    self.end_stream(conn, Direction::ToClient, End::HubClosed(reason));
                }
                Output::Event(event) => self.record_event(event),
            }
        }
    }

    fn transmit(&mut self, session: SessionId, frame: Bytes) {
        let Some(conn) = self.connection_index(session) else {
            return;
        };
        self.stats.bytes_to_clients += frame.len() as u64;
        let c = &mut self.connections[conn];
        c.queued += frame.len();
        let over = c.queued > self.network_settings.max_queued_bytes && !c.closing && c.hub_open;
        if over {
            c.closing = true;
        }
        self.put_on_wire(conn, Direction::ToClient, frame);
        if over {
            // What the native server does when a send queue overflows; the
            // bye frame and the close come out of the same drain loop.
            let _ = self.hub.close_session(session, CloseReason::SlowConsumer);
        }
    }

    fn record_event(&mut self, event: Event) {
        if let Event::Message { .. } = event {
            self.stats.host_messages += 1;
        }
        if let Event::Closed { .. } = event {
            self.stats.closes += 1;
        }
        if !self.trace.wants_any() {
            return;
        }
        fn raw<T: Serialize + ?Sized>(value: &T) -> Option<Box<RawValue>> {
            Some(to_raw_value(value).expect("event details always serialize"))
        }
        let (name, session, peer, alias, detail) = match event {
            Event::Opened { session, peer } => ("opened", session, peer, None, None),
            Event::Synced {
                session,
                peer,
                alias,
                took_over_from,
            } => (
                "synced",
                session,
                peer,
                Some(alias),
                took_over_from.and_then(|old| {
                    raw(&TookOver {
                        took_over_from: old.0,
                    })
                }),
            ),
            Event::Released {
                session,
                peer,
                alias,
            } => ("released", session, peer, Some(alias), None),
            Event::Message {
                session,
                peer,
                alias,
                message,
            } => ("message", session, peer, alias, Some(message)),
            Event::ProtocolError {
                session,
                peer,
                error,
            } => (
                "protocol_error",
                session,
                peer,
                None,
                raw(&ErrorDetail {
                    code: error.code.as_str(),
                    message: &error.message,
                }),
            ),
            Event::Closed {
                session,
                peer,
                alias,
                reason,
            } => ("closed", session, peer, alias, raw(reason.as_str())),
            // A kind of event added to the core after this simulator: show
            // it rather than lose it.
            other => {
                let text = format!("{other:?}");
                self.trace.push(Entry::Skip {
                    t: self.now,
                    reason: format!("unknown hub event {text}"),
                });
                return;
            }
        };
        self.trace.push(Entry::Event {
            t: self.now,
            event: name,
            session: session.0,
            peer: peer.to_string(),
            alias: alias.map(|a| a.to_string()),
            detail,
        });
    }
}

#[derive(Serialize)]
struct TookOver {
    took_over_from: u64,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'static str,
    message: &'a str,
}
