//! The simulator: a [`Hub`] driven the way the native server drives it,
//! with virtual clients on the other end of a virtual network.
//!
//! Rules of the run:
//! - One thing happens per [`Simulator::step`]: a piece of data (or the end
//!   of a stream) arrives, a backplane hop or the authenticator's answer
//!   arrives, the hub's timers fire (idle, frame, write deadline,
//!   authentication), a step of the script runs, or the clock moves on to
//!   the end of a `wait`.
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
//! - Every flow-control decision is the hub's too. The simulator's driver
//!   writes what the socket buffer takes and reports it written, stops
//!   handing the hub a client's bytes when told to, and closes as told
//!   (`socket.rs`); it never decides on its own to cut anyone.
//! - Virtual time saturates at `u64::MAX` ms instead of overflowing.
//! - A cluster (`cluster.rs`) is several such hubs, each a node with its
//!   own sessions and timers, and a backplane between them; at equal
//!   times a backplane hop comes after the arrivals and before the timers.
//!   A single hub runs exactly as it did before clusters existed.
//! - With authentication on (`auth.rs`), each question the hub asks is
//!   answered by the scenario's authenticator after its delay; at equal
//!   times an answer comes after the backplane and before the timers, and
//!   an untimed step waits for every answer as for the network. Without
//!   authentication the run is exactly what it was before.

mod auth;
mod cluster;
mod hub_output;
mod script;
mod socket;
mod wire;

use std::collections::VecDeque;
use std::time::Duration;

use tcphub_core::{Hub, HubError, NodeId, SessionEntry, SessionHandle, SessionInfo};

use super::backplane::Backplane;
use super::connection::{Client, Connection};
use super::network::Network;
use super::rng::SimRng;
use super::scenario::{FaultSettings, NetworkSettings, Scenario};
use super::step::{Action, Step};
use super::trace::{Stats, Trace};
use super::view::{ClientView, NodeView, SessionView, StateView};
use super::SimError;

/// One hub: the only one, or one node of a cluster.
#[derive(Debug)]
struct Node {
    hub: Hub,
    /// Connection index by session handle (handles count up from 1, on
    /// each node).
    connection_of_handle: Vec<Option<usize>>,
    /// The node crashed: its hub does nothing more.
    crashed: bool,
}

impl Node {
    fn new(hub: Hub) -> Self {
        Node {
            hub,
            connection_of_handle: Vec::new(),
            crashed: false,
        }
    }
}

/// A deterministic run of one [`Scenario`].
#[derive(Debug)]
pub struct Simulator {
    /// As loaded, for [`Simulator::scenario`] and resets.
    scenario: Scenario,
    /// The hub, or the cluster's nodes in the scenario's order.
    nodes: Vec<Node>,
    /// Between the nodes of a cluster; `None` for one hub.
    backplane: Option<Backplane>,
    rng: SimRng,
    /// Virtual time, ms.
    now: u64,
    /// The clock runs on to here after a `wait`, even with nothing to do.
    hold_until: u64,
    faults: FaultSettings,
    network_settings: NetworkSettings,
    /// Found by name with a walk: a scenario has tens of clients (a
    /// thousand in the benchmark, looked up only as they connect), and a
    /// map keyed by name would cost 3 KB of .wasm.
    clients: Vec<Client>,
    connections: Vec<Connection>,
    network: Network,
    /// Steps asked for while running (clicks): they go before the script.
    interactive: VecDeque<Step>,
    /// What is left of the script.
    script: VecDeque<Step>,
    /// Steps run so far, each with the time it ran at.
    executed: Vec<Step>,
    /// The authenticator's answers on their way to the hub, in order.
    answers: VecDeque<auth::Answer>,
    trace: Trace,
    stats: Stats,
}

/// The rooms a session is in, by name.
fn room_names(session: SessionInfo<'_>) -> Vec<String> {
    session
        .rooms
        .iter()
        .map(|r| r.as_str().to_owned())
        .collect()
}

/// What [`Simulator::step`] chose to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    Arrival,
    Backplane,
    Answer,
    Timer(u64),
    Script(u64),
    Clock(u64),
}

impl Simulator {
    /// A simulator at time 0 with the scenario's script queued.
    pub fn new(scenario: Scenario) -> Result<Self, SimError> {
        scenario.validate()?;
        let config = scenario.hub.to_config()?;
        let (nodes, backplane) = match &scenario.cluster {
            None => (vec![Node::new(Hub::new(config)?)], None),
            Some(cluster) => {
                let mut nodes = Vec::new();
                let mut ids = Vec::new();
                for id in &cluster.nodes {
                    let id = NodeId::new(id)?;
                    let config = tcphub_core::HubConfig {
                        node: Some(id.clone()),
                        ..config.clone()
                    };
                    nodes.push(Node::new(Hub::new(config)?));
                    ids.push(id);
                }
                (nodes, Some(Backplane::new(ids)))
            }
        };
        Ok(Simulator {
            rng: SimRng::new(scenario.seed),
            nodes,
            backplane,
            now: 0,
            hold_until: 0,
            faults: scenario.faults.clone(),
            network_settings: scenario.network.clone(),
            clients: Vec::new(),
            connections: Vec::new(),
            network: Network::default(),
            interactive: VecDeque::new(),
            script: scenario.steps.iter().cloned().collect(),
            executed: Vec::new(),
            answers: VecDeque::new(),
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

    /// The hub being driven (a cluster's first node), for reading its
    /// state.
    pub fn hub(&self) -> &Hub {
        &self.nodes[0].hub
    }

    /// Every hub being driven: the one hub, or each node of the cluster
    /// in order (a crashed one as it was when it crashed).
    pub fn hubs(&self) -> impl Iterator<Item = &Hub> + '_ {
        self.nodes.iter().map(|n| &n.hub)
    }

    /// Whether nothing is left to happen.
    pub fn is_done(&self) -> bool {
        self.next().is_none()
    }

    /// The backplane directory's holders of `alias`, as (node id, session
    /// id), oldest first: empty for one hub.
    pub fn directory_holders(&self, alias: &str) -> Vec<(String, String)> {
        let Some(backplane) = &self.backplane else {
            return Vec::new();
        };
        backplane
            .holders(alias)
            .into_iter()
            .map(|(node, session)| (backplane.ids[node].to_string(), session.to_owned()))
            .collect()
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
                    .and_then(|c| self.nodes[c.node].hub.session(c.handle));
                ClientView {
                    name: client.name.clone(),
                    node: connection.and_then(|c| self.node_name(c.node)),
                    addr: connection.map(|c| c.addr.to_string()),
                    connected: connection.is_some(),
                    alias: session.and_then(|s| SessionEntry::from(s).client_name),
                    identity: session.and_then(|s| s.identity.map(str::to_owned)),
                    rooms: session.map_or_else(Vec::new, room_names),
                    reading: connection.is_some_and(|c| c.reading),
                    writing: connection.is_some_and(|c| c.write_open),
                    paused: connection.is_some_and(|c| c.paused),
                    unread: connection.map_or(0, |c| c.unread.len()),
                    in_socket: connection.map_or(0, |c| c.in_socket),
                    queued: connection.map_or(0, |c| c.out.len()),
                }
            })
            .collect();
        let sessions = (0..self.nodes.len())
            .filter(|&n| !self.nodes[n].crashed)
            .flat_map(|n| self.nodes[n].hub.sessions().map(move |s| (n, s)))
            .map(|(n, s)| {
                // The row a `sessions` reply gives, plus what only the
                // simulator knows.
                let row = SessionEntry::from(s);
                SessionView {
                    handle: s.handle.0,
                    session_id: row.session_id,
                    alias: row.client_name,
                    identity: s.identity.map(str::to_owned),
                    rooms: room_names(s),
                    client: self
                        .connection_index(n, s.handle)
                        .map(|c| self.clients[self.connections[c].client].name.clone()),
                    node: self.node_name(n),
                }
            })
            .collect();
        let nodes = match &self.backplane {
            None => Vec::new(),
            Some(backplane) => backplane
                .ids
                .iter()
                .zip(&self.nodes)
                .map(|(id, node)| NodeView {
                    id: id.to_string(),
                    crashed: node.crashed,
                    sessions: if node.crashed {
                        0
                    } else {
                        node.hub.session_count()
                    },
                })
                .collect(),
        };
        StateView {
            now: self.now,
            done: self.is_done(),
            in_flight: self.network.in_flight()
                + self.backplane.as_ref().map_or(0, Backplane::in_flight)
                + self.answers.len(),
            queued_steps: self.interactive.len() + self.script.len(),
            faults: self.faults.enabled,
            clients,
            sessions,
            nodes,
            stats: self.stats,
        }
    }

    // ----- driving -----

    /// Queues a step to run as soon as the network settles, before the rest
    /// of the script (a click on the page).
    pub fn act(&mut self, action: Action) {
        self.interactive.push_back(Step::now(action));
    }

    /// [`act`](Simulator::act) with a whole step: one that names a node.
    /// Its `at` is ignored: it runs as soon as the network settles.
    pub fn act_step(&mut self, step: Step) {
        self.interactive.push_back(Step { at: None, ..step });
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
            Next::Backplane => self.backplane_arrive(),
            Next::Answer => self.answer(),
            Next::Timer(at) => {
                self.now = self.now.max(at);
                for node in 0..self.nodes.len() {
                    if self.deadline(node).is_some_and(|t| t <= at) {
                        self.hub_call(node, |hub, now| hub.handle_timeout(now));
                    }
                }
                self.drain();
            }
            Next::Script(at) => {
                self.now = self.now.max(at);
                let step = match self.interactive.pop_front() {
                    Some(step) => step,
                    None => self.script.pop_front().expect("next() saw a step"),
                };
                self.run_step(step);
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
        let backplane = self.backplane.as_ref().and_then(Backplane::next_time);
        let answer = self.answers.front().map(auth::Answer::at);
        let timer = (0..self.nodes.len())
            .filter_map(|node| self.deadline(node))
            .min()
            .map(|t| t.max(self.now));
        // A timed step runs at its time; an untimed one once the network
        // has settled and the authenticator has answered.
        let script = match self.interactive.front().or(self.script.front()) {
            Some(Step { at: Some(at), .. }) => Some(*at),
            Some(Step { at: None, .. })
                if arrival.is_none()
                    && answer.is_none()
                    && !self.backplane.as_ref().is_some_and(Backplane::carrying) =>
            {
                Some(0)
            }
            _ => None,
        }
        .map(|at| at.max(self.hold_until).max(self.now));
        let clock = (self.hold_until > self.now).then_some(self.hold_until);
        let candidates = [
            arrival.map(|t| (t, Next::Arrival)),
            backplane.map(|t| (t, Next::Backplane)),
            answer.map(|t| (t, Next::Answer)),
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

    /// When node `node`'s hub next wants `handle_timeout`, in whole ms;
    /// never for a crashed node, nor past the end of virtual time.
    fn deadline(&self, node: usize) -> Option<u64> {
        let node = &self.nodes[node];
        if node.crashed {
            return None;
        }
        node.hub
            .poll_timeout()
            .and_then(|d| u64::try_from(d.as_nanos().div_ceil(1_000_000)).ok())
    }

    fn connection_index(&self, node: usize, handle: SessionHandle) -> Option<usize> {
        self.nodes[node]
            .connection_of_handle
            .get(usize::try_from(handle.0).ok()?)
            .copied()
            .flatten()
    }

    /// A node's id, in a cluster.
    fn node_name(&self, node: usize) -> Option<String> {
        let backplane = self.backplane.as_ref()?;
        Some(backplane.ids[node].to_string())
    }

    /// Calls node `node`'s hub with the current time. The simulator only
    /// moves time forward, so the one misuse error the hub could report
    /// cannot happen; an unknown session is the legitimate race of data
    /// with a close.
    fn hub_call(
        &mut self,
        node: usize,
        call: impl FnOnce(&mut Hub, Duration) -> Result<(), HubError>,
    ) -> bool {
        let now = Duration::from_millis(self.now);
        match call(&mut self.nodes[node].hub, now) {
            Ok(()) => true,
            Err(HubError::UnknownHandle(_)) => false,
            Err(other) => unreachable!("the simulator misused the hub: {other}"),
        }
    }
}
