//! What each of bench-all's presets runs, typed: the Rust passes
//! (`ipcbench run --preset NAME`: a main pass and extra passes into the same
//! results, [`rust`]) and the Python baseline's matrix ([`python`]), each a
//! struct with named fields ([`Pass`], [`PythonMatrix`]) that spells itself
//! as its program's arguments in one place. The harness expands `--preset`
//! from here and xtask builds the baseline's command line from here, so one
//! [`Preset`] value decides both. docs/methodology.md quotes the table a
//! harness test derives from these.

mod pass;
mod python;
mod rust;

pub use crate::vocab::{PRESETS, Preset};
pub use pass::{Family, Pass};
pub use python::{PyFanout, PyGather, PyHandover, PyLarge, PythonMatrix};
pub use rust::{IN_PLACE, IN_PLACE_SMALL, IN_PLACE_TRANSPORTS, InPlace};

/// The values given to `flag` in arguments as [`Pass::args`] or
/// [`PythonMatrix::args`] spell them (every flag followed by one value; a
/// repeated flag gives several).
pub fn flag_values<'a>(args: &'a [String], flag: &str) -> Vec<&'a str> {
    args.chunks(2)
        .filter(|w| w[0] == flag)
        .map(|w| w[1].as_str())
        .collect()
}

impl Preset {
    /// The main `ipcbench run` pass.
    pub fn main_pass(self) -> Pass {
        rust::main_pass(self)
    }

    /// Further, smaller passes run after the main one into the same results
    /// (see [`rust::extra_passes`]).
    pub fn extra_passes(self) -> Vec<Pass> {
        rust::extra_passes(self)
    }

    /// The Python baseline's matrix run alongside the Rust one.
    pub fn python(self) -> PythonMatrix {
        python::matrix(self)
    }
}
