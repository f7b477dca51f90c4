//! Checking model and cell bodies: statements, pipelines, expressions, and
//! uses of built-ins, models and cells, building the graph as it goes.

use super::args::{self, EvalArg, Param};
use super::error;
use crate::diagnostic::{Diagnostic, Label};
use crate::ir::dim::Dim;
use crate::ir::shape::{self, Shape};
use crate::ir::{Arith, CallSite, CellGraph, Graph, Init, Node, NodeId, Op, ParamSpec, StateSlot};
use crate::nn::{self, ArgKind, Builtin, LayerOut, Site, Value};
use crate::span::Span;
use crate::syntax::ast::{
    self, BinOp, CellDef, Expr, ExprKind, Ident, ModelDef, OptionType, Pipeline, ShapeExpr, Stmt,
    StmtKind,
};
use std::collections::HashMap;

/// The largest `repeat` count: far above any real network's depth, and low
/// enough that unrolling stays quick.
const MAX_REPEAT: i64 = 1000;

/// The most operations one model may unroll to (nested `repeat`s and
/// sub-models multiply): far beyond real networks, small enough to check quickly.
const MAX_NODES: usize = 100_000;

/// A model or a cell, whichever a name refers to.
#[derive(Clone, Copy)]
pub enum Definition<'a> {
    /// A model.
    Model(&'a ModelDef),
    /// A cell.
    Cell(&'a CellDef),
}

impl<'a> Definition<'a> {
    fn name(&self) -> &'a Ident {
        match self {
            Definition::Model(m) => &m.name,
            Definition::Cell(c) => &c.name,
        }
    }

    fn input(&self) -> &'a ast::InputDecl {
        match self {
            Definition::Model(m) => &m.input,
            Definition::Cell(c) => &c.input,
        }
    }

    fn options(&self) -> &'a [ast::OptionDecl] {
        match self {
            Definition::Model(m) => &m.options,
            Definition::Cell(c) => &c.options,
        }
    }

    fn body(&self) -> &'a ast::Block {
        match self {
            Definition::Model(m) => &m.body,
            Definition::Cell(c) => &c.body,
        }
    }
}

/// The graph under construction.
#[derive(Default)]
struct GraphBuilder {
    nodes: Vec<Node>,
    calls: Vec<CallSite>,
}

/// One instance of a model or cell body being checked.
struct Frame {
    /// Path prefix of its nodes, e.g. `ResNet18.Down_1`.
    path: String,
    /// Its call site in the graph, if it is a nested use.
    call: Option<usize>,
    /// Names in scope: input, options, dimension variables, lets, params, state.
    env: HashMap<String, Value>,
    /// Next index per op name, for paths like `conv2d_3`.
    counters: HashMap<String, usize>,
    /// The value a statement that does not start with a bound value continues from.
    current: Option<(Value, Span)>,
    /// For a cell: its state names, and the node of each `next`.
    state: Vec<(String, Shape, Span)>,
    nexts: HashMap<String, NodeId>,
}

impl Frame {
    fn next_path(&mut self, op: &str) -> String {
        let counter = self.counters.entry(op.to_string()).or_insert(0);
        let path = format!("{}.{op}_{counter}", self.path);
        *counter += 1;
        path
    }
}

/// Checks bodies against the program's definitions.
pub struct BodyChecker<'a> {
    /// Models and cells by name.
    pub definitions: HashMap<String, Definition<'a>>,
    /// The source, for node labels.
    pub source: &'a str,
    /// Diagnostics found so far.
    pub diagnostics: Vec<Diagnostic>,
    /// Definitions being instantiated, outermost first (to catch recursion).
    stack: Vec<String>,
    /// Each definition checked on its own, and whether that found errors.
    standalone: HashMap<String, (Graph, bool)>,
}

impl<'a> BodyChecker<'a> {
    /// A checker over the given definitions.
    pub fn new(definitions: HashMap<String, Definition<'a>>, source: &'a str) -> BodyChecker<'a> {
        BodyChecker {
            definitions,
            source,
            diagnostics: Vec::new(),
            stack: Vec::new(),
            standalone: HashMap::new(),
        }
    }

    fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    /// Checks `definition` on its own (once; later calls reuse the result) and
    /// says whether that found errors, in its body or in a sub-model whose
    /// poisoned result reaches its output. A use of a definition with errors
    /// is poisoned rather than checked again, and a model with errors is not
    /// trained, so each mistake is reported once.
    pub fn check_definition(&mut self, definition: Definition<'a>) -> bool {
        let name = definition.name().name.clone();
        if let Some((_, failed)) = self.standalone.get(&name) {
            return *failed;
        }
        let before = self.error_count();
        let (graph, poisoned) = self.check_standalone(definition);
        let failed = poisoned || self.error_count() > before;
        self.standalone.insert(name, (graph, failed));
        failed
    }

    /// The graph of a definition checked on its own, once [`Self::check_definition`] ran.
    pub fn take_standalone(&mut self, name: &str) -> Option<Graph> {
        self.standalone.get_mut(name).map(|(g, _)| {
            std::mem::replace(
                g,
                Graph {
                    nodes: Vec::new(),
                    calls: Vec::new(),
                    output: 0,
                },
            )
        })
    }

    /// Checks `definition` on its own: dimension variables in its input stay
    /// symbolic, options without a default become symbolic too. Every use
    /// gives such an option a value, so what needs it known (a kernel, a
    /// `repeat` count, a division) is checked at the uses, not here.
    fn check_standalone(&mut self, definition: Definition<'a>) -> (Graph, bool) {
        let mut env = HashMap::new();
        for option in definition.options() {
            let value = match &option.default {
                Some(_) => self.option_default(option, &env),
                None => match option.ty {
                    OptionType::Int => Value::Int(Dim::option(&option.name.name)),
                    OptionType::Float => Value::Float(None),
                },
            };
            env.insert(option.name.name.clone(), value);
        }
        let input_decl = definition.input();
        for dim in &input_decl.shape.dims {
            if let ExprKind::Name(name) = &dim.kind
                && !env.contains_key(name)
                && is_dimension_variable(name)
            {
                env.insert(name.clone(), Value::Int(Dim::var(name)));
            }
        }
        let dims = self.eval_shape(&input_decl.shape, &env);
        self.instantiate_with_env(definition, Shape::batched(dims), env)
    }

    /// Checks `definition` for an input of shape `input` (with batch), binding
    /// its dimension variables; options take their defaults. `site` is where the
    /// input shape comes from (a `train` block). `None` when the output is
    /// poisoned by an error (reported already).
    pub fn check_for_input(
        &mut self,
        definition: Definition<'a>,
        input: &Shape,
        site: Span,
    ) -> Option<Graph> {
        let mut env = HashMap::new();
        for option in definition.options() {
            let value = match &option.default {
                Some(_) => self.option_default(option, &env),
                None => {
                    self.diagnostics.push(error::train_needs_option(
                        definition.name(),
                        &option.name,
                        site,
                    ));
                    return None;
                }
            };
            env.insert(option.name.name.clone(), value);
        }
        if let Err(d) = self.unify_input(definition, input, &mut env, site, site) {
            self.diagnostics.push(d);
            return None;
        }
        let (graph, poisoned) = self.instantiate_with_env(definition, input.clone(), env);
        (!poisoned).then_some(graph)
    }

    fn option_default(&mut self, option: &ast::OptionDecl, env: &HashMap<String, Value>) -> Value {
        let expr = option
            .default
            .as_ref()
            .expect("caller checked the default exists");
        let value = self.eval_constant(expr, env);
        self.check_option_type(&option.name, option.ty, &value, expr.span)
    }

    fn check_option_type(
        &mut self,
        name: &Ident,
        ty: OptionType,
        value: &Value,
        span: Span,
    ) -> Value {
        match (ty, value) {
            (_, Value::Error) => Value::Error,
            (OptionType::Int, Value::Int(_)) => value.clone(),
            (OptionType::Float, Value::Int(d)) => Value::Float(d.as_known().map(|v| v as f64)),
            (OptionType::Float, Value::Float(_)) => value.clone(),
            _ => {
                let kind = if ty == OptionType::Int {
                    ArgKind::Int
                } else {
                    ArgKind::Float
                };
                self.diagnostics
                    .push(error::option_type(name, kind, value, span));
                Value::Error
            }
        }
    }

    /// The graph of `definition` for `input`, and whether its output is
    /// poisoned by an error.
    fn instantiate_with_env(
        &mut self,
        definition: Definition<'a>,
        input: Shape,
        env: HashMap<String, Value>,
    ) -> (Graph, bool) {
        let name = definition.name().name.clone();
        let mut builder = GraphBuilder::default();
        let mut frame = Frame {
            path: name.clone(),
            call: None,
            env,
            counters: HashMap::new(),
            current: None,
            state: Vec::new(),
            nexts: HashMap::new(),
        };
        self.stack.push(name);
        let output = match definition {
            Definition::Model(model) => {
                let input_value = self.add_input(&mut builder, &mut frame, &model.input, input);
                self.run_body(
                    &mut builder,
                    &mut frame,
                    &model.body,
                    input_value,
                    model.input.name.span,
                )
            }
            // Standalone, a cell is checked for one step: `input` is the step's shape.
            Definition::Cell(cell) => self.run_cell_body(&mut builder, &mut frame, cell, input),
        };
        self.stack.pop();
        let poisoned = matches!(output, Value::Error);
        (finish_graph(builder, &output), poisoned)
    }

    fn add_input(
        &mut self,
        builder: &mut GraphBuilder,
        frame: &mut Frame,
        decl: &ast::InputDecl,
        shape: Shape,
    ) -> Value {
        let node = push_node(
            builder,
            frame,
            Op::Input,
            vec![],
            shape.clone(),
            decl.name.span,
            format!("{}.{}", frame.path, decl.name.name),
            "input".to_string(),
            vec![],
        );
        let value = Value::Tensor { node, shape };
        frame.env.insert(decl.name.name.clone(), value.clone());
        value
    }

    fn run_body(
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
                self.diagnostics.push(error::after_return(stmt.span));
                return;
            }
            // `dense(16)(x)` parses as two statements with nothing between them:
            // the Keras habit of calling a layer object.
            if let Some(prev) = previous
                && prev.end == stmt.span.start
                && self.source[stmt.span.range()].starts_with('(')
            {
                self.diagnostics.push(error::called_result(prev, stmt.span));
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
                    self.diagnostics.push(error::next_not_state(
                        name,
                        &states,
                        !frame.state.is_empty(),
                    ));
                    return;
                };
                if let Value::Tensor { node, shape } = &v {
                    if !shape.agrees_with(&state_shape) {
                        self.diagnostics.push(error::next_shape(
                            name,
                            shape,
                            &state_shape,
                            value.span,
                            decl_span,
                        ));
                    }
                    frame.nexts.insert(name.name.clone(), *node);
                } else if !matches!(v, Value::Error) {
                    self.diagnostics
                        .push(error::expected_tensor(&v, value.span));
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
                        self.diagnostics
                            .push(error::repeat_count(other, count.span));
                        1
                    }
                };
                for _ in 0..times {
                    if builder.nodes.len() > MAX_NODES {
                        self.diagnostics
                            .push(error::model_too_large(MAX_NODES, stmt.span));
                        return;
                    }
                    self.run_statements(builder, frame, &body.stmts, output);
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

    fn run_cell_body(
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
                self.diagnostics
                    .push(error::state_never_updated(&decl.name, cell.body.span));
            }
        }
        output
            .or_else(|| frame.current.clone().map(|(v, _)| v))
            .unwrap_or(Value::Error)
    }

    /// The value of a pipeline; the first stage may continue from the current value.
    fn eval_pipeline(
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

    fn is_callable(&self, name: &str) -> bool {
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
                self.diagnostics.push(error::not_a_layer(stage.span, None));
                return Value::Error;
            }
        };
        if !self.is_callable(&callee.name) {
            if frame.env.contains_key(&callee.name) {
                self.diagnostics
                    .push(error::not_a_layer(stage.span, Some(&callee.name)));
            } else {
                let candidates = self.callable_names();
                self.diagnostics
                    .push(error::unknown_layer(&callee, &candidates));
            }
            return Value::Error;
        }
        let input = match input {
            Value::Tensor { .. } => input,
            Value::Error => return Value::Error,
            other => {
                self.diagnostics
                    .push(error::expected_tensor(&other, input_span));
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

    fn callable_names(&self) -> Vec<String> {
        Builtin::ALL
            .iter()
            .map(|b| b.name().to_string())
            .chain(self.definitions.keys().cloned())
            .collect()
    }

    fn eval_args(
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
    fn call_builtin(
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
            self.diagnostics.push(error::missing_argument(
                callee,
                "input",
                &builtin.signature(),
            ));
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
                self.diagnostics
                    .push(error::expected_tensor(&other, first.span));
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
                    self.diagnostics
                        .push(error::expected_tensor(other, arg.span));
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

    /// Applies a user model or cell to `input`.
    #[allow(clippy::too_many_arguments)]
    fn apply_definition(
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
            self.diagnostics.push(error::recursive_model(
                callee,
                &chain,
                definition.name().span,
            ));
            return Value::Error;
        }
        if self.check_definition(definition) {
            return Value::Error;
        }
        if builder.nodes.len() > MAX_NODES {
            self.diagnostics
                .push(error::model_too_large(MAX_NODES, span));
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
            let mut inner = Frame {
                path,
                call: Some(call),
                env,
                counters: HashMap::new(),
                current: None,
                state: Vec::new(),
                nexts: HashMap::new(),
            };
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
        let mut inner = Frame {
            path: path.clone(),
            call: None,
            env,
            counters: HashMap::new(),
            current: None,
            state: Vec::new(),
            nexts: HashMap::new(),
        };
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
    fn unify_input(
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
            error::input_mismatch(
                definition.name(),
                &expected,
                actual,
                is_cell,
                use_span,
                input_span,
                decl.span,
            )
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

    fn eval_shape(&mut self, shape: &ShapeExpr, env: &HashMap<String, Value>) -> Vec<Dim> {
        let mut diagnostics = Vec::new();
        let dims = shape
            .dims
            .iter()
            .map(|e| {
                let dim = eval_dim(e, env, &mut diagnostics);
                match dim.as_known() {
                    Some(value) if value < 1 => {
                        let d = error::dimension_below_one(&self.text(e.span), value, e.span);
                        // One report per expression, however many shapes use it.
                        if !self
                            .diagnostics
                            .iter()
                            .any(|seen| seen.message == d.message)
                        {
                            diagnostics.push(d);
                        }
                        Dim::error()
                    }
                    _ => dim,
                }
            })
            .collect();
        self.diagnostics.extend(diagnostics);
        dims
    }

    /// Evaluates an expression that must not involve tensors (defaults, counts).
    pub fn eval_constant(&mut self, expr: &Expr, env: &HashMap<String, Value>) -> Value {
        let mut builder = GraphBuilder::default();
        let mut frame = Frame {
            path: String::new(),
            call: None,
            env: env
                .iter()
                .filter(|(_, v)| !matches!(v, Value::Tensor { .. }))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            counters: HashMap::new(),
            current: None,
            state: Vec::new(),
            nexts: HashMap::new(),
        };
        self.eval_expr(&mut builder, &mut frame, expr)
    }

    fn eval_init(&mut self, expr: &Expr) -> Init {
        match parse_init(expr) {
            Ok(init) => init,
            Err(d) => {
                self.diagnostics.push(d);
                Init::Zeros
            }
        }
    }

    /// Like [`Self::eval_init`], for an initialiser already reported on.
    fn eval_init_quiet(&mut self, expr: &Expr) -> Init {
        parse_init(expr).unwrap_or(Init::Zeros)
    }

    fn eval_expr(&mut self, builder: &mut GraphBuilder, frame: &mut Frame, expr: &Expr) -> Value {
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
                    self.diagnostics
                        .push(error::layer_as_value(name, expr.span));
                } else {
                    let mut candidates: Vec<String> = frame.env.keys().cloned().collect();
                    candidates.extend(self.callable_names());
                    let close =
                        error::suggest(name, candidates.iter().map(String::as_str)).is_some();
                    if is_dimension_variable(name) && !close {
                        self.diagnostics
                            .push(error::unbound_dimension(name, expr.span));
                    } else {
                        self.diagnostics
                            .push(error::unknown_name(name, expr.span, &candidates));
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
                    self.diagnostics
                        .push(error::bad_operand("-", &other, inner.span));
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
                    self.diagnostics
                        .push(error::layer_needs_pipe(&call.callee.name, expr.span));
                    Value::Error
                }
                None if self.definitions.contains_key(&call.callee.name) => {
                    self.diagnostics
                        .push(error::layer_needs_pipe(&call.callee.name, expr.span));
                    Value::Error
                }
                None => {
                    let candidates = self.callable_names();
                    self.diagnostics
                        .push(error::unknown_layer(&call.callee, &candidates));
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
                        self.diagnostics.push(error::division_by_zero(b.1));
                        Value::Error
                    }
                    (Some(p), Some(q)) if p % q == 0 => Value::Int(Dim::known(p / q)),
                    (Some(p), Some(q)) => Value::Float(Some(p as f64 / q as f64)),
                    // Options without a default: known, and checked, at each use.
                    _ if x.is_error() || y.is_error() || awaits_options(x, y) => {
                        Value::Int(Dim::error())
                    }
                    _ => {
                        self.diagnostics.push(error::symbolic_division(span));
                        Value::Error
                    }
                },
                BinOp::MatMul => {
                    self.diagnostics.push(error::bad_operand("@", &a.0, a.1));
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
                    self.diagnostics
                        .push(error::bad_operand(op.symbol(), x, a.1));
                    return Value::Error;
                }
                if !numeric(y) {
                    self.diagnostics
                        .push(error::bad_operand(op.symbol(), y, b.1));
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
                        self.diagnostics.push(error::bad_operand("@", x, a.1));
                        return Value::Error;
                    }
                }))
            }
            (x, _) => {
                self.diagnostics
                    .push(error::bad_operand(op.symbol(), x, a.1));
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
        let mut operand = |checker: &mut Self,
                           value: &Value,
                           value_span: Span|
         -> Option<(NodeId, Shape)> {
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
                    checker
                        .diagnostics
                        .push(error::bad_operand(op.symbol(), other, value_span));
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
                let d = if op == BinOp::MatMul {
                    error::matmul_mismatch(&sa, a.1, &sb, b.1, span)
                } else {
                    let residual = (op == BinOp::Add)
                        .then(|| self.residual(&builder.nodes, (na, &sa, a.1), (nb, &sb, b.1)))
                        .flatten();
                    error::broadcast_mismatch(
                        op.symbol(),
                        &sa,
                        a.1,
                        &sb,
                        b.1,
                        span,
                        residual.as_ref(),
                    )
                };
                self.diagnostics.push(d);
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

    fn text(&self, span: Span) -> String {
        let raw = self.source.get(span.range()).unwrap_or("");
        let collapsed: Vec<&str> = raw.split_whitespace().collect();
        collapsed.join(" ")
    }
}

/// Whether the shape of a sequence gives a step shape: `[T, ...]` to `[...]`.
fn step_shape(sequence: &Shape, span: Span) -> Result<Shape, Diagnostic> {
    match sequence.dims.split_first() {
        Some((_, rest)) => Ok(Shape {
            batched: sequence.batched,
            dims: rest.to_vec(),
        }),
        None => Err(error::cell_needs_sequence(sequence, span)),
    }
}

fn shape_span_text(stmt: Span, name: Span) -> Span {
    Span {
        start: name.start,
        end: stmt.end,
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

#[allow(clippy::too_many_arguments)]
fn push_node(
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
fn follows_dense_on_many_axes(nodes: &[Node], node: NodeId) -> bool {
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

fn finish_graph(builder: GraphBuilder, output: &Value) -> Graph {
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
fn is_ancestor(nodes: &[Node], ancestor: NodeId, node: NodeId) -> bool {
    ancestor < node && branch_nodes(nodes, ancestor, node).next().is_some()
}

/// The nodes computed from `from` that `to` depends on (`to` included, `from`
/// not): the branch between them.
fn branch_nodes(nodes: &[Node], from: NodeId, to: NodeId) -> impl Iterator<Item = &Node> {
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

/// The stride of a 1x1 convolution (no padding) that takes size `input` to
/// `output`, `floor((input - 1)/stride) + 1`, if a small one does.
fn projection_stride(input: &Dim, output: &Dim) -> Option<i64> {
    let limit = input.as_known().map_or(16, |i| i.clamp(1, 4096));
    (1..=limit).find(|&s| input.sub(&Dim::known(1)).floor_div(s).add(&Dim::known(1)) == *output)
}

/// Whether `stmts` (or a `repeat` among them) give state `name` its next value.
fn has_next(stmts: &[Stmt], name: &str) -> bool {
    stmts.iter().any(|stmt| match &stmt.kind {
        StmtKind::Next { name: n, .. } => n.name == name,
        StmtKind::Repeat { body, .. } => has_next(&body.stmts, name),
        _ => false,
    })
}

/// Whether a division of `a` by `b` is unknown only because of options
/// without a default (a model checked on its own): each use gives them
/// values, and the division is checked there.
fn awaits_options(a: &Dim, b: &Dim) -> bool {
    let waits = |d: &Dim| d.depends_only_on_options() || d.as_known().is_some();
    waits(a)
        && waits(b)
        && b.as_known() != Some(0)
        && (a.depends_only_on_options() || b.depends_only_on_options())
}

/// Capitalised names in shapes are dimension variables.
pub fn is_dimension_variable(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
}

/// Evaluates a dimension expression. Problems are pushed to `diagnostics` and
/// give a poisoned dim.
pub fn eval_dim(
    expr: &Expr,
    env: &HashMap<String, Value>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Dim {
    match &expr.kind {
        ExprKind::Number {
            value,
            integer: true,
        } => Dim::known(*value as i64),
        ExprKind::Name(name) => match env.get(name) {
            Some(Value::Int(d)) => d.clone(),
            Some(Value::Error) => Dim::error(),
            Some(other) => {
                diagnostics.push(error::dimension_not_int(other, expr.span));
                Dim::error()
            }
            None if is_dimension_variable(name) => {
                diagnostics.push(error::unbound_dimension(name, expr.span));
                Dim::error()
            }
            None => {
                let candidates: Vec<String> = env
                    .iter()
                    .filter(|(_, v)| matches!(v, Value::Int(_)))
                    .map(|(k, _)| k.clone())
                    .collect();
                diagnostics.push(error::unknown_name(name, expr.span, &candidates));
                Dim::error()
            }
        },
        ExprKind::Binary { op, lhs, rhs } => {
            let a = eval_dim(lhs, env, diagnostics);
            let b = eval_dim(rhs, env, diagnostics);
            match op {
                BinOp::Add => a.add(&b),
                BinOp::Sub => a.sub(&b),
                BinOp::Mul => a.mul(&b),
                BinOp::Div => match (a.as_known(), b.as_known()) {
                    (Some(p), Some(q)) if q != 0 && p % q == 0 => Dim::known(p / q),
                    _ if a.is_error() || b.is_error() || awaits_options(&a, &b) => Dim::error(),
                    _ => {
                        diagnostics.push(error::symbolic_division(expr.span));
                        Dim::error()
                    }
                },
                BinOp::MatMul => {
                    diagnostics.push(error::dimension_syntax(expr.span));
                    Dim::error()
                }
            }
        }
        ExprKind::Neg(inner) => Dim::known(0).sub(&eval_dim(inner, env, diagnostics)),
        _ => {
            diagnostics.push(error::dimension_syntax(expr.span));
            Dim::error()
        }
    }
}

/// `zeros`, `ones`, `normal(mean, std)`, `uniform(lo, hi)`, `xavier`, `kaiming`.
pub fn parse_init(expr: &Expr) -> Result<Init, Diagnostic> {
    const NAMES: [&str; 6] = ["zeros", "ones", "normal", "uniform", "xavier", "kaiming"];
    let number = |e: &Expr| -> Option<f64> {
        match &e.kind {
            ExprKind::Number { value, .. } => Some(*value),
            ExprKind::Neg(inner) => match &inner.kind {
                ExprKind::Number { value, .. } => Some(-value),
                _ => None,
            },
            _ => None,
        }
    };
    match &expr.kind {
        ExprKind::Name(name) => match name.as_str() {
            "zeros" => Ok(Init::Zeros),
            "ones" => Ok(Init::Ones),
            "xavier" => Ok(Init::Xavier),
            "kaiming" => Ok(Init::Kaiming),
            "normal" | "uniform" => Err(error::init_needs_args(name, expr.span)),
            _ => Err(error::unknown_init(name, expr.span, &NAMES)),
        },
        ExprKind::Call(call) if matches!(call.callee.name.as_str(), "normal" | "uniform") => {
            let args = call.args.as_deref().unwrap_or(&[]);
            let values: Vec<Option<f64>> = args.iter().map(|a| number(&a.value)).collect();
            match values.as_slice() {
                [Some(a), Some(b)] if args.iter().all(|a| a.name.is_none()) => {
                    Ok(if call.callee.name == "normal" {
                        Init::Normal(*a, *b)
                    } else {
                        Init::Uniform(*a, *b)
                    })
                }
                _ => Err(error::init_needs_args(&call.callee.name, expr.span)),
            }
        }
        ExprKind::Call(call) => Err(error::unknown_init(
            &call.callee.name,
            call.callee.span,
            &NAMES,
        )),
        _ => Err(error::unknown_init("", expr.span, &NAMES)),
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
