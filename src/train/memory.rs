//! How much memory a run needs, estimated from its sizes before anything is
//! allocated, and how much the machine has: an over-large model is a
//! diagnostic with the byte counts, not an abort in the allocator.
//!
//! The estimate adds up, in `f32`s unless said otherwise:
//! - the program itself ([`program`]: code, libraries, each worker
//!   thread's stack and scratch);
//! - the data set as loaded, when it is known (`dl train` counts it; `dl
//!   check`, which reads no data, leaves it out);
//! - the parameters, and in training their gradients;
//! - the optimizer's state: one slot per parameter for SGD with momentum
//!   and RMSprop, two for Adam;
//! - one training step of `batch` rows: every node's output and its
//!   gradient, and what the operations keep for backward (a recurrent
//!   layer's gates and states at every step, a cell's nodes at every step,
//!   dropout's mask, max pooling's indices, batch normalisation's
//!   normalised input);
//! - one evaluation chunk (up to [`EVAL_ROWS`] rows in inference mode: the
//!   outputs and what the operations keep). Both the step and the chunk are
//!   counted, not the larger: the allocator keeps freed memory for a second
//!   to reuse it (`main.rs`), so the last step's memory is still held while
//!   the validation part is evaluated.
//!
//! Kernel scratch (im2col columns, packed matrices) is allocated per chunk
//! of work and freed at once; it is counted per thread in [`program`].

use crate::ir::{Graph, Layer, Node, Op, Optimizer, Recurrent};

/// What the process holds before any tensor: its code and libraries, the
/// runtime and the allocator's first pages (about 10 MB), and per worker
/// thread its stack and the kernels' scratch (packed matrices, im2col
/// columns: about 2 MB), as measured for `dl train` on Linux x86-64 with one
/// and two threads, transparent huge pages off (`cli::allocator`).
pub fn program(threads: usize) -> u64 {
    10_000_000 + 2_000_000 * threads as u64
}

/// The rows an evaluation runs at once (`eval.rs`).
pub const EVAL_ROWS: u64 = 1000;

/// What a run does with the model.
#[derive(Clone, Copy, Debug)]
pub enum Workload<'a> {
    /// Training steps of `batch` rows with `optimizer`, then evaluations of
    /// `eval_rows` rows at a time.
    Training {
        /// Rows per step.
        batch: u64,
        /// The optimizer, for its state.
        optimizer: &'a Optimizer,
        /// Rows per evaluation chunk (at most [`EVAL_ROWS`]).
        eval_rows: u64,
    },
    /// The forward pass on `rows` rows with backward on them (the REPL's
    /// `:backward`): gradients of the parameters but no optimizer state.
    Inspection {
        /// Rows at once.
        rows: u64,
    },
}

/// The bytes a run needs, part by part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Estimate {
    /// The program itself ([`program`], with the kernels' threads).
    pub program: u64,
    /// The data set as loaded (0 when not known).
    pub data: u64,
    /// Learnable and state tensors.
    pub parameters: u64,
    /// Their gradients.
    pub gradients: u64,
    /// The optimizer's state (0 when not training).
    pub optimizer: u64,
    /// One step: outputs, their gradients and what backward keeps.
    pub step: u64,
    /// The rows of that step.
    pub batch: u64,
    /// One evaluation chunk (0 when not training).
    pub evaluation: u64,
    /// The rows of that chunk.
    pub eval_rows: u64,
}

impl Estimate {
    /// Everything together.
    pub fn total(&self) -> u64 {
        [
            self.data,
            self.parameters,
            self.gradients,
            self.optimizer,
            self.step,
            self.evaluation,
        ]
        .iter()
        .fold(self.program, |a, &b| a.saturating_add(b))
    }

    /// The same run with the data set, of `bytes`, counted.
    pub fn with_data(self, bytes: u64) -> Estimate {
        Estimate {
            data: bytes,
            ..self
        }
    }

    /// The parts, for a note: `parameters 40.0 GB, their gradients ...`.
    pub fn parts(&self) -> String {
        let mut parts = vec![format!("the program {}", bytes(self.program))];
        if self.data > 0 {
            parts.push(format!("the data {}", bytes(self.data)));
        }
        parts.push(format!("parameters {}", bytes(self.parameters)));
        parts.push(format!("their gradients {}", bytes(self.gradients)));
        if self.optimizer > 0 {
            parts.push(format!("optimizer state {}", bytes(self.optimizer)));
        }
        parts.push(format!(
            "one step of {} row{} {}",
            self.batch,
            if self.batch == 1 { "" } else { "s" },
            bytes(self.step)
        ));
        if self.evaluation > 0 {
            parts.push(format!(
                "evaluation of {} rows at a time {}",
                self.eval_rows,
                bytes(self.evaluation)
            ));
        }
        parts.join(", ")
    }
}

const F32: u64 = 4;

/// What `graph` needs for `workload`; `None` while a size is symbolic (a
/// vocabulary known only from the data). The data set is not counted: see
/// [`Estimate::with_data`].
pub fn estimate(graph: &Graph, workload: Workload) -> Option<Estimate> {
    let values = graph
        .params()
        .iter()
        .map(|p| known(&p.count()))
        .try_fold(0u64, |a, n| Some(a.saturating_add(n?)))?;
    let Sample { outputs, kept } = per_sample(graph)?;
    let parameters = values.saturating_mul(F32);
    let rows_of = |rows: u64, with_gradients: bool| {
        let gradients = if with_gradients { outputs } else { 0 };
        outputs
            .saturating_add(gradients)
            .saturating_add(kept)
            .saturating_mul(rows)
            .saturating_mul(F32)
    };
    let (batch, optimizer, eval_rows) = match workload {
        Workload::Training {
            batch,
            optimizer,
            eval_rows,
        } => (batch, Some(optimizer), eval_rows.min(EVAL_ROWS)),
        Workload::Inspection { rows } => (rows, None, 0),
    };
    let slots = match optimizer {
        Some(Optimizer::Sgd { momentum, .. }) if *momentum != 0.0 => 1,
        Some(Optimizer::Adam { .. }) => 2,
        Some(Optimizer::RmsProp { .. }) => 1,
        _ => 0,
    };
    Some(Estimate {
        program: program(rayon::current_num_threads()),
        data: 0,
        parameters,
        gradients: parameters,
        optimizer: parameters.saturating_mul(slots),
        step: rows_of(batch, true),
        batch,
        evaluation: rows_of(eval_rows, false),
        eval_rows,
    })
}

/// What `run` needs with steps of `batch` rows before its data is read
/// (`dl check`): evaluation chunks of the full [`EVAL_ROWS`].
pub fn before_data(graph: &Graph, run: &crate::ir::TrainRun, batch: u64) -> Option<Estimate> {
    let workload = Workload::Training {
        batch,
        optimizer: &run.optimizer,
        eval_rows: EVAL_ROWS,
    };
    estimate(graph, workload)
}

/// `f32`s per sample: node outputs (which get gradients in training) and
/// what operations keep beside them for backward (which do not).
struct Sample {
    outputs: u64,
    kept: u64,
}

/// A size as a count: `None` while symbolic; a size whose arithmetic
/// overflowed (`[3000000000000000000]` times 6) counts as more than any
/// machine has, not as unknown.
fn known(d: &crate::ir::Dim) -> Option<u64> {
    if d.is_error() {
        return Some(u64::MAX);
    }
    d.as_known().map(|n| n.max(0) as u64)
}

fn per_sample(graph: &Graph) -> Option<Sample> {
    let mut sample = Sample {
        outputs: 0,
        kept: 0,
    };
    for node in graph.nodes.iter().filter(|n| n.shape.batched) {
        let elements = known(&node.shape.elements())?;
        sample.outputs = sample.outputs.saturating_add(elements);
        if let Op::Cell(cell) = &node.op {
            // The step graph runs once per time step, each step's nodes on
            // the tape with their gradients.
            let steps = known(graph.nodes[node.inputs[0]].shape.dims.first()?)?;
            let step = per_sample(&cell.step)?;
            sample.outputs = sample
                .outputs
                .saturating_add(steps.saturating_mul(step.outputs));
            sample.kept = sample.kept.saturating_add(steps.saturating_mul(step.kept));
        }
        let kept = kept_for_backward(graph, node, elements)?;
        sample.kept = sample.kept.saturating_add(kept);
    }
    Some(sample)
}

/// What `node`'s operation keeps per sample beside its output of
/// `elements` values.
fn kept_for_backward(graph: &Graph, node: &Node, elements: u64) -> Option<u64> {
    let input = |i: usize| &graph.nodes[node.inputs[i]].shape;
    Some(match &node.op {
        // The sequences [T, I], and per step the hidden state and, by kind,
        // the cell state and its tanh, the gate activations and the GRU's
        // reset product (`kernels::recurrent::ChunkState`).
        Op::Layer(Layer::Recurrent { kind, hidden }) => {
            let hidden = known(hidden)?;
            let steps_and_input = known(&input(0).elements())?;
            let steps = steps_and_input / known(input(0).dims.last()?)?.max(1);
            let per_step = match kind {
                Recurrent::Rnn => 2,
                Recurrent::Lstm => 7,
                Recurrent::Gru | Recurrent::GruResetAfter => 5,
            };
            steps_and_input.saturating_add(steps.saturating_mul(hidden).saturating_mul(per_step))
        }
        Op::Layer(Layer::Dropout { .. } | Layer::BatchNorm { .. } | Layer::LayerNorm { .. }) => {
            elements
        }
        Op::Layer(Layer::Pool {
            kind: crate::ir::Pool::Max,
            ..
        }) => elements,
        _ => 0,
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
/// 1000, as disk and RAM vendors count, not `free -h`'s 1024).
pub fn bytes(n: u64) -> String {
    Bytes(n).to_string()
}

/// [`bytes`] as a value to format, which allocates nothing (the
/// out-of-memory report uses it).
pub struct Bytes(pub u64);

impl std::fmt::Display for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
        if self.0 < 1000 {
            return write!(f, "{} B", self.0);
        }
        let mut value = self.0 as f64 / 1000.0;
        let mut unit = 0;
        while value >= 1000.0 && unit + 1 < UNITS.len() {
            value /= 1000.0;
            unit += 1;
        }
        write!(f, "{value:.1} {}", UNITS[unit])
    }
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
    fn a_dense_model_counts_parameters_gradients_adam_a_step_and_an_evaluation() {
        let (program, errors) = crate::check_source("model M(x: [4]) { dense(10) relu dense(3) }");
        assert!(errors.is_empty(), "{errors:?}");
        let graph = &program.unwrap().models[0].graph;
        let adam = Optimizer::Adam {
            lr: 0.001,
            betas: (0.9, 0.999),
        };
        let training = Workload::Training {
            batch: 8,
            optimizer: &adam,
            eval_rows: 5000,
        };
        let e = estimate(graph, training).unwrap();
        // 4*10 + 10 + 10*3 + 3 = 83 parameters.
        assert_eq!(e.parameters, 83 * 4);
        assert_eq!(e.gradients, 83 * 4);
        assert_eq!(e.optimizer, 2 * 83 * 4);
        // Per sample: x 4, dense 10, relu 10, dense 3; values and gradients.
        assert_eq!(e.step, 27 * 8 * 4 * 2);
        // Evaluation in chunks of at most 1000 rows, values only.
        assert_eq!((e.eval_rows, e.evaluation), (1000, 27 * 1000 * 4));
        assert_eq!(
            e.total(),
            super::program(rayon::current_num_threads()) + 4 * 83 * 4 + 27 * 8 * 8 + 27 * 4000
        );
        assert_eq!(e.clone().with_data(100).total(), e.total() + 100);
        let inspection = estimate(graph, Workload::Inspection { rows: 1 }).unwrap();
        assert_eq!(
            inspection.total(),
            super::program(rayon::current_num_threads()) + 2 * 83 * 4 + 27 * 2 * 4
        );
    }

    #[test]
    fn an_lstm_counts_its_states_and_gates_at_every_step() {
        let source = "model M(x: [24, 1]) { lstm(32) last dense(1) }";
        let (program, errors) = crate::check_source(source);
        assert!(errors.is_empty(), "{errors:?}");
        let graph = &program.unwrap().models[0].graph;
        let e = estimate(graph, Workload::Inspection { rows: 1 }).unwrap();
        // Outputs: x 24, lstm 24*32, last 32, dense 1, with gradients; kept:
        // the sequences (24) and per step h, c, tanh c and four gates.
        let outputs = 24 + 24 * 32 + 32 + 1;
        assert_eq!(e.step, (2 * outputs + 24 + 24 * 7 * 32) * 4);
    }
}
