//! `ipc-channel-shmem`: a fresh `IpcSharedMemory` per message; the receiver
//! lends the mapping.
//!
//! Loans are the region itself, as an ipc-channel user writes in place: the
//! region is made with `IpcSharedMemory::from_byte(0, len)` (ipc-channel
//! fills every byte of a new region, so a loan still writes the region once
//! before the caller does; it saves the read of a copy, not its write),
//! written through `deref_mut`, then sent. A dropped loan unmaps and closes
//! its region; nothing is sent.

use ipc_channel::ipc::{self, IpcReceiver, IpcSender, IpcSharedMemory};
use serde::{Deserialize, Serialize};
use transport::{Capabilities, OpenError, RecvError, SendError};

use crate::{Variant, check_size, impl_transport};

/// ipc-channel's `IpcSharedMemory`, one region per message.
#[derive(Debug)]
pub struct IpcChannelShmem;

/// Copies each message into a new shared-memory region (or lends the region
/// to be written in place) and sends its descriptor.
#[derive(Debug)]
pub struct IpcChannelShmemSender {
    tx: IpcSender<IpcSharedMemory>,
    /// The open loan's region, never cloned or sent before it is published.
    loan: Option<IpcSharedMemory>,
}

impl IpcChannelShmemSender {
    fn new(tx: IpcSender<IpcSharedMemory>) -> Self {
        Self { tx, loan: None }
    }
}

/// Receives regions and lends the last one's mapping.
#[derive(Debug)]
pub struct IpcChannelShmemReceiver {
    rx: IpcReceiver<IpcSharedMemory>,
    /// Kept mapped until the next `recv`, which unmaps it.
    last: Option<IpcSharedMemory>,
}

impl transport::Sender for IpcChannelShmemSender {
    fn send(&mut self, msg: &[u8]) -> Result<(), SendError> {
        check_size(msg)?;
        self.tx
            .send(IpcSharedMemory::from_bytes(msg))
            .map_err(crate::send_error)
    }

    fn max_loan(&self) -> usize {
        transport::DEFAULT_MAX_MESSAGE_SIZE
    }

    fn loan_begin(&mut self, len: usize) -> Result<(), SendError> {
        self.loan = Some(IpcSharedMemory::from_byte(0, len));
        Ok(())
    }

    // ipc-channel's only way to write a region in place is its unsafe
    // `deref_mut`.
    #[allow(unsafe_code)]
    fn loan_bytes(&mut self) -> &mut [u8] {
        match &mut self.loan {
            // SAFETY: the region was made by `loan_begin` for this loan and
            // is neither cloned nor sent before `loan_publish` takes it, so
            // this is its only reader or writer; the slice borrows it through
            // `&mut self`.
            Some(region) => unsafe { region.deref_mut() },
            None => &mut [],
        }
    }

    fn loan_publish(&mut self) -> Result<(), SendError> {
        let region = self
            .loan
            .take()
            .ok_or_else(|| SendError::Backend("no loan is open".into()))?;
        self.tx.send(region).map_err(crate::send_error)
    }

    fn loan_abandon(&mut self) {
        self.loan = None;
    }
}

impl transport::Receiver for IpcChannelShmemReceiver {
    fn recv(&mut self) -> Result<&[u8], RecvError> {
        self.last = None;
        let region = self.rx.recv().map_err(crate::recv_error)?;
        Ok(&**self.last.insert(region))
    }
}

/// The listener's ends, created and sent across by the connecting side.
#[derive(Debug, Serialize, Deserialize)]
pub struct ShmemHandshake {
    to_peer: IpcSender<IpcSharedMemory>,
    from_peer: IpcReceiver<IpcSharedMemory>,
}

impl Variant for IpcChannelShmem {
    const NAME: &'static str = "ipc-channel-shmem";
    type Handshake = ShmemHandshake;
    type Sender = IpcChannelShmemSender;
    type Receiver = IpcChannelShmemReceiver;

    fn connecting_side(
        _peer: u32,
    ) -> Result<(ShmemHandshake, Self::Sender, Self::Receiver), OpenError> {
        let (to_listener, from_peer) =
            ipc::channel().map_err(|e| OpenError::io("ipc-channel channel", e))?;
        let (to_peer, from_listener) =
            ipc::channel().map_err(|e| OpenError::io("ipc-channel channel", e))?;
        Ok((
            ShmemHandshake { to_peer, from_peer },
            IpcChannelShmemSender::new(to_listener),
            IpcChannelShmemReceiver {
                rx: from_listener,
                last: None,
            },
        ))
    }

    fn listening_side(
        h: ShmemHandshake,
        _peer: u32,
    ) -> Result<(Self::Sender, Self::Receiver), OpenError> {
        Ok((
            IpcChannelShmemSender::new(h.to_peer),
            IpcChannelShmemReceiver {
                rx: h.from_peer,
                last: None,
            },
        ))
    }
}

impl_transport!(
    IpcChannelShmem,
    "servo ipc-channel 0.23 IpcSharedMemory: a fresh memfd per message (copied in, descriptor \
     passed over SOCK_SEQPACKET), receiver maps it and reads in place",
    Capabilities {
        zero_copy_recv: true,
        max_loan: transport::DEFAULT_MAX_MESSAGE_SIZE,
        ..Capabilities::default()
    }
);
