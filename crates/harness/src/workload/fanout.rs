//! `fanoutN`: the seed's real use case, one producer handing tasks to N worker
//! processes, each worker acknowledging each task.
//!
//! Every transport here is point to point, so the producer holds one
//! connection per worker and deals tasks round-robin: task i goes to worker
//! i mod N, and the producer keeps exactly one task in flight per worker (it
//! waits for worker k's acknowledgement, then sends worker k its next task),
//! so N tasks are in flight. A worker receives a task, timestamps it, verifies
//! every byte (its "work"), and acknowledges with (sequence, receive time).
//!
//! Timed: `latency` per task, from just before the producer's `send` to the
//! worker's `recv` returning (one clock, two processes); `throughput`, the
//! measured tasks over the window from the first measured send to the last
//! measured acknowledgement. Warm-up tasks are all acknowledged before the
//! measured ones start, so the window starts empty and ends drained.

use anyhow::{Context, Result, ensure};
use codec::Codec;
use codec::pattern::PatternSet;
use results::Metric;
use transport::{Receiver, Sender};

use super::{MIN_WARMUP_MESSAGES, SeqTracker, WARMUP, le_u64, patch_header, raw_buffers};
use crate::clock::now_ns;
use crate::role::{RoleSpec, SizeOutput};
use crate::stats::{Recorder, cpu_time_ns};

/// How many of `tasks` (dealt round-robin from task 0) worker `k` of `n` gets.
pub fn share(tasks: usize, n: usize, k: usize) -> usize {
    tasks / n + usize::from(k < tasks % n)
}

/// What ends a phase of dealing (round-robin here, shared in
/// `fanout_shared`).
#[derive(Clone, Copy)]
pub(super) enum Until {
    /// This many tasks in all.
    Tasks(u64),
    /// This `now_ns` time, after at least [`MIN_WARMUP_MESSAGES`] per worker.
    Time(u64),
}

/// The producer's state for one size: buffers and the per-worker books.
struct Dealer<'a, S, R> {
    conns: &'a mut [(S, R)],
    bufs: Vec<Vec<u8>>,
    /// Per worker: tasks sent in this phase (its next sequence number).
    seq: Vec<u64>,
    /// Per worker: when its task in flight was sent, if one is.
    sent_at: Vec<Option<u64>>,
}

impl<S: Sender, R: Receiver> Dealer<'_, S, R> {
    fn send(&mut self, k: usize, flag: u64) -> Result<()> {
        let seq = self.seq[k] | flag;
        let variants = self.bufs.len() as u64;
        let buf = &mut self.bufs[(seq % variants) as usize];
        patch_header(buf, seq, 0);
        let t0 = now_ns();
        self.conns[k]
            .0
            .send(buf)
            .with_context(|| format!("sending task #{} to worker {k}", seq & !WARMUP))?;
        self.sent_at[k] = Some(t0);
        self.seq[k] += 1;
        Ok(())
    }

    /// Deals tasks round-robin until `until`, then collects every
    /// acknowledgement. Returns (tasks, first send, last acknowledgement).
    fn phase(
        &mut self,
        flag: u64,
        until: Until,
        mut rec: Option<&mut Recorder>,
    ) -> Result<(u64, u64, u64)> {
        let n = self.conns.len();
        self.seq.iter_mut().for_each(|s| *s = 0);
        let more = |issued: u64| match until {
            Until::Tasks(m) => issued < m,
            Until::Time(t) => issued < MIN_WARMUP_MESSAGES * n as u64 || now_ns() < t,
        };
        let (mut issued, mut in_flight) = (0u64, 0usize);
        let first = now_ns();
        for k in 0..n {
            if !more(issued) {
                break;
            }
            self.send(k, flag)?;
            issued += 1;
            in_flight += 1;
        }
        let mut last = first;
        let mut k = 0;
        while in_flight > 0 {
            if let Some(t0) = self.sent_at[k] {
                let ack = self.conns[k]
                    .1
                    .recv()
                    .with_context(|| format!("waiting for worker {k}'s acknowledgement"))?;
                last = now_ns();
                let (ack_seq, t_recv) = (le_u64(ack, 0)?, le_u64(ack, 8)?);
                let want = (self.seq[k] - 1) | flag;
                ensure!(
                    ack_seq == want,
                    "worker {k} acknowledged task #{} while task #{} was in flight",
                    ack_seq & !WARMUP,
                    want & !WARMUP
                );
                if let Some(r) = rec.as_deref_mut() {
                    // A worker can timestamp a few ns before our clock read
                    // around send is ordered after it; count 0, not a wrap.
                    r.record(t_recv.saturating_sub(t0));
                }
                self.sent_at[k] = None;
                in_flight -= 1;
                if more(issued) {
                    self.send(k, flag)?;
                    issued += 1;
                    in_flight += 1;
                }
            }
            k = (k + 1) % n;
        }
        Ok((issued, first, last))
    }
}

pub(super) fn producer<S: Sender, R: Receiver>(
    conns: &mut [(S, R)],
    elements: usize,
    spec: &RoleSpec,
) -> Result<SizeOutput> {
    let n = conns.len();
    ensure!(n > 0, "fanout without workers");
    let tasks = spec.messages as u64;
    ensure!(
        tasks >= n as u64,
        "{tasks} tasks cannot keep {n} workers busy"
    );
    let pat = PatternSet::new(elements);
    let mut d = Dealer {
        conns,
        bufs: raw_buffers(&pat)?,
        seq: vec![0; n],
        sent_at: vec![None; n],
    };
    let warm_until = now_ns() + spec.warmup_ms * 1_000_000;
    d.phase(WARMUP, Until::Time(warm_until), None)
        .context("warm-up")?;
    let mut latency = Recorder::new();
    let cpu0 = cpu_time_ns();
    let phase = d.phase(0, Until::Tasks(tasks), Some(&mut latency))?;
    Ok(producer_output(&latency, cpu0, phase))
}

/// A fanout producer's figures from its measured phase (tasks, first send,
/// last acknowledgement), CPU time counted from `cpu0` until now.
pub(super) fn producer_output(
    latency: &Recorder,
    cpu0: u64,
    (done, first, last): (u64, u64, u64),
) -> SizeOutput {
    SizeOutput {
        metrics: vec![(Metric::Latency, latency.to_trial())],
        cpu_ns_per_msg: (cpu_time_ns() - cpu0) as f64 / done.max(1) as f64,
        messages: done,
        msgs_per_s: (last > first).then(|| done as f64 * 1e9 / (last - first) as f64),
        ..SizeOutput::default()
    }
}

pub(super) fn worker<S: Sender, R: Receiver>(
    tx: &mut S,
    rx: &mut R,
    elements: usize,
    spec: &RoleSpec,
) -> Result<SizeOutput> {
    let n = spec.workload.consumers();
    let mine = share(spec.messages, n, spec.worker) as u64;
    ensure!(mine > 0, "worker {} of {n} has no tasks", spec.worker);
    let pat = PatternSet::new(elements);
    let mut seqs = SeqTracker::default();
    let mut cpu0 = 0;
    while seqs.measured < mine {
        let msg = rx.recv().context("waiting for the next task")?;
        let t_recv = now_ns();
        let decoded = Codec::Raw.decode(msg)?;
        let seq = decoded.header.seq;
        pat.verify(&decoded, seqs.expect(seq))
            .context("verification failed")?;
        if seqs.advance(seq) && seqs.measured == 1 {
            cpu0 = cpu_time_ns();
        }
        super::send_ack(tx, &[seq, t_recv], "acknowledging the task")?;
    }
    Ok(SizeOutput {
        cpu_ns_per_msg: (cpu_time_ns() - cpu0) as f64 / mine as f64,
        messages: mine,
        ..SizeOutput::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up() {
        for tasks in [4, 5, 7, 1000, 1001] {
            for n in 1..=4 {
                let total: usize = (0..n).map(|k| share(tasks, n, k)).sum();
                assert_eq!(total, tasks);
            }
        }
        assert_eq!(share(7, 4, 2), 2);
        assert_eq!(share(7, 4, 3), 1);
    }
}
