//! Expressions: names, arithmetic on tensors and constants (broadcasting, `@`),
//! and the residual sums whose branch changed the shortcut's shape.

use super::constant::awaits_options;
use super::graph::{branch_nodes, is_ancestor, push_node};
use super::{BodyChecker, Frame, GraphBuilder, is_dimension_variable};
use crate::check::error::{self, CheckError};
use crate::ir::dim::Dim;
use crate::ir::shape::{self, Shape};
use crate::ir::{Arith, Node, NodeId, Op};
use crate::nn::{Builtin, Value};
use crate::span::Span;
use crate::syntax::ast::{BinOp, Expr, ExprKind};

impl<'a> BodyChecker<'a> {
    /// The value of an expression, adding a node for each tensor operation.
    pub(super) fn eval_expr(
        &mut self,
        builder: &mut GraphBuilder,
        frame: &mut Frame,
        expr: &Expr,
    ) -> Value {
        match &expr.kind {
            ExprKind::Number { value, integer } => {
                if *integer && value.abs() < 9.0e15 {
                    Value::Int(Dim::known(*value as i64))
                } else {
                    Value::Float(Some(*value))
                }
            }
            ExprKind::Str(s) => Value::Str(s.clone()),
            ExprKind::List(items) => Value::List(
                items
                    .iter()
                    .map(|e| (self.eval_expr(builder, frame, e), e.span))
                    .collect(),
            ),
            ExprKind::Name(name) => {
                if let Some(v) = frame.env.get(name) {
                    return v.clone();
                }
                match name.as_str() {
                    "true" => return Value::Bool(true),
                    "false" => return Value::Bool(false),
                    _ => {}
                }
                if self.is_callable(name) {
                    self.diagnostics.push(
                        CheckError::LayerAsValue {
                            name: name.clone(),
                            span: expr.span,
                        }
                        .into(),
                    );
                } else {
                    let mut candidates: Vec<String> = frame.env.keys().cloned().collect();
                    candidates.extend(self.callable_names());
                    let close =
                        error::suggest(name, candidates.iter().map(String::as_str)).is_some();
                    if is_dimension_variable(name) && !close {
                        self.diagnostics.push(
                            CheckError::UnboundDimension {
                                name: name.clone(),
                                span: expr.span,
                            }
                            .into(),
                        );
                    } else {
                        self.diagnostics.push(
                            CheckError::UnknownName {
                                name: name.clone(),
                                span: expr.span,
                                candidates,
                            }
                            .into(),
                        );
                    }
                }
                Value::Error
            }
            ExprKind::Neg(inner) => match self.eval_expr(builder, frame, inner) {
                Value::Int(d) => Value::Int(Dim::known(0).sub(&d)),
                Value::Float(x) => Value::Float(x.map(|v| -v)),
                Value::Tensor { node, shape } => {
                    let path = frame.next_path("neg");
                    let label = self.text(expr.span);
                    let node = push_node(
                        builder,
                        frame,
                        Op::Neg,
                        vec![node],
                        shape.clone(),
                        expr.span,
                        path,
                        label,
                        vec![],
                    );
                    Value::Tensor { node, shape }
                }
                Value::Error => Value::Error,
                other => {
                    self.diagnostics.push(
                        CheckError::BadOperand {
                            op: "-".to_string(),
                            value: other,
                            span: inner.span,
                        }
                        .into(),
                    );
                    Value::Error
                }
            },
            ExprKind::Binary { op, lhs, rhs } => {
                let a = self.eval_expr(builder, frame, lhs);
                let b = self.eval_expr(builder, frame, rhs);
                self.binary(builder, frame, *op, (a, lhs.span), (b, rhs.span), expr.span)
            }
            ExprKind::Call(call) => match Builtin::from_name(&call.callee.name) {
                Some(builtin) if builtin.is_function() => {
                    let args = self.eval_args(builder, frame, call.args.as_deref().unwrap_or(&[]));
                    let label = self.text(expr.span);
                    self.call_builtin(
                        builder,
                        frame,
                        builtin,
                        &call.callee,
                        args,
                        expr.span,
                        label,
                    )
                }
                Some(_) => {
                    self.diagnostics.push(
                        CheckError::LayerNeedsPipe {
                            name: call.callee.name.clone(),
                            span: expr.span,
                        }
                        .into(),
                    );
                    Value::Error
                }
                None if self.definitions.contains_key(&call.callee.name) => {
                    self.diagnostics.push(
                        CheckError::LayerNeedsPipe {
                            name: call.callee.name.clone(),
                            span: expr.span,
                        }
                        .into(),
                    );
                    Value::Error
                }
                None => {
                    let candidates = self.callable_names();
                    self.diagnostics.push(
                        CheckError::UnknownLayer {
                            callee: call.callee.clone(),
                            candidates,
                        }
                        .into(),
                    );
                    Value::Error
                }
            },
        }
    }

    fn binary(
        &mut self,
        builder: &mut GraphBuilder,
        frame: &mut Frame,
        op: BinOp,
        a: (Value, Span),
        b: (Value, Span),
        span: Span,
    ) -> Value {
        match (&a.0, &b.0) {
            (Value::Error, _) | (_, Value::Error) => Value::Error,
            (Value::Tensor { .. }, _) | (_, Value::Tensor { .. }) => {
                self.tensor_binary(builder, frame, op, a, b, span)
            }
            (Value::Int(x), Value::Int(y)) => match op {
                BinOp::Add => Value::Int(x.add(y)),
                BinOp::Sub => Value::Int(x.sub(y)),
                BinOp::Mul => Value::Int(x.mul(y)),
                BinOp::Div => match (x.as_known(), y.as_known()) {
                    (_, Some(0)) => {
                        self.diagnostics
                            .push(CheckError::DivisionByZero { span: b.1 }.into());
                        Value::Error
                    }
                    (Some(p), Some(q)) if p % q == 0 => Value::Int(Dim::known(p / q)),
                    (Some(p), Some(q)) => Value::Float(Some(p as f64 / q as f64)),
                    // Options without a default: known, and checked, at each use.
                    _ if x.is_error() || y.is_error() || awaits_options(x, y) => {
                        Value::Int(Dim::error())
                    }
                    _ => {
                        self.diagnostics
                            .push(CheckError::SymbolicDivision { span }.into());
                        Value::Error
                    }
                },
                BinOp::MatMul => {
                    self.diagnostics.push(
                        CheckError::BadOperand {
                            op: "@".to_string(),
                            value: a.0.clone(),
                            span: a.1,
                        }
                        .into(),
                    );
                    Value::Error
                }
            },
            (x, y)
                if x.as_f64().is_some()
                    || y.as_f64().is_some()
                    || matches!(x, Value::Float(None))
                    || matches!(y, Value::Float(None)) =>
            {
                let numeric = |v: &Value| matches!(v, Value::Int(_) | Value::Float(_));
                if !numeric(x) {
                    self.diagnostics.push(
                        CheckError::BadOperand {
                            op: op.symbol().to_string(),
                            value: x.clone(),
                            span: a.1,
                        }
                        .into(),
                    );
                    return Value::Error;
                }
                if !numeric(y) {
                    self.diagnostics.push(
                        CheckError::BadOperand {
                            op: op.symbol().to_string(),
                            value: y.clone(),
                            span: b.1,
                        }
                        .into(),
                    );
                    return Value::Error;
                }
                let (Some(p), Some(q)) = (x.as_f64(), y.as_f64()) else {
                    return Value::Float(None);
                };
                Value::Float(Some(match op {
                    BinOp::Add => p + q,
                    BinOp::Sub => p - q,
                    BinOp::Mul => p * q,
                    BinOp::Div => p / q,
                    BinOp::MatMul => {
                        self.diagnostics.push(
                            CheckError::BadOperand {
                                op: "@".to_string(),
                                value: x.clone(),
                                span: a.1,
                            }
                            .into(),
                        );
                        return Value::Error;
                    }
                }))
            }
            (x, _) => {
                self.diagnostics.push(
                    CheckError::BadOperand {
                        op: op.symbol().to_string(),
                        value: x.clone(),
                        span: a.1,
                    }
                    .into(),
                );
                Value::Error
            }
        }
    }

    fn tensor_binary(
        &mut self,
        builder: &mut GraphBuilder,
        frame: &mut Frame,
        op: BinOp,
        a: (Value, Span),
        b: (Value, Span),
        span: Span,
    ) -> Value {
        let label = self.text(span);
        let mut operand =
            |checker: &mut Self, value: &Value, value_span: Span| -> Option<(NodeId, Shape)> {
                match value {
                    Value::Tensor { node, shape } => Some((*node, shape.clone())),
                    Value::Int(_) | Value::Float(_) if op != BinOp::MatMul => {
                        let constant = value.as_f64().unwrap_or(f64::NAN);
                        let shape = Shape::unbatched(vec![]);
                        let path = format!("{}.const", frame.path);
                        let node = push_node(
                            builder,
                            frame,
                            Op::Constant(constant),
                            vec![],
                            shape.clone(),
                            value_span,
                            path,
                            checker.text(value_span),
                            vec![],
                        );
                        Some((node, shape))
                    }
                    other => {
                        checker.diagnostics.push(
                            CheckError::BadOperand {
                                op: op.symbol().to_string(),
                                value: other.clone(),
                                span: value_span,
                            }
                            .into(),
                        );
                        None
                    }
                }
            };
        let Some((na, sa)) = operand(self, &a.0, a.1) else {
            return Value::Error;
        };
        let Some((nb, sb)) = operand(self, &b.0, b.1) else {
            return Value::Error;
        };
        let (result, op_node, name) = match op {
            BinOp::MatMul => (matmul_shape(&sa, &sb), Op::MatMul, "matmul"),
            _ => {
                let (arith, name) = match op {
                    BinOp::Add => (Arith::Add, "add"),
                    BinOp::Sub => (Arith::Sub, "sub"),
                    BinOp::Mul => (Arith::Mul, "mul"),
                    _ => (Arith::Div, "div"),
                };
                (
                    shape::broadcast(&sa, &sb).map_err(|_| ()),
                    Op::Arith(arith),
                    name,
                )
            }
        };
        match result {
            Ok(shape) => {
                let path = frame.next_path(name);
                let node = push_node(
                    builder,
                    frame,
                    op_node,
                    vec![na, nb],
                    shape.clone(),
                    span,
                    path,
                    label,
                    vec![],
                );
                Value::Tensor { node, shape }
            }
            Err(()) => {
                let problem = if op == BinOp::MatMul {
                    CheckError::MatmulMismatch {
                        a: sa.clone(),
                        a_span: a.1,
                        b: sb.clone(),
                        b_span: b.1,
                        span,
                    }
                } else {
                    let residual = (op == BinOp::Add)
                        .then(|| self.residual(&builder.nodes, (na, &sa, a.1), (nb, &sb, b.1)))
                        .flatten()
                        .map(Box::new);
                    CheckError::BroadcastMismatch {
                        op: op.symbol().to_string(),
                        a: sa.clone(),
                        a_span: a.1,
                        b: sb.clone(),
                        b_span: b.1,
                        span,
                        residual,
                    }
                };
                self.diagnostics.push(problem.into());
                Value::Error
            }
        }
    }

    /// A sum `a + b` (each operand with its node, shape and span) in which
    /// one operand is computed from the other, with the same rank: a
    /// residual connection whose branch changed the shortcut's shape.
    fn residual(
        &self,
        nodes: &[Node],
        a: (NodeId, &Shape, Span),
        b: (NodeId, &Shape, Span),
    ) -> Option<error::Residual> {
        let (skip, branch, skip_first) = if is_ancestor(nodes, a.0, b.0) {
            (a, b, true)
        } else if is_ancestor(nodes, b.0, a.0) {
            (b, a, false)
        } else {
            return None;
        };
        let (from, to) = (skip.1, branch.1);
        if from.rank() != to.rank() || from.rank() == 0 || from.batched != to.batched {
            return None;
        }
        let windowed = |rank: usize| {
            branch_nodes(nodes, skip.0, branch.0).any(|n| match &n.op {
                Op::Layer(crate::ir::Layer::Conv { window, .. })
                | Op::Layer(crate::ir::Layer::Pool { window, .. }) => window.kernel.len() == rank,
                _ => false,
            })
        };
        let layer = match from.rank() {
            3 => "conv2d",
            2 if windowed(1) => "conv1d",
            r if from.dims[..r - 1] == to.dims[..r - 1] => "dense",
            _ => return None,
        };
        let (channels, sizes) = if layer == "dense" {
            let last = from.rank() - 1;
            (
                (from.dims[last].clone(), to.dims[last].clone()),
                (Vec::new(), Vec::new()),
            )
        } else {
            (
                (from.dims[0].clone(), to.dims[0].clone()),
                (from.dims[1..].to_vec(), to.dims[1..].to_vec()),
            )
        };
        let stride = sizes
            .0
            .iter()
            .zip(&sizes.1)
            .map(|(i, o)| projection_stride(i, o))
            .collect::<Option<Vec<i64>>>();
        let (skip_text, branch_text) = (self.text(skip.2), self.text(branch.2));
        let fixed = if skip_first {
            format!("skip + {branch_text}")
        } else {
            format!("{branch_text} + skip")
        };
        Some(error::Residual {
            skip: skip_text,
            branch: branch_text,
            fixed,
            layer,
            channels,
            sizes,
            stride,
        })
    }
}

/// `[..., n, k] @ [k, m]` with the textbook's row vectors: a per-sample
/// vector times a matrix is a vector.
fn matmul_shape(a: &Shape, b: &Shape) -> Result<Shape, ()> {
    if a.rank() == 0 || b.rank() == 0 {
        return Err(());
    }
    let (ka, kb) = (
        &a.dims[a.rank() - 1],
        if b.rank() == 1 {
            &b.dims[0]
        } else {
            &b.dims[b.rank() - 2]
        },
    );
    if !ka.agrees_with(kb) {
        return Err(());
    }
    let lead_a = Shape {
        batched: a.batched,
        dims: a.dims[..a.rank() - 1].to_vec(),
    };
    let lead_b = Shape {
        batched: b.batched,
        dims: if b.rank() >= 2 {
            b.dims[..b.rank() - 2].to_vec()
        } else {
            vec![]
        },
    };
    if a.rank() >= 2 && b.rank() >= 2 {
        let batch_a = Shape {
            batched: a.batched,
            dims: a.dims[..a.rank() - 2].to_vec(),
        };
        let mut lead = shape::broadcast(&batch_a, &lead_b).map_err(|_| ())?;
        lead.dims.push(a.dims[a.rank() - 2].clone());
        lead.dims.push(b.dims[b.rank() - 1].clone());
        return Ok(lead);
    }
    let mut out = shape::broadcast(&lead_a, &lead_b).map_err(|_| ())?;
    if b.rank() >= 2 {
        out.dims.push(b.dims[b.rank() - 1].clone());
    }
    Ok(out)
}

/// The stride of a 1x1 convolution (no padding) that takes size `input` to
/// `output`, `floor((input - 1)/stride) + 1`, if a small one does.
fn projection_stride(input: &Dim, output: &Dim) -> Option<i64> {
    let limit = input.as_known().map_or(16, |i| i.clamp(1, 4096));
    (1..=limit).find(|&s| input.sub(&Dim::known(1)).floor_div(s).add(&Dim::known(1)) == *output)
}
