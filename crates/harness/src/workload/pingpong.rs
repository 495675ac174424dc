//! `pingpong`: the round trip of a message the consumer echoes back unchanged,
//! timed on the producer's clock from just before `send` to just after the
//! echo's `recv` returns. The echo is compared byte for byte with what was
//! sent, after the clock stops, so both directions are verified.

use anyhow::{Context, Result, ensure};
use codec::pattern::PatternSet;
use transport::{Receiver, Sender};

use super::{SeqTracker, le_u64, patch_header, raw_buffers, warm_up};
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
    let variants = bufs.len() as u64;
    let mut rtt = Recorder::new();
    let mut round = |seq: u64, rec: Option<&mut Recorder>| -> Result<()> {
        let buf = &mut bufs[(seq % variants) as usize];
        patch_header(buf, seq, 0);
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
    warm_up(spec, |seq| round(seq, None))?;
    let cpu0 = cpu_time_ns();
    for seq in 0..spec.messages as u64 {
        round(seq, Some(&mut rtt)).with_context(|| format!("message #{seq}"))?;
    }
    Ok(SizeOutput {
        metrics: vec![("rtt".to_owned(), rtt.to_trial())],
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
    let wire_len = elements * 8 + codec::RAW_HEADER_LEN;
    let mut seqs = SeqTracker::default();
    let mut cpu0 = 0;
    while seqs.measured < spec.messages as u64 {
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
        if seqs.advance(seq) && seqs.measured == 1 {
            cpu0 = cpu_time_ns();
        }
    }
    Ok(SizeOutput {
        cpu_ns_per_msg: (cpu_time_ns() - cpu0) as f64 / spec.messages.max(1) as f64,
        messages: spec.messages as u64,
        ..SizeOutput::default()
    })
}
