//! Uses of user models and cells: a definition instantiated for the value piped
//! in, its input shape unified with it, its nodes inlined under a path.

use super::constant::eval_dim;
use super::graph::{finish_graph, push_node};
use super::{BodyChecker, Definition, Frame, GraphBuilder, MAX_NODES, is_dimension_variable};
use crate::check::args::{self, EvalArg, Param};
use crate::check::error::CheckError;
use crate::diagnostic::{Diagnostic, Label};
use crate::ir::dim::Dim;
use crate::ir::shape::Shape;
use crate::ir::{CallSite, CellGraph, Init, NodeId, Op, StateSlot};
use crate::nn::{ArgKind, Value};
use crate::span::Span;
use crate::syntax::ast::{CellDef, ExprKind, Ident, OptionType};
use std::collections::HashMap;

impl<'a> BodyChecker<'a> {
    /// Applies a user model or cell to `input`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn apply_definition(
        &mut self,
        builder: &mut GraphBuilder,
        frame: &mut Frame,
        definition: Definition<'a>,
        callee: &Ident,
        input: Value,
        input_span: Span,
        args: &[EvalArg],
        span: Span,
        label: String,
    ) -> Value {
        let name = definition.name().name.clone();
        if let Some(start) = self.stack.iter().position(|n| *n == name) {
            let mut chain: Vec<String> = self.stack[start..].to_vec();
            chain.push(name.clone());
            self.diagnostics.push(
                CheckError::RecursiveModel {
                    callee: callee.clone(),
                    chain,
                    definition: definition.name().span,
                }
                .into(),
            );
            return Value::Error;
        }
        if self.check_definition(definition) {
            return Value::Error;
        }
        if builder.nodes.len() > MAX_NODES {
            self.diagnostics.push(
                CheckError::ModelTooLarge {
                    max: MAX_NODES,
                    span,
                }
                .into(),
            );
            return Value::Error;
        }
        let Value::Tensor {
            node: input_node,
            shape: input_shape,
        } = input
        else {
            return Value::Error;
        };
        let params: Vec<Param> = definition
            .options()
            .iter()
            .map(|o| Param {
                name: &o.name.name,
                kind: if o.ty == OptionType::Int {
                    ArgKind::Int
                } else {
                    ArgKind::Float
                },
                required: o.default.is_none(),
            })
            .collect();
        let signature = definition_signature(definition);
        let bound = match args::bind(callee, &signature, &params, args) {
            Ok(bound) => bound,
            Err(errors) => {
                self.diagnostics.extend(errors);
                return Value::Error;
            }
        };
        let mut env = HashMap::new();
        for option in definition.options() {
            let value = match bound.get(&option.name.name) {
                Some((value, span)) => {
                    self.check_option_type(&option.name, option.ty, value, *span)
                }
                None => self.option_default(option, &env),
            };
            env.insert(option.name.name.clone(), value);
        }
        let is_cell = matches!(definition, Definition::Cell(_));
        if let Err(d) = self.unify_input(definition, &input_shape, &mut env, span, input_span) {
            self.diagnostics.push(d);
            return Value::Error;
        }
        let path = frame.next_path(&name);
        self.stack.push(name.clone());
        let before = self.diagnostics.len();
        let result = if is_cell {
            let Definition::Cell(cell) = definition else {
                unreachable!("is_cell")
            };
            self.apply_cell(
                builder,
                frame,
                cell,
                env,
                input_node,
                &input_shape,
                span,
                path,
                label,
            )
        } else {
            let call = builder.calls.len();
            builder.calls.push(CallSite {
                path: path.clone(),
                label,
                parent: frame.call,
                span,
                output: input_node,
            });
            let mut inner = Frame::new(path, Some(call), env);
            let input_name = definition.input().name.name.clone();
            inner.env.insert(
                input_name,
                Value::Tensor {
                    node: input_node,
                    shape: input_shape.clone(),
                },
            );
            let output = self.run_body(
                builder,
                &mut inner,
                definition.body(),
                Value::Tensor {
                    node: input_node,
                    shape: input_shape,
                },
                input_span,
            );
            if let Value::Tensor { node, .. } = &output {
                builder.calls[call].output = *node;
            }
            output
        };
        self.stack.pop();
        // What only this use reveals (an option's value that does not fit)
        // is found in the body: say which use it comes from.
        for d in &mut self.diagnostics[before..] {
            let inside = d.span().start >= span.start && d.span().end <= span.end;
            if d.is_error() && !inside {
                d.labels.push(Label {
                    span,
                    message: format!("in this use of `{name}`"),
                    primary: false,
                });
            }
        }
        result
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_cell(
        &mut self,
        builder: &mut GraphBuilder,
        frame: &mut Frame,
        cell: &'a CellDef,
        env: HashMap<String, Value>,
        input_node: NodeId,
        input_shape: &Shape,
        span: Span,
        path: String,
        label: String,
    ) -> Value {
        let step = match step_shape(input_shape, span) {
            Ok(step) => step,
            Err(d) => {
                self.diagnostics.push(d);
                return Value::Error;
            }
        };
        let mut step_builder = GraphBuilder::default();
        let mut inner = Frame::new(path.clone(), None, env);
        let output = self.run_cell_body(&mut step_builder, &mut inner, cell, step);
        let Value::Tensor {
            shape: out_step, ..
        } = &output
        else {
            return Value::Error;
        };
        let mut state = Vec::new();
        for (index, decl) in cell.state.iter().enumerate() {
            let shape = inner.state[index].1.clone();
            let init = decl
                .init
                .as_ref()
                .map(|e| self.eval_init_quiet(e))
                .unwrap_or(Init::Zeros);
            // A state without `next` was reported by `run_cell_body`.
            let Some(&next) = inner.nexts.get(&decl.name.name) else {
                return Value::Error;
            };
            state.push(StateSlot {
                name: decl.name.name.clone(),
                shape,
                init,
                next,
            });
        }
        let mut dims = vec![input_shape.dims[0].clone()];
        dims.extend(out_step.dims.iter().cloned());
        let shape = Shape {
            batched: input_shape.batched,
            dims,
        };
        let graph = finish_graph(step_builder, &output);
        let op = Op::Cell(Box::new(CellGraph {
            name: cell.name.name.clone(),
            step: graph,
            state,
        }));
        let node = push_node(
            builder,
            frame,
            op,
            vec![input_node],
            shape.clone(),
            span,
            path,
            label,
            vec![],
        );
        Value::Tensor { node, shape }
    }

    /// Binds the dimension variables of `definition`'s input shape to `actual`,
    /// and checks the rest of it.
    pub(super) fn unify_input(
        &mut self,
        definition: Definition<'a>,
        actual: &Shape,
        env: &mut HashMap<String, Value>,
        use_span: Span,
        input_span: Span,
    ) -> Result<(), Diagnostic> {
        let decl = &definition.input().shape;
        let is_cell = matches!(definition, Definition::Cell(_));
        // A cell's input shape is per step; the sequence adds the time axis.
        let actual_dims: &[Dim] = if is_cell {
            match actual.dims.split_first() {
                Some((_, rest)) => rest,
                None => &[],
            }
        } else {
            &actual.dims
        };
        let mismatch = |expected: String| {
            Diagnostic::from(CheckError::InputMismatch {
                model: definition.name().clone(),
                expected,
                actual: actual.clone(),
                is_cell,
                use_span,
                input_span,
                declared: decl.span,
            })
        };
        if decl.dims.len() != actual_dims.len() || (is_cell && actual.dims.is_empty()) {
            return Err(mismatch(self.text(decl.span)));
        }
        for (expr, dim) in decl.dims.iter().zip(actual_dims) {
            if let ExprKind::Name(name) = &expr.kind
                && !env.contains_key(name)
                && is_dimension_variable(name)
            {
                env.insert(name.clone(), Value::Int(dim.clone()));
            }
        }
        for (expr, dim) in decl.dims.iter().zip(actual_dims) {
            let mut scratch = Vec::new();
            let expected = eval_dim(expr, env, &mut scratch);
            if !scratch.is_empty() {
                self.diagnostics.extend(scratch);
                continue;
            }
            if !expected.agrees_with(dim) {
                let text: Vec<String> = decl
                    .dims
                    .iter()
                    .map(|e| {
                        let mut sink = Vec::new();
                        eval_dim(e, env, &mut sink).to_string()
                    })
                    .collect();
                return Err(mismatch(format!("[{}]", text.join(", "))));
            }
        }
        Ok(())
    }
}

/// Whether the shape of a sequence gives a step shape: `[T, ...]` to `[...]`.
fn step_shape(sequence: &Shape, span: Span) -> Result<Shape, Diagnostic> {
    match sequence.dims.split_first() {
        Some((_, rest)) => Ok(Shape {
            batched: sequence.batched,
            dims: rest.to_vec(),
        }),
        None => Err(CheckError::CellNeedsSequence {
            shape: sequence.clone(),
            span,
        }
        .into()),
    }
}

fn definition_signature(definition: Definition) -> String {
    let options: Vec<String> = definition
        .options()
        .iter()
        .map(|o| match &o.default {
            Some(_) => format!("{} = ...", o.name.name),
            None => o.name.name.clone(),
        })
        .collect();
    format!("{}({})", definition.name().name, options.join(", "))
}
