//! The command line of `tcphub-bench`: what to measure and where.

use clap::{Args, Subcommand};

use super::target::Target;
use super::{burst, capacity, churn, fanout, handshake, idle, latency, list_spam, pairs, sink};

/// `tcphub-bench [--proto P] [--server ADDR] [--json] SCENARIO [options]`
#[derive(Debug, Args)]
#[command(
    about = "Measure a hub: fan-out, directed pairs, fixed-rate latency, idle memory, churn, \
        handshakes, bursts, list spam",
    long_about = "Measure a hub: fan-out, directed pairs, fixed-rate latency, idle memory, \
        connection churn, TLS handshakes and credential checks, an unpaced burst, ping latency \
        under list spam.\n\n\
        The same generator speaks tcphub's protocol (tcphub itself, or any hub that speaks \
        it, such as the Node.js peer in tests/bench/peers) and the NATS client protocol \
        (nats-server), so the figures compare like with like. Start the hub first, then \
        e.g. `tcphub-bench --server 127.0.0.1:9000 fanout --subs 100 --payload 64`. \
        `tests/bench/run` runs the whole comparison and writes docs/benchmarks.md.\n\n\
        Over TLS: `--tls --ca CA.pem` (and `--server-name` when the certificate does not name \
        the address); against a hub with authentication: `--token T` or `--tokens FILE`. \
        `--baseline-hub ADDR` runs the scenario first against a plain hub without credentials, \
        in the same report (`tests/bench/security` runs these)."
)]
pub struct BenchArgs {
    #[command(flatten)]
    pub target: Target,
    #[command(subcommand)]
    pub scenario: Scenario,
}

/// What to measure.
#[derive(Debug, Subcommand)]
pub enum Scenario {
    /// One publisher, N subscribers: deliveries per second.
    Fanout(fanout::FanoutArgs),
    /// P pairs of clients sending to each other by alias: deliveries per second.
    Pairs(pairs::PairsArgs),
    /// A fixed publish rate to N subscribers: latency percentiles from the intended send time.
    Latency(latency::LatencyArgs),
    /// N idle synced connections: resident memory of the hub process per connection.
    Idle(idle::IdleArgs),
    /// Connect, sync and close, over and over: connections per second.
    Churn(churn::ChurnArgs),
    /// Connect, TLS handshake, sync (with --token), first reply, close: each phase timed,
    /// the hub's CPU per connection.
    Handshake(handshake::HandshakeArgs),
    /// The generator against a sink: the most it can publish and receive.
    Capacity(capacity::CapacityArgs),
    /// An unpaced broadcast to N readers: none cut, nothing lost; hub memory before, at peak, after.
    Burst(burst::BurstArgs),
    /// Ping latency with K idle sessions, before and while one client floods `list` requests.
    ListSpam(list_spam::ListSpamArgs),
    /// Run a sink: discards what it gets, floods subscribers (for `capacity`).
    Sink(sink::SinkArgs),
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    /// A global option must not share its name with a scenario's own:
    /// clap would hand one the other's value (as `--baseline`, list-spam's
    /// seconds, once did to a hub address).
    #[test]
    fn the_tls_and_baseline_options_reach_every_scenario() {
        for scenario in [
            "fanout",
            "pairs",
            "latency",
            "idle",
            "churn",
            "handshake",
            "burst",
        ] {
            let cli = Cli::try_parse_from([
                "b",
                scenario,
                "--tls",
                "--token",
                "t",
                "--baseline-hub",
                "127.0.0.1:1",
            ])
            .unwrap();
            let target = cli.bench.target;
            assert!(target.dial_args.tls() && target.dial_args.authenticates());
            assert_eq!(target.baseline_hub, Some("127.0.0.1:1".parse().unwrap()));
        }
        let cli = Cli::try_parse_from([
            "b",
            "list-spam",
            "--baseline",
            "2",
            "--baseline-hub",
            "127.0.0.1:1",
        ])
        .unwrap();
        assert!(cli.bench.target.baseline_hub.is_some());
        match cli.bench.scenario {
            Scenario::ListSpam(a) => assert_eq!(a.baseline, 2.0),
            other => panic!("{other:?}"),
        }
    }
}
