//! The consuming end of a ring: validating and handing out records, and
//! releasing their space to the producer.

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};

use crate::sync::{AtomicU32, fence};

use super::layout::{Corrupt, HEADER, Rounding, kind, record_size, stamp};
use super::memory::RingMem;

/// One record handed out by [`Consumer::try_pop`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// One of [`kind`]'s values except `PAD`.
    pub kind: u32,
    /// Body length (`MSG`, `CHUNK`) or total message length (`BEGIN`).
    pub len: usize,
    /// Offset of the body in the data area; the body is contiguous.
    pub off: usize,
}

/// The consuming end of a ring. Exactly one may exist per ring.
#[derive(Debug)]
pub struct Consumer<M> {
    mem: M,
    size: usize,
    /// Authoritative position of the next record to read.
    head: u64,
    /// Last `head` published to the producer.
    released: u64,
    /// Largest message length a record may claim.
    max_message: usize,
    /// Largest valid body of one record: `max_message`, or less if a record
    /// of that size would exceed half the ring. A record's size rounds
    /// `HEADER + len` up to the alignment, and half the ring and the room
    /// before the end are multiples of it, so "record fits" is
    /// "`HEADER + len` fits".
    body_limit: usize,
    /// [`RingMem::record_align`], read once.
    align: usize,
    /// Record sizes for that alignment.
    rounding: Rounding,
}

impl<M: RingMem> Consumer<M> {
    /// Takes over the consuming end of a ring in its initial state; records
    /// claiming more than `max_message` bytes are corrupt.
    pub fn new(mem: M, max_message: usize) -> Self {
        let size = mem.size();
        let align = mem.record_align();
        Self {
            mem,
            size,
            head: 0,
            released: 0,
            max_message,
            body_limit: max_message.min(size / 2 - HEADER),
            align,
            rounding: Rounding::new(align),
        }
    }

    /// The memory this consumer reads.
    pub fn mem(&self) -> &M {
        &self.mem
    }

    /// Gives every record handed out so far back to the producer. Returns
    /// whether anything new was released.
    #[inline]
    pub fn release(&mut self) -> bool {
        if self.released == self.head {
            return false;
        }
        // Release: our reads of the released bytes happen before the
        // producer, acquiring this value, overwrites them.
        self.mem.ctrl().head.0.store(self.head, Release);
        self.released = self.head;
        true
    }

    /// Takes the next record if one is published. The record stays reserved
    /// (its body may be read) until the next [`Self::release`].
    #[inline(always)]
    pub fn try_pop(&mut self) -> Result<Option<Record>, Corrupt> {
        self.try_pop_as(false)
    }

    /// [`Self::try_pop`], polling the stamp with a compare-exchange that
    /// never changes it (`claim`) instead of a load: for a consumer that
    /// waits for the record (a round trip's every hop). The compare-exchange
    /// takes the line exclusive, as a spinning reader of `shm-crate`'s busy
    /// flag does: the producer's stores then take the line from one owner
    /// instead of upgrading a shared copy while the reader keeps re-reading
    /// it, and the 8-byte round trip measured shorter, per round trip and
    /// batch-timed (docs/shm.md, "Polling for ownership"). Not
    /// for a record that is usually there already: every line the consumer
    /// claims ends dirty in its cache, and an 8-byte stream whose consumer
    /// claimed every record ran at two thirds of its rate.
    #[inline(always)]
    pub fn try_pop_as(&mut self, claim: bool) -> Result<Option<Record>, Corrupt> {
        loop {
            // `off` is record-aligned (head only moves by record sizes, and a
            // padding record ends exactly at the end of the area), so at least
            // one aligned header fits before the end: both words are inside.
            let head = self.head;
            let off = (head as usize) & (self.size - 1);
            // Both words are located before the Acquire load: the compiler
            // may not move our own field reads across it, so reading them
            // after it would cost reloads.
            // SAFETY: `off` is 16-aligned and `off + 8 < off + HEADER <= size`.
            let (stamp_word, meta_word) =
                unsafe { (self.mem.word_at(off), self.mem.word_at(off + 8)) };
            // The common record, a valid `MSG`, is checked in one comparison
            // below: the subtraction leaves its length (any other kind ends
            // up above 2^32); `body_limit` covers both half the ring and the
            // largest message, and `size - off - HEADER` the end of the
            // area. Worked out before the Acquire load, like the words.
            let limit = self.body_limit.min(self.size - off - HEADER);
            // Acquire: pairs with the producer's Release store of the stamp,
            // making the meta word and the body visible (a compare-exchange
            // that succeeds reads the stamp with Acquire and writes back the
            // same value; one that fails writes nothing).
            let want = stamp(head);
            let seen = if claim {
                stamp_word
                    .compare_exchange(want, want, Acquire, Relaxed)
                    .is_ok()
            } else {
                stamp_word.load(Acquire) == want
            };
            if !seen {
                return Ok(None);
            }
            // Relaxed: ordered by the stamp's Acquire above.
            let meta = meta_word.load(Relaxed);
            let len = meta.wrapping_sub(u64::from(kind::MSG) << 32);
            if len <= limit as u64 {
                let len = len as usize;
                // No overflow: `len` is at most half the ring.
                self.head = head + self.rounding.record(len) as u64;
                return Ok(Some(Record {
                    kind: kind::MSG,
                    len,
                    off: off + HEADER,
                }));
            }
            let kind = (meta >> 32) as u32;
            let len = (meta & u64::from(u32::MAX)) as usize;
            if let Some(r) = self.pop_other(off, kind, len)? {
                return Ok(Some(r));
            }
        }
    }

    /// Everything but a valid `MSG`: chunks (only in messages larger than
    /// half the ring, where a call is nothing), padding (skipped, `None`),
    /// `BEGIN`, and every corrupt header with its diagnosis.
    #[cold]
    #[inline(never)]
    fn pop_other(&mut self, off: usize, kind: u32, len: usize) -> Result<Option<Record>, Corrupt> {
        let room = self.size - off;
        match kind {
            kind::PAD => {
                if len != room - HEADER {
                    return Err(Corrupt(format!(
                        "padding record of {len} bytes at offset {off} does not reach the end of the {} byte ring",
                        self.size
                    )));
                }
                self.head += room as u64;
                Ok(None)
            }
            kind::MSG | kind::CHUNK => {
                let rec = record_size(len, self.align).unwrap_or(usize::MAX);
                if rec > self.size / 2 || rec > room {
                    return Err(Corrupt(format!(
                        "record of {len} bytes at offset {off} does not fit a {} byte ring",
                        self.size
                    )));
                }
                if len > self.max_message {
                    return Err(Corrupt(format!(
                        "record claims {len} bytes, more than the maximum of {}",
                        self.max_message
                    )));
                }
                self.head += rec as u64;
                Ok(Some(Record {
                    kind,
                    len,
                    off: off + HEADER,
                }))
            }
            kind::BEGIN => {
                if len > self.max_message {
                    return Err(Corrupt(format!(
                        "message claims {len} bytes, more than the maximum of {}",
                        self.max_message
                    )));
                }
                // A header-only record, padded like any other.
                self.head += self.align as u64;
                Ok(Some(Record { kind, len, off: 0 }))
            }
            other => Err(Corrupt(format!(
                "unknown record kind {other:#x} at offset {off}"
            ))),
        }
    }

    /// Checks the producer's published tail against what we have consumed:
    /// a cheap consistency test for the slow path.
    pub fn check_tail(&self) -> Result<(), Corrupt> {
        // Relaxed: every record we consumed was acquired after the producer
        // stored a tail covering it, so coherence gives tail >= head.
        let tail = self.mem.ctrl().tail.0.load(Relaxed);
        if tail < self.head || tail - self.head > self.size as u64 {
            return Err(Corrupt(format!(
                "producer tail {tail} inconsistent with consumer head {} in a {} byte ring",
                self.head, self.size
            )));
        }
        Ok(())
    }

    /// After releasing: whether the producer announced it is asleep (the
    /// announcement is consumed; the caller must wake it).
    #[inline]
    pub fn producer_sleeping(&self) -> bool {
        let f = &self.mem.ctrl().flags.0;
        // SeqCst fence: orders our head store before the flag load; pairs with
        // the fence in `Producer::announce_sleep` (Dekker).
        fence(SeqCst);
        // Relaxed: ordered by the fence; the swap elects one waker.
        f.prod_waiting.load(Relaxed) != 0 && f.prod_waiting.swap(0, Relaxed) != 0
    }

    /// Announces that the consumer is about to sleep on
    /// [`Self::waiting_word`]; the caller must re-check the ring afterwards.
    pub fn announce_sleep(&self) {
        // Relaxed store + SeqCst fence: the fence orders this store before the
        // caller's re-read of the stamp; pairs with `Producer::consumer_sleeping`.
        self.mem.ctrl().flags.0.cons_waiting.store(1, Relaxed);
        fence(SeqCst);
    }

    /// Withdraws a sleep announcement.
    pub fn cancel_sleep(&self) {
        // Relaxed: only suppresses a useless wake-up, orders nothing.
        self.mem.ctrl().flags.0.cons_waiting.store(0, Relaxed);
    }

    /// The word the consumer sleeps on.
    pub fn waiting_word(&self) -> &AtomicU32 {
        &self.mem.ctrl().flags.0.cons_waiting
    }

    /// The producer's sleep word (to wake it).
    pub fn peer_waiting_word(&self) -> &AtomicU32 {
        &self.mem.ctrl().flags.0.prod_waiting
    }

    /// Whether the producer has closed its end. Once true, a final
    /// [`Self::try_pop`] finds every record it published.
    pub fn producer_closed(&self) -> bool {
        // Acquire: pairs with `Producer::close`.
        self.mem.ctrl().flags.0.prod_closed.load(Acquire) != 0
    }

    /// Marks the consuming end closed. The caller then wakes the producer if
    /// [`Self::producer_sleeping`] says so.
    pub fn close(&self) {
        // Release: orders our last reads before the producer's reaction.
        self.mem.ctrl().flags.0.cons_closed.store(1, Release);
    }
}
