//! 1 000 messages of random sizes up to 1 MiB there and back (the peer
//! echoes), contents checked.

use transport::Transport;

use super::Ctx;
use crate::message::{cap, recv_check, send, splitmix};

pub(super) fn test<T: Transport>(mut tx: T::Sender, mut rx: T::Receiver, _: &Ctx) {
    let sizes: Vec<usize> = sizes().into_iter().map(cap::<T>).collect();
    for (seq, &len) in sizes.iter().enumerate() {
        send(&mut tx, seq as u64, len);
        recv_check(&mut rx, seq as u64, len);
    }
}

/// The same 1 000 sizes on every run, 1 byte to 1 MiB.
fn sizes() -> Vec<usize> {
    let mut x = 0x1234_5678u64;
    (0..1000)
        .map(|_| {
            x = splitmix(x);
            (x % (1 << 20) + 1) as usize
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_stay_in_range() {
        let s = super::sizes();
        assert_eq!(s.len(), 1000);
        assert!(s.iter().all(|&l| (1..=1 << 20).contains(&l)));
    }
}
