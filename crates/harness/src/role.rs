//! One process of a producer–consumer pair: what the supervisor asks it to do
//! ([`RoleSpec`]), how it reports back ([`Control`] lines on stdout), and what
//! it measured ([`RoleOutput`]).
//!
//! The supervisor re-executes its own binary as `ipcbench __role <json spec>`.
//! The child writes exactly three kinds of [`Line`] to stdout: `ENDPOINT <name>`
//! (consumer only, once listening), `PROGRESS <n>` (after each size, so the
//! supervisor can tell a stalled pair from a slow one) and `RESULT <json>`.
//! A consumer reads one line on stdin, `PEER <pid>`: the producer, the only
//! process its listener admits. A producer finds the secret parts of its
//! endpoints (TCP's token) in [`ENDPOINT_SECRETS`], kept off the command line
//! that any user can read in /proc.
//!
//! A fanout workload runs one producer and N consumers ("workers"): each
//! worker listens on its own connection, and the producer connects to all.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
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
    /// (metric name, samples).
    pub metrics: Vec<(String, Trial)>,
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
}

/// Environment variable with the secret part of each endpoint (after its
/// `#`), comma-separated in endpoint order, empty for none.
pub const ENDPOINT_SECRETS: &str = "IPCBENCH_ENDPOINT_SECRETS";

/// The pid the supervisor says will connect, if it says one (a role started
/// by hand, stdin closed, gets none and admits any process of our user).
fn expected_peer() -> Result<Option<u32>> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the producer's pid from the supervisor")?;
    if line.trim().is_empty() {
        return Ok(None);
    }
    match line.trim().parse::<Line>() {
        Ok(Line::Peer(pid)) => Ok(Some(pid)),
        _ => anyhow::bail!("expected PEER and a pid on stdin, got {line:?}"),
    }
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

/// Connection options for worker `worker` (0 outside fanout): every fanout
/// connection gets its own resource names.
fn options(spec: &RoleSpec, worker: usize) -> Options {
    Options {
        tag: if spec.workload.is_fanout() {
            format!("{}-w{worker}", spec.tag)
        } else {
            spec.tag.clone()
        },
        expected_max_message: spec.sizes.iter().copied().max().unwrap_or(0) as usize + 64,
    }
}

/// Sets up the connection(s) for transport `T` and runs the workload's side.
pub fn run<T: Transport>(spec: &RoleSpec, ctl: &mut Control) -> Result<RoleOutput> {
    let fault = crate::fault::Fault::from_env().filter(|_| spec.role == Role::Producer);
    if spec.role == Role::Producer && spec.workload.is_fanout() {
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
        return match fault {
            Some(f) => {
                let mut faulty: Vec<_> = conns
                    .into_iter()
                    .map(|(tx, rx)| (crate::fault::Faulty::new(tx, f), rx))
                    .collect();
                workload::run_fanout_producer(spec, &mut faulty, ctl)
            }
            None => workload::run_fanout_producer(spec, &mut conns, ctl),
        };
    }
    let opts = options(spec, spec.worker);
    let (mut tx, mut rx) = match spec.role {
        Role::Consumer => {
            let (mut listener, ep) =
                T::listen(&opts).with_context(|| format!("{}: listen", T::NAME))?;
            ctl.endpoint(&ep)?;
            if let Some(pid) = expected_peer()? {
                listener.expect_peer(pid);
            }
            let deadline = Instant::now() + Duration::from_millis(spec.connect_timeout_ms);
            listener
                .accept(deadline)
                .with_context(|| format!("{}: waiting for the producer to connect", T::NAME))?
        }
        Role::Producer => {
            let ep = spec
                .endpoint
                .clone()
                .context("producer started without an endpoint")?;
            T::connect(&full_endpoint(&ep, 0), &opts)
                .with_context(|| format!("{}: connecting to {ep}", T::NAME))?
        }
    };
    match fault {
        Some(fault) => workload::run_side(
            spec,
            &mut crate::fault::Faulty::new(tx, fault),
            &mut rx,
            ctl,
        ),
        None => workload::run_side(spec, &mut tx, &mut rx, ctl),
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
