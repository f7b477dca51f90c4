//! Whether a model is linear in its parameters, the condition for fitting it
//! by `least_squares`: its output must be `c(x) + J(x) θ` for the parameter
//! vector θ, with `c` and `J` depending on the input only.
//!
//! Each node is classified by what its value depends on: the input alone
//! (any function of the data is allowed, e.g. polynomial features `x * x`),
//! or the parameters affinely. An operation that would make the value a
//! non-affine function of the parameters is reported, naming it.

use crate::ir::{BinOp, Graph, NodeId, Op};

/// What a node's value depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dependence {
    /// The input and constants only.
    Data,
    /// Affinely on the parameters.
    Affine,
}

/// Why a model is not linear in its parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotLinear {
    /// The offending node.
    pub node: NodeId,
    /// What it does to the parameters, e.g. "`relu` of a value that depends on the parameters".
    pub reason: String,
}

/// Checks that the output of `graph` is an affine function of its
/// parameters, with at least one parameter.
pub fn check_affine(graph: &Graph) -> Result<(), NotLinear> {
    use Dependence::{Affine, Data};
    let mut dependence: Vec<Dependence> = Vec::with_capacity(graph.nodes.len());
    for (id, node) in graph.nodes.iter().enumerate() {
        let inputs: Vec<Dependence> = node.inputs.iter().map(|&i| dependence[i]).collect();
        let any_affine = inputs.contains(&Affine);
        let fail = |reason: String| Err(NotLinear { node: id, reason });
        let op_name = node
            .label
            .split('(')
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        let result = match &node.op {
            Op::Input | Op::Constant(_) => Data,
            Op::Param => Affine,
            // Layers whose own parameters multiply their input.
            Op::Dense { .. } | Op::Conv2d { .. } | Op::Embedding { .. } => {
                if any_affine {
                    return fail(format!(
                        "`{op_name}` multiplies its own weights with a value that already \
                         depends on parameters"
                    ));
                }
                Affine
            }
            // Operations linear in their operands.
            Op::Flatten
            | Op::Reshape
            | Op::GlobalAvgPool
            | Op::Pool {
                kind: crate::ir::Pool::Avg,
                ..
            }
            | Op::Concat { .. }
            | Op::Reduce { .. }
            | Op::Last
            | Op::Neg
            | Op::Binary(BinOp::Add | BinOp::Sub) => {
                if any_affine {
                    Affine
                } else {
                    Data
                }
            }
            Op::Binary(BinOp::Mul | BinOp::MatMul) | Op::MatMul => {
                if inputs.iter().all(|d| *d == Affine) {
                    return fail(
                        "this product multiplies two values that both depend on parameters"
                            .to_string(),
                    );
                }
                if any_affine { Affine } else { Data }
            }
            Op::Binary(BinOp::Div) => {
                if inputs.get(1) == Some(&Affine) {
                    return fail(
                        "this division divides by a value that depends on parameters".into(),
                    );
                }
                if any_affine { Affine } else { Data }
            }
            Op::Dropout { .. } => {
                return fail("`dropout` drops values at random while training".into());
            }
            Op::BatchNorm { .. } => {
                return fail(
                    "`batchnorm` divides by statistics of the batch and scales by its own weights"
                        .into(),
                );
            }
            Op::Recurrent { .. } | Op::Cell(_) | Op::StateIn(_) => {
                return fail(format!(
                    "`{op_name}` feeds its state back through its weights at every step"
                ));
            }
            Op::Activation(_)
            | Op::LeakyRelu { .. }
            | Op::Softmax { .. }
            | Op::Pool {
                kind: crate::ir::Pool::Max,
                ..
            } => {
                if any_affine {
                    return fail(format!(
                        "`{op_name}` is not linear, and here it is applied to a value that \
                         depends on the parameters"
                    ));
                }
                Data
            }
        };
        dependence.push(result);
    }
    if dependence.get(graph.output) == Some(&Affine) {
        Ok(())
    } else {
        Err(NotLinear {
            node: graph.output,
            reason: "the output does not depend on any parameter: there is nothing to fit".into(),
        })
    }
}
