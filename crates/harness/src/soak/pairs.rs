//! One backend's share of the soak: a short calibration pair measures its
//! stream rate per size, then pairs of at most [`PAIR_MAX`] stream every
//! size for [`ROUNDS`] rounds each until the share is used up.

use std::path::Path;
use std::time::{Duration, Instant};

use super::sampler::{SAMPLE_EVERY, Sampler};
use super::{Outcome, PairMemory};
use crate::placement::{Placement, Role};
use crate::registry::Backend;
use crate::role::RoleSpec;
use crate::supervisor::{Limits, run_pair};
use crate::workload::Workload;

/// The longest a soak pair runs; longer shares run several pairs.
pub const PAIR_MAX: Duration = Duration::from_secs(120);
/// Rounds through all sizes per pair.
pub const ROUNDS: usize = 4;
/// The shortest pair worth starting with what is left of a share.
const MIN_PAIR: Duration = Duration::from_secs(5);
/// Measured messages per size of the calibration pair.
const CALIBRATION_MESSAGES: usize = 200;
fn spec(
    b: &Backend,
    sizes: Vec<u64>,
    messages: usize,
    placement: Placement,
    limits: Limits,
) -> RoleSpec {
    RoleSpec {
        role: Role::Consumer,
        transport: b.name.to_owned(),
        workload: Workload::Stream,
        codec: "raw".to_owned(),
        sizes,
        messages,
        warmup_ms: 0,
        placement,
        tag: transport::Options::unique("ib").tag,
        endpoint: None,
        endpoints: Vec::new(),
        worker: 0,
        rates: Vec::new(),
        connect_timeout_ms: limits.connect.as_millis() as u64,
        stream_min_ms: crate::workload::stream::DEFAULT_MIN_MS,
        bind: None,
        remote: false,
    }
}

pub(super) fn soak_one(
    exe: &Path,
    b: &'static Backend,
    sizes: &[u64],
    placement: Placement,
    share: Duration,
    limits: Limits,
) -> Outcome {
    let mut out = Outcome {
        transport: b.name,
        ..Outcome::default()
    };
    if sizes.is_empty() {
        out.errors.push("no size fits this transport".into());
        return out;
    }
    let started = Instant::now();
    // Seconds one message of every size takes; refined after each pair
    // (the short calibration pair is a rough guide).
    let mut secs_per_message = match calibrate(exe, b, sizes, placement, limits) {
        Ok(s) => s,
        Err(e) => {
            out.errors.push(e);
            return out;
        }
    };
    loop {
        let left = share.saturating_sub(started.elapsed());
        let pair_len = left.min(PAIR_MAX).as_secs_f64().max(1.0);
        // Each round sends `messages` of every size.
        let round_s = pair_len / ROUNDS as f64;
        let messages = ((round_s / secs_per_message) as usize).clamp(20, 10_000_000);
        let all_sizes: Vec<u64> = sizes
            .iter()
            .copied()
            .cycle()
            .take(ROUNDS * sizes.len())
            .collect();
        let soak = spec(b, all_sizes, messages, placement, limits);
        let sampler = Sampler::start(soak.tag.clone());
        let t0 = Instant::now();
        let result = run_pair(exe, &soak, limits);
        let took = t0.elapsed().as_secs_f64();
        out.seconds += took;
        out.pairs.push(PairMemory {
            samples: sampler.stop(),
            // From the end of the first round, when every buffer the largest
            // size needs exists.
            warm_s: messages as f64 * secs_per_message + SAMPLE_EVERY.as_secs_f64(),
        });
        match result {
            Ok((_, consumer)) => {
                // Counted from what arrived: a size streams for at least
                // `stream::DEFAULT_MIN_MS`, so small sizes send more than asked.
                for s in &consumer.sizes {
                    out.messages += s.messages;
                    out.bytes += s.messages * s.size_bytes;
                }
                secs_per_message = took / (ROUNDS * messages) as f64;
            }
            Err(e) => {
                out.errors.push(format!("soak pair: {e:#}"));
                return out;
            }
        }
        if share.saturating_sub(started.elapsed()) < MIN_PAIR {
            return out;
        }
    }
}

/// Seconds one message of every size takes, from a short pair of
/// [`CALIBRATION_MESSAGES`] per size.
fn calibrate(
    exe: &Path,
    b: &Backend,
    sizes: &[u64],
    placement: Placement,
    limits: Limits,
) -> Result<f64, String> {
    let cal = spec(b, sizes.to_vec(), CALIBRATION_MESSAGES, placement, limits);
    match run_pair(exe, &cal, limits) {
        Ok((_, consumer)) => Ok(consumer
            .sizes
            .iter()
            .map(|s| 1.0 / s.msgs_per_s.unwrap_or(0.0).max(1.0))
            .sum()),
        Err(e) => Err(format!("calibration: {e:#}")),
    }
}
