//! `pingpong`: the round trip of a message the consumer echoes back unchanged,
//! timed on the producer's clock from just before `send` to just after the
//! echo's `recv` returns. The echo is compared byte for byte with what was
//! sent, after the clock stops, so both directions are verified.
//!
//! At the run's smallest size a second, batch-timed pass follows (`rtt_batch`):
//! more round trips between two clock reads, reported as one value per trial
//! (elapsed / round trips), so the figure holds neither the clock reads nor
//! the recording. The pass lasts about [`BATCH_MIN_NS`] however fast the
//! transport (and at least `--messages` round trips), so that its start
//! weighs as little as in the batch-timed floors; the producer tells the
//! consumer how many round trips it will run in the last message of the
//! per-message pass ([`batch_rounds`]). Each echo is copied into a buffer
//! allocated beforehand and small enough to stay in the L1 cache; the clock
//! stops every time that buffer is full, and its echoes are compared with
//! what was sent before the clock starts again.

use anyhow::{Context, Result, ensure};
use codec::pattern::PatternSet;
use results::Metric;
use transport::{Receiver, Sender};

use super::{SeqTracker, le_u64, patch_header, raw_buffers, warm_up};
use crate::clock::now_ns;
use crate::role::{RoleSpec, SizeOutput};
use crate::stats::{Recorder, Trial, cpu_time_ns};

/// Shortest batch-timed pass, in nanoseconds: long enough that its first
/// round trips (cold code paths, the first chunk) weigh as little as in the
/// batch-timed floors' batches, which last tens of milliseconds.
const BATCH_MIN_NS: f64 = 5_000_000.0;
/// Most round trips a batch-timed pass runs (and a consumer accepts).
const BATCH_MAX_ROUNDS: u64 = 1_000_000;

/// Whether this size has a batch-timed pass: the run's smallest only (the
/// pass is for the small-message floor ratio).
fn has_batch(elements: usize, spec: &RoleSpec) -> bool {
    let smallest = spec.sizes.iter().copied().min().unwrap_or(0) / 8;
    elements as u64 == smallest
}

/// Round trips of the batch-timed pass after a per-message pass whose
/// median round trip was `rtt_ns` (0: none measured): enough for
/// [`BATCH_MIN_NS`] but at most [`BATCH_MAX_ROUNDS`], and at least
/// `messages` (the range the consumer accepts).
fn batch_rounds(rtt_ns: f64, messages: u64) -> u64 {
    let enough = if rtt_ns > 0.0 {
        (BATCH_MIN_NS / rtt_ns).ceil() as u64
    } else {
        0
    };
    enough.min(BATCH_MAX_ROUNDS).max(messages)
}

pub(super) fn producer<S: Sender, R: Receiver>(
    tx: &mut S,
    rx: &mut R,
    elements: usize,
    spec: &RoleSpec,
) -> Result<SizeOutput> {
    let pat = PatternSet::new(elements);
    let mut bufs = raw_buffers(&pat)?;
    let variants = bufs.len() as u64;
    let mut rtt = Recorder::new();
    // `word`: the header's second word, 0 but in the message that tells the
    // consumer how long the batch-timed pass will be.
    let mut round = |seq: u64, word: u64, rec: Option<&mut Recorder>| -> Result<()> {
        let buf = &mut bufs[(seq % variants) as usize];
        patch_header(buf, seq, word);
        let t0 = now_ns();
        tx.send(buf)?;
        let echo = rx.recv().context("waiting for the echo")?;
        let t1 = now_ns();
        ensure!(
            echo == buf.as_slice(),
            "echo of message #{} differs from what was sent ({} bytes back, {} sent)",
            seq & !super::WARMUP,
            echo.len(),
            buf.len()
        );
        if let Some(r) = rec {
            r.record(t1 - t0);
        }
        Ok(())
    };
    warm_up(spec, elements, |seq| round(seq, 0, None))?;
    let messages = spec.messages as u64;
    let batched = has_batch(elements, spec);
    let mut n = 0;
    let cpu0 = cpu_time_ns();
    for seq in 0..messages {
        let mut word = 0;
        if batched && seq + 1 == messages {
            // The last message of the pass carries the batch's length,
            // decided from the round trips so far (off the clock).
            n = batch_rounds(rtt.to_trial().quantile(0.5), messages);
            word = n;
        }
        round(seq, word, Some(&mut rtt)).with_context(|| format!("message #{seq}"))?;
    }
    let cpu_ns_per_msg = (cpu_time_ns() - cpu0) as f64 / spec.messages.max(1) as f64;
    let mut metrics = vec![(Metric::Rtt, rtt.to_trial())];
    if n > 0 {
        let ns = batch(tx, rx, &mut bufs, messages, n)?;
        metrics.push((
            Metric::RttBatch,
            Trial {
                counts: vec![(ns.round().max(1.0) as u64, 1)],
                sum: ns,
            },
        ));
    }
    Ok(SizeOutput {
        metrics,
        cpu_ns_per_msg,
        messages: spec.messages as u64,
        ..SizeOutput::default()
    })
}

/// Bytes of echoes the batch-timed pass records between two clock reads, so
/// the recording stays in the L1 data cache: a store that misses would delay
/// every store after it, the next message's publication included (x86 makes
/// stores visible in program order).
const BATCH_CHUNK_BYTES: usize = 16 << 10;

/// The batch-timed pass: `n` round trips with sequence numbers from `first`,
/// timed in chunks of [`BATCH_CHUNK_BYTES`] of echoes whose elapsed times
/// are summed; returns nanoseconds per round trip. Each chunk's echoes are
/// verified after its clock stops, before the next chunk starts.
fn batch<S: Sender, R: Receiver>(
    tx: &mut S,
    rx: &mut R,
    bufs: &mut [Vec<u8>],
    first: u64,
    n: u64,
) -> Result<f64> {
    let variants = bufs.len() as u64;
    let len = bufs[0].len();
    let chunk = (BATCH_CHUNK_BYTES / len.max(1)).clamp(1, n.max(1) as usize);
    // Filled, not just allocated: a zeroed allocation may be pages the kernel
    // maps only on the first write, and a page fault or a write miss inside
    // the timed loop would be charged to the transport.
    let mut echoes = vec![0xA5u8; len * chunk];
    let mut got = vec![usize::MAX; chunk];
    let mut elapsed = 0;
    let mut done = 0;
    while done < n {
        let rounds = chunk.min((n - done) as usize);
        let start = first + done;
        elapsed += batch_chunk(tx, rx, bufs, start, &mut echoes, &mut got[..rounds])?;
        for (k, (slot, &got)) in echoes.chunks_exact(len).zip(&got[..rounds]).enumerate() {
            let seq = start + k as u64;
            let buf = &mut bufs[(seq % variants) as usize];
            patch_header(buf, seq, 0);
            ensure!(
                got == len && slot == buf.as_slice(),
                "echo of batch message #{seq} differs from what was sent ({got} bytes back, {len} sent)"
            );
        }
        done += rounds as u64;
    }
    Ok(elapsed as f64 / n.max(1) as f64)
}

/// One timed chunk of the batch-timed pass: `got.len()` round trips from
/// sequence number `first`, each echo copied into `echoes`; returns the
/// elapsed nanoseconds.
fn batch_chunk<S: Sender, R: Receiver>(
    tx: &mut S,
    rx: &mut R,
    bufs: &mut [Vec<u8>],
    first: u64,
    echoes: &mut [u8],
    got: &mut [usize],
) -> Result<u64> {
    let variants = bufs.len() as u64;
    let len = bufs[0].len();
    // The variant index advances by one per round trip instead of being
    // `seq % variants`: no division on the clock.
    let mut v = (first % variants) as usize;
    let rounds = got.len();
    let mut last: Option<&[u8]> = None;
    let t0 = now_ns();
    for k in 0..rounds {
        let seq = first + k as u64;
        let buf = &mut bufs[v];
        v = if v as u64 + 1 == variants { 0 } else { v + 1 };
        patch_header(buf, seq, 0);
        tx.send(buf)
            .with_context(|| format!("batch message #{seq}"))?;
        // The previous echo is recorded while this message is on its way.
        if let Some(echo) = last.take() {
            record_echo(echo, k - 1, len, echoes, got);
        }
        last = Some(
            rx.recv()
                .with_context(|| format!("waiting for the echo of batch message #{seq}"))?,
        );
    }
    if let Some(echo) = last {
        record_echo(echo, rounds - 1, len, echoes, got);
    }
    Ok(now_ns() - t0)
}

/// Copies echo number `k` of a chunk into its place in `echoes`.
#[inline(always)]
fn record_echo(echo: &[u8], k: usize, len: usize, echoes: &mut [u8], got: &mut [usize]) {
    got[k] = echo.len();
    let keep = echo.len().min(len);
    echoes[k * len..][..keep].copy_from_slice(&echo[..keep]);
}

pub(super) fn consumer<S: Sender, R: Receiver>(
    tx: &mut S,
    rx: &mut R,
    elements: usize,
    spec: &RoleSpec,
) -> Result<SizeOutput> {
    let wire_len = elements * 8 + codec::RAW_HEADER_LEN;
    let mut seqs = SeqTracker::default();
    let (mut cpu0, mut cpu1) = (0, 0);
    let messages = spec.messages as u64;
    let batched = has_batch(elements, spec);
    // Raised by the batch's length once the per-message pass's last
    // message has told it.
    let mut total = messages;
    while seqs.measured < total {
        let msg = rx.recv().context("waiting for the next message")?;
        // Echo first: everything the consumer does here is on the producer's clock.
        tx.send(msg).context("echoing")?;
        ensure!(
            msg.len() == wire_len,
            "message of {} bytes, expected {wire_len}",
            msg.len()
        );
        let seq = le_u64(msg, 0)?;
        let want = seqs.expect(seq);
        ensure!(
            seq == want,
            "message #{} arrived while expecting #{}",
            seq & !super::WARMUP,
            want & !super::WARMUP
        );
        if seqs.advance(seq) {
            // CPU per message covers the per-message pass only, like the
            // producer's figure.
            if seqs.measured == 1 {
                cpu0 = cpu_time_ns();
            }
            if seqs.measured == messages {
                cpu1 = cpu_time_ns();
                if batched {
                    let n = le_u64(msg, 8)?;
                    ensure!(
                        (messages..=BATCH_MAX_ROUNDS.max(messages)).contains(&n),
                        "the last message of the per-message pass announces {n} batch-timed \
                         round trips, outside {messages}..={BATCH_MAX_ROUNDS}"
                    );
                    total = messages + n;
                }
            }
        }
    }
    Ok(SizeOutput {
        cpu_ns_per_msg: (cpu1 - cpu0) as f64 / spec.messages.max(1) as f64,
        messages: spec.messages as u64,
        ..SizeOutput::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_lasts_its_minimum_with_at_least_the_runs_messages() {
        // 200 ns round trips: 5 ms is 25 000 of them.
        assert_eq!(batch_rounds(200.0, 200), 25_000);
        // A slow transport already fills 5 ms with its messages.
        assert_eq!(batch_rounds(55_000.0, 200), 200);
        // Nothing measured: the messages.
        assert_eq!(batch_rounds(0.0, 300), 300);
        // Absurdly fast: capped.
        assert_eq!(batch_rounds(0.001, 200), BATCH_MAX_ROUNDS);
    }
}
