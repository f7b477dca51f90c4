//! Graph building: nodes pushed in execution order, the finished graph, and
//! questions about the nodes built so far (ancestry, branches).

use super::{Frame, GraphBuilder};
use crate::ir::shape::Shape;
use crate::ir::{Graph, Node, NodeId, Op, ParamSpec};
use crate::nn::Value;
use crate::span::Span;

#[allow(clippy::too_many_arguments)]
pub(super) fn push_node(
    builder: &mut GraphBuilder,
    frame: &Frame,
    op: Op,
    inputs: Vec<NodeId>,
    shape: Shape,
    span: Span,
    path: String,
    label: String,
    params: Vec<ParamSpec>,
) -> NodeId {
    builder.nodes.push(Node {
        op,
        inputs,
        shape,
        span,
        path,
        label,
        params,
        call: frame.call,
    });
    builder.nodes.len() - 1
}

/// Whether `node` is computed from the output of a `dense` that was applied
/// to a value of rank 3 or more (and so was warned about).
pub(super) fn follows_dense_on_many_axes(nodes: &[Node], node: NodeId) -> bool {
    let mut stack = vec![node];
    let mut seen = vec![false; nodes.len()];
    while let Some(id) = stack.pop() {
        if std::mem::replace(&mut seen[id], true) {
            continue;
        }
        let n = &nodes[id];
        if matches!(n.op, Op::Layer(crate::ir::Layer::Dense { .. }))
            && n.inputs
                .first()
                .is_some_and(|&i| nodes[i].shape.rank() >= 3)
        {
            return true;
        }
        stack.extend(n.inputs.iter().copied());
    }
    false
}

/// The finished graph, whose output is `output` (or its last node).
pub(super) fn finish_graph(builder: GraphBuilder, output: &Value) -> Graph {
    let output = match output {
        Value::Tensor { node, .. } => *node,
        _ => builder.nodes.len().saturating_sub(1),
    };
    Graph {
        nodes: builder.nodes,
        calls: builder.calls,
        output,
    }
}

/// Whether node `ancestor` is among the inputs `node` is computed from.
pub(super) fn is_ancestor(nodes: &[Node], ancestor: NodeId, node: NodeId) -> bool {
    ancestor < node && branch_nodes(nodes, ancestor, node).next().is_some()
}

/// The nodes computed from `from` that `to` depends on (`to` included, `from`
/// not): the branch between them.
pub(super) fn branch_nodes(
    nodes: &[Node],
    from: NodeId,
    to: NodeId,
) -> impl Iterator<Item = &Node> {
    // Nodes are in execution order: a node's inputs come before it.
    let mut needed = vec![false; nodes.len()];
    let mut reaches = vec![false; nodes.len()];
    needed[to] = true;
    for id in (0..=to).rev() {
        if needed[id] {
            for &input in &nodes[id].inputs {
                needed[input] = true;
            }
        }
    }
    reaches[from] = true;
    for id in from + 1..=to {
        reaches[id] = nodes[id].inputs.iter().any(|&i| reaches[i]);
    }
    (from + 1..=to)
        .filter(move |&id| needed[id] && reaches[id])
        .map(move |id| &nodes[id])
}
