//! `pacedP`: open loop. The producer sends at a fixed rate, P% of the stream
//! rate measured for the same transport, placement, size and trial, and
//! latency is counted from each message's *intended* send time, so a sender
//! held up by the transport cannot hide the delay it causes (coordinated
//! omission, corrected as wrk2 does).
//!
//! Message k (warm-up included) is due at `start + k / rate`. The producer
//! sleeps (`clock_nanosleep`, absolute, timer slack 1 ns) until
//! [`SPIN_NS`] before that, then spins to it (yielding instead when it shares
//! its core with the consumer), stamps the header with the intended time and
//! sends. Late messages go out at once, back to back, until the schedule is
//! caught up. The consumer times `latency` = its `recv` return − intended time
//! for every measured message, then verifies it, as in `stream`.

use std::num::NonZeroU64;

use anyhow::{Context, Result};
use codec::Codec;
use codec::pattern::PatternSet;
use results::Metric;
use rustix::time::{ClockId, Timespec};
use transport::{Receiver, Sender};

use super::{
    MIN_WARMUP_MESSAGES, SeqTracker, WARMUP, await_done, patch_header, raw_buffers, send_done,
};
use crate::clock::now_ns;
use crate::placement::Placement;
use crate::role::{RoleSpec, SizeOutput};
use crate::stats::{Recorder, cpu_time_ns};

/// The producer sleeps until this long before a send is due, then spins:
/// wake-ups from `clock_nanosleep` on a virtual machine come tens of
/// microseconds late.
pub const SPIN_NS: u64 = 60_000;

/// A size sends as many measured messages as take this long at its rate, so
/// every cell covers the same stretch of time whatever the transport's speed.
pub const SECONDS: f64 = 0.2;

/// But at least this many (unless the run's upper bound is lower), so a slow
/// rate still gives a tail.
pub const MIN_MESSAGES: u64 = 200;

/// Measured messages for one size paced at `rate` messages per second:
/// [`SECONDS`] worth, at least [`MIN_MESSAGES`], at most `max`. Both sides
/// compute it.
pub fn message_count(max: usize, rate: f64) -> u64 {
    let max = max as u64;
    let want = (rate * SECONDS).ceil();
    let want = if want.is_finite() && want > 0.0 {
        want.min(u64::MAX as f64) as u64
    } else {
        0
    };
    want.clamp(MIN_MESSAGES.min(max), max).max(1)
}

/// Waits until `now_ns() >= due`.
#[inline]
fn wait_until(due: u64, share_core: bool) {
    loop {
        let now = now_ns();
        if now >= due {
            return;
        }
        if due - now > SPIN_NS {
            let wake = due - SPIN_NS;
            let ts = Timespec {
                tv_sec: (wake / 1_000_000_000) as i64,
                tv_nsec: (wake % 1_000_000_000) as i64,
            };
            // An interrupted or failed sleep only means we look at the
            // clock again sooner.
            let _ = rustix::thread::clock_nanosleep_absolute(ClockId::Monotonic, &ts);
        } else if share_core {
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
}

pub(super) fn producer<S: Sender, R: Receiver>(
    tx: &mut S,
    rx: &mut R,
    elements: usize,
    spec: &RoleSpec,
    rate: f64,
) -> Result<SizeOutput> {
    // The default 50 µs slack would make every sleep overshoot; if the
    // kernel refuses, the spin before each send absorbs it.
    let _ = rustix::thread::set_current_timer_slack(NonZeroU64::new(1));
    let pat = PatternSet::new(elements);
    let mut bufs = raw_buffers(&pat)?;
    let variants = bufs.len() as u64;
    let measured = message_count(spec.messages, rate);
    let warm = ((rate * spec.warmup_ms as f64 / 1e3).ceil() as u64).max(MIN_WARMUP_MESSAGES);
    let period = 1e9 / rate;
    let share_core = spec.placement == Placement::Same;
    let start = now_ns();
    let mut cpu0 = 0;
    for k in 0..warm + measured {
        let due = start + (k as f64 * period) as u64;
        let seq = if k < warm { k | WARMUP } else { k - warm };
        if k == warm {
            cpu0 = cpu_time_ns();
        }
        wait_until(due, share_core);
        let buf = &mut bufs[(seq % variants) as usize];
        patch_header(buf, seq, due);
        tx.send(buf)
            .with_context(|| format!("message #{}", seq & !WARMUP))?;
    }
    let cpu = (cpu_time_ns() - cpu0) as f64 / measured as f64;
    await_done(rx)?;
    Ok(SizeOutput {
        cpu_ns_per_msg: cpu,
        messages: measured,
        ..SizeOutput::default()
    })
}

pub(super) fn consumer<S: Sender, R: Receiver>(
    tx: &mut S,
    rx: &mut R,
    elements: usize,
    spec: &RoleSpec,
    rate: f64,
) -> Result<SizeOutput> {
    let pat = PatternSet::new(elements);
    let n = message_count(spec.messages, rate);
    let mut latency = Recorder::new();
    let mut seqs = SeqTracker::default();
    let mut cpu0 = 0;
    while seqs.measured < n {
        let msg = rx.recv().context("waiting for the next message")?;
        let t = now_ns();
        let decoded = Codec::Raw.decode(msg)?;
        let seq = decoded.header.seq;
        pat.verify(&decoded, seqs.expect(seq))
            .context("verification failed")?;
        if seqs.advance(seq) {
            if seqs.measured == 1 {
                cpu0 = cpu_time_ns();
            }
            latency.record(t.saturating_sub(decoded.header.send_ns));
        }
    }
    let cpu = (cpu_time_ns() - cpu0) as f64 / n as f64;
    send_done(tx)?;
    Ok(SizeOutput {
        metrics: vec![(Metric::Latency, latency.to_trial())],
        cpu_ns_per_msg: cpu,
        messages: n,
        ..SizeOutput::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_the_rate_within_bounds() {
        assert_eq!(message_count(100_000, 1e5), 20_000);
        assert_eq!(message_count(100_000, 1e7), 100_000);
        assert_eq!(message_count(100_000, 10.0), MIN_MESSAGES);
        assert_eq!(message_count(30, 10.0), 30);
        assert_eq!(message_count(100_000, f64::NAN), MIN_MESSAGES);
        assert_eq!(message_count(0, 1e5), 1);
    }

    #[test]
    fn waiting_reaches_the_due_time() {
        let due = now_ns() + 200_000;
        wait_until(due, false);
        assert!(now_ns() >= due);
        let due = now_ns() + 1_000;
        wait_until(due, true);
        assert!(now_ns() >= due);
    }
}
