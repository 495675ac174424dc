//! Deliberate faults for testing that verification and supervision work end to
//! end: `IPCBENCH_FAULT=<kind>:<n>` makes the producer's sender corrupt, drop
//! or duplicate its n-th send or published loan (counting from 0, warm-up
//! included), or exit abruptly at it. Read once at start-up; the unfaulted path is untouched.

use transport::{SendError, Sender};

/// The environment variable that arms a fault.
pub const ENV: &str = "IPCBENCH_FAULT";

/// What to do to the n-th message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Flip one byte of the payload.
    Corrupt,
    /// Do not send it (a lost message).
    Drop,
    /// Send it twice.
    Duplicate,
    /// Exit the process without closing anything (a crashed peer).
    Exit,
}

/// A fault armed for one send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// What happens.
    pub kind: Kind,
    /// At which send.
    pub at: u64,
}

impl Fault {
    /// Parses `corrupt:5`, `drop:5`, `duplicate:5` or `exit:5`.
    pub fn parse(text: &str) -> Option<Self> {
        let (kind, at) = text.split_once(':')?;
        let kind = match kind {
            "corrupt" => Kind::Corrupt,
            "drop" => Kind::Drop,
            "duplicate" => Kind::Duplicate,
            "exit" => Kind::Exit,
            _ => return None,
        };
        Some(Self {
            kind,
            at: at.parse().ok()?,
        })
    }

    /// The fault armed in the environment, if any.
    pub fn from_env() -> Option<Self> {
        std::env::var(ENV).ok().as_deref().and_then(Self::parse)
    }
}

/// A sender that applies a [`Fault`] to one message.
#[derive(Debug)]
pub struct Faulty<S> {
    inner: S,
    fault: Fault,
    sent: u64,
    scratch: Vec<u8>,
}

impl<S> Faulty<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, fault: Fault) -> Self {
        Self {
            inner,
            fault,
            sent: 0,
            scratch: Vec::new(),
        }
    }
}

impl<S: Sender> Sender for Faulty<S> {
    fn send(&mut self, msg: &[u8]) -> Result<(), SendError> {
        let n = self.sent;
        self.sent += 1;
        if n != self.fault.at {
            return self.inner.send(msg);
        }
        match self.fault.kind {
            Kind::Corrupt => {
                self.scratch.clear();
                self.scratch.extend_from_slice(msg);
                if let Some(last) = self.scratch.last_mut() {
                    *last ^= 0x40;
                }
                self.inner.send(&self.scratch)
            }
            Kind::Drop => Ok(()),
            Kind::Duplicate => {
                self.inner.send(msg)?;
                self.inner.send(msg)
            }
            Kind::Exit => std::process::exit(3),
        }
    }

    // A published loan counts as a send, and the fault acts on it as on
    // one: the byte flipped in the loan, the loan abandoned, or its bytes
    // sent once more (copied out before publishing: after it, the region is
    // the receiver's).
    fn max_loan(&self) -> usize {
        self.inner.max_loan()
    }
    fn loan_begin(&mut self, len: usize) -> Result<(), SendError> {
        self.inner.loan_begin(len)
    }
    fn loan_bytes(&mut self) -> &mut [u8] {
        self.inner.loan_bytes()
    }
    fn loan_publish(&mut self) -> Result<(), SendError> {
        let n = self.sent;
        self.sent += 1;
        if n != self.fault.at {
            return self.inner.loan_publish();
        }
        match self.fault.kind {
            Kind::Corrupt => {
                if let Some(last) = self.inner.loan_bytes().last_mut() {
                    *last ^= 0x40;
                }
                self.inner.loan_publish()
            }
            Kind::Drop => {
                self.inner.loan_abandon();
                Ok(())
            }
            Kind::Duplicate => {
                self.scratch.clear();
                self.scratch.extend_from_slice(self.inner.loan_bytes());
                self.inner.loan_publish()?;
                self.inner.send(&self.scratch)
            }
            Kind::Exit => std::process::exit(3),
        }
    }
    fn loan_abandon(&mut self) {
        self.inner.loan_abandon()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!(
            Fault::parse("drop:7"),
            Some(Fault {
                kind: Kind::Drop,
                at: 7
            })
        );
        assert_eq!(Fault::parse("explode:7"), None);
        assert_eq!(Fault::parse("drop"), None);
    }
}
