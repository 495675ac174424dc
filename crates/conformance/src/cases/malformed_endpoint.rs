//! `connect` to garbage is an error, not a panic or a hang.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use transport::{Options, Transport};

/// Runs the case (in the test process only).
pub fn malformed_endpoint<T: Transport>() {
    let (done_tx, done_rx) = mpsc::channel();
    thread::spawn(move || {
        let opts = Options::unique("conf");
        let res = T::connect(&transport::Endpoint("nonsense:\u{0}:-1".into()), &opts);
        let _ = done_tx.send(res.is_err());
    });
    let is_err = done_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("connect to garbage hung");
    assert!(is_err, "connect to a malformed endpoint succeeded");
}
