//! Which loop a process of a workload with workers runs, set up per
//! workload and delivery, size after size: the hub (the `producer` role
//! process on core 0) over its connection to each worker, and the
//! broadcast's and gather's workers. The loops are in `fanout`, `bcast` and
//! `gather`.

use anyhow::Result;
use transport::broadcast::Unsupported;
use transport::{Receiver, Sender, Transport};

use super::gather::Sources;
use super::{Workload, bcast, for_each_size, gather, run_fanout_producer};
use crate::role::{Control, RoleOutput, RoleSpec};

/// Runs the hub over one connection per worker: a fanout's dealer, a
/// broadcast's publisher (natively published where the spec says so, the
/// connections then carrying acknowledgements only), or a point-to-point
/// gather's consumer.
pub fn run_hub<T: Transport, S: Sender, R: Receiver>(
    spec: &RoleSpec,
    conns: &mut [(S, R)],
    ctl: &mut Control,
) -> Result<RoleOutput> {
    match spec.workload {
        Workload::Bcast(_) if bcast::native(spec) => {
            bcast::check_native::<T>(spec)?;
            let mut publisher = bcast::open_publisher::<T, S, R>(spec, conns)?;
            for_each_size(spec, ctl, |_, elements, spec| {
                bcast::publisher(conns, Some(&mut publisher), elements, spec)
            })
        }
        Workload::Bcast(_) => for_each_size(spec, ctl, |_, elements, spec| {
            bcast::publisher::<S, R, Unsupported>(conns, None, elements, spec)
        }),
        Workload::Gather(_) if bcast::native(spec) => {
            let mut queue = gather::open_shared::<T, S, R>(spec, conns)?;
            for_each_size(spec, ctl, |_, elements, spec| {
                let mut src = Sources::Shared {
                    conns: &mut *conns,
                    queue: &mut queue,
                };
                gather::consumer(&mut src, elements, spec)
            })
        }
        Workload::Gather(_) => for_each_size(spec, ctl, |_, elements, spec| {
            gather::consumer::<S, R, R>(&mut Sources::Each(conns), elements, spec)
        }),
        _ => run_fanout_producer(spec, conns, ctl),
    }
}

/// Runs a broadcast subscriber: its messages come on the transport's
/// broadcast (native) or on its connection, its acknowledgements go back
/// on the connection.
pub fn run_subscriber<T: Transport, S: Sender, R: Receiver>(
    spec: &RoleSpec,
    tx: &mut S,
    rx: &mut R,
    ctl: &mut Control,
) -> Result<RoleOutput> {
    if bcast::native(spec) {
        bcast::check_native::<T>(spec)?;
        let mut data = bcast::subscribe::<T, S, R>(spec, tx, rx)?;
        for_each_size(spec, ctl, |_, elements, spec| {
            bcast::subscriber(&mut data, tx, elements, spec)
        })
    } else {
        for_each_size(spec, ctl, |_, elements, spec| {
            bcast::subscriber(rx, tx, elements, spec)
        })
    }
}

/// Runs a gather producer: its messages go on its connection, or on the
/// consumer's shared queue (native); the consumer's words come back on its
/// connection.
pub fn run_gather_producer<T: Transport, S: Sender, R: Receiver>(
    spec: &RoleSpec,
    tx: &mut S,
    rx: &mut R,
    ctl: &mut Control,
) -> Result<RoleOutput> {
    if bcast::native(spec) {
        let mut queue = gather::join_shared::<T, S, R>(spec, tx, rx)?;
        for_each_size(spec, ctl, |_, elements, spec| {
            gather::producer(&mut queue, rx, elements, spec)
        })
    } else {
        for_each_size(spec, ctl, |_, elements, spec| {
            gather::producer(tx, rx, elements, spec)
        })
    }
}
