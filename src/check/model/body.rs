//! Statements and bodies: a model's or cell's statements run in order, `repeat`
//! unrolled, and a cell's step body with its state.

use super::graph::push_node;
use super::{BodyChecker, Frame, GraphBuilder, MAX_NODES, MAX_REPEAT};
use crate::check::error::{self, CheckError};
use crate::ir::shape::Shape;
use crate::ir::{Init, Op, ParamSpec};
use crate::nn::Value;
use crate::span::Span;
use crate::syntax::ast::{self, CellDef, Stmt, StmtKind};

impl<'a> BodyChecker<'a> {
    /// Runs a model body on `input`: the value it returns, or the last current value.
    pub(super) fn run_body(
        &mut self,
        builder: &mut GraphBuilder,
        frame: &mut Frame,
        body: &ast::Block,
        input: Value,
        input_span: Span,
    ) -> Value {
        frame.current = Some((input, input_span));
        let mut output = None;
        self.run_statements(builder, frame, &body.stmts, &mut output);
        output
            .or_else(|| frame.current.clone().map(|(v, _)| v))
            .unwrap_or(Value::Error)
    }

    fn run_statements(
        &mut self,
        builder: &mut GraphBuilder,
        frame: &mut Frame,
        stmts: &[Stmt],
        output: &mut Option<Value>,
    ) {
        let mut previous: Option<Span> = None;
        for stmt in stmts {
            if output.is_some() {
                self.diagnostics
                    .push(CheckError::AfterReturn { span: stmt.span }.into());
                return;
            }
            // `dense(16)(x)` parses as two statements with nothing between them:
            // the Keras habit of calling a layer object.
            if let Some(prev) = previous
                && prev.end == stmt.span.start
                && self.source[stmt.span.range()].starts_with('(')
            {
                self.diagnostics.push(
                    CheckError::CalledResult {
                        call: prev,
                        args: stmt.span,
                    }
                    .into(),
                );
                previous = Some(stmt.span);
                continue;
            }
            previous = Some(stmt.span);
            self.run_statement(builder, frame, stmt, output);
        }
    }

    fn run_statement(
        &mut self,
        builder: &mut GraphBuilder,
        frame: &mut Frame,
        stmt: &Stmt,
        output: &mut Option<Value>,
    ) {
        match &stmt.kind {
            StmtKind::Let { name, value } => {
                let v = self.eval_pipeline(builder, frame, value);
                frame.env.insert(name.name.clone(), v.clone());
                frame.current = Some((v, value.span));
            }
            StmtKind::Param { name, shape, init } => {
                let dims = self.eval_shape(shape, &frame.env);
                let shape = Shape::unbatched(dims);
                let init = match init {
                    Some(expr) => self.eval_init(expr),
                    None if shape.rank() >= 2 => Init::Xavier,
                    None => Init::Zeros,
                };
                let path = format!("{}.{}", frame.path, name.name);
                let spec = ParamSpec {
                    name: path.clone(),
                    shape: shape.clone(),
                    init,
                    trainable: true,
                };
                let label = format!("param {}", self.text(shape_span_text(stmt.span, name.span)));
                let node = push_node(
                    builder,
                    frame,
                    Op::Param,
                    vec![],
                    shape.clone(),
                    stmt.span,
                    path,
                    label,
                    vec![spec],
                );
                frame
                    .env
                    .insert(name.name.clone(), Value::Tensor { node, shape });
            }
            StmtKind::Next { name, value } => {
                let v = self.eval_pipeline(builder, frame, value);
                let Some((_, state_shape, decl_span)) = frame
                    .state
                    .iter()
                    .find(|(n, _, _)| *n == name.name)
                    .cloned()
                else {
                    let states: Vec<String> =
                        frame.state.iter().map(|(n, _, _)| n.clone()).collect();
                    self.diagnostics.push(
                        CheckError::NextNotState {
                            name: name.clone(),
                            states,
                            in_cell: !frame.state.is_empty(),
                        }
                        .into(),
                    );
                    return;
                };
                if let Value::Tensor { node, shape } = &v {
                    if !shape.agrees_with(&state_shape) {
                        self.diagnostics.push(
                            CheckError::NextShape {
                                name: name.clone(),
                                found: shape.clone(),
                                expected: state_shape.clone(),
                                value: value.span,
                                declared: decl_span,
                            }
                            .into(),
                        );
                    }
                    frame.nexts.insert(name.name.clone(), *node);
                } else if !matches!(v, Value::Error) {
                    self.diagnostics.push(
                        CheckError::ExpectedTensor {
                            value: v.clone(),
                            span: value.span,
                        }
                        .into(),
                    );
                }
                frame.env.insert(name.name.clone(), v.clone());
                frame.current = Some((v, value.span));
            }
            StmtKind::Repeat { count, body } => {
                let value = self.eval_constant(count, &frame.env);
                let times = match &value {
                    Value::Int(d) => match d.as_known() {
                        Some(k) if (1..=MAX_REPEAT).contains(&k) => k,
                        Some(k) => {
                            self.diagnostics.push(error::invalid_value(
                                "repeat",
                                "count",
                                &k.to_string(),
                                &format!("between 1 and {MAX_REPEAT}"),
                                count.span,
                            ));
                            return;
                        }
                        // Symbolic (an option without a value here): check the body once.
                        None => 1,
                    },
                    Value::Error => 1,
                    other => {
                        self.diagnostics.push(
                            CheckError::RepeatCount {
                                value: other.clone(),
                                span: count.span,
                            }
                            .into(),
                        );
                        1
                    }
                };
                let start = builder.nodes.len();
                for round in 0..times {
                    // NOTE: after the first round, the size of all of them is
                    // known: a count that will pass the limit stops here, not
                    // after building 100,000 nodes (seconds and a gigabyte
                    // for a mistyped `repeat 1000`).
                    let projected = (builder.nodes.len() - start)
                        .saturating_mul(times as usize)
                        .saturating_add(start);
                    builder.rounds += 1;
                    if builder.nodes.len() > MAX_NODES
                        || builder.rounds > MAX_NODES
                        || (round == 1 && projected > MAX_NODES)
                    {
                        self.diagnostics.push(
                            CheckError::ModelTooLarge {
                                max: MAX_NODES,
                                span: stmt.span,
                            }
                            .into(),
                        );
                        return;
                    }
                    let errors = self.error_count();
                    self.run_statements(builder, frame, &body.stmts, output);
                    // NOTE: a round with an error would give it again in
                    // every later round: nested `repeat 3 { ... }` with an
                    // error inside pushed 3^17 copies of it.
                    if self.error_count() > errors {
                        return;
                    }
                }
            }
            StmtKind::Return(pipeline) => {
                let v = self.eval_pipeline(builder, frame, pipeline);
                *output = Some(v);
            }
            StmtKind::Pipeline(pipeline) => {
                let v = self.eval_pipeline(builder, frame, pipeline);
                frame.current = Some((v, pipeline.span));
            }
        }
    }

    /// Runs a cell's body for one step of shape `step`, with its state.
    pub(super) fn run_cell_body(
        &mut self,
        builder: &mut GraphBuilder,
        frame: &mut Frame,
        cell: &'a CellDef,
        step: Shape,
    ) -> Value {
        let input = self.add_input(builder, frame, &cell.input, step);
        let mut slots = Vec::new();
        for (index, decl) in cell.state.iter().enumerate() {
            let dims = self.eval_shape(&decl.shape, &frame.env);
            let shape = Shape::batched(dims);
            let path = format!("{}.{}", frame.path, decl.name.name);
            let node = push_node(
                builder,
                frame,
                Op::StateIn(index),
                vec![],
                shape.clone(),
                decl.name.span,
                path,
                "state".to_string(),
                vec![],
            );
            frame.env.insert(
                decl.name.name.clone(),
                Value::Tensor {
                    node,
                    shape: shape.clone(),
                },
            );
            frame
                .state
                .push((decl.name.name.clone(), shape, decl.shape.span));
            let init = decl
                .init
                .as_ref()
                .map(|e| self.eval_init(e))
                .unwrap_or(Init::Zeros);
            slots.push((decl.name.name.clone(), init));
        }
        frame.current = Some((input, cell.input.name.span));
        let mut output = None;
        self.run_statements(builder, frame, &cell.body.stmts, &mut output);
        for decl in &cell.state {
            if !has_next(&cell.body.stmts, &decl.name.name) {
                self.diagnostics.push(
                    CheckError::StateNeverUpdated {
                        name: decl.name.clone(),
                        body: cell.body.span,
                    }
                    .into(),
                );
            }
        }
        output
            .or_else(|| frame.current.clone().map(|(v, _)| v))
            .unwrap_or(Value::Error)
    }
}

fn shape_span_text(stmt: Span, name: Span) -> Span {
    Span {
        start: name.start,
        end: stmt.end,
    }
}

/// Whether `stmts` (or a `repeat` among them) give state `name` its next value.
fn has_next(stmts: &[Stmt], name: &str) -> bool {
    stmts.iter().any(|stmt| match &stmt.kind {
        StmtKind::Next { name: n, .. } => n.name == name,
        StmtKind::Repeat { body, .. } => has_next(&body.stmts, name),
        _ => false,
    })
}
