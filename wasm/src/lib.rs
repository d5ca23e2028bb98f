//! tcphub in the browser: a deterministic simulator of the hub's routing.
//!
//! [`sim`] is plain Rust: virtual clients on a virtual network around the
//! very [`tcphub_core::Hub`] the server runs, with faults drawn from a seed
//! and a trace of everything that happened. On `wasm32` the `bindings`
//! module wraps it for JavaScript with wasm-bindgen.
//!
//! ```
//! use tcphub_wasm::sim::{presets, Simulator};
//!
//! let mut sim = Simulator::new(presets::tutorial())?;
//! sim.run_to_end();
//! assert_eq!(sim.stats().info_deliveries, 4);
//! # Ok::<(), tcphub_wasm::sim::SimError>(())
//! ```

pub mod sim;

#[cfg(target_arch = "wasm32")]
mod bindings;
