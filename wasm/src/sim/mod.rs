//! The simulator in plain Rust: no wasm-bindgen types, so native tests run
//! the very code the browser runs.

mod authenticator;
mod backplane;
mod connection;
mod json;
mod network;
pub mod presets;
mod rng;
mod scenario;
mod simulator;
mod step;
mod trace;
mod view;

pub use authenticator::{AuthenticatorSettings, Credential, DEFAULT_DELAY_MS};
pub use scenario::{
    ClusterSettings, FaultSettings, HubSettings, NetworkSettings, Scenario, TraceLevel, MAX_NODES,
    MAX_SOCKET_BUFFER_BYTES,
};

/// Longest latency or extra delay accepted (the network's, the cluster's,
/// the authenticator's): one virtual day. Longer is a typo, and virtual
/// time must not run past what a `u64` of ms counts.
pub const MAX_DELAY_MS: u64 = 24 * 60 * 60 * 1000;
pub use simulator::Simulator;
pub use step::{message, Action, Step, WatchScope};
pub use trace::{BackplaneDetail, Direction, Entry, Stats, Trace, WireBytes};
pub use view::{ClientView, NodeView, SessionView, StateView};

/// What can go wrong setting up or driving a simulation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The scenario JSON is malformed or out of range.
    #[error("invalid scenario: {0}")]
    Scenario(String),
    /// The hub refused the scenario's settings.
    #[error(transparent)]
    Hub(#[from] tcphub_core::HubError),
    /// No preset has this name.
    #[error("no preset named {0:?}; try one of: {names}", names = presets::PRESET_NAMES.join(", "))]
    UnknownPreset(String),
    /// An action from the page is malformed.
    #[error("invalid action: {0}")]
    Action(String),
}
