//! `stream`: the producer sends as fast as the transport accepts; the consumer
//! receives, verifies every byte (the work any real consumer does: touch the
//! data) and measures throughput from the first to the last measured receive,
//! plus one-way latency from each message's send timestamp. Under saturation
//! that latency is mostly time spent queued in the transport's buffer, and is
//! reported as such. The consumer also reports the end-to-end rate (measured
//! messages over first send to last receive), which the paced workloads pace
//! at a fraction of. After each size the consumer acknowledges, so sizes
//! never overlap.

use anyhow::{Context, Result, ensure};
use codec::Codec;
use codec::pattern::PatternSet;
use transport::{Receiver, Sender};

use super::{MIN_WARMUP_MESSAGES, SeqTracker, WARMUP, patch_header, raw_buffers};
use crate::clock::now_ns;
use crate::role::{RoleSpec, SizeOutput};
use crate::stats::{Recorder, cpu_time_ns};

pub(super) fn producer<S: Sender, R: Receiver>(
    tx: &mut S,
    rx: &mut R,
    elements: usize,
    spec: &RoleSpec,
) -> Result<SizeOutput> {
    let pat = PatternSet::new(elements);
    let mut bufs = raw_buffers(&pat)?;
    let n = bufs.len() as u64;
    let until = now_ns() + spec.warmup_ms * 1_000_000;
    let mut w = 0;
    while w < MIN_WARMUP_MESSAGES || now_ns() < until {
        let buf = &mut bufs[(w % n) as usize];
        patch_header(buf, w | WARMUP, now_ns());
        tx.send(buf)
            .with_context(|| format!("warm-up message #{w}"))?;
        w += 1;
    }
    let cpu0 = cpu_time_ns();
    for seq in 0..spec.messages as u64 {
        let buf = &mut bufs[(seq % n) as usize];
        patch_header(buf, seq, now_ns());
        tx.send(buf).with_context(|| format!("message #{seq}"))?;
    }
    let ack = rx
        .recv()
        .context("waiting for the consumer to finish the size")?;
    ensure!(
        ack == b"done",
        "unexpected acknowledgement of {} bytes",
        ack.len()
    );
    Ok(SizeOutput {
        cpu_ns_per_msg: (cpu_time_ns() - cpu0) as f64 / spec.messages.max(1) as f64,
        messages: spec.messages as u64,
        ..SizeOutput::default()
    })
}

pub(super) fn consumer<S: Sender, R: Receiver>(
    tx: &mut S,
    rx: &mut R,
    elements: usize,
    spec: &RoleSpec,
) -> Result<SizeOutput> {
    let pat = PatternSet::new(elements);
    let mut oneway = Recorder::new();
    let mut seqs = SeqTracker::default();
    let (mut first, mut last, mut cpu0, mut first_sent) = (0, 0, 0, 0);
    let n = spec.messages as u64;
    while seqs.measured < n {
        let msg = rx.recv().context("waiting for the next message")?;
        let t = now_ns();
        let decoded = Codec::Raw.decode(msg)?;
        let seq = decoded.header.seq;
        pat.verify(&decoded, seqs.expect(seq))
            .context("verification failed")?;
        if seqs.advance(seq) {
            if seqs.measured == 1 {
                first = t;
                first_sent = decoded.header.send_ns;
                cpu0 = cpu_time_ns();
            }
            last = t;
            oneway.record(t.saturating_sub(decoded.header.send_ns));
        }
    }
    let cpu = (cpu_time_ns() - cpu0) as f64 / n.max(1) as f64;
    tx.send(b"done").context("acknowledging the size")?;
    // n messages arrive in n-1 inter-arrival gaps after the first.
    let rate = (n > 1 && last > first).then(|| (n - 1) as f64 * 1e9 / (last - first) as f64);
    // End to end, from the first measured send: a buffer that swallowed the
    // whole burst before we started reading cannot inflate this one.
    let sustained = (last > first_sent).then(|| n as f64 * 1e9 / (last - first_sent) as f64);
    Ok(SizeOutput {
        sustained_msgs_per_s: sustained,
        metrics: vec![("oneway".to_owned(), oneway.to_trial())],
        cpu_ns_per_msg: cpu,
        messages: spec.messages as u64,
        msgs_per_s: rate,
        ..SizeOutput::default()
    })
}
