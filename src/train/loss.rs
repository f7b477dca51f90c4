//! Losses, composed from tape ops; the fused forms are used where the model
//! ends in the matching activation (softmax for cross-entropy, sigmoid for
//! binary cross-entropy), for numerical stability.

use crate::autodiff::{Tape, Tensor, Unary, Var};
use crate::data::Targets;
use crate::interp::Stepper;
use crate::ir::{Activation, Graph, Layer, Loss, Op};
use ndarray::IxDyn;

/// The input of the graph's final node when it is `activation`-like per `is_final`.
fn pre_activation(graph: &Graph, stepper: &Stepper, is_final: impl Fn(&Op) -> bool) -> Option<Var> {
    let last = &graph.nodes[graph.output];
    if is_final(&last.op) {
        stepper.value_of(last.inputs[0])
    } else {
        None
    }
}

/// Records the mean loss of the graph's output against `targets`.
pub fn record(
    tape: &mut Tape,
    graph: &Graph,
    stepper: &Stepper,
    output: Var,
    loss: Loss,
    targets: &Targets,
) -> Var {
    match (loss, targets) {
        (Loss::CrossEntropy, Targets::Classes(_) | Targets::Sequences(_)) => {
            let rank = graph.nodes[graph.output].shape.rank();
            let mut logits = pre_activation(
                graph,
                stepper,
                |op| matches!(op, Op::Layer(Layer::Softmax { axis }) if *axis + 1 == rank),
            )
            .unwrap_or(output);
            // Scores per position of a sequence: every position is one row.
            if tape.value(logits).ndim() > 2 {
                let classes = *tape.value(logits).shape().last().unwrap_or(&1);
                let rows = tape.value(logits).len() / classes.max(1);
                logits = tape.reshape(logits, &[rows, classes]);
            }
            let ids = targets.class_ids().unwrap_or_default();
            tape.softmax_cross_entropy(logits, &ids)
        }
        (Loss::Bce, Targets::Classes(ids)) => {
            let shape = tape.value(output).raw_dim();
            let t = Tensor::from_shape_vec(shape, ids.iter().map(|&c| c as f32).collect())
                .expect("one target per output");
            match pre_activation(graph, stepper, |op| {
                matches!(op, Op::Layer(Layer::Activation(Activation::Sigmoid)))
            }) {
                Some(logits) => tape.bce_with_logits(logits, t),
                None => tape.bce(output, t),
            }
        }
        (_, Targets::Values(values)) => {
            let shape = tape.value(output).raw_dim();
            let t = values
                .clone()
                .into_dyn()
                .into_shape_with_order(shape)
                .expect("one target per output");
            let t = tape.leaf(t, false);
            let diff = tape.sub(output, t);
            let all: Vec<usize> = (0..tape.value(diff).ndim()).collect();
            match loss {
                Loss::Mae => {
                    let a = tape.unary(Unary::Abs, diff);
                    tape.mean(a, &all, false)
                }
                _ => {
                    let sq = tape.mul(diff, diff);
                    let m = tape.mean(sq, &all, false);
                    if loss == Loss::HalfMse {
                        tape.scale(m, 0.5)
                    } else {
                        m
                    }
                }
            }
        }
        // The checker pairs class losses with class data.
        _ => tape.leaf(Tensor::from_elem(IxDyn(&[]), f32::NAN), false),
    }
}

/// Predicted classes from the model's outputs: argmax over the last axis, or
/// for a single output, 1 when it is at least 0.5 (0 for logits).
pub fn predicted_classes(graph: &Graph, output: &Tensor) -> Vec<u32> {
    let width = *output.shape().last().unwrap_or(&1);
    let flat = output.as_standard_layout();
    let flat = flat.as_slice().expect("standard layout");
    if width == 1 {
        let threshold = if matches!(
            graph.nodes[graph.output].op,
            Op::Layer(Layer::Activation(Activation::Sigmoid))
        ) {
            0.5
        } else {
            0.0
        };
        return flat.iter().map(|&v| u32::from(v >= threshold)).collect();
    }
    flat.chunks(width)
        .map(|row| {
            row.iter()
                .enumerate()
                .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
                    if v > best.1 { (i, v) } else { best }
                })
                .0 as u32
        })
        .collect()
}
