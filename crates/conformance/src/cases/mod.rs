//! The contract's clauses run across two processes, one module per case
//! holding both halves: `peer` runs in the re-executed peer process, `test`
//! in the test process. [`Case`] names them; [`Case::sides`] is the only
//! place that maps a case to its module.

mod boundaries;
mod empty_and_one_byte;
mod fault;
mod fifo_order;
mod killed_receiver_blocked_send;
mod killed_receiver_mid_stream;
mod killed_sender_mid_message;
mod large_16mib;
mod listener_drops;
mod many_small;
mod peer_exits;
mod random_sizes;
mod too_large;

pub(crate) mod accept_times_out;
pub(crate) mod malformed_endpoint;

use transport::Transport;

use crate::message::echo_until_disconnect;

/// The contract's clauses, one test each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// 1 000 numbered messages arrive in order, both directions.
    FifoOrder,
    /// Back-to-back messages of growing sizes keep their boundaries.
    Boundaries,
    /// Empty and 1-byte messages, both directions.
    EmptyAndOneByte,
    /// A 16 MiB message there and back.
    Large16MiB,
    /// 10 000 small messages, no loss.
    ManySmall,
    /// 1 000 messages of random sizes up to 1 MiB, contents checked.
    RandomSizes,
    /// The peer process exits: recv drains, then reports Disconnected; send
    /// reports Disconnected; nothing hangs.
    PeerExits,
    /// The listener drops its halves: the peer sees Disconnected.
    ListenerDrops,
    /// A message over the declared maximum is refused with TooLarge.
    TooLarge,
    /// The receiving peer (the connecting side) is killed with SIGKILL while
    /// we stream 4 KiB messages to it: `send` ends in Disconnected, `recv`
    /// too.
    KilledReceiverMidStream,
    /// As [`Case::KilledReceiverMidStream`], the killed peer being the
    /// listening side.
    KilledReceiverMidStreamListener,
    /// The receiving peer stops reading, we block in a 16 MiB send, and the
    /// peer (the connecting side) is killed: the blocked `send` returns
    /// Disconnected.
    KilledReceiverBlockedSend,
    /// As [`Case::KilledReceiverBlockedSend`], the killed peer being the
    /// listening side.
    KilledReceiverBlockedSendListener,
    /// The sending peer (the connecting side) is killed in the middle of a
    /// 16 MiB message: `recv` hands out only whole, correct messages, then
    /// Disconnected or Corrupt.
    KilledSenderMidMessage,
    /// As [`Case::KilledSenderMidMessage`], the killed peer being the
    /// listening side.
    KilledSenderMidMessageListener,
}

/// Every case run across two processes, in the order the suite lists them.
pub const ALL_CASES: [Case; 15] = [
    Case::FifoOrder,
    Case::Boundaries,
    Case::EmptyAndOneByte,
    Case::Large16MiB,
    Case::ManySmall,
    Case::RandomSizes,
    Case::PeerExits,
    Case::ListenerDrops,
    Case::TooLarge,
    Case::KilledReceiverMidStream,
    Case::KilledReceiverMidStreamListener,
    Case::KilledReceiverBlockedSend,
    Case::KilledReceiverBlockedSendListener,
    Case::KilledSenderMidMessage,
    Case::KilledSenderMidMessageListener,
];

/// What the test side of a case knows besides its halves.
pub(crate) struct Ctx {
    /// The peer process's pid (the fault cases kill it).
    pub(crate) peer: u32,
    /// "backend case", for messages.
    pub(crate) label: String,
}

/// A case's two halves.
pub(crate) struct Sides<T: Transport> {
    pub(crate) peer: fn(T::Sender, T::Receiver),
    pub(crate) test: fn(T::Sender, T::Receiver, &Ctx),
}

impl Case {
    /// The test's name, as the `suite!` macro generates it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::FifoOrder => "fifo_order",
            Self::Boundaries => "boundaries",
            Self::EmptyAndOneByte => "empty_and_one_byte",
            Self::Large16MiB => "large_16mib",
            Self::ManySmall => "many_small",
            Self::RandomSizes => "random_sizes",
            Self::PeerExits => "peer_exits",
            Self::ListenerDrops => "listener_drops",
            Self::TooLarge => "too_large",
            Self::KilledReceiverMidStream => "killed_receiver_mid_stream",
            Self::KilledReceiverMidStreamListener => "killed_receiver_mid_stream_listener",
            Self::KilledReceiverBlockedSend => "killed_receiver_blocked_send",
            Self::KilledReceiverBlockedSendListener => "killed_receiver_blocked_send_listener",
            Self::KilledSenderMidMessage => "killed_sender_mid_message",
            Self::KilledSenderMidMessageListener => "killed_sender_mid_message_listener",
        }
    }

    /// The case a test name (as in a `skip = [...]` list) stands for.
    pub fn from_name(name: &str) -> Option<Self> {
        ALL_CASES.into_iter().find(|c| c.name() == name)
    }

    /// Whether the test kills the peer process.
    pub fn is_fault(self) -> bool {
        matches!(
            self,
            Self::KilledReceiverMidStream
                | Self::KilledReceiverMidStreamListener
                | Self::KilledReceiverBlockedSend
                | Self::KilledReceiverBlockedSendListener
                | Self::KilledSenderMidMessage
                | Self::KilledSenderMidMessageListener
        )
    }

    /// Whether the peer process is the listening side (the test process
    /// then connects).
    pub(crate) fn peer_listens(self) -> bool {
        matches!(
            self,
            Self::KilledReceiverMidStreamListener
                | Self::KilledReceiverBlockedSendListener
                | Self::KilledSenderMidMessageListener
        )
    }

    /// The module that plays this case. A fault case and its `*_listener`
    /// twin play the same halves; only who listens differs.
    pub(crate) fn sides<T: Transport>(self) -> Sides<T> {
        /// The halves of the case in module `$m` (`echo` for the peer side
        /// where the peer only echoes).
        macro_rules! sides {
            ($m:ident) => {
                Sides {
                    peer: $m::peer::<T>,
                    test: $m::test::<T>,
                }
            };
            (echo, $m:ident) => {
                Sides {
                    peer: echo::<T>,
                    test: $m::test::<T>,
                }
            };
        }
        match self {
            Self::FifoOrder => sides!(fifo_order),
            Self::Boundaries => sides!(boundaries),
            Self::EmptyAndOneByte => sides!(echo, empty_and_one_byte),
            Self::Large16MiB => sides!(echo, large_16mib),
            Self::ManySmall => sides!(many_small),
            Self::RandomSizes => sides!(echo, random_sizes),
            Self::PeerExits => sides!(peer_exits),
            Self::ListenerDrops => sides!(listener_drops),
            Self::TooLarge => sides!(echo, too_large),
            Self::KilledReceiverMidStream | Self::KilledReceiverMidStreamListener => {
                sides!(killed_receiver_mid_stream)
            }
            Self::KilledReceiverBlockedSend | Self::KilledReceiverBlockedSendListener => {
                sides!(killed_receiver_blocked_send)
            }
            Self::KilledSenderMidMessage | Self::KilledSenderMidMessageListener => {
                sides!(killed_sender_mid_message)
            }
        }
    }
}

/// The peer side of the cases where the test side leads: echo everything.
fn echo<T: Transport>(mut tx: T::Sender, mut rx: T::Receiver) {
    echo_until_disconnect(&mut tx, &mut rx);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_names_are_unique_and_round_trip() {
        let mut names: Vec<_> = ALL_CASES.iter().map(|c| c.name()).collect();
        for c in ALL_CASES {
            assert_eq!(Case::from_name(c.name()), Some(c));
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL_CASES.len());
        assert_eq!(Case::from_name("no_such_case"), None);
    }
}
