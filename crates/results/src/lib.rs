//! ipcbench results as data: the JSON schema ([`schema`]) and its
//! vocabulary ([`vocab`]), the bootstrap that computes the intervals the
//! schema stores ([`bootstrap`]), the one reader and writer of results
//! files ([`io`]), which transports lend their memory to a producer
//! ([`loans`]), what each of bench-all's presets runs ([`preset`]) and
//! the lookup of a run's cells in reading order ([`index`]). The harness
//! writes these files, `judge` judges them and `report` renders them; every
//! report can be re-rendered from the JSON alone.

#![forbid(unsafe_code)]

pub mod bootstrap;
pub mod cpu_map;
pub mod index;
pub mod io;
pub mod loans;
pub mod preset;
pub mod remote;
pub mod schema;
pub mod vocab;

pub use cpu_map::{CpuMap, CpuPair};
pub use io::{ResultsError, write_atomic};
pub use preset::{Pass, PythonMatrix};
pub use schema::{
    Cell, CheapestProbes, Environment, FillVerifyFloor, Floors, MemcpyFloor, PlacementCpus,
    ProbeFloor, Results, RunConfig, Status, Summary, TransportInfo, cheapest_probes,
};
pub use vocab::{Codec, Delivery, Metric, Placement, Preset, WaitStrategy, Workload};
