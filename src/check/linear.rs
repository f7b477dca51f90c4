//! Whether a model is linear in its parameters, the condition for fitting it
//! by `least_squares`: its output must be `c(x) + J(x) θ` for the parameter
//! vector θ, with `c` and `J` depending on the input only.
//!
//! Each node is classified by what its value depends on: the input alone
//! (any function of the data is allowed, e.g. polynomial features `x * x`),
//! or the parameters affinely. An operation that would make the value a
//! non-affine function of the parameters is reported, naming it.

use crate::ir::{Arith, Graph, NodeId, Op};
use crate::nn::{Builtin, Linearity};

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
        let result = match &node.op {
            Op::Input | Op::Constant(_) => Data,
            Op::Param => Affine,
            Op::Layer(layer) => {
                let builtin = Builtin::of(layer);
                let name = builtin.name();
                match builtin.spec().linearity {
                    // Layers whose own parameters multiply their input.
                    Linearity::Weighted if any_affine => {
                        return fail(format!(
                            "`{name}` multiplies its own weights with a value that already \
                             depends on parameters"
                        ));
                    }
                    Linearity::Weighted => Affine,
                    Linearity::Linear if any_affine => Affine,
                    Linearity::Linear => Data,
                    Linearity::NonLinear if any_affine => {
                        return fail(format!(
                            "`{name}` is not linear, and here it is applied to a value that \
                             depends on the parameters"
                        ));
                    }
                    Linearity::NonLinear => Data,
                    Linearity::Never(reason) => return fail(format!("`{name}` {reason}")),
                }
            }
            Op::Neg | Op::Arith(Arith::Add | Arith::Sub) => {
                if any_affine {
                    Affine
                } else {
                    Data
                }
            }
            Op::Arith(Arith::Mul) | Op::MatMul => {
                if inputs.iter().all(|d| *d == Affine) {
                    return fail(
                        "this product multiplies two values that both depend on parameters"
                            .to_string(),
                    );
                }
                if any_affine { Affine } else { Data }
            }
            Op::Arith(Arith::Div) => {
                if inputs.get(1) == Some(&Affine) {
                    return fail(
                        "this division divides by a value that depends on parameters".into(),
                    );
                }
                if any_affine { Affine } else { Data }
            }
            Op::Cell(cell) => {
                return fail(format!(
                    "`{}` feeds its state back through its weights at every step",
                    cell.name
                ));
            }
            Op::StateIn(_) => {
                return fail("a cell's state feeds back through its weights at every step".into());
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
