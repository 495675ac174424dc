//! `seed`: the notebook's put/get, made honest across two processes.
//!
//! One message in flight. The producer encodes message i (timed: `encode`),
//! sends it (timed: `put`, the send call), and waits for a small
//! acknowledgement carrying the consumer's timestamps: when `recv` returned
//! and when the payload was decoded. `get` runs from the producer's send
//! return to the consumer holding the decoded payload (one clock, two
//! processes); `decode` is the consumer's decode call; `total` = put + get.
//! The acknowledgement itself is not timed, except across hosts
//! (`RoleSpec::remote`), where `get` would mix two machines' clocks: there
//! `total` runs from the send call to the acknowledgement's receipt, all on
//! the producer's clock, and only `total` is reported (see `crate::remote`).

use anyhow::{Context, Result, ensure};
use codec::pattern::PatternSet;
use codec::{Codec, Header};
use results::Metric;
use transport::{Receiver, Sender};

use super::{SeqTracker, le_u64, warm_up};
use crate::clock::now_ns;
use crate::role::{RoleSpec, SizeOutput};
use crate::stats::{Recorder, cpu_time_ns};

const METRICS: [Metric; 5] = [
    Metric::Put,
    Metric::Get,
    Metric::Total,
    Metric::Encode,
    Metric::Decode,
];

pub(super) fn producer<S: Sender, R: Receiver>(
    tx: &mut S,
    rx: &mut R,
    codec: Codec,
    elements: usize,
    spec: &RoleSpec,
) -> Result<SizeOutput> {
    let pat = PatternSet::new(elements);
    let mut buf = Vec::with_capacity(elements * 8 + 64);
    let mut rec: [Recorder; 5] = Default::default();
    warm_up(spec, elements, |seq| {
        round(tx, rx, codec, &pat, seq, &mut buf, None, spec.remote)
    })?;
    let cpu0 = cpu_time_ns();
    for seq in 0..spec.messages as u64 {
        round(
            tx,
            rx,
            codec,
            &pat,
            seq,
            &mut buf,
            Some(&mut rec),
            spec.remote,
        )
        .with_context(|| format!("message #{seq}"))?;
    }
    let cpu = (cpu_time_ns() - cpu0) as f64 / spec.messages.max(1) as f64;
    Ok(SizeOutput {
        metrics: METRICS
            .iter()
            .zip(&rec)
            .map(|(&m, r)| (m, r.to_trial()))
            .collect(),
        cpu_ns_per_msg: cpu,
        messages: spec.messages as u64,
        ..SizeOutput::default()
    })
}

#[allow(clippy::too_many_arguments)]
fn round<S: Sender, R: Receiver>(
    tx: &mut S,
    rx: &mut R,
    codec: Codec,
    pat: &PatternSet,
    seq: u64,
    buf: &mut Vec<u8>,
    rec: Option<&mut [Recorder; 5]>,
    remote: bool,
) -> Result<()> {
    let data = pat.array(seq);
    let t0 = now_ns();
    codec.encode(Header { seq, send_ns: 0 }, data, buf)?;
    let t1 = now_ns();
    tx.send(buf)?;
    let t2 = now_ns();
    let ack = rx
        .recv()
        .context("waiting for the consumer's acknowledgement")?;
    // Across hosts the consumer's clock is another machine's: total is then
    // our send to our receipt of the acknowledgement, one clock. Read after
    // the ack, so the local intervals above are untouched.
    let t3 = if remote { now_ns() } else { 0 };
    let (ack_seq, t_recv, t_decoded) = (le_u64(ack, 0)?, le_u64(ack, 8)?, le_u64(ack, 16)?);
    ensure!(
        ack_seq == seq,
        "acknowledgement for #{ack_seq} while waiting for #{seq}"
    );
    if let Some(rec) = rec {
        let put = t2 - t1;
        // The consumer can finish a few ns before our send call returns to
        // user space; such a get counts as 0 rather than wrapping.
        let get = t_decoded.saturating_sub(t2);
        rec[0].record(put);
        rec[1].record(get);
        rec[2].record(if remote { t3 - t1 } else { put + get });
        rec[3].record(t1 - t0);
        rec[4].record(t_decoded.saturating_sub(t_recv));
    }
    Ok(())
}

pub(super) fn consumer<S: Sender, R: Receiver>(
    tx: &mut S,
    rx: &mut R,
    codec: Codec,
    elements: usize,
    spec: &RoleSpec,
) -> Result<SizeOutput> {
    let pat = PatternSet::new(elements);
    let mut seqs = SeqTracker::default();
    let mut cpu0 = 0;
    while seqs.measured < spec.messages as u64 {
        let msg = rx.recv().context("waiting for the next message")?;
        let t_recv = now_ns();
        let decoded = codec.decode(msg)?;
        let t_decoded = now_ns();
        let seq = decoded.header.seq;
        pat.verify(&decoded, seqs.expect(seq))
            .context("verification failed")?;
        if seqs.advance(seq) && seqs.measured == 1 {
            cpu0 = cpu_time_ns();
        }
        super::send_ack(tx, &[seq, t_recv, t_decoded], "sending the acknowledgement")?;
    }
    Ok(SizeOutput {
        cpu_ns_per_msg: (cpu_time_ns() - cpu0) as f64 / spec.messages.max(1) as f64,
        messages: spec.messages as u64,
        ..SizeOutput::default()
    })
}
