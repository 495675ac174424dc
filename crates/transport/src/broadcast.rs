//! Broadcast (optional): one publisher, N subscribers in other processes,
//! each receiving every message, in order; the traits a broadcasting backend
//! implements and the "not supported" default every other backend keeps.
//!
//! The lifetimes and promises are in the crate docs, "Broadcast". A backend
//! that broadcasts natively declares [`Capabilities::broadcast_subscribers`]
//! `> 0` and overrides [`Transport::listen_broadcast`] and
//! [`Transport::subscribe`]; the defaults refuse with [`not_supported`], and
//! a caller (the harness's `bcastN`) then sends over N point-to-point
//! connections instead.
//!
//! [`Capabilities::broadcast_subscribers`]: crate::Capabilities::broadcast_subscribers
//! [`Transport::listen_broadcast`]: crate::Transport::listen_broadcast
//! [`Transport::subscribe`]: crate::Transport::subscribe
//! [`Transport`]: crate::Transport

use std::fmt;
use std::io;
use std::time::{Duration, Instant};

use crate::{OpenError, Receiver, RecvError};

/// How long [`Publisher::publish`] waits for room held by a subscriber that
/// is alive but does not read, before it gives [`PublishError::Stalled`]
/// naming it, unless [`Publisher::set_stall_timeout`] says otherwise.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a broadcasting backend may take to notice that a subscriber's
/// process has died while the publisher waits for room it holds: the
/// publisher then drops it ([`Publisher::departed`]) and goes on with the
/// others. Backends poll liveness at least this often while waiting.
pub const DEPARTURE_NOTICE: Duration = Duration::from_secs(1);

/// What a backend's broadcast does when a live subscriber stalls (reads
/// nothing for the stall timeout while the publisher needs its room);
/// declared in [`Capabilities::broadcast_stall`](crate::Capabilities::broadcast_stall).
/// See the crate docs, "Broadcast".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BroadcastStall {
    /// `publish` fails with [`PublishError::Stalled`] naming it; that
    /// message reached nobody and the stalled subscriber stays in the group
    /// (the shm ring, which checks every subscriber's room before writing).
    #[default]
    Nobody,
    /// The stalled subscriber is cut off: dropped from the group and
    /// reported by [`Publisher::departed`], and `publish` succeeds, the
    /// message having reached every other subscriber exactly once (there is
    /// nothing to retry). The cut-off subscriber receives what was queued
    /// for it, then its `recv` fails with an error saying it was cut off;
    /// it never sees a later message after a gap. For backends that deliver
    /// to one subscriber after another and cannot check room first
    /// (iceoryx2).
    CutOff,
}

/// A subscriber the publisher stopped serving: its process died or it
/// dropped its receiver. Reported by [`Publisher::departed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Departed {
    /// The subscriber's index, `0..subscribers` in the order they joined.
    pub subscriber: usize,
    /// Its process id, where the backend knows it.
    pub pid: Option<u32>,
    /// How many messages had been published when it was dropped: it
    /// received at most these (a prefix, in order).
    pub after_messages: u64,
}

impl fmt::Display for Departed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "subscriber {}", self.subscriber)?;
        if let Some(pid) = self.pid {
            write!(f, " (pid {pid})")?;
        }
        write!(f, " left after {} messages", self.after_messages)
    }
}

/// Failure while publishing one message.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// Every subscriber has gone ([`Publisher::departed`] names them);
    /// nothing more can be delivered.
    #[error("every subscriber has gone")]
    Disconnected,
    /// The message exceeds the backend's maximum; nothing was published.
    #[error("message of {size} bytes exceeds this transport's maximum of {max} bytes")]
    TooLarge { size: usize, max: usize },
    /// A subscriber, alive, held the room this message needs for longer
    /// than the stall timeout. Nothing of this message was published; the
    /// caller may publish it again (waiting another timeout) or give up.
    /// Only backends declaring [`BroadcastStall::Nobody`] give it.
    #[error(
        "subscriber {subscriber}{} read nothing for {waited:?}: the publisher cannot publish without dropping a message for it",
        pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
    )]
    Stalled {
        /// The subscriber's index.
        subscriber: usize,
        /// Its process id, where the backend knows it.
        pid: Option<u32>,
        /// How long the publisher waited for it.
        waited: Duration,
    },
    /// The operating system refused.
    #[error("publish failed: {0}")]
    Io(#[source] io::Error),
    /// The backend's own library refused; the message says why.
    #[error("{0}")]
    Backend(String),
}

/// The publishing side of a broadcast: every message goes to every
/// subscriber still there, whole and in order.
pub trait Publisher: Send + 'static {
    /// Delivers one message to every subscriber still there. Waits while
    /// the slowest one has not made room (back-pressure, never a drop):
    /// dead subscribers are dropped within [`DEPARTURE_NOTICE`] and
    /// reported by [`Self::departed`]; a live one that reads nothing
    /// for the stall timeout gives [`PublishError::Stalled`] naming it,
    /// or, where the backend declares [`BroadcastStall::CutOff`], is cut
    /// off and reported by [`Self::departed`].
    fn publish(&mut self, msg: &[u8]) -> Result<(), PublishError>;

    /// How many subscribers are still served.
    fn subscribers(&self) -> usize;

    /// The subscribers dropped so far, in the order they were noticed.
    fn departed(&self) -> &[Departed];

    /// How long `publish` waits on a live subscriber that does not read
    /// before it gives [`PublishError::Stalled`]
    /// ([`DEFAULT_STALL_TIMEOUT`] until set).
    fn set_stall_timeout(&mut self, timeout: Duration);
}

/// The listening side of a broadcast being set up: it waits for its
/// subscribers and becomes the [`Publisher`].
pub trait BroadcastListener: Send + 'static {
    /// The publisher it becomes.
    type Publisher: Publisher;

    /// Admits process `pid` as one of the subscribers (called once per
    /// subscriber). Returns whether this listener can tell processes apart,
    /// as [`crate::Listener::expect_peer`] does.
    fn expect_peer(&mut self, pid: u32) -> bool {
        let _ = pid;
        false
    }

    /// Waits until every subscriber has joined, or `deadline` passes
    /// ([`OpenError::Timeout`], or [`OpenError::Refused`] naming the
    /// processes turned away). From then on the group is fixed: a later
    /// [`crate::Transport::subscribe`] is refused.
    fn accept(self, deadline: Instant) -> Result<Self::Publisher, OpenError>;
}

/// The error every non-broadcasting backend's `listen_broadcast` and
/// `subscribe` give.
pub fn not_supported(name: &str) -> OpenError {
    OpenError::Backend(format!(
        "{name} has no native broadcast (Capabilities::broadcast_subscribers is 0): send over one point-to-point connection per subscriber"
    ))
}

/// The types the defaults of [`crate::Transport::listen_broadcast`] and
/// [`crate::Transport::subscribe`] name; no value of them is ever made.
#[derive(Debug)]
pub enum Unsupported {}

impl Publisher for Unsupported {
    fn publish(&mut self, _msg: &[u8]) -> Result<(), PublishError> {
        match *self {}
    }
    fn subscribers(&self) -> usize {
        match *self {}
    }
    fn departed(&self) -> &[Departed] {
        match *self {}
    }
    fn set_stall_timeout(&mut self, _timeout: Duration) {
        match *self {}
    }
}

impl BroadcastListener for Unsupported {
    type Publisher = Unsupported;
    fn accept(self, _deadline: Instant) -> Result<Unsupported, OpenError> {
        match self {}
    }
}

impl Receiver for Unsupported {
    fn recv(&mut self) -> Result<&[u8], RecvError> {
        match *self {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Capabilities, Endpoint, Options, SendError, Sender, Transport};

    /// Halves that are never made: only the broadcast defaults are called.
    struct Never;
    impl Sender for Never {
        fn send(&mut self, _: &[u8]) -> Result<(), SendError> {
            Err(SendError::Disconnected)
        }
    }
    impl Receiver for Never {
        fn recv(&mut self) -> Result<&[u8], RecvError> {
            Err(RecvError::Disconnected)
        }
    }
    impl crate::Listener for Never {
        type Sender = Never;
        type Receiver = Never;
        fn accept(self, _: Instant) -> Result<(Never, Never), OpenError> {
            Err(OpenError::Timeout)
        }
    }

    /// A backend that keeps every default.
    struct Plain;
    impl Transport for Plain {
        const NAME: &'static str = "plain";
        const DESCRIPTION: &'static str = "test";
        type Sender = Never;
        type Receiver = Never;
        type Listener = Never;
        fn listen(_: &Options) -> Result<(Self::Listener, Endpoint), OpenError> {
            Err(OpenError::Timeout)
        }
        fn connect(_: &Endpoint, _: &Options) -> Result<(Self::Sender, Self::Receiver), OpenError> {
            Err(OpenError::Timeout)
        }
    }

    #[test]
    fn a_backend_without_broadcast_refuses_by_name() {
        assert_eq!(Plain::capabilities().broadcast_subscribers, 0);
        let opts = Options::unique("bcast-default");
        let Err(e) = Plain::listen_broadcast(&opts, 2) else {
            panic!("the default listen_broadcast accepted");
        };
        let text = e.to_string();
        assert!(
            text.contains("plain") && text.contains("point-to-point"),
            "{text}"
        );
        let Err(e) = Plain::subscribe(&Endpoint("x".into()), &opts) else {
            panic!("the default subscribe accepted");
        };
        assert!(e.to_string().contains("plain"), "{e}");
        assert_eq!(Capabilities::default().broadcast_subscribers, 0);
        assert_eq!(
            Capabilities::default().broadcast_stall,
            BroadcastStall::Nobody
        );
    }

    #[test]
    fn errors_name_the_subscriber() {
        let stalled = PublishError::Stalled {
            subscriber: 3,
            pid: Some(4242),
            waited: Duration::from_secs(2),
        };
        let text = stalled.to_string();
        assert!(
            text.contains("subscriber 3") && text.contains("pid 4242") && text.contains("2s"),
            "{text}"
        );
        let gone = Departed {
            subscriber: 1,
            pid: None,
            after_messages: 7,
        };
        assert_eq!(gone.to_string(), "subscriber 1 left after 7 messages");
    }
}
