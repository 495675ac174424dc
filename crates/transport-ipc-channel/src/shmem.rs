//! `ipc-channel-shmem`: a fresh `IpcSharedMemory` per message; the receiver
//! lends the mapping.

use ipc_channel::ipc::{self, IpcReceiver, IpcSender, IpcSharedMemory};
use serde::{Deserialize, Serialize};
use transport::{Capabilities, OpenError, RecvError, SendError};

use crate::{Variant, check_size, impl_transport};

/// ipc-channel's `IpcSharedMemory`, one region per message.
#[derive(Debug)]
pub struct IpcChannelShmem;

/// Copies each message into a new shared-memory region and sends its
/// descriptor.
#[derive(Debug)]
pub struct IpcChannelShmemSender(IpcSender<IpcSharedMemory>);

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
        self.0
            .send(IpcSharedMemory::from_bytes(msg))
            .map_err(crate::send_error)
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
            IpcChannelShmemSender(to_listener),
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
            IpcChannelShmemSender(h.to_peer),
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
        ..Capabilities::default()
    }
);
