//! The conformance suite, across two processes, for the four shared-memory
//! variants.

conformance::suite!(shm_spin, transport_shm::ShmSpin);
conformance::suite!(shm_adaptive, transport_shm::ShmAdaptive);
conformance::suite!(shm_block, transport_shm::ShmBlock);
conformance::suite!(shm_line, transport_shm::ShmLine);
