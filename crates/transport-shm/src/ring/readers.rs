//! One ring read by several consumers (a broadcast): the producer's view of
//! its readers. Each reader is an ordinary [`super::Consumer`] whose
//! control block is its own (its `head`, its sleep flag, its close flags)
//! over the one data area; the producer is an ordinary [`super::Producer`]
//! on a control block of its own. The producer may overwrite only what
//! every live reader has released, so before it decides the ring is full
//! it gathers the readers' heads and stores the smallest live one as its
//! own control block's `head`, where `Producer` reads it. A reader that has
//! departed (died, or closed its end) no longer holds anything back.
//!
//! Waking works per reader: a reader that sleeps announces it in its own
//! control block and the producer checks every live reader's after it
//! publishes; the producer waiting for room announces itself only to the
//! slowest reader, the one whose release it waits for.

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};

use crate::sync::{AtomicU32, fence};

use super::layout::{Corrupt, RingCtrl};
use super::memory::RingMem;

/// The reader holding the producer back: the live one with the smallest
/// head (the first of them, if several share it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slowest {
    /// Its index.
    pub reader: usize,
    /// Its head: everything before it is released by every live reader.
    pub head: u64,
}

/// The readers of one ring, as its producer tracks them.
#[derive(Debug)]
pub struct Readers<M> {
    /// Each reader's view of the ring: its control block, the shared area.
    rings: Vec<M>,
    /// The head each reader last published (validated).
    heads: Vec<u64>,
    /// Whether each reader is still served.
    live: Vec<bool>,
    /// How many are.
    live_count: usize,
}

impl<M: RingMem> Readers<M> {
    /// Readers in their initial state (head 0, live), one per ring view.
    pub fn new(rings: Vec<M>) -> Self {
        let n = rings.len();
        Self {
            rings,
            heads: vec![0; n],
            live: vec![true; n],
            live_count: n,
        }
    }

    /// How many readers there are, departed included.
    pub fn len(&self) -> usize {
        self.rings.len()
    }

    /// Whether there are no readers at all.
    pub fn is_empty(&self) -> bool {
        self.rings.is_empty()
    }

    /// How many readers are still served.
    pub fn live_count(&self) -> usize {
        self.live_count
    }

    /// Whether reader `i` is still served.
    pub fn is_live(&self, i: usize) -> bool {
        self.live.get(i).copied().unwrap_or(false)
    }

    /// Reader `i`'s control block.
    pub fn ctrl(&self, i: usize) -> &RingCtrl {
        self.rings[i].ctrl()
    }

    /// Stops serving reader `i`: it no longer holds anything back. Returns
    /// whether it was live.
    pub fn depart(&mut self, i: usize) -> bool {
        match self.live.get_mut(i) {
            Some(l) if *l => {
                *l = false;
                self.live_count -= 1;
                true
            }
            _ => false,
        }
    }

    /// Whether reader `i` has closed its end (dropped its receiver).
    pub fn closed(&self, i: usize) -> bool {
        // Relaxed: a hint that the reader is gone; nothing is read after it.
        self.ctrl(i).flags.0.cons_closed.load(Relaxed) != 0
    }

    /// Reads every live reader's head and stores the smallest as `own`'s
    /// `head` (the producer's control block), or `tail` if no reader is
    /// live. Returns the slowest live reader, or the index of a reader whose
    /// head is inconsistent (behind what it published before, or past the
    /// producer's `tail`) with the diagnosis.
    pub fn gather(
        &mut self,
        own: &RingCtrl,
        tail: u64,
    ) -> Result<Option<Slowest>, (usize, Corrupt)> {
        let mut slowest: Option<Slowest> = None;
        for i in 0..self.rings.len() {
            if !self.live[i] {
                continue;
            }
            // Acquire: pairs with the reader's Release store of its head
            // (`Consumer::release`), so its reads of the bytes it released
            // happen before the producer overwrites them.
            let head = self.rings[i].ctrl().head.0.load(Acquire);
            if head < self.heads[i] || head > tail {
                return Err((
                    i,
                    Corrupt(format!(
                        "reader {i}'s head {head} outside [{}, {tail}]",
                        self.heads[i]
                    )),
                ));
            }
            self.heads[i] = head;
            if slowest.is_none_or(|s| head < s.head) {
                slowest = Some(Slowest { reader: i, head });
            }
        }
        let floor = slowest.map_or(tail, |s| s.head);
        // Relaxed: read back by this same thread (`Producer::refresh_head`);
        // the Acquire loads above already order the readers' releases
        // before our overwrites.
        own.head.0.store(floor, Relaxed);
        Ok(slowest)
    }

    /// After publishing: calls `wake` with the sleep word of every live
    /// reader that announced it sleeps (each announcement is consumed).
    #[inline]
    pub fn wake_sleepers(&self, mut wake: impl FnMut(&AtomicU32)) {
        // SeqCst fence: orders our stamp store before the flag loads; pairs
        // with the fence in `Consumer::announce_sleep` (Dekker), per reader.
        fence(SeqCst);
        for (ring, &live) in self.rings.iter().zip(&self.live) {
            let word = &ring.ctrl().flags.0.cons_waiting;
            // Relaxed: ordered by the fence; the swap elects one waker.
            if live && word.load(Relaxed) != 0 && word.swap(0, Relaxed) != 0 {
                wake(word);
            }
        }
    }

    /// Announces to reader `i` that the producer is about to sleep on
    /// [`Self::waiting_word`]`(i)`, waiting for its release; the caller
    /// must gather again afterwards.
    pub fn announce_sleep(&self, i: usize) {
        // Relaxed store + SeqCst fence: the fence orders this store before
        // the caller's re-read of the reader's head; pairs with
        // `Consumer::producer_sleeping`.
        self.ctrl(i).flags.0.prod_waiting.store(1, Relaxed);
        fence(SeqCst);
    }

    /// Withdraws an announcement to reader `i`.
    pub fn cancel_sleep(&self, i: usize) {
        // Relaxed: only suppresses a useless wake-up, orders nothing.
        self.ctrl(i).flags.0.prod_waiting.store(0, Relaxed);
    }

    /// The word the producer sleeps on while it waits for reader `i`.
    pub fn waiting_word(&self, i: usize) -> &AtomicU32 {
        &self.ctrl(i).flags.0.prod_waiting
    }

    /// Marks the producing end closed for every reader, departed ones too,
    /// and calls `wake` with each reader's sleep word.
    pub fn close_all(&self, mut wake: impl FnMut(&AtomicU32)) {
        for ring in &self.rings {
            let f = &ring.ctrl().flags.0;
            // Release: a reader that acquires the flag also sees every
            // record published before it, so it drains them first.
            f.prod_closed.store(1, Release);
        }
        fence(SeqCst);
        for ring in &self.rings {
            wake(&ring.ctrl().flags.0.cons_waiting);
        }
    }
}
