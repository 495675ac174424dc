//! The atomics the queue protocol is written against: the standard
//! library's in normal builds, loom's under `--cfg loom` so the model checker
//! sees every shared access of `ring`.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU32, AtomicU64, fence};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU32, AtomicU64, fence};
