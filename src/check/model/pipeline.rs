//! Pipelines and built-in calls: each stage applied to the value piped in,
//! layers and functions bound to their signatures, and `concat`.

use super::graph::{follows_dense_on_many_axes, push_node};
use super::{BodyChecker, Frame, GraphBuilder};
use crate::check::args::{self, EvalArg, Param};
use crate::check::error::CheckError;
use crate::ir::{Op, ParamSpec};
use crate::nn::{self, Builtin, LayerOut, Site, Value};
use crate::span::Span;
use crate::syntax::ast::{self, Expr, ExprKind, Ident, Pipeline};

impl<'a> BodyChecker<'a> {
    /// The value of a pipeline; the first stage may continue from the current value.
    pub(super) fn eval_pipeline(
        &mut self,
        builder: &mut GraphBuilder,
        frame: &mut Frame,
        pipeline: &Pipeline,
    ) -> Value {
        let mut stages = pipeline.stages.iter();
        let first = stages.next().expect("pipeline: at least one stage");
        let mut value = self.eval_head(builder, frame, first);
        let mut value_span = first.span;
        for stage in stages {
            value = self.apply_stage(builder, frame, stage, value, value_span);
            value_span = value_span.merge(stage.span);
        }
        value
    }

    /// The first stage of a statement: a value of its own, or a layer applied
    /// to the current value.
    fn eval_head(&mut self, builder: &mut GraphBuilder, frame: &mut Frame, expr: &Expr) -> Value {
        let continues = match &expr.kind {
            ExprKind::Name(name) => !frame.env.contains_key(name) && self.is_callable(name),
            ExprKind::Call(call) => match Builtin::from_name(&call.callee.name) {
                Some(b) if b.is_function() => self.function_head_continues(frame, call),
                Some(_) => true,
                None => self.definitions.contains_key(&call.callee.name),
            },
            _ => false,
        };
        if continues {
            let (current, span) = frame.current.clone().unwrap_or((Value::Error, expr.span));
            self.apply_stage(builder, frame, expr, current, span)
        } else {
            self.eval_expr(builder, frame, expr)
        }
    }

    /// A function call at the start of a statement stands on its own when its
    /// first positional argument is a tensor (`relu(y + skip)`); otherwise the
    /// current value is piped in (`leaky_relu(0.2)`).
    fn function_head_continues(&self, frame: &Frame, call: &ast::Call) -> bool {
        let first = call
            .args
            .as_ref()
            .and_then(|args| args.iter().find(|a| a.name.is_none()));
        match first {
            None => true,
            Some(arg) => !self.mentions_tensor(frame, &arg.value),
        }
    }

    /// Whether an expression refers to a tensor in scope (so it evaluates to one).
    fn mentions_tensor(&self, frame: &Frame, expr: &Expr) -> bool {
        match &expr.kind {
            ExprKind::Name(name) => matches!(frame.env.get(name), Some(Value::Tensor { .. })),
            ExprKind::Binary { lhs, rhs, .. } => {
                self.mentions_tensor(frame, lhs) || self.mentions_tensor(frame, rhs)
            }
            ExprKind::Neg(inner) => self.mentions_tensor(frame, inner),
            ExprKind::Call(call) => call
                .args
                .iter()
                .flatten()
                .any(|a| self.mentions_tensor(frame, &a.value)),
            _ => false,
        }
    }

    /// Whether `name` is a built-in, a model or a cell.
    pub(super) fn is_callable(&self, name: &str) -> bool {
        Builtin::from_name(name).is_some() || self.definitions.contains_key(name)
    }

    /// Applies a layer written as `stage` to `input`.
    fn apply_stage(
        &mut self,
        builder: &mut GraphBuilder,
        frame: &mut Frame,
        stage: &Expr,
        input: Value,
        input_span: Span,
    ) -> Value {
        let (callee, args) = match &stage.kind {
            ExprKind::Name(name) => (
                Ident {
                    name: name.clone(),
                    span: stage.span,
                },
                Vec::new(),
            ),
            ExprKind::Call(call) => {
                let args = self.eval_args(builder, frame, call.args.as_deref().unwrap_or(&[]));
                (call.callee.clone(), args)
            }
            _ => {
                self.diagnostics.push(
                    CheckError::NotALayer {
                        span: stage.span,
                        name: None,
                    }
                    .into(),
                );
                return Value::Error;
            }
        };
        if !self.is_callable(&callee.name) {
            if frame.env.contains_key(&callee.name) {
                self.diagnostics.push(
                    CheckError::NotALayer {
                        span: stage.span,
                        name: Some(callee.name.clone()),
                    }
                    .into(),
                );
            } else {
                let candidates = self.callable_names();
                self.diagnostics.push(
                    CheckError::UnknownLayer {
                        callee: callee.clone(),
                        candidates,
                    }
                    .into(),
                );
            }
            return Value::Error;
        }
        let input = match input {
            Value::Tensor { .. } => input,
            Value::Error => return Value::Error,
            other => {
                self.diagnostics.push(
                    CheckError::ExpectedTensor {
                        value: other,
                        span: input_span,
                    }
                    .into(),
                );
                return Value::Error;
            }
        };
        let label = self.text(stage.span);
        if let Some(builtin) = Builtin::from_name(&callee.name) {
            let mut all = Vec::with_capacity(args.len() + 1);
            if builtin.is_function() {
                all.push(EvalArg {
                    name: None,
                    value: input,
                    span: input_span,
                });
                all.extend(args);
                return self.call_builtin(builder, frame, builtin, &callee, all, stage.span, label);
            }
            return self.apply_layer(
                builder, frame, builtin, &callee, input, input_span, &args, stage.span, label,
            );
        }
        let definition = self.definitions[&callee.name];
        self.apply_definition(
            builder, frame, definition, &callee, input, input_span, &args, stage.span, label,
        )
    }

    /// Every name a call can use: built-ins, models and cells.
    pub(super) fn callable_names(&self) -> Vec<String> {
        Builtin::ALL
            .iter()
            .map(|b| b.name().to_string())
            .chain(self.definitions.keys().cloned())
            .collect()
    }

    /// A call's arguments, each evaluated with its span.
    pub(super) fn eval_args(
        &mut self,
        builder: &mut GraphBuilder,
        frame: &mut Frame,
        args: &[ast::Arg],
    ) -> Vec<EvalArg> {
        args.iter()
            .map(|arg| EvalArg {
                name: arg.name.clone(),
                value: self.eval_expr(builder, frame, &arg.value),
                span: arg.value.span,
            })
            .collect()
    }

    /// A built-in function called with all of its tensor arguments explicit
    /// (the first one possibly piped in).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn call_builtin(
        &mut self,
        builder: &mut GraphBuilder,
        frame: &mut Frame,
        builtin: Builtin,
        callee: &Ident,
        args: Vec<EvalArg>,
        span: Span,
        label: String,
    ) -> Value {
        if builtin == Builtin::Concat {
            return self.concat(builder, frame, callee, args, span, label);
        }
        let mut args = args.into_iter();
        let Some(first) = args.next().filter(|a| a.name.is_none()) else {
            self.diagnostics.push(
                CheckError::MissingArgument {
                    callee: callee.clone(),
                    param: "input".to_string(),
                    signature: builtin.signature(),
                }
                .into(),
            );
            return Value::Error;
        };
        let rest: Vec<EvalArg> = args.collect();
        match first.value {
            Value::Tensor { .. } => self.apply_layer(
                builder,
                frame,
                builtin,
                callee,
                first.value,
                first.span,
                &rest,
                span,
                label,
            ),
            Value::Error => Value::Error,
            other => {
                self.diagnostics.push(
                    CheckError::ExpectedTensor {
                        value: other,
                        span: first.span,
                    }
                    .into(),
                );
                Value::Error
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_layer(
        &mut self,
        builder: &mut GraphBuilder,
        frame: &mut Frame,
        builtin: Builtin,
        callee: &Ident,
        input: Value,
        input_span: Span,
        args: &[EvalArg],
        span: Span,
        label: String,
    ) -> Value {
        let Value::Tensor {
            node: input_node,
            shape: input_shape,
        } = input
        else {
            return Value::Error;
        };
        let params: Vec<Param> = builtin.params().iter().map(Param::from).collect();
        let bound = match args::bind(callee, &builtin.signature(), &params, args) {
            Ok(bound) => bound,
            Err(errors) => {
                self.diagnostics.extend(errors);
                return Value::Error;
            }
        };
        let site = Site { span, input_span };
        match builtin.shape(&input_shape, &bound.with_signature(builtin.params()), site) {
            Ok(LayerOut {
                layer,
                shape,
                params,
                warnings,
            }) => {
                // One warning about `dense` on many axes per path through the
                // model: the layers after the first only repeat it.
                let repeated = builtin == Builtin::Dense
                    && !warnings.is_empty()
                    && follows_dense_on_many_axes(&builder.nodes, input_node);
                self.diagnostics
                    .extend(warnings.into_iter().filter(|_| !repeated));
                let path = frame.next_path(builtin.name());
                let specs = params
                    .into_iter()
                    .map(|t| ParamSpec {
                        name: format!("{path}.{}", t.role),
                        shape: t.shape,
                        init: t.init,
                        trainable: t.trainable,
                    })
                    .collect();
                let node = push_node(
                    builder,
                    frame,
                    Op::Layer(layer),
                    vec![input_node],
                    shape.clone(),
                    span,
                    path,
                    label,
                    specs,
                );
                Value::Tensor { node, shape }
            }
            Err(d) => {
                self.diagnostics.push(d);
                Value::Error
            }
        }
    }

    fn concat(
        &mut self,
        builder: &mut GraphBuilder,
        frame: &mut Frame,
        callee: &Ident,
        args: Vec<EvalArg>,
        span: Span,
        label: String,
    ) -> Value {
        let (tensors, keywords): (Vec<EvalArg>, Vec<EvalArg>) =
            args.into_iter().partition(|a| a.name.is_none());
        let params: Vec<Param> = Builtin::Concat.params().iter().map(Param::from).collect();
        let bound = match args::bind(callee, &Builtin::Concat.signature(), &params, &keywords) {
            Ok(bound) => bound.with_signature(Builtin::Concat.params()),
            Err(errors) => {
                self.diagnostics.extend(errors);
                return Value::Error;
            }
        };
        if tensors.len() < 2 {
            self.diagnostics
                .push(nn::error::LayerProblem::ConcatTooFew { span }.into());
            return Value::Error;
        }
        let mut inputs = Vec::new();
        let mut shapes = Vec::new();
        for arg in &tensors {
            match &arg.value {
                Value::Tensor { node, shape } => {
                    inputs.push(*node);
                    shapes.push((shape.clone(), arg.span));
                }
                Value::Error => return Value::Error,
                other => {
                    self.diagnostics.push(
                        CheckError::ExpectedTensor {
                            value: other.clone(),
                            span: arg.span,
                        }
                        .into(),
                    );
                    return Value::Error;
                }
            }
        }
        let LayerOut { layer, shape, .. } = match nn::concat::shape(&shapes, &bound, span) {
            Ok(out) => out,
            Err(d) => {
                self.diagnostics.push(d);
                return Value::Error;
            }
        };
        let path = frame.next_path("concat");
        let node = push_node(
            builder,
            frame,
            Op::Layer(layer),
            inputs,
            shape.clone(),
            span,
            path,
            label,
            vec![],
        );
        Value::Tensor { node, shape }
    }
}
