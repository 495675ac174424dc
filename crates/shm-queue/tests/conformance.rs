//! The conformance suite, across two processes, for the `shm-queue` backend.

conformance::suite!(shm_queue, shm_queue::ShmQueue);
