//! How much memory a run needs, estimated from its sizes before anything is
//! allocated, and how much the machine has: an over-large model is a
//! diagnostic with the byte counts, not an abort in the allocator.
//!
//! The estimate counts what grows with the program's sizes, in `f32`s:
//! - the parameters, and in training their gradients;
//! - the optimizer's state: one slot per parameter for SGD with momentum
//!   and RMSprop, two for Adam;
//! - the activations of one step: every node's output for the whole batch,
//!   and in training its gradient too (the tape keeps both for backward).
//!
//! It leaves out what does not (the program, the kernels' scratch of a few
//! megabytes) and the data set, which is already in memory when the check
//! runs.

use crate::ir::{Graph, Optimizer};

/// The bytes a run needs, part by part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Estimate {
    /// Learnable and state tensors.
    pub parameters: u64,
    /// Their gradients (0 when not training).
    pub gradients: u64,
    /// The optimizer's state (0 when not training).
    pub optimizer: u64,
    /// The activations of one step, with their gradients when training.
    pub activations: u64,
    /// The rows of that step.
    pub batch: u64,
}

impl Estimate {
    /// Everything together.
    pub fn total(&self) -> u64 {
        self.parameters
            .saturating_add(self.gradients)
            .saturating_add(self.optimizer)
            .saturating_add(self.activations)
    }

    /// The parts, for a note: `parameters 40.0 GB, gradients ...`.
    pub fn parts(&self) -> String {
        let mut parts = vec![format!("parameters {}", bytes(self.parameters))];
        if self.gradients > 0 {
            parts.push(format!("their gradients {}", bytes(self.gradients)));
        }
        if self.optimizer > 0 {
            parts.push(format!("optimizer state {}", bytes(self.optimizer)));
        }
        parts.push(format!(
            "activations of one step of {} rows {}",
            self.batch,
            bytes(self.activations)
        ));
        parts.join(", ")
    }
}

const F32: u64 = 4;

/// What `graph` needs to run `batch` rows at once: training with
/// `optimizer` when given, else inference. `None` while a size is symbolic
/// (a vocabulary known only from the data).
pub fn estimate(graph: &Graph, batch: u64, optimizer: Option<&Optimizer>) -> Option<Estimate> {
    let known = |d: crate::ir::Dim| d.as_known().map(|n| n.max(0) as u64);
    let values = graph
        .params()
        .iter()
        .map(|p| known(p.count()))
        .try_fold(0u64, |a, n| Some(a.saturating_add(n?)))?;
    let per_sample = graph
        .nodes
        .iter()
        .filter(|n| n.shape.batched)
        .map(|n| known(n.shape.elements()))
        .try_fold(0u64, |a, n| Some(a.saturating_add(n?)))?;
    let slots = match optimizer {
        Some(Optimizer::Sgd { momentum, .. }) if *momentum != 0.0 => 1,
        Some(Optimizer::Adam { .. }) => 2,
        Some(Optimizer::RmsProp { .. }) => 1,
        _ => 0,
    };
    let training = optimizer.is_some();
    let parameters = values.saturating_mul(F32);
    Some(Estimate {
        parameters,
        gradients: if training { parameters } else { 0 },
        optimizer: parameters.saturating_mul(slots),
        activations: per_sample
            .saturating_mul(batch)
            .saturating_mul(F32)
            .saturating_mul(if training { 2 } else { 1 }),
        batch,
    })
}

/// The memory this machine can give a new allocation: `MemAvailable` of
/// `/proc/meminfo` on Linux; `None` elsewhere, where nothing is checked.
pub fn available() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}

/// `estimate` against what the machine has: `Some(available)` when it does
/// not fit.
pub fn exceeds(estimate: &Estimate) -> Option<u64> {
    available().filter(|&have| estimate.total() > have)
}

/// A byte count as people read it: `512 B`, `3.4 MB`, `40.0 GB` (powers of
/// 1000, as `free -h` does not but disk and RAM vendors do).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1000.0;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_read_as_people_read_them() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(3_400_000), "3.4 MB");
        assert_eq!(bytes(40_000_000_000), "40.0 GB");
    }

    #[test]
    fn a_dense_model_counts_parameters_gradients_adam_and_activations() {
        let (program, errors) = crate::check_source("model M(x: [4]) { dense(10) relu dense(3) }");
        assert!(errors.is_empty(), "{errors:?}");
        let graph = &program.unwrap().models[0].graph;
        let adam = Optimizer::Adam {
            lr: 0.001,
            betas: (0.9, 0.999),
        };
        let e = estimate(graph, 8, Some(&adam)).unwrap();
        // 4*10 + 10 + 10*3 + 3 = 83 parameters.
        assert_eq!(e.parameters, 83 * 4);
        assert_eq!(e.gradients, 83 * 4);
        assert_eq!(e.optimizer, 2 * 83 * 4);
        // Per sample: x 4, dense 10, relu 10, dense 3; values and gradients.
        assert_eq!(e.activations, 27 * 8 * 4 * 2);
        let inference = estimate(graph, 8, None).unwrap();
        assert_eq!(inference.total(), 83 * 4 + 27 * 8 * 4);
    }
}
