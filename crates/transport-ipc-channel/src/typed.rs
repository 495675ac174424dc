//! `ipc-channel-typed`: a serde struct per message over `IpcSender<T>`,
//! serialized by ipc-channel itself.

use ipc_channel::ipc::{self, IpcReceiver, IpcSender};
use serde::{Deserialize, Serialize};
use transport::{OpenError, RecvError, SendError};

use crate::{PeerWatch, Variant, check_size, impl_transport};

/// ipc-channel's typed `IpcSender<T>` / `IpcReceiver<T>`; the codec is
/// ipc-channel's own (postcard).
#[derive(Debug)]
pub struct IpcChannelTyped;

/// The message as the receiver decodes it.
#[derive(Debug, Serialize, Deserialize)]
pub struct Frame {
    #[serde(with = "serde_bytes")]
    data: Vec<u8>,
}

/// The message as the sender encodes it: the same wire format as [`Frame`],
/// borrowing the caller's bytes so that sending copies them only into
/// ipc-channel's encoding buffer, as sending an owned `Frame` would.
#[derive(Debug, Serialize, Deserialize)]
pub struct FrameRef<'a> {
    #[serde(with = "serde_bytes")]
    data: &'a [u8],
}

/// Sends typed frames; a send too large for one packet runs under a watch
/// on the peer process (see [`crate::PeerWatch`]).
#[derive(Debug)]
pub struct IpcChannelTypedSender {
    tx: IpcSender<FrameRef<'static>>,
    watch: PeerWatch,
    single_packet: usize,
}

/// Receives typed frames, lending the last decoded one.
#[derive(Debug)]
pub struct IpcChannelTypedReceiver {
    rx: IpcReceiver<Frame>,
    last: Vec<u8>,
}

impl transport::Sender for IpcChannelTypedSender {
    fn send(&mut self, msg: &[u8]) -> Result<(), SendError> {
        check_size(msg)?;
        // `IpcSender<T>` is covariant in `T`, so the stored sender can send a
        // frame that borrows `msg` for just this call.
        let tx: &IpcSender<FrameRef<'_>> = &self.tx;
        // The encoding adds a few bytes of length prefix; judge by the
        // payload with that margin.
        if msg.len() + 16 <= self.single_packet {
            return tx.send(FrameRef { data: msg }).map_err(crate::send_error);
        }
        let armed = self.watch.arm()?;
        let res = tx.send(FrameRef { data: msg });
        drop(armed);
        res.map_err(|e| self.watch.disconnected_or(crate::send_error(e)))
    }
}

impl transport::Receiver for IpcChannelTypedReceiver {
    fn recv(&mut self) -> Result<&[u8], RecvError> {
        self.last = self.rx.recv().map_err(crate::recv_error)?.data;
        Ok(&self.last)
    }
}

/// The listener's ends, created and sent across by the connecting side.
#[derive(Debug, Serialize, Deserialize)]
pub struct TypedHandshake {
    to_peer: IpcSender<FrameRef<'static>>,
    from_peer: IpcReceiver<Frame>,
}

fn typed_channel() -> Result<(IpcSender<FrameRef<'static>>, IpcReceiver<Frame>), OpenError> {
    let (tx, rx) = ipc::channel::<Frame>().map_err(|e| OpenError::io("ipc-channel channel", e))?;
    Ok((tx.to_opaque().to::<FrameRef<'static>>(), rx))
}

impl Variant for IpcChannelTyped {
    const NAME: &'static str = "ipc-channel-typed";
    type Handshake = TypedHandshake;
    type Sender = IpcChannelTypedSender;
    type Receiver = IpcChannelTypedReceiver;

    fn connecting_side(
        peer: u32,
    ) -> Result<(TypedHandshake, Self::Sender, Self::Receiver), OpenError> {
        let (to_listener, from_peer) = typed_channel()?;
        let (to_peer, from_listener) = typed_channel()?;
        Ok((
            TypedHandshake { to_peer, from_peer },
            sender(to_listener, peer)?,
            IpcChannelTypedReceiver {
                rx: from_listener,
                last: Vec::new(),
            },
        ))
    }

    fn listening_side(
        h: TypedHandshake,
        peer: u32,
    ) -> Result<(Self::Sender, Self::Receiver), OpenError> {
        Ok((
            sender(h.to_peer, peer)?,
            IpcChannelTypedReceiver {
                rx: h.from_peer,
                last: Vec::new(),
            },
        ))
    }
}

fn sender(tx: IpcSender<FrameRef<'static>>, peer: u32) -> Result<IpcChannelTypedSender, OpenError> {
    Ok(IpcChannelTypedSender {
        tx,
        watch: PeerWatch::new(peer)?,
        single_packet: crate::single_packet_limit(),
    })
}

impl_transport!(
    IpcChannelTyped,
    "servo ipc-channel 0.23 IpcSender<T>/IpcReceiver<T>: serde struct with a serde_bytes \
     buffer, encoded by ipc-channel's own codec (postcard), so timings include encode/decode"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrowed_and_owned_frames_share_one_wire_format() {
        let (tx, rx) = typed_channel().expect("channel");
        let msg: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        for m in [&msg[..], &[], &[42]] {
            let tx: &IpcSender<FrameRef<'_>> = &tx;
            tx.send(FrameRef { data: m }).expect("send");
            assert_eq!(rx.recv().expect("recv").data, m);
        }
    }
}
