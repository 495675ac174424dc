//! The conformance suite, across two processes, for `shm-crate`.

conformance::suite!(shm_crate, transport_shm_crate::ShmCrate);
