//! `tcphub-bench`: a load generator that measures tcphub and, with the same
//! code paths, a nats-server or any hub speaking tcphub's protocol (such as
//! the Node.js comparison peer in `tests/bench/peers/`).
//!
//! Scenarios (one per file): [`fanout`] (one publisher, N subscribers, by
//! broadcast or in a room),
//! [`pairs`] (P pairs sending to each other by alias), [`latency`] (a
//! fixed-rate schedule, latency measured from the intended send time, as
//! wrk2 does), [`idle`] (resident memory of the hub per idle connection),
//! [`churn`] (connect + sync + close per second), [`handshake`] (the same,
//! each phase timed: TCP, TLS, `sync` with a credential), [`capacity`] (the
//! generator against [`sink`], a server that discards what it gets and
//! floods subscribers: what the generator itself can drive), [`burst`] (an
//! unpaced broadcast: no reader cut, nothing lost, the hub's memory before,
//! at its peak and after) and [`list_spam`] (other clients' ping latency
//! while one client floods the hub with `list` requests).
//!
//! `fanout`, `pairs` and `latency` also run on a clustered hub
//! (`--cluster A,B,C`): the clients are spread over the nodes so that
//! messages cross from one node to another (see [`Target`]).
//!
//! Throughput scenarios keep a window of messages in flight per receiver
//! instead of publishing blindly: no hub is pushed into dropping slow
//! consumers, so every figure counts messages that were really delivered,
//! and a run checks that deliveries equal what was sent. `fanout` and
//! `pairs` with `--window 0` publish blindly instead, as `nats bench`
//! does, and fail the run if the hub loses anything ([`unwindowed`]).
//!
//! Every scenario but `capacity` and `sink` runs over TLS (`--tls`, `--ca`)
//! and with credentials (`--token`, `--tokens`), and with `--baseline-hub`
//! also against a plain hub first, in the same report.

pub mod burst;
pub mod capacity;
pub mod churn;
mod cpu;
mod crowd;
mod dial;
mod driver;
pub mod fanout;
pub mod handshake;
pub mod idle;
pub mod latency;
pub mod list_spam;
mod memory;
mod options;
pub mod pairs;
mod progress;
mod redis_info;
mod report;
mod scan;
pub mod sink;
mod stream;
mod target;
pub mod unwindowed;
mod window;
mod wire;

pub use options::{BenchArgs, Scenario};
pub use report::{Metric, Report};
pub use target::Target;
pub use wire::Proto;

/// Runs the scenario the arguments name and prints its report (a table,
/// or JSON with `--json`). The sink runs until interrupted. A report with
/// failures is printed, then returned as an error (a non-zero exit).
pub async fn run(args: BenchArgs) -> anyhow::Result<Option<Report>> {
    let json = args.target.json;
    let report = execute(args).await?;
    if let Some(report) = &report {
        if json {
            println!("{}", serde_json::to_string(report)?);
        } else {
            print!("{}", report.table());
        }
        if !report.failures.is_empty() {
            anyhow::bail!(
                "{} against {} failed: {}",
                report.scenario,
                report.hub,
                report.failures.join("; ")
            );
        }
    }
    Ok(report)
}

/// Runs the scenario and returns its report without printing it (`None`
/// for the sink, which only stops when interrupted).
pub async fn execute(args: BenchArgs) -> anyhow::Result<Option<Report>> {
    // Every client is a descriptor: 10,000 idle ones need more than the
    // usual soft limit of 1,024. Failing to raise it is not fatal: the
    // scenarios that need more say so when a connect fails.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let mut target = args.target;
    anyhow::ensure!(
        !(target.dial_args.tls()
            && matches!(args.scenario, Scenario::Capacity(_) | Scenario::Sink(_))),
        "capacity and sink measure the generator against its own sink, which speaks plain TCP: \
         --tls is for the hub's scenarios"
    );
    target.prepare()?;
    let clustered = matches!(
        args.scenario,
        Scenario::Fanout(_) | Scenario::Pairs(_) | Scenario::Latency(_)
    );
    anyhow::ensure!(
        clustered || target.cluster.is_empty(),
        "--cluster is for fanout, pairs and latency only"
    );
    anyhow::ensure!(
        clustered || (target.redis.is_none() && target.cluster_pids.is_empty()),
        "--redis and --cluster-pids are for fanout, pairs and latency only"
    );
    anyhow::ensure!(
        !matches!(args.scenario, Scenario::Latency(_)) || target.cluster.len() != 1,
        "latency on a --cluster needs at least two nodes: the subscribers sit on the others"
    );
    if let Scenario::Sink(a) = &args.scenario {
        sink::run(&target, a).await?;
        return Ok(None);
    }
    let Some(baseline) = target.baseline_target() else {
        return Ok(Some(run_scenario(&target, &args.scenario).await?));
    };
    anyhow::ensure!(
        !matches!(args.scenario, Scenario::Capacity(_)),
        "--baseline-hub is for the hub's scenarios, not capacity"
    );
    let before = run_scenario(&baseline, &args.scenario).await?;
    let mut report = run_scenario(&target, &args.scenario).await?;
    report.param("baseline_hub", baseline.server.to_string());
    for m in before.metrics {
        report.metric(&format!("baseline_{}", m.name), m.value, &m.unit);
    }
    for failure in before.failures {
        report.fail(format!("baseline: {failure}"));
    }
    Ok(Some(report))
}

/// One scenario against `target` (not the sink, which never reports).
async fn run_scenario(target: &Target, scenario: &Scenario) -> anyhow::Result<Report> {
    Ok(match scenario {
        Scenario::Fanout(a) => fanout::run(target, a).await?,
        Scenario::Pairs(a) => pairs::run(target, a).await?,
        Scenario::Latency(a) => latency::run(target, a).await?,
        Scenario::Idle(a) => idle::run(target, a).await?,
        Scenario::Churn(a) => churn::run(target, a).await?,
        Scenario::Handshake(a) => handshake::run(target, a).await?,
        Scenario::Capacity(a) => capacity::run(target, a).await?,
        Scenario::Burst(a) => burst::run(target, a).await?,
        Scenario::ListSpam(a) => list_spam::run(target, a).await?,
        Scenario::Sink(_) => anyhow::bail!("the sink runs until interrupted: it has no report"),
    })
}
