//! Checking model and cell bodies: statements, pipelines, expressions, and
//! uses of built-ins, models and cells, building the graph as it goes.

mod body;
mod constant;
mod expr;
mod graph;
mod pipeline;
mod uses;

use super::error::CheckError;
use crate::diagnostic::Diagnostic;
use crate::ir::dim::Dim;
use crate::ir::shape::Shape;
use crate::ir::{CallSite, Graph, Node, NodeId, Op};
use crate::nn::{ArgKind, Value};
use crate::span::Span;
use crate::syntax::ast::{self, CellDef, ExprKind, Ident, ModelDef, OptionType};
use graph::{finish_graph, push_node};
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
    /// `repeat` rounds run so far, counted against the same limit as the
    /// nodes: rounds that add nothing (`repeat 3 { repeat 3 { ... } }`
    /// around an empty body) build no node but still take time.
    rounds: usize,
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
    /// A fresh frame for nodes under `path`, with `env` in scope; `call` is
    /// its call site when it is a nested use.
    fn new(path: String, call: Option<usize>, env: HashMap<String, Value>) -> Frame {
        Frame {
            path,
            call,
            env,
            counters: HashMap::new(),
            current: None,
            state: Vec::new(),
            nexts: HashMap::new(),
        }
    }

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
                    self.diagnostics.push(
                        CheckError::TrainNeedsOption {
                            model: definition.name().clone(),
                            option: option.name.clone(),
                            site,
                        }
                        .into(),
                    );
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
                self.diagnostics.push(
                    CheckError::OptionType {
                        name: name.clone(),
                        kind,
                        value: value.clone(),
                        span,
                    }
                    .into(),
                );
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
        let mut frame = Frame::new(name.clone(), None, env);
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

    fn text(&self, span: Span) -> String {
        let raw = self.source.get(span.range()).unwrap_or("");
        let collapsed: Vec<&str> = raw.split_whitespace().collect();
        collapsed.join(" ")
    }
}

/// Capitalised names in shapes are dimension variables.
pub fn is_dimension_variable(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
}
