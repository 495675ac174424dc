//! The contract's clauses run across two processes, one module per case
//! holding both halves: `peer` runs in the re-executed peer process, `test`
//! in the test process. The table in [`case_table!`](crate::case_table) is the
//! only place a case is named: [`Case`], [`ALL_CASES`], [`Case::name`],
//! [`Case::sides`] and the `suite!` tests all follow from it.

mod bcast_every_message_in_order;
mod bcast_killed_subscriber;
mod bcast_late_subscriber;
mod bcast_stalled_subscriber;
mod bcast_subscriber_leaves;
mod boundaries;
mod empty_and_one_byte;
mod fault;
mod fifo_order;
mod killed_holding_loan;
mod killed_holding_received;
mod killed_receiver_blocked_send;
mod killed_receiver_mid_stream;
mod killed_sender_mid_message;
mod large_16mib;
mod listener_drops;
mod loan;
mod loan_dropped_sends_nothing;
mod loan_too_large;
mod loan_whole_in_order;
mod many_small;
mod peer_exits;
mod random_sizes;
mod too_large;

pub(crate) mod accept_times_out;
pub(crate) mod malformed_endpoint;

use transport::Transport;

use crate::message::echo_until_disconnect;

/// The case table: one line per case. Every column is read by
/// [`define_cases!`] (the enum, [`ALL_CASES`], names, flags and sides) and by
/// `suite!` (one `#[test]` per case), so adding a case is one module in
/// `cases/` and one line here.
///
/// Columns: the `Case` variant; the test's name (also [`Case::name`] and the
/// name a `skip = [...]` list uses); the module in `cases/` that plays it;
/// the peer side (`own`: the module's `peer`, `echo`: echo everything,
/// `bcast`: a broadcast case, whose module's `SIDES` the publisher and its
/// subscriber processes play, [`crate::bcast`]); whether
/// the test kills the peer; whether the peer is the listening side; what the
/// backend must offer for the case to check anything (`any`; `loans`:
/// [`Capabilities::max_loan`](transport::Capabilities::max_loan) > 0;
/// `bcast`: [`Capabilities::broadcast_subscribers`](transport::Capabilities::broadcast_subscribers)
/// > 0; other backends pass it, saying so); the doc.
///
/// `$then` is the macro that receives the rows (a path, so `suite!` can pass
/// `$crate::...` from a backend's crate).
#[doc(hidden)]
#[macro_export]
macro_rules! case_table {
    ($($then:tt)+) => {
        $($then)+! {
            FifoOrder fifo_order fifo_order own false false any
                "1 000 numbered messages arrive in order, both directions.";
            Boundaries boundaries boundaries own false false any
                "Back-to-back messages of growing sizes keep their boundaries.";
            EmptyAndOneByte empty_and_one_byte empty_and_one_byte echo false false any
                "Empty and 1-byte messages, both directions.";
            Large16MiB large_16mib large_16mib echo false false any
                "A 16 MiB message there and back.";
            ManySmall many_small many_small own false false any
                "10 000 small messages, no loss.";
            RandomSizes random_sizes random_sizes echo false false any
                "1 000 messages of random sizes up to 1 MiB, contents checked.";
            PeerExits peer_exits peer_exits own false false any
                "The peer process exits: recv drains, then reports Disconnected; send reports Disconnected; nothing hangs.";
            ListenerDrops listener_drops listener_drops own false false any
                "The listener drops its halves: the peer sees Disconnected.";
            TooLarge too_large too_large echo false false any
                "A message over the declared maximum is refused with TooLarge.";
            KilledReceiverMidStream killed_receiver_mid_stream killed_receiver_mid_stream own true false any
                "The receiving peer (the connecting side) is killed with SIGKILL while we stream 4 KiB messages to it: `send` ends in Disconnected, `recv` too.";
            KilledReceiverMidStreamListener killed_receiver_mid_stream_listener killed_receiver_mid_stream own true true any
                "As [`Case::KilledReceiverMidStream`], the killed peer being the listening side.";
            KilledReceiverBlockedSend killed_receiver_blocked_send killed_receiver_blocked_send own true false any
                "The receiving peer stops reading, we block in a 16 MiB send, and the peer (the connecting side) is killed: the blocked `send` returns Disconnected.";
            KilledReceiverBlockedSendListener killed_receiver_blocked_send_listener killed_receiver_blocked_send own true true any
                "As [`Case::KilledReceiverBlockedSend`], the killed peer being the listening side.";
            KilledSenderMidMessage killed_sender_mid_message killed_sender_mid_message own true false any
                "The sending peer (the connecting side) is killed in the middle of a 16 MiB message: `recv` hands out only whole, correct messages, then Disconnected or Corrupt.";
            KilledSenderMidMessageListener killed_sender_mid_message_listener killed_sender_mid_message own true true any
                "As [`Case::KilledSenderMidMessage`], the killed peer being the listening side.";
            LoanWholeInOrder loan_whole_in_order loan_whole_in_order own false false loans
                "Loaned messages of every size up to the maximum arrive whole, in order, exactly once, mixed with copied ones, both directions.";
            LoanDroppedSendsNothing loan_dropped_sends_nothing loan_dropped_sends_nothing own false false loans
                "Loans dropped without publishing (written to, up to the largest, more than fit at once) send nothing and give their space back.";
            LoanTooLarge loan_too_large loan_too_large own false false loans
                "A loan above the connection's maximum is refused with LoanTooLarge naming both sizes, and nothing is sent.";
            KilledHoldingLoan killed_holding_loan killed_holding_loan own true false loans
                "The sending peer (the connecting side) is killed holding a half-written loan: nothing of it arrives, `recv` and loans end in Disconnected.";
            KilledHoldingLoanListener killed_holding_loan_listener killed_holding_loan own true true loans
                "As [`Case::KilledHoldingLoan`], the killed peer being the listening side.";
            KilledHoldingReceived killed_holding_received killed_holding_received own true false loans
                "The receiving peer (the connecting side) is killed holding a lent message: loans to it end in Disconnected, never block on the space it held.";
            KilledHoldingReceivedListener killed_holding_received_listener killed_holding_received own true true loans
                "As [`Case::KilledHoldingReceived`], the killed peer being the listening side.";
            BcastEveryMessageInOrder bcast_every_message_in_order bcast_every_message_in_order bcast false false bcast
                "Broadcast: every subscriber receives every message, whole, in order, exactly once (sizes up to 1 MiB), then Disconnected once the publisher has gone.";
            BcastKilledSubscriber bcast_killed_subscriber bcast_killed_subscriber bcast true false bcast
                "Broadcast: a subscriber that stops reading is killed with SIGKILL while the publisher waits on it: within DEPARTURE_NOTICE the publisher goes on, `departed` names it, the others miss nothing.";
            BcastStalledSubscriber bcast_stalled_subscriber bcast_stalled_subscriber bcast true false bcast
                "Broadcast: a live subscriber that never reads makes `publish` fail with Stalled naming it after the stall timeout; the stalled message reached nobody and publishing it again, once that subscriber is gone, delivers it once.";
            BcastSubscriberLeaves bcast_subscriber_leaves bcast_subscriber_leaves bcast false false bcast
                "Broadcast: a subscriber drops its receiver after a few messages, its process alive: the publisher drops it from the group (`departed` names it) and the others miss nothing.";
            BcastLateSubscriber bcast_late_subscriber bcast_late_subscriber bcast false false bcast
                "Broadcast: a subscriber that comes after accept is refused (its subscribe errs, or its recv reads Disconnected before any message); the group and its messages are unaffected.";
        }
    };
}

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

/// How a case is played: by two connected processes, or by a publisher
/// and its subscriber processes.
pub(crate) enum Play<T: Transport> {
    Pair(Sides<T>),
    Broadcast(crate::bcast::Sides),
}

/// The enum, the list and the per-case facts, from [`case_table!`]'s rows.
macro_rules! define_cases {
    ($($case:ident $name:ident $module:ident $peer:ident $kills:literal $peer_listens:literal $needs:ident $doc:literal;)*) => {
        /// The contract's clauses, one test each.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Case {
            $(#[doc = $doc] $case,)*
        }

        /// Every case run across two processes, in the order the suite lists
        /// them.
        pub const ALL_CASES: &[Case] = &[$(Case::$case),*];

        impl Case {
            /// The test's name, as the `suite!` macro generates it.
            pub(crate) fn name(self) -> &'static str {
                match self {
                    $(Self::$case => stringify!($name),)*
                }
            }

            /// Whether the test kills the peer process.
            pub fn is_fault(self) -> bool {
                match self {
                    $(Self::$case => $kills,)*
                }
            }

            /// Whether the peer process is the listening side (the test
            /// process then connects).
            pub(crate) fn peer_listens(self) -> bool {
                match self {
                    $(Self::$case => $peer_listens,)*
                }
            }

            /// Whether the case checks only backends that loan.
            pub(crate) fn needs_loans(self) -> bool {
                match self {
                    $(Self::$case => define_cases!(@loans $needs),)*
                }
            }

            /// The module that plays this case. A fault case and its
            /// `*_listener` twin play the same halves; only who listens
            /// differs.
            pub(crate) fn play<T: Transport>(self) -> Play<T> {
                match self {
                    $(Self::$case => define_cases!(@play $peer $module),)*
                }
            }
        }
    };
    (@play own $module:ident) => {
        Play::Pair(Sides { peer: $module::peer::<T>, test: $module::test::<T> })
    };
    (@play echo $module:ident) => {
        Play::Pair(Sides { peer: echo::<T>, test: $module::test::<T> })
    };
    (@play bcast $module:ident) => { Play::Broadcast($module::SIDES) };
    (@loans any) => { false };
    (@loans loans) => { true };
    (@loans bcast) => { false };
}

crate::case_table!(define_cases);

impl Case {
    /// The case a test name stands for.
    pub fn from_name(name: &str) -> Option<Self> {
        ALL_CASES.iter().copied().find(|c| c.name() == name)
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
        for &c in ALL_CASES {
            assert_eq!(Case::from_name(c.name()), Some(c));
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL_CASES.len());
        assert_eq!(Case::from_name("no_such_case"), None);
    }
}
