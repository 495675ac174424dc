//! Waiting for the next sample, shared by a connection's receiver and a
//! broadcast's subscriber: busy-polling (`iceoryx2`) or sleeping on the
//! event listener (`iceoryx2-block`), with a look at the peer now and then.

use std::fmt::Debug;

use iceoryx2::port::listener::Listener as EventListener;
use iceoryx2::port::subscriber::Subscriber;
use iceoryx2::prelude::*;
use iceoryx2::sample::Sample;
use transport::RecvError;

use crate::service::Svc;
use crate::{CHECK_EVERY, EVENT_CHECK_PERIOD};

fn recv_failed(e: iceoryx2::port::ReceiveError) -> RecvError {
    RecvError::Backend(format!("iceoryx2: receive: {e:?}"))
}

/// The next sample on `subscriber`. Without a listener it polls and looks
/// at the peer every [`CHECK_EVERY`] empty polls; with one it sleeps on
/// the listener and looks after every [`EVENT_CHECK_PERIOD`] without a
/// notification (a notification for a sample already taken just polls
/// again). When `peer_there` says the peer is gone, everything it sent is
/// queued already: one last poll, then [`RecvError::Disconnected`].
pub(crate) fn next_sample<H: Debug + ZeroCopySend>(
    subscriber: &Subscriber<Svc, [u8], H>,
    listener: Option<&EventListener<Svc>>,
    mut peer_there: impl FnMut() -> bool,
) -> Result<Sample<Svc, [u8], H>, RecvError> {
    let mut until_check = CHECK_EVERY;
    loop {
        if let Some(s) = subscriber.receive().map_err(recv_failed)? {
            return Ok(s);
        }
        let check = match listener {
            None => {
                until_check -= 1;
                std::hint::spin_loop();
                until_check == 0
            }
            Some(l) => {
                l.timed_wait(|_| {}, EVENT_CHECK_PERIOD)
                    .map_err(|e| RecvError::Backend(format!("iceoryx2: wait: {e:?}")))?
                    == 0
            }
        };
        if check {
            until_check = CHECK_EVERY;
            if !peer_there() {
                return subscriber
                    .receive()
                    .map_err(recv_failed)?
                    .ok_or(RecvError::Disconnected);
            }
        }
    }
}
