//! Shared receivers: one `SOCK_SEQPACKET` socket that several worker
//! processes read tasks from, and one they all write replies to.
//!
//! `listen_shared` makes two socket pairs: the *task queue*, whose sending
//! end the listener keeps and whose receiving end every worker gets, and the
//! *reply queue*, the other way round. The kernel hands each record queued
//! on a socket to exactly one of the processes calling `recv` on it, whole,
//! and keeps records in the order they were sent, so the task queue is a
//! multi-consumer queue and the reply queue a multi-producer one.
//!
//! The workers' ends travel by `SCM_RIGHTS` over the ordinary listening
//! socket: a worker connects to the endpoint as to a point-to-point one, the
//! listener judges it by `SO_PEERCRED` exactly as there (our user, and one of
//! the pids named by `expect_peer`, since the peer is a group), and only an
//! admitted connection is sent the two descriptors. A refused one is closed
//! with nothing sent, and its `connect` fails. Once `connectors` have been
//! admitted, the listener closes the listening socket and its own copies of
//! the workers' ends, so the queues' ends are held only by the processes
//! using them: the workers read end-of-file once the listener has closed the
//! task queue and everything queued is taken; the listener's `recv` returns
//! [`RecvError::Disconnected`](transport::RecvError::Disconnected) once every
//! worker has closed the reply queue (exited or been killed), and its `send`
//! fails once no worker holds the task queue. One worker dying is not
//! noticed, as the transport contract allows; the records it had taken are
//! gone with it.
//!
//! # One record per message
//!
//! A message split into records could be torn apart: its records taken by
//! different workers, or interleaved with another worker's reply. So both
//! ends refuse a message that does not fit one record. How big a record may
//! be is the sending socket's business: its `SO_SNDBUF` less 32 bytes (the
//! receiving socket's `SO_RCVBUF` plays no part for Unix sockets), capped at
//! [`RECORD_MAX`](crate::RECORD_MAX). The sender raises `SO_SNDBUF` as the
//! point-to-point one does; with the stock `net.core.wmem_max` (212 992,
//! doubled by the kernel) that leaves 425 951 bytes of message, enough for the
//! seed workload's largest (409 600), and with 4 MiB it is
//! `RECORD_MAX - 1`. A larger message gets an error naming both sizes.

use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::io::{Errno, IoSlice, IoSliceMut};
use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags,
    SendAncillaryBuffer, SendAncillaryMessage, SendFlags, SocketFlags, SocketType,
};
use transport::peer::Gate;
use transport::{Endpoint, OpenError, Options, SendError};

use crate::{SeqPacketListener, SeqPacketReceiver, SeqPacketSender, bound, receiver, sender};

/// How many processes may share one listener's queues.
pub const MAX_SHARED: usize = 16;

/// The endpoint of a shared listener: a connector must expect the queues.
pub(crate) const PREFIX: &str = "uds-seqpacket-shared:@";

/// The bytes sent with the queues, so that a connector cannot mistake
/// anything else for them.
const HANDOVER: &[u8] = b"ipcbench-seqpacket-queues";

/// How often a one-record sender retries when the kernel has no memory for
/// its record (it cannot fall back to smaller records), a millisecond apart.
const STARVED_RETRIES: u32 = 1000;

/// The queues of a shared listener until `accept` hands them out.
#[derive(Debug)]
pub(crate) struct Queues {
    connectors: usize,
    /// The listener's ends: it sends tasks and receives replies.
    tasks: OwnedFd,
    replies: OwnedFd,
    /// The workers' ends, sent to each connector, then closed here.
    task_queue: OwnedFd,
    reply_queue: OwnedFd,
}

/// The error of a message too big for one record of a shared socket.
pub(crate) fn too_big(size: usize, record: usize) -> SendError {
    SendError::Backend(format!(
        "uds-seqpacket shared queue: a message of {size} bytes does not fit one record, \
         which here holds at most {} bytes (SO_SNDBUF less overhead, at most {} KiB; \
         net.core.wmem_max bounds SO_SNDBUF); a message split into records could be torn \
         apart between the processes sharing the socket, so it is not sent",
        record - 1,
        crate::RECORD_MAX >> 10
    ))
}

/// Called for the `attempt`th time the kernel had no memory for a whole
/// record of a `size`-byte message: waits a little, or gives up.
pub(crate) fn starved(size: usize, attempt: u32) -> Result<(), SendError> {
    if attempt > STARVED_RETRIES {
        return Err(SendError::Backend(format!(
            "uds-seqpacket shared queue: the kernel found no memory (ENOBUFS) for one record \
             of a {size}-byte message {STARVED_RETRIES} times in a row"
        )));
    }
    std::thread::sleep(Duration::from_millis(1));
    Ok(())
}

fn pair(what: &str) -> Result<(OwnedFd, OwnedFd), OpenError> {
    rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )
    .map_err(|e| OpenError::io(format!("socketpair for the {what} queue"), e.into()))
}

/// `Transport::listen_shared`: the listening socket and both queues.
pub(crate) fn listen(
    opts: &Options,
    connectors: usize,
) -> Result<(SeqPacketListener, Endpoint), OpenError> {
    if !(1..=MAX_SHARED).contains(&connectors) {
        return Err(OpenError::Backend(format!(
            "uds-seqpacket shares one endpoint among 1..={MAX_SHARED} connectors, not {connectors}"
        )));
    }
    let name = format!("ipcbench-seqpacket-q-{}", opts.tag);
    let backlog = i32::try_from(connectors).unwrap_or(i32::MAX);
    let sock = bound(&name, backlog)?;
    let (tasks, task_queue) = pair("task")?;
    let (replies, reply_queue) = pair("reply")?;
    let listener = SeqPacketListener {
        sock,
        gate: Gate::new(),
        shared: Some(Queues {
            connectors,
            tasks,
            replies,
            task_queue,
            reply_queue,
        }),
    };
    Ok((listener, Endpoint(format!("{PREFIX}{name}"))))
}

impl Queues {
    /// Admits `connectors` processes through `gate`, handing each the
    /// workers' ends; then closes the listening socket and those ends.
    pub(crate) fn accept(
        self,
        listening: &OwnedFd,
        gate: &mut Gate,
        deadline: Instant,
    ) -> Result<(SeqPacketSender, SeqPacketReceiver), OpenError> {
        let mut admitted = 0;
        while admitted < self.connectors {
            gate.wait(listening, deadline)?;
            // As in the point-to-point accept: non-blocking listener, a
            // refused connection is dropped (closed) with nothing sent.
            match rustix::net::accept_with(listening, SocketFlags::CLOEXEC) {
                Ok(conn) if gate.admit_unix(&conn)? => {
                    if self.hand_over(&conn)? {
                        admitted += 1;
                    }
                }
                Ok(_) => {}
                Err(Errno::AGAIN | Errno::INTR | Errno::CONNABORTED) => {}
                Err(e) => return Err(OpenError::io("accept", e.into())),
            }
        }
        let Self { tasks, replies, .. } = self;
        Ok((sender(Arc::new(tasks), true)?, receiver(Arc::new(replies))))
    }

    /// Sends the workers' ends over an admitted connection; `false` if the
    /// connector has gone meanwhile (it does not count).
    fn hand_over(&self, conn: &OwnedFd) -> Result<bool, OpenError> {
        let fds = [self.task_queue.as_fd(), self.reply_queue.as_fd()];
        let rights = SendAncillaryMessage::ScmRights(&fds);
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(2))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        if !control.push(rights) {
            return Err(OpenError::Backend(
                "no room for two descriptors in an SCM_RIGHTS buffer sized for them".into(),
            ));
        }
        let iov = [IoSlice::new(HANDOVER)];
        loop {
            match rustix::net::sendmsg(conn, &iov, &mut control, SendFlags::NOSIGNAL) {
                Ok(_) => return Ok(true),
                Err(Errno::INTR) => {}
                Err(Errno::PIPE | Errno::CONNRESET) => return Ok(false),
                Err(e) => {
                    return Err(OpenError::io(
                        "sending the shared queues (SCM_RIGHTS)",
                        e.into(),
                    ));
                }
            }
        }
    }
}

/// The connecting side: waits on the connection `sock` to the listener at
/// `name` until it hands over the queues (it has admitted us) or closes it
/// (it refused us, or is gone), then drops the connection.
pub(crate) fn connect(
    sock: &OwnedFd,
    name: &str,
) -> Result<(SeqPacketSender, SeqPacketReceiver), OpenError> {
    let mut buf = [0u8; 64];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(2))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let got = loop {
        let mut iov = [IoSliceMut::new(&mut buf)];
        // Received descriptors are close-on-exec from the start.
        match rustix::net::recvmsg(sock, &mut iov, &mut control, RecvFlags::CMSG_CLOEXEC) {
            Ok(msg) => break Some(msg).filter(|m| m.bytes > 0),
            Err(Errno::INTR) => {}
            // Refused before it accepted us: the listener closed the socket.
            Err(Errno::CONNRESET) => break None,
            Err(e) => {
                return Err(OpenError::io(
                    format!("receiving the shared queues from @{name}"),
                    e.into(),
                ));
            }
        }
    };
    let fds: Vec<OwnedFd> = control
        .drain()
        .flat_map(|m| match m {
            RecvAncillaryMessage::ScmRights(fds) => fds.collect(),
            _ => Vec::new(),
        })
        .collect();
    let Some(got) = got else {
        return Err(OpenError::Backend(format!(
            "the shared listener @{name} closed the connection without handing over its \
             queues: it refused this process (pid {}, by SO_PEERCRED) or has gone",
            std::process::id()
        )));
    };
    let whole = !got.flags.contains(ReturnFlags::CTRUNC);
    let [task_queue, reply_queue]: [OwnedFd; 2] = fds
        .try_into()
        .ok()
        .filter(|_| whole && &buf[..got.bytes] == HANDOVER)
        .ok_or_else(|| {
            OpenError::Backend(format!(
                "the shared listener @{name} sent something other than its two queues"
            ))
        })?;
    Ok((
        sender(Arc::new(reply_queue), true)?,
        receiver(Arc::new(task_queue)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SeqPacket;
    use std::thread;
    use transport::{Listener, Receiver, Sender, Transport};

    const SEED_LARGEST: usize = 409_600;

    fn deadline() -> Instant {
        Instant::now() + Duration::from_secs(10)
    }

    #[test]
    fn a_message_beyond_one_record_is_refused_naming_both_sizes() {
        let opts = Options::unique("sq-big");
        let (mut listener, ep) = SeqPacket::listen_shared(&opts, 1).expect("listen_shared");
        // The group: pid 1 never connects; ours does and is admitted.
        listener.expect_peer(1);
        listener.expect_peer(std::process::id());
        let worker = thread::spawn(move || {
            let (mut tx, mut rx) = SeqPacket::connect(&ep, &opts).expect("connect");
            let got = rx.recv().expect("the largest message that fits").to_vec();
            let max = tx.one_record_max().expect("a shared sender");
            let e = tx.send(&vec![0; max + 1]).expect_err("too big to reply");
            assert!(e.to_string().contains(&format!("{} bytes", max + 1)), "{e}");
            tx.send(&got[..16]).expect("a reply that fits");
            got
        });
        let (mut tx, mut rx) = listener.accept(deadline()).expect("accept");
        let max = tx.one_record_max().expect("a shared sender");
        assert!(
            max >= SEED_LARGEST,
            "one record holds {max} bytes, less than the seed workload's {SEED_LARGEST}"
        );
        let e = tx.send(&vec![1; max + 1]).expect_err("one byte too many");
        let why = e.to_string();
        assert!(
            matches!(e, SendError::Backend(_))
                && why.contains(&format!("a message of {} bytes", max + 1))
                && why.contains(&format!("at most {max} bytes")),
            "{why}"
        );
        let msg: Vec<u8> = (0..max).map(|i| (i % 253) as u8).collect();
        tx.send(&msg).expect("the largest message that fits");
        assert_eq!(rx.recv().expect("reply"), &msg[..16]);
        let got = worker.join().expect("worker thread");
        assert!(got == msg, "the message arrived whole");
    }

    #[test]
    fn an_intruder_gets_no_queues_and_is_named() {
        let opts = Options::unique("sq-intruder");
        let (mut listener, ep) = SeqPacket::listen_shared(&opts, 2).expect("listen_shared");
        // Neither expected pid is ours: this process is the intruder.
        listener.expect_peer(1);
        listener.expect_peer(2);
        let intruder = thread::spawn(move || SeqPacket::connect(&ep, &opts).map(|_| ()));
        let e = listener
            .accept(Instant::now() + Duration::from_secs(1))
            .map(|_| ())
            .expect_err("nobody expected connected");
        let me = std::process::id();
        assert!(
            matches!(&e, OpenError::Refused(why) if why.contains(&format!("pid {me} "))
                && why.contains("none of the expected peers, pids 1, 2")),
            "{e}"
        );
        let e = intruder
            .join()
            .expect("intruder thread")
            .expect_err("the intruder must not get the queues");
        assert!(e.to_string().contains("refused this process"), "{e}");
    }

    #[test]
    fn bad_connector_counts_are_refused() {
        for n in [0, MAX_SHARED + 1] {
            let e = SeqPacket::listen_shared(&Options::unique("sq-n"), n)
                .map(|_| ())
                .expect_err("refused");
            assert!(e.to_string().contains(&format!("1..={MAX_SHARED}")), "{e}");
            assert!(e.to_string().contains(&format!("not {n}")), "{e}");
        }
    }
}
