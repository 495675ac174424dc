//! The in-place stream's floor: producing a message in place (`fill`) and
//! checking every byte of it (`verify`), each timed alone in this process at
//! each size, exactly as the `handover` and `inplace-stream` workloads call
//! them. In a stream the two run in parallel on two cores, so no transport
//! can deliver faster than the slower of the two; the report reads
//! `inplace-stream` throughput against it.

use anyhow::{Context, Result};
use codec::inplace::InPlace;

use crate::clock::now_ns;

/// Payload bytes each of fill and verify moves per size: large sizes get few
/// samples, small ones many (batched, so each sample is well above the
/// clock's own cost).
const BYTES_PER_SIZE: u64 = 256 << 20;

/// The fewest and the most samples per size; the figure is their median.
const SAMPLES: (u64, u64) = (5, 201);

/// One size's floor, nanoseconds per message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FillVerify {
    /// Payload bytes (the array, as every table's size).
    pub size_bytes: u64,
    /// Median time to produce one message in place.
    pub fill_ns: f64,
    /// Median time to check one message where it lies.
    pub verify_ns: f64,
}

impl FillVerify {
    /// The floor: the slower of the two, per message.
    pub fn floor_ns(&self) -> f64 {
        self.fill_ns.max(self.verify_ns)
    }
}

/// Measures fill and verify at every size.
pub fn measure(sizes: &[u64]) -> Result<Vec<FillVerify>> {
    sizes.iter().map(|&s| one(s)).collect()
}

fn one(size_bytes: u64) -> Result<FillVerify> {
    let elements = usize::try_from(size_bytes / 8).context("size does not fit in memory")?;
    let p = InPlace::new(elements);
    let mut msg = vec![0u8; p.message_len()];
    let len = p.message_len() as u64;
    let batch = (65_536 / len).clamp(1, 1000);
    let samples = (BYTES_PER_SIZE / (len * batch)).clamp(SAMPLES.0, SAMPLES.1);
    // Untimed once: the buffer's pages exist before the clock runs.
    p.fill(&mut msg, 0, 0).context("fill floor")?;
    let fill_ns = median(samples, batch, |i| {
        p.fill(std::hint::black_box(&mut msg), i, 0)
            .context("fill floor")
    })?;
    // Every sample checks the message the fill left: variant 0 again.
    p.fill(&mut msg, 0, 0).context("fill floor")?;
    let verify_ns = median(samples, batch, |_| {
        p.check(std::hint::black_box(&msg), 0)
            .map(|_| ())
            .context("verify floor")
    })?;
    Ok(FillVerify {
        size_bytes,
        fill_ns,
        verify_ns,
    })
}

/// Median over `samples` of the time per call of `batch` calls of `f`.
fn median(samples: u64, batch: u64, mut f: impl FnMut(u64) -> Result<()>) -> Result<f64> {
    let mut out = Vec::with_capacity(samples as usize);
    for s in 0..samples {
        let t0 = now_ns();
        for b in 0..batch {
            f(s * batch + b)?;
        }
        out.push((now_ns() - t0) as f64 / batch as f64);
    }
    out.sort_by(f64::total_cmp);
    Ok(out[out.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_both_halves_at_every_size() {
        let got = measure(&[8, 409_600]).expect("floor");
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].size_bytes, 409_600);
        for f in &got {
            assert!(f.fill_ns > 0.0 && f.verify_ns > 0.0, "{f:?}");
            assert_eq!(f.floor_ns(), f.fill_ns.max(f.verify_ns));
        }
    }
}
