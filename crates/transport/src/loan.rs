//! Loans: a sender writes a message straight into the transport's own memory
//! and publishes it without a copy; [`fill_and_send`] and [`outgoing`] let a
//! producer written once run on loaning and copying transports alike.
//!
//! A backend that can loan implements the four hooks of [`Sender`]
//! ([`Sender::max_loan`], [`Sender::loan_begin`], [`Sender::loan_bytes`],
//! [`Sender::loan_publish`], and [`Sender::loan_abandon`] if reserving did
//! anything to undo); callers use only [`Sender::loan`] and the [`Loan`] it
//! returns, which calls the hooks in the one order the backend must handle.
//! The lifetimes are in the crate docs, "Loans".

use crate::{SendError, Sender};

/// A writable region of `len` bytes in a transport's memory, lent to a
/// sender by [`Sender::loan`]. Write it through [`Loan::bytes_mut`], then
/// [`Loan::publish`] it; dropping it unpublished sends nothing and gives the
/// region back.
///
/// The loan borrows its sender mutably, so a sender has at most one loan
/// open, and cannot `send` while it has.
#[must_use = "a loan dropped without `publish` sends nothing"]
#[derive(Debug)]
pub struct Loan<'a, S: Sender + ?Sized> {
    sender: &'a mut S,
    len: usize,
    /// Cleared by `publish`, so `Drop` abandons only an unpublished loan.
    open: bool,
}

impl<'a, S: Sender + ?Sized> Loan<'a, S> {
    /// Wraps a region the sender has just reserved with
    /// [`Sender::loan_begin`]`(len)`.
    fn new(sender: &'a mut S, len: usize) -> Self {
        Self {
            sender,
            len,
            open: true,
        }
    }

    /// The size of the message this loan will publish.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the message is empty (a legal message, as with `send`).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The region, exactly [`Self::len`] bytes. Its contents before the
    /// caller writes are unspecified (earlier messages of this connection,
    /// or zeros), so a message must write every byte it means.
    #[inline]
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        self.sender.loan_bytes()
    }

    /// Hands the region to the receiver as one whole message, without a
    /// copy. `Disconnected` if the peer is gone (nothing is delivered).
    #[inline]
    pub fn publish(mut self) -> Result<(), SendError> {
        self.open = false;
        self.sender.loan_publish()
    }
}

impl<S: Sender + ?Sized> Drop for Loan<'_, S> {
    #[inline]
    fn drop(&mut self) {
        if self.open {
            self.sender.loan_abandon();
        }
    }
}

/// Opens a loan after checking `len` against the connection's maximum, so
/// a refused loan has reserved and written nothing. Used by
/// [`Sender::loan`].
#[inline]
pub(crate) fn open<S: Sender>(sender: &mut S, len: usize) -> Result<Loan<'_, S>, SendError> {
    let max = sender.max_loan();
    if max == 0 {
        return Err(SendError::CannotLoan);
    }
    if len > max {
        return Err(SendError::LoanTooLarge { size: len, max });
    }
    sender.loan_begin(len)?;
    Ok(Loan::new(sender, len))
}

/// A message being produced: a loan where the connection can lend its
/// size, otherwise the caller's buffer, sent with a copy by
/// [`Outgoing::send`]. A producer fills [`Outgoing::bytes_mut`] either way.
#[derive(Debug)]
pub enum Outgoing<'a, S: Sender> {
    /// The transport's memory; `send` publishes it in place.
    Loaned(Loan<'a, S>),
    /// The caller's buffer; `send` copies it through [`Sender::send`].
    Copied {
        /// Where it goes.
        sender: &'a mut S,
        /// The message, `len` bytes of the caller's scratch buffer.
        buf: &'a mut [u8],
    },
}

impl<S: Sender> Outgoing<'_, S> {
    /// The bytes to fill.
    #[inline]
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        match self {
            Self::Loaned(loan) => loan.bytes_mut(),
            Self::Copied { buf, .. } => buf,
        }
    }

    /// Whether the message goes out without a copy.
    #[inline]
    pub fn is_loan(&self) -> bool {
        matches!(self, Self::Loaned(_))
    }

    /// Hands the message over: publishes the loan, or sends the buffer.
    #[inline]
    pub fn send(self) -> Result<(), SendError> {
        match self {
            Self::Loaned(loan) => loan.publish(),
            Self::Copied { sender, buf } => sender.send(buf),
        }
    }
}

/// Starts a message of `len` bytes: a loan if this connection can lend that
/// many ([`Sender::max_loan`]), else the first `len` bytes of `scratch`.
/// `scratch` grows (allocates) only when it is shorter than `len`, so a
/// caller that sizes it once before its timed loop allocates nothing there.
#[inline]
pub fn outgoing<'a, S: Sender>(
    sender: &'a mut S,
    scratch: &'a mut Vec<u8>,
    len: usize,
) -> Result<Outgoing<'a, S>, SendError> {
    if len <= sender.max_loan() {
        return Ok(Outgoing::Loaned(sender.loan(len)?));
    }
    if scratch.len() < len {
        scratch.resize(len, 0);
    }
    Ok(Outgoing::Copied {
        sender,
        buf: &mut scratch[..len],
    })
}

/// Produces and sends one message of `len` bytes, written once for every
/// transport: `fill` writes the message where it will travel from (a loan
/// where the connection can lend `len` bytes, else `scratch`, then
/// [`Sender::send`]) and its result is returned once the message is handed
/// over. See [`outgoing`] for `scratch`.
#[inline]
pub fn fill_and_send<S: Sender, R>(
    sender: &mut S,
    scratch: &mut Vec<u8>,
    len: usize,
    fill: impl FnOnce(&mut [u8]) -> R,
) -> Result<R, SendError> {
    let mut out = outgoing(sender, scratch, len)?;
    let r = fill(out.bytes_mut());
    out.send()?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sender that loans from an in-memory slot and records what it
    /// publishes and sends, with each hook call counted.
    #[derive(Default)]
    struct Mock {
        max: usize,
        slot: Vec<u8>,
        open: Option<usize>,
        published: Vec<Vec<u8>>,
        sent: Vec<Vec<u8>>,
        begun: usize,
        abandoned: usize,
    }

    impl Sender for Mock {
        fn send(&mut self, msg: &[u8]) -> Result<(), SendError> {
            self.sent.push(msg.to_vec());
            Ok(())
        }
        fn max_loan(&self) -> usize {
            self.max
        }
        fn loan_begin(&mut self, len: usize) -> Result<(), SendError> {
            assert!(self.open.is_none(), "a second loan while one is open");
            self.begun += 1;
            self.slot = vec![0xEE; len];
            self.open = Some(len);
            Ok(())
        }
        fn loan_bytes(&mut self) -> &mut [u8] {
            let len = self.open.expect("bytes of an open loan");
            &mut self.slot[..len]
        }
        fn loan_publish(&mut self) -> Result<(), SendError> {
            let len = self.open.take().expect("publish an open loan");
            self.published.push(self.slot[..len].to_vec());
            Ok(())
        }
        fn loan_abandon(&mut self) {
            assert!(self.open.take().is_some(), "abandon an open loan");
            self.abandoned += 1;
        }
    }

    #[test]
    fn a_published_loan_is_one_message() {
        let mut tx = Mock {
            max: 64,
            ..Mock::default()
        };
        let mut loan = tx.loan(5).expect("loan");
        assert_eq!(loan.len(), 5);
        loan.bytes_mut().copy_from_slice(b"hello");
        loan.publish().expect("publish");
        let mut empty = tx.loan(0).expect("empty loan");
        assert!(empty.bytes_mut().is_empty());
        empty.publish().expect("publish");
        assert_eq!(tx.published, vec![b"hello".to_vec(), Vec::new()]);
        assert_eq!(tx.abandoned, 0);
        assert!(tx.sent.is_empty());
    }

    #[test]
    fn a_dropped_loan_sends_nothing() {
        let mut tx = Mock {
            max: 64,
            ..Mock::default()
        };
        {
            let mut loan = tx.loan(3).expect("loan");
            loan.bytes_mut().fill(1);
        }
        assert!(tx.published.is_empty());
        assert_eq!(tx.abandoned, 1);
        // The region is back: the next loan opens.
        tx.loan(3).expect("loan again").publish().expect("publish");
        assert_eq!(tx.published.len(), 1);
    }

    #[test]
    fn loans_above_the_maximum_are_refused_before_anything_is_reserved() {
        let mut tx = Mock {
            max: 64,
            ..Mock::default()
        };
        match tx.loan(65) {
            Err(SendError::LoanTooLarge { size: 65, max: 64 }) => {}
            other => panic!("expected LoanTooLarge, got {:?}", other.map(|l| l.len())),
        }
        assert_eq!(tx.begun, 0);
        let text = SendError::LoanTooLarge { size: 65, max: 64 }.to_string();
        assert!(text.contains("65") && text.contains("64"), "{text}");
        let mut copying = Mock::default();
        assert!(matches!(copying.loan(1), Err(SendError::CannotLoan)));
        assert!(matches!(copying.loan(0), Err(SendError::CannotLoan)));
        assert_eq!(copying.begun, 0);
    }

    #[test]
    fn fill_and_send_loans_where_it_can_and_copies_otherwise() {
        let mut scratch = Vec::new();
        let mut loaning = Mock {
            max: 8,
            ..Mock::default()
        };
        let r = fill_and_send(&mut loaning, &mut scratch, 4, |b| {
            b.copy_from_slice(b"abcd");
            7
        })
        .expect("loaned");
        assert_eq!(r, 7);
        assert_eq!(loaning.published, vec![b"abcd".to_vec()]);
        // Larger than this connection lends: the scratch buffer and `send`.
        fill_and_send(&mut loaning, &mut scratch, 9, |b| b.fill(b'z')).expect("copied");
        assert_eq!(loaning.sent, vec![vec![b'z'; 9]]);
        assert_eq!(scratch.len(), 9);

        let mut copying = Mock::default();
        let mut out = outgoing(&mut copying, &mut scratch, 3).expect("outgoing");
        assert!(!out.is_loan());
        out.bytes_mut().copy_from_slice(b"xyz");
        out.send().expect("send");
        assert_eq!(copying.sent, vec![b"xyz".to_vec()]);
        // A shorter message reuses the buffer: no growth, exact length sent.
        assert_eq!(scratch.len(), 9);
        assert_eq!(copying.begun, 0);
    }
}
