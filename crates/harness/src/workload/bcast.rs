//! `bcastN`: one publisher, N subscriber processes, each receiving every
//! message, in order.
//!
//! Delivery is the transport's native broadcast where it has one for N
//! subscribers (`Capabilities::broadcast_subscribers >= N`: one
//! `Publisher::publish` per message), else one point-to-point connection
//! per subscriber, the publisher sending each message on every one in turn.
//! Either way each subscriber also has a point-to-point connection to the
//! publisher (it listens, the publisher connects, as fanout's workers do),
//! which carries its acknowledgements; for a native broadcast that
//! connection first carries the set-up: the subscriber's pid (which the
//! broadcast listener admits) and then the broadcast's endpoint, secret part
//! included, so it never appears on a command line.
//!
//! Per size, after a lockstep warm-up:
//! - `rtt`, lockstep: the publisher stamps the clock, sends message i to
//!   every subscriber, and stops the clock when the last subscriber's
//!   acknowledgement of i has arrived: the round trip to the slowest.
//!   A subscriber acknowledges (its sequence number) as soon as it holds the
//!   message, then verifies every byte, so verification is off the clock.
//! - `throughput`, flood: [`FLOOD_FACTOR`] times the message count sent
//!   back to back, then an end message carrying the count; each subscriber
//!   verifies every message in order and acknowledges the end. The rate is
//!   the messages over the time from the first send to the last subscriber's
//!   end acknowledgement: the slowest subscriber's rate.

use anyhow::{Context, Result, bail, ensure};
use codec::Codec;
use codec::pattern::PatternSet;
use results::{Delivery, Metric};
use transport::broadcast::{BroadcastListener, Publisher};
use transport::{Endpoint, Receiver, Sender, Transport};

use super::stream::END;
use super::{SeqTracker, WARMUP, le_u64, patch_header, raw_buffers, warm_up};
use crate::clock::now_ns;
use crate::role::{RoleSpec, SizeOutput};
use crate::stats::{Recorder, cpu_time_ns};

/// Sequence-number flag of the flood phase's messages.
pub(super) const FLOOD: u64 = 1 << 61;

/// The flood phase sends this many times the size's message count: each
/// message is cheap, and a rate needs a longer window than the lockstep.
pub const FLOOD_FACTOR: u64 = 4;

/// Sends one message to every subscriber: one `publish` on a native
/// broadcast, else a `send` on each connection in turn.
#[inline(always)]
fn send_all<S: Sender, R: Receiver, P: Publisher>(
    conns: &mut [(S, R)],
    native: &mut Option<&mut P>,
    msg: &[u8],
) -> Result<()> {
    match native {
        Some(p) => p.publish(msg).context("publishing")?,
        None => {
            for (k, (tx, _)) in conns.iter_mut().enumerate() {
                tx.send(msg)
                    .with_context(|| format!("sending to subscriber {k}"))?;
            }
        }
    }
    Ok(())
}

/// The delivery a job's spec asks for (point to point unless it says
/// native).
pub(super) fn native(spec: &RoleSpec) -> bool {
    spec.delivery == Some(Delivery::Native)
}

/// The publisher's side of a native broadcast's set-up, over the
/// acknowledgement connections: each subscriber's pid, then the endpoint
/// to each, then every subscriber joined.
pub(super) fn open_publisher<T: Transport, S: Sender, R: Receiver>(
    spec: &RoleSpec,
    conns: &mut [(S, R)],
) -> Result<impl Publisher + use<T, S, R>> {
    let n = conns.len();
    let mut pids = Vec::with_capacity(n);
    for (k, (_, rx)) in conns.iter_mut().enumerate() {
        let msg = rx
            .recv()
            .with_context(|| format!("waiting for subscriber {k}'s pid"))?;
        let pid = u32::try_from(le_u64(msg, 0)?)
            .with_context(|| format!("subscriber {k} sent no pid"))?;
        pids.push(pid);
    }
    let opts = broadcast_options(spec);
    let (mut listener, ep) = T::listen_broadcast(&opts, n)
        .with_context(|| format!("{}: listen_broadcast for {n} subscribers", T::NAME))?;
    for &pid in &pids {
        listener.expect_peer(pid);
    }
    for (k, (tx, _)) in conns.iter_mut().enumerate() {
        tx.send(ep.0.as_bytes())
            .with_context(|| format!("telling subscriber {k} the broadcast endpoint"))?;
    }
    let deadline =
        std::time::Instant::now() + std::time::Duration::from_millis(spec.connect_timeout_ms);
    listener
        .accept(deadline)
        .with_context(|| format!("{}: waiting for {n} subscribers to join", T::NAME))
}

/// The subscriber's side of the set-up: its pid out, the endpoint in, then
/// it joins.
pub(super) fn subscribe<T: Transport, S: Sender, R: Receiver>(
    spec: &RoleSpec,
    tx: &mut S,
    rx: &mut R,
) -> Result<impl Receiver + use<T, S, R>> {
    tx.send(&u64::from(std::process::id()).to_le_bytes())
        .context("sending this subscriber's pid to the publisher")?;
    let msg = rx.recv().context("waiting for the broadcast's endpoint")?;
    let ep = Endpoint(
        std::str::from_utf8(msg)
            .context("the broadcast's endpoint is not text")?
            .to_owned(),
    );
    T::subscribe(&ep, &broadcast_options(spec))
        .with_context(|| format!("{}: subscribing to the broadcast", T::NAME))
}

/// The broadcast's own resource names, apart from every acknowledgement
/// connection's.
fn broadcast_options(spec: &RoleSpec) -> transport::Options {
    let mut opts = crate::role::options(spec, 0);
    opts.tag = format!("{}-b", spec.tag);
    opts
}

/// The publisher, one size: lockstep warm-up and `rtt`, then the flood.
pub(super) fn publisher<S: Sender, R: Receiver, P: Publisher>(
    conns: &mut [(S, R)],
    mut native: Option<&mut P>,
    elements: usize,
    spec: &RoleSpec,
) -> Result<SizeOutput> {
    let pat = PatternSet::new(elements);
    let mut bufs = raw_buffers(&pat)?;
    let variants = bufs.len() as u64;
    let mut round = |seq: u64, rec: Option<&mut Recorder>| -> Result<()> {
        let buf = &mut bufs[(seq % variants) as usize];
        patch_header(buf, seq, 0);
        let t0 = now_ns();
        send_all(conns, &mut native, buf)?;
        for (k, (_, rx)) in conns.iter_mut().enumerate() {
            let ack = rx
                .recv()
                .with_context(|| format!("waiting for subscriber {k}'s acknowledgement"))?;
            // Eight bytes, compared in place: nothing is formatted unless
            // it is wrong.
            let got = le_u64(ack, 0)?;
            ensure!(
                got == seq,
                "subscriber {k} acknowledged #{got:#x} while #{seq:#x} was out"
            );
        }
        let t1 = now_ns();
        if let Some(r) = rec {
            r.record(t1.saturating_sub(t0));
        }
        Ok(())
    };
    warm_up(spec, elements, |seq| round(seq, None))?;
    let mut rtt = Recorder::new();
    let cpu0 = cpu_time_ns();
    for seq in 0..spec.messages as u64 {
        round(seq, Some(&mut rtt)).with_context(|| format!("message #{seq}"))?;
    }
    let cpu = (cpu_time_ns() - cpu0) as f64 / spec.messages.max(1) as f64;
    let flood = spec.messages as u64 * FLOOD_FACTOR;
    let first = now_ns();
    for i in 0..flood {
        let seq = FLOOD | i;
        let buf = &mut bufs[(seq % variants) as usize];
        patch_header(buf, seq, 0);
        send_all(conns, &mut native, buf).with_context(|| format!("flood message #{i}"))?;
    }
    let buf = &mut bufs[((END | flood) % variants) as usize];
    patch_header(buf, END | flood, 0);
    send_all(conns, &mut native, buf).context("the end of the flood")?;
    for (k, (_, rx)) in conns.iter_mut().enumerate() {
        let ack = rx
            .recv()
            .with_context(|| format!("waiting for subscriber {k} to finish the flood"))?;
        let got = le_u64(ack, 0)?;
        ensure!(
            got == END | flood,
            "subscriber {k} ended the flood with {got:#x}, not the {flood} messages sent"
        );
    }
    let last = now_ns();
    Ok(SizeOutput {
        metrics: vec![(Metric::Rtt, rtt.to_trial())],
        cpu_ns_per_msg: cpu,
        messages: flood,
        msgs_per_s: (last > first).then(|| flood as f64 * 1e9 / (last - first) as f64),
        ..SizeOutput::default()
    })
}

/// A subscriber, one size: acknowledges each lockstep message on receipt
/// and verifies it after; verifies every flood message in order and
/// acknowledges the end.
pub(super) fn subscriber<S: Sender, R: Receiver>(
    data: &mut R,
    acks: &mut S,
    elements: usize,
    spec: &RoleSpec,
) -> Result<SizeOutput> {
    let pat = PatternSet::new(elements);
    let mut seqs = SeqTracker::default();
    let measured = spec.messages as u64;
    let flood = measured * FLOOD_FACTOR;
    let mut flooded = 0;
    let mut cpu0 = 0;
    loop {
        let msg = data.recv().context("waiting for the next message")?;
        let seq = le_u64(msg, 0)?;
        if seq & (FLOOD | END) == 0 {
            acks.send(&seq.to_le_bytes())
                .with_context(|| format!("acknowledging #{}", seq & !WARMUP))?;
            let decoded = Codec::Raw.decode(msg)?;
            pat.verify(&decoded, seqs.expect(seq))
                .context("verification failed")?;
            if seqs.advance(seq) && seqs.measured == 1 {
                cpu0 = cpu_time_ns();
            }
            continue;
        }
        ensure!(
            seqs.measured == measured,
            "the flood began after {} of the {measured} lockstep messages",
            seqs.measured
        );
        let decoded = Codec::Raw.decode(msg)?;
        if seq & END != 0 {
            ensure!(
                flooded == flood,
                "the flood ended after {flooded} messages, {flood} expected (messages lost)"
            );
            pat.verify(&decoded, END | flood)
                .context("verification of the end of the flood failed")?;
            acks.send(&seq.to_le_bytes())
                .context("acknowledging the end of the flood")?;
            break;
        }
        pat.verify(&decoded, FLOOD | flooded)
            .with_context(|| format!("verification of flood message #{flooded} failed"))?;
        flooded += 1;
    }
    Ok(SizeOutput {
        cpu_ns_per_msg: (cpu_time_ns() - cpu0) as f64 / (measured + flood).max(1) as f64,
        messages: measured + flood,
        ..SizeOutput::default()
    })
}

/// Refuses a native broadcast on a backend that declares none for this
/// many subscribers (the plan never schedules one; a hand-made spec might).
pub(super) fn check_native<T: Transport>(spec: &RoleSpec) -> Result<()> {
    let n = spec.workload.consumers();
    let most = T::capabilities().broadcast_subscribers;
    if native(spec) && most < n {
        bail!(
            "{} has a native broadcast for at most {most} subscribers, not {n}: run {} \
             point to point",
            T::NAME,
            spec.workload
        );
    }
    Ok(())
}
