//! `fanoutqN`: the fanout of `fanout.rs` with the workers pulling from ONE
//! shared queue, as Python's `multiprocessing.Queue` workers do, instead of
//! one channel per worker.
//!
//! The producer listens once (`Transport::listen_shared`) and every worker
//! connects to that endpoint: each task it sends is taken by whichever worker
//! asks first, and every worker's acknowledgement (sequence, receive time)
//! comes back on the one reply channel. The producer keeps N tasks in flight
//! (N = workers, as in `fanoutN`): it sends N, then one more per
//! acknowledgement. Which worker takes which task is the queue's business, so
//! a worker cannot know its share: it tells sizes apart by a task's length,
//! and the producer ends the run with one [`STOP`] per worker (each worker
//! takes exactly one, as it stops reading after it).
//!
//! Verified: every byte of every task by the worker that takes it; every
//! acknowledgement by the producer (a task acknowledged twice, or never sent,
//! fails the run); and the union, by the supervisor ([`check_union`]): the
//! workers' [`TaskDigest`]s of the measured tasks they took must add up to the
//! producer's of the tasks it had acknowledged, so no task was lost or taken
//! twice across workers.
//!
//! Timed as in `fanoutN`: `latency` per task from just before the producer's
//! `send` to the worker's `recv` returning; `throughput`, measured tasks over
//! the window from the first measured send to the last measured
//! acknowledgement, with every warm-up task acknowledged before it starts.

use anyhow::{Context, Result, ensure};
use codec::Codec;
use codec::pattern::PatternSet;
use serde::{Deserialize, Serialize};
use transport::{Receiver, Sender};

use super::fanout::{Until, producer_output};
use super::{MIN_WARMUP_MESSAGES, WARMUP, le_u64, patch_header, raw_buffers};
use crate::clock::now_ns;
use crate::role::{Control, RoleOutput, RoleSpec, SizeOutput};
use crate::stats::{Recorder, cpu_time_ns};

/// The producer's last message to each worker: no task is this short.
pub const STOP: &[u8] = b"stop";

/// `sent_at` entry of a task that is not in flight.
const IDLE: u64 = u64::MAX;

/// A set of task numbers, summarised so that sets can be added up across
/// workers and compared with the producer's: a lost task, a task taken twice,
/// or one swapped for another changes the count, the sum or the mixed sum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskDigest {
    /// Tasks in the set.
    pub count: u64,
    /// Sum of their numbers (wrapping).
    pub sum: u64,
    /// Sum of a mix of their numbers (wrapping): equal counts and sums of
    /// different sets rarely have equal mixed sums.
    pub mix: u64,
}

impl TaskDigest {
    fn add(&mut self, task: u64) {
        self.count += 1;
        self.sum = self.sum.wrapping_add(task);
        self.mix = self.mix.wrapping_add(splitmix64(task));
    }

    fn merge(&mut self, other: &Self) {
        self.count += other.count;
        self.sum = self.sum.wrapping_add(other.sum);
        self.mix = self.mix.wrapping_add(other.mix);
    }
}

/// SplitMix64's finaliser: a bijective scramble of a task number.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Workers tell a task's size by its number of elements: two sizes with the
/// same count would be ambiguous.
pub(super) fn check_sizes(spec: &RoleSpec) -> Result<()> {
    for (i, a) in spec.sizes.iter().enumerate() {
        if let Some(b) = spec.sizes[..i].iter().find(|&&b| b / 8 == a / 8) {
            anyhow::bail!(
                "sizes {b} B and {a} B carry the same number of int64 elements; the \
                 shared-queue fanout tells sizes apart by length: give distinct sizes"
            );
        }
    }
    Ok(())
}

/// The producer's state for one size.
struct Dealer<'a, S, R> {
    tx: &'a mut S,
    rx: &'a mut R,
    workers: usize,
    bufs: Vec<Vec<u8>>,
    /// Per task number: when it was sent while in flight, else [`IDLE`].
    sent_at: Vec<u64>,
}

impl<S: Sender, R: Receiver> Dealer<'_, S, R> {
    fn send(&mut self, task: u64, flag: u64) -> Result<()> {
        let seq = task | flag;
        let variants = self.bufs.len() as u64;
        let buf = &mut self.bufs[(seq % variants) as usize];
        patch_header(buf, seq, 0);
        let at = task as usize;
        if at >= self.sent_at.len() {
            // Warm-up only: the measured phase's book is sized before it.
            self.sent_at
                .resize((at + 1).max(2 * self.sent_at.len()), IDLE);
        }
        let t0 = now_ns();
        self.tx
            .send(buf)
            .with_context(|| format!("sending task #{task} to the shared queue"))?;
        self.sent_at[at] = t0;
        Ok(())
    }

    /// Keeps `workers` tasks in flight until `until`, then collects every
    /// acknowledgement. Returns (tasks, first send, last acknowledgement).
    fn phase(
        &mut self,
        flag: u64,
        until: Until,
        mut rec: Option<&mut Recorder>,
        acked: &mut TaskDigest,
    ) -> Result<(u64, u64, u64)> {
        let n = self.workers as u64;
        let more = |issued: u64| match until {
            Until::Tasks(m) => issued < m,
            Until::Time(t) => issued < MIN_WARMUP_MESSAGES * n || now_ns() < t,
        };
        let (mut issued, mut in_flight) = (0u64, 0u64);
        let first = now_ns();
        while in_flight < n && more(issued) {
            self.send(issued, flag)?;
            issued += 1;
            in_flight += 1;
        }
        let mut last = first;
        while in_flight > 0 {
            let ack = self
                .rx
                .recv()
                .context("waiting for the workers' acknowledgements")?;
            last = now_ns();
            let (seq, t_recv) = (le_u64(ack, 0)?, le_u64(ack, 8)?);
            let task = seq & !WARMUP;
            ensure!(
                seq & WARMUP == flag,
                "a worker acknowledged {} task #{task} in the {} phase",
                if seq & WARMUP != 0 {
                    "warm-up"
                } else {
                    "measured"
                },
                if flag != 0 { "warm-up" } else { "measured" }
            );
            let slot = self.sent_at.get_mut(task as usize).filter(|t| **t != IDLE);
            let Some(slot) = slot else {
                anyhow::bail!(
                    "a worker acknowledged task #{task}, which is not in flight ({issued} sent): \
                     a task taken twice, or a stray acknowledgement"
                );
            };
            let t0 = std::mem::replace(slot, IDLE);
            if let Some(r) = rec.as_deref_mut() {
                // As in fanoutN: a worker's stamp may precede our clock read.
                r.record(t_recv.saturating_sub(t0));
            }
            if flag == 0 {
                acked.add(task);
            }
            in_flight -= 1;
            if more(issued) {
                self.send(issued, flag)?;
                issued += 1;
                in_flight += 1;
            }
        }
        Ok((issued, first, last))
    }
}

pub(super) fn producer<S: Sender, R: Receiver>(
    tx: &mut S,
    rx: &mut R,
    elements: usize,
    spec: &RoleSpec,
) -> Result<SizeOutput> {
    let workers = spec.workload.consumers();
    ensure!(workers > 0, "fanout without workers");
    let tasks = spec.messages as u64;
    ensure!(
        tasks >= workers as u64,
        "{tasks} tasks cannot keep {workers} workers busy"
    );
    let pat = PatternSet::new(elements);
    let mut d = Dealer {
        tx,
        rx,
        workers,
        bufs: raw_buffers(&pat)?,
        sent_at: Vec::new(),
    };
    let warm_until = now_ns() + spec.warmup_ms * 1_000_000;
    d.phase(
        WARMUP,
        Until::Time(warm_until),
        None,
        &mut TaskDigest::default(),
    )
    .context("warm-up")?;
    d.sent_at.clear();
    d.sent_at.resize(spec.messages, IDLE);
    let mut latency = Recorder::new();
    let mut acked = TaskDigest::default();
    let cpu0 = cpu_time_ns();
    let phase = d.phase(0, Until::Tasks(tasks), Some(&mut latency), &mut acked)?;
    Ok(SizeOutput {
        tasks: Some(acked),
        ..producer_output(&latency, cpu0, phase)
    })
}

/// Ends the run: one [`STOP`] for each worker.
pub(super) fn stop_workers<S: Sender>(tx: &mut S, workers: usize) -> Result<()> {
    for _ in 0..workers {
        tx.send(STOP).context("telling the workers to stop")?;
    }
    Ok(())
}

/// A worker: takes tasks of any size until its [`STOP`], verifying and
/// acknowledging each; reports per size the measured tasks it took.
pub(super) fn worker<S: Sender, R: Receiver>(
    tx: &mut S,
    rx: &mut R,
    spec: &RoleSpec,
    ctl: &mut Control,
) -> Result<RoleOutput> {
    let mut sizes: Vec<SizeOutput> = spec
        .sizes
        .iter()
        .map(|&size_bytes| SizeOutput {
            size_bytes,
            tasks: Some(TaskDigest::default()),
            ..SizeOutput::default()
        })
        .collect();
    let (mut cur, mut pat, mut cpu0) = (None::<usize>, PatternSet::new(0), None::<u64>);
    loop {
        let msg = rx.recv().context("waiting for the next task")?;
        if msg == STOP {
            break;
        }
        let t_recv = now_ns();
        let decoded = Codec::Raw.decode(msg)?;
        let (seq, elements) = (decoded.header.seq, decoded.data.len() as u64);
        let i = spec
            .sizes
            .iter()
            .position(|&s| s / 8 == elements)
            .with_context(|| {
                format!("a task of {elements} elements matches no size of this run")
            })?;
        if cur != Some(i) {
            // The producer finishes a size (every task acknowledged) before
            // it starts the next: sizes only move forward.
            if let Some(j) = cur {
                ensure!(
                    i > j,
                    "a task of size {} B after size {} B",
                    spec.sizes[i],
                    spec.sizes[j]
                );
                finish(&mut sizes[j], cpu0.take());
            }
            ctl.progress(i)?;
            (cur, pat) = (Some(i), PatternSet::new(elements as usize));
        }
        pat.verify(&decoded, seq).with_context(|| {
            format!(
                "verification failed: task #{} of size {} B",
                seq & !WARMUP,
                spec.sizes[i]
            )
        })?;
        if seq & WARMUP == 0 {
            cpu0.get_or_insert_with(cpu_time_ns);
            sizes[i].messages += 1;
            if let Some(d) = sizes[i].tasks.as_mut() {
                d.add(seq);
            }
        }
        super::send_ack(tx, &[seq, t_recv], "acknowledging the task")?;
    }
    if let Some(j) = cur {
        finish(&mut sizes[j], cpu0);
    }
    ctl.progress(spec.sizes.len())?;
    Ok(RoleOutput { sizes })
}

/// CPU per measured task this worker took of a size it has left.
fn finish(out: &mut SizeOutput, cpu0: Option<u64>) {
    if let Some(c) = cpu0 {
        out.cpu_ns_per_msg = (cpu_time_ns() - c) as f64 / out.messages.max(1) as f64;
    }
}

/// The supervisor's check of a shared-queue run: per size, the tasks the
/// workers took add up to the tasks the producer had acknowledged, no task
/// lost or taken by two workers. Runs without digests (other workloads)
/// pass.
pub fn check_union(producer: &RoleOutput, workers: &[RoleOutput]) -> Result<()> {
    for (si, p) in producer.sizes.iter().enumerate() {
        let Some(sent) = p.tasks else { continue };
        let mut took = TaskDigest::default();
        for (k, w) in workers.iter().enumerate() {
            let d = w.sizes.get(si).and_then(|s| s.tasks).with_context(|| {
                format!("worker {k} reported no tasks for size {} B", p.size_bytes)
            })?;
            took.merge(&d);
        }
        ensure!(
            took == sent,
            "size {} B: the workers took {} measured tasks between them and the producer had \
             {} acknowledged, {}: tasks lost or taken twice across workers",
            p.size_bytes,
            took.count,
            sent.count,
            if took.count == sent.count {
                "the same count but a different set"
            } else {
                "a different count"
            }
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(digests: &[TaskDigest]) -> RoleOutput {
        RoleOutput {
            sizes: digests
                .iter()
                .map(|d| SizeOutput {
                    size_bytes: 800,
                    tasks: Some(*d),
                    ..SizeOutput::default()
                })
                .collect(),
        }
    }

    fn digest(tasks: impl IntoIterator<Item = u64>) -> TaskDigest {
        let mut d = TaskDigest::default();
        tasks.into_iter().for_each(|t| d.add(t));
        d
    }

    #[test]
    fn the_union_must_be_the_producers_set() {
        let producer = output(&[digest(0..10)]);
        let split = [output(&[digest(0..4)]), output(&[digest(4..10)])];
        check_union(&producer, &split).expect("a partition passes");
        let lost = [output(&[digest(0..4)]), output(&[digest(5..10)])];
        let e = check_union(&producer, &lost).expect_err("task 4 lost");
        assert!(e.to_string().contains("a different count"), "{e}");
        // Task 3 taken twice and task 4 by nobody: the count agrees.
        let swapped = [
            output(&[digest([0, 1, 2, 3, 3])]),
            output(&[digest([5, 6, 7, 8, 9])]),
        ];
        let e = check_union(&producer, &swapped).expect_err("3 twice, 4 never");
        assert!(e.to_string().contains("a different set"), "{e}");
        // Count and sum agree; only the mixed sum tells.
        let tricky = [
            output(&[digest([0, 1, 2, 3, 5])]),
            output(&[digest([3, 6, 7, 8, 10])]),
        ];
        assert_eq!(
            digest([0, 1, 2, 3, 5, 3, 6, 7, 8, 10]).sum,
            digest(0..10).sum
        );
        check_union(&producer, &tricky).expect_err("count and sum agree, the mix does not");
        let silent = [output(&[digest(0..10)]), RoleOutput::default()];
        let e = check_union(&producer, &silent).expect_err("a worker without digests");
        assert!(e.to_string().contains("worker 1"), "{e}");
    }

    #[test]
    fn sizes_must_differ_in_elements() {
        let spec = |sizes: Vec<u64>| RoleSpec {
            role: crate::placement::Role::Producer,
            transport: "shm-queue".into(),
            workload: super::super::Workload::FanoutQ(2),
            codec: "raw".into(),
            sizes,
            messages: 10,
            warmup_ms: 0,
            placement: crate::placement::Placement::Split,
            tag: "t".into(),
            endpoint: None,
            endpoints: Vec::new(),
            worker: 0,
            rates: Vec::new(),
            connect_timeout_ms: 1000,
            stream_min_ms: 1,
            delivery: None,
            bind: None,
            remote: false,
        };
        check_sizes(&spec(vec![8, 800, 6400])).expect("distinct");
        let e = check_sizes(&spec(vec![8, 12])).expect_err("both one element");
        assert!(e.to_string().contains("8 B and 12 B"), "{e}");
    }
}
