//! One process of a producer–consumer pair: what the supervisor asks it to do
//! ([`RoleSpec`]), how it reports back ([`Control`] lines on stdout), and what
//! it measured ([`RoleOutput`]).
//!
//! The supervisor re-executes its own binary as `ipcbench __role <json spec>`.
//! The child writes exactly three kinds of [`Line`] to stdout: `ENDPOINT <name>`
//! (the listening process only, once listening), `PROGRESS <n>` (after each size, so the
//! supervisor can tell a stalled pair from a slow one) and `RESULT <json>`.
//! A listening process reads `PEER <pid>` lines on stdin until it closes:
//! the processes its listener admits (a consumer's one producer). A producer finds the secret parts of its
//! endpoints (TCP's token) in [`ENDPOINT_SECRETS`], kept off the command line
//! that any user can read in /proc.
//!
//! A fanout workload runs one producer and N consumers ("workers"): in
//! `fanoutN` each worker listens on its own connection and the producer
//! connects to all; in `fanoutqN` the producer listens on one shared
//! endpoint (reading one `PEER` line per worker) and every worker connects
//! to it. [`listens`] says which process of a group listens.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use results::Metric;
use serde::{Deserialize, Serialize};
use transport::{Endpoint, Listener, Options, Transport};

use crate::placement::{Placement, Role};
use crate::protocol::Line;
use crate::stats::Trial;
use crate::workload::{self, Workload};

/// Everything a role process needs, passed as one JSON argument.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoleSpec {
    /// Which side this process plays.
    pub role: Role,
    /// Registry name of the transport.
    pub transport: String,
    /// The workload.
    pub workload: Workload,
    /// Codec name (seed workload; others use `raw`).
    pub codec: String,
    /// Payload sizes in bytes, run in order.
    pub sizes: Vec<u64>,
    /// Measured messages per size.
    pub messages: usize,
    /// Warm-up per size, milliseconds.
    pub warmup_ms: u64,
    /// Where the pair runs.
    pub placement: Placement,
    /// Unique tag for the transport's resource names.
    pub tag: String,
    /// The consumer's endpoint (producer only).
    pub endpoint: Option<String>,
    /// Fanout producer: every worker's endpoint, in worker order.
    #[serde(default)]
    pub endpoints: Vec<String>,
    /// Fanout worker: this worker's index, from 0.
    #[serde(default)]
    pub worker: usize,
    /// Paced workloads: the rate to send at per size (in the order of
    /// `sizes`), messages per second.
    #[serde(default)]
    pub rates: Vec<f64>,
    /// How long the consumer waits for the producer to connect.
    pub connect_timeout_ms: u64,
    /// Stream workload: each size streams for at least this long.
    #[serde(default = "default_stream_min_ms")]
    pub stream_min_ms: u64,
    /// A listening process: listen on this network address
    /// (`Transport::listen_at`) instead of the transport's local default;
    /// `ipcbench serve` sets it to the address its client reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind: Option<std::net::IpAddr>,
    /// The pair spans two hosts (`run --remote`): time only on one clock
    /// (the seed producer's total then runs through the acknowledgement).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub remote: bool,
}

fn default_stream_min_ms() -> u64 {
    crate::workload::stream::DEFAULT_MIN_MS
}

/// What one role measured, per size.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RoleOutput {
    /// One entry per size, in the spec's order.
    pub sizes: Vec<SizeOutput>,
}

/// Measurements for one size.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SizeOutput {
    /// Payload bytes.
    pub size_bytes: u64,
    /// (metric, samples).
    pub metrics: Vec<(Metric, Trial)>,
    /// This process's CPU time per measured message, nanoseconds.
    pub cpu_ns_per_msg: f64,
    /// Measured messages this process handled (a fanout worker: its share).
    #[serde(default)]
    pub messages: u64,
    /// Messages per second over the measured window (stream consumer,
    /// fanout producer).
    pub msgs_per_s: Option<f64>,
    /// Stream consumer: measured messages over the time from the first
    /// measured send to the last receive, the rate paced workloads scale.
    #[serde(default)]
    pub sustained_msgs_per_s: Option<f64>,
    /// Shared-queue fanout: the measured tasks this process had acknowledged
    /// (producer) or took (worker), for the supervisor's union check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<crate::workload::TaskDigest>,
    /// In-place workloads' producer: whether every measured message went
    /// out as a loan of the transport's memory (false: its own buffer and
    /// `send`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loaned: Option<bool>,
}

/// Environment variable with the secret part of each endpoint (after its
/// `#`), comma-separated in endpoint order, empty for none.
pub const ENDPOINT_SECRETS: &str = "IPCBENCH_ENDPOINT_SECRETS";

/// The pids the supervisor says will connect, one `PEER` line each, until it
/// closes stdin (a role started by hand, stdin closed, gets none and admits
/// any process of our user).
fn expected_peers() -> Result<Vec<u32>> {
    let mut pids = Vec::new();
    for line in std::io::stdin().lines() {
        let line = line.context("reading the peers' pids from the supervisor")?;
        if line.trim().is_empty() {
            continue;
        }
        match line.trim().parse::<Line>() {
            Ok(Line::Peer(pid)) => pids.push(pid),
            _ => anyhow::bail!("expected PEER and a pid on stdin, got {line:?}"),
        }
    }
    Ok(pids)
}

/// Endpoint number `k` as the consumer published it: the public part from
/// the spec plus its secret from [`ENDPOINT_SECRETS`], if any.
fn full_endpoint(public: &str, k: usize) -> Endpoint {
    join_secret(public, k, std::env::var(ENDPOINT_SECRETS).ok().as_deref())
}

fn join_secret(public: &str, k: usize, secrets: Option<&str>) -> Endpoint {
    let secret = secrets.and_then(|all| all.split(',').nth(k).filter(|s| !s.is_empty()));
    match secret {
        Some(secret) => Endpoint(format!("{public}#{secret}")),
        None => Endpoint(public.to_owned()),
    }
}

/// The role's channel to the supervisor: lines on stdout.
#[derive(Debug, Default)]
pub struct Control;

impl Control {
    fn line(&mut self, line: Line) -> Result<()> {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")
            .and_then(|()| out.flush())
            .context("writing to the supervisor")
    }

    /// Announces the endpoint the producer must connect to.
    pub fn endpoint(&mut self, ep: &Endpoint) -> Result<()> {
        self.line(Line::Endpoint(ep.0.clone()))
    }

    /// Reports that size number `done` (counting from 1) is finished.
    pub fn progress(&mut self, done: usize) -> Result<()> {
        self.line(Line::Progress(done))
    }

    /// Sends the final measurements.
    pub fn result(&mut self, out: &RoleOutput) -> Result<()> {
        let json = serde_json::to_string(out).context("serialising results")?;
        self.line(Line::Result(json))
    }
}

/// Connection options for worker `worker` (0 outside fanout): every
/// per-worker fanout connection gets its own resource names (a shared queue
/// is one connection).
fn options(spec: &RoleSpec, worker: usize) -> Options {
    Options {
        tag: if spec.workload.is_fanout() && !spec.workload.shared_queue() {
            format!("{}-w{worker}", spec.tag)
        } else {
            spec.tag.clone()
        },
        expected_max_message: spec.sizes.iter().copied().max().unwrap_or(0) as usize + 64,
    }
}

/// Whether this process creates the connection and publishes its endpoint:
/// a pair's consumer and each `fanoutN` worker; in a shared-queue fanout
/// (`fanoutqN`) the producer, whose one endpoint every worker connects to.
pub fn listens(spec: &RoleSpec) -> bool {
    (spec.role == Role::Consumer) != spec.workload.shared_queue()
}

/// Sets up the connection(s) for transport `T` and runs the workload's side.
pub fn run<T: Transport>(spec: &RoleSpec, ctl: &mut Control) -> Result<RoleOutput> {
    let fault = crate::fault::Fault::from_env().filter(|_| spec.role == Role::Producer);
    if spec.role == Role::Producer && spec.workload.is_fanout() && !listens(spec) {
        return run_dealer::<T>(spec, ctl, fault);
    }
    let opts = options(spec, spec.worker);
    let (mut tx, mut rx) = if listens(spec) {
        accept::<T>(spec, &opts, ctl)?
    } else {
        let ep = spec
            .endpoint
            .clone()
            .with_context(|| format!("{} started without an endpoint", spec.role))?;
        T::connect(&full_endpoint(&ep, 0), &opts)
            .with_context(|| format!("{}: connecting to {ep}", T::NAME))?
    };
    match fault {
        Some(fault) => side(
            spec,
            &mut crate::fault::Faulty::new(tx, fault),
            &mut rx,
            ctl,
        ),
        None => side(spec, &mut tx, &mut rx, ctl),
    }
}

/// The `fanoutN` producer: one connection to each worker's endpoint.
fn run_dealer<T: Transport>(
    spec: &RoleSpec,
    ctl: &mut Control,
    fault: Option<crate::fault::Fault>,
) -> Result<RoleOutput> {
    anyhow::ensure!(
        spec.endpoints.len() == spec.workload.consumers(),
        "fanout producer started with {} endpoints for {} workers",
        spec.endpoints.len(),
        spec.workload.consumers()
    );
    let mut conns = Vec::with_capacity(spec.endpoints.len());
    for (k, ep) in spec.endpoints.iter().enumerate() {
        conns.push(
            T::connect(&full_endpoint(ep, k), &options(spec, k))
                .with_context(|| format!("{}: connecting to worker {k} at {ep}", T::NAME))?,
        );
    }
    match fault {
        Some(f) => {
            let mut faulty: Vec<_> = conns
                .into_iter()
                .map(|(tx, rx)| (crate::fault::Faulty::new(tx, f), rx))
                .collect();
            workload::run_fanout_producer(spec, &mut faulty, ctl)
        }
        None => workload::run_fanout_producer(spec, &mut conns, ctl),
    }
}

/// Listens (shared among the workers for `fanoutqN`), publishes the
/// endpoint, admits the processes the supervisor names, and accepts.
fn accept<T: Transport>(
    spec: &RoleSpec,
    opts: &Options,
    ctl: &mut Control,
) -> Result<(T::Sender, T::Receiver)> {
    let (mut listener, ep) = if spec.workload.shared_queue() {
        T::listen_shared(opts, spec.workload.consumers()).with_context(|| {
            format!(
                "{}: listen for {} workers",
                T::NAME,
                spec.workload.consumers()
            )
        })?
    } else if let Some(bind) = spec.bind {
        T::listen_at(opts, bind).with_context(|| format!("{}: listen on {bind}", T::NAME))?
    } else {
        T::listen(opts).with_context(|| format!("{}: listen", T::NAME))?
    };
    ctl.endpoint(&ep)?;
    for pid in expected_peers()? {
        listener.expect_peer(pid);
    }
    let deadline = Instant::now() + Duration::from_millis(spec.connect_timeout_ms);
    let who = if spec.workload.shared_queue() {
        "the workers"
    } else {
        "the producer"
    };
    listener
        .accept(deadline)
        .with_context(|| format!("{}: waiting for {who} to connect", T::NAME))
}

/// This process's side of the workload on its one connection.
fn side<S: transport::Sender, R: transport::Receiver>(
    spec: &RoleSpec,
    tx: &mut S,
    rx: &mut R,
    ctl: &mut Control,
) -> Result<RoleOutput> {
    match (spec.workload.shared_queue(), spec.role) {
        (false, _) => workload::run_side(spec, tx, rx, ctl),
        (true, Role::Producer) => workload::run_shared_producer(spec, tx, rx, ctl),
        (true, Role::Consumer) => workload::run_shared_worker(spec, tx, rx, ctl),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_rejoin_their_endpoints_in_order() {
        let secrets = Some("aa,,cc");
        assert_eq!(join_secret("tcp:x:1", 0, secrets).0, "tcp:x:1#aa");
        assert_eq!(join_secret("uds:@y", 1, secrets).0, "uds:@y");
        assert_eq!(join_secret("tcp:z:3", 2, secrets).0, "tcp:z:3#cc");
        assert_eq!(join_secret("tcp:z:3", 3, secrets).0, "tcp:z:3");
        assert_eq!(join_secret("uds:@y", 0, None).0, "uds:@y");
    }
}
