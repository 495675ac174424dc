//! `accept` with nobody connecting returns Timeout close to the deadline.

use std::time::{Duration, Instant};

use transport::{Listener, Options, Transport};

/// Runs the case (in the test process only).
pub fn accept_times_out<T: Transport>() {
    let _slots = crate::slots::take::<T>(1);
    let (listener, _endpoint) = T::listen(&Options::unique("conf")).expect("listen");
    let start = Instant::now();
    let res = listener.accept(start + Duration::from_millis(200));
    let took = start.elapsed();
    assert!(
        matches!(res, Err(transport::OpenError::Timeout)),
        "expected Timeout, got {:?}",
        res.err()
    );
    assert!(
        took < Duration::from_secs(5),
        "accept overran its deadline: {took:?}"
    );
}
