//! Whether a model fits its data and loss: its output's shape against the
//! targets and the loss (E0405, E0406), with help naming the layer to change.

use super::settings::loss_name;
use crate::check::model::BodyChecker;
use crate::diagnostic::{Code, Diagnostic};
use crate::ir::dim::Dim;
use crate::ir::{Activation, DataSet, Layer, Loss, Op, Task};
use crate::syntax::ast::Ident;

/// Checks the model's output shape against the data's targets and the loss.
pub(super) fn check_output(
    checker: &mut BodyChecker,
    graph: &crate::ir::Graph,
    loss: Loss,
    data: &DataSet,
    header: crate::span::Span,
    model: &Ident,
) {
    let output = &graph.nodes[graph.output].shape;
    let span = graph.nodes[graph.output].span;
    let per_position = matches!(data.source, crate::ir::Source::Text { .. });
    let expected: Option<String> = match (loss, &data.task) {
        (Loss::CrossEntropy, Task::Classification { classes }) => {
            let rank_ok = output.rank() == 1 + usize::from(per_position);
            let k = output.dims.last();
            match (rank_ok, classes, k) {
                (true, Some(c), Some(k)) if c.agrees_with(k) => None,
                (true, None, Some(_)) => None,
                _ => Some(format!(
                    "one score per class{}: [N{}, {}]",
                    if per_position {
                        " at each position"
                    } else {
                        ""
                    },
                    if per_position { ", T" } else { "" },
                    classes
                        .as_ref()
                        .map(|c| c.to_string())
                        .unwrap_or_else(|| "K".into())
                )),
            }
        }
        (Loss::Bce, _) => (output.rank() != 1 || !output.dims[0].agrees_with(&Dim::known(1)))
            .then(|| "one probability per sample: [N, 1]".to_string()),
        (_, Task::Regression) => (output.rank() != 1
            || !output.dims[0].agrees_with(&Dim::known(1)))
        .then(|| "one value per sample: [N, 1]".to_string()),
        _ => None,
    };
    if let Some(expected) = expected {
        checker.diagnostics.push(
            Diagnostic::error(
                Code::E0406,
                format!(
                    "the output of `{}` does not fit loss `{}`",
                    model.name,
                    loss_name(loss)
                ),
                header,
                format!("`{}` needs {expected}", loss_name(loss)),
            )
            .with_label(span, format!("the model's output is {output}"))
            .with_label(data.span, "the data")
            .with_help(output_help(
                graph,
                output.rank(),
                1 + usize::from(per_position),
                checker.source,
            )),
        );
    } else if loss == Loss::Bce
        && !matches!(
            graph.nodes[graph.output].op,
            Op::Layer(Layer::Activation(Activation::Sigmoid))
        )
    {
        checker.diagnostics.push(
            Diagnostic::warning(Code::W0401, format!("`bce` expects probabilities, but `{}` does not end in `sigmoid`", model.name), span, "the model's last operation")
                .with_label(header, "trained with `bce` here")
                .with_note("binary cross-entropy is -[y log p + (1 - y) log(1 - p)] for a probability p in (0, 1)")
                .with_help("end the model with `sigmoid`"),
        );
    }
}

fn output_help(graph: &crate::ir::Graph, rank: usize, wanted: usize, source: &str) -> String {
    let recurrent = graph
        .nodes
        .iter()
        .any(|n| matches!(n.op, Op::Layer(Layer::Recurrent { .. }) | Op::Cell(_)));
    if rank > wanted && recurrent {
        "a recurrent layer returns every time step: add `last` after it to keep the final one"
            .to_string()
    } else if rank > wanted {
        match first_dense_on_many_axes(graph, wanted) {
            Some(dense) => {
                let (line, _) = crate::span::line_column(source, dense.span.start as usize);
                format!(
                    "add `flatten` before `{}` on line {line}, so that it sees one vector per sample",
                    dense.label
                )
            }
            None => "end the model with `flatten` and a `dense` layer, so that it gives one \
                     vector per sample"
                .to_string(),
        }
    } else {
        "make the last layer produce that size, e.g. `dense(K)` with K the number of classes (or 1)"
            .to_string()
    }
}

/// The first `dense` the output depends on whose input has more axes than
/// `wanted` (the convolutional part's `[C, H, W]`): where `flatten` goes.
fn first_dense_on_many_axes(graph: &crate::ir::Graph, wanted: usize) -> Option<&crate::ir::Node> {
    let nodes = &graph.nodes;
    // Nodes are in execution order: a node's inputs come before it.
    let mut needed = vec![false; nodes.len()];
    needed[graph.output] = true;
    for id in (0..=graph.output).rev() {
        if needed[id] {
            for &input in &nodes[id].inputs {
                needed[input] = true;
            }
        }
    }
    nodes.iter().zip(needed).find_map(|(node, needed)| {
        let on_many_axes = matches!(node.op, Op::Layer(Layer::Dense { .. }))
            && node
                .inputs
                .first()
                .is_some_and(|&i| nodes[i].shape.rank() > wanted);
        (needed && on_many_axes).then_some(node)
    })
}
