//! Checking `train` blocks: settings, and the model against its data.

use super::args::{self, EvalArg, Param};
use super::error;
use super::model::{BodyChecker, Definition};
use crate::diagnostic::{Code, Diagnostic};
use crate::ir::dim::Dim;
use crate::ir::{Activation, Batch, DataSet, Layer, Loss, Metric, Op, Optimizer, Task, TrainRun};
use crate::nn::signature::{ArgKind, Default, Param as ParamDef, opt, req};
use crate::nn::{Args as Bound, Value};
use crate::syntax::ast::{Expr, ExprKind, Ident, Setting, TrainDef};
use std::collections::HashMap;

const SETTINGS: [&str; 9] = [
    "loss",
    "optimizer",
    "epochs",
    "batch",
    "seed",
    "clip",
    "metrics",
    "save",
    "l2",
];
const LOSSES: [(&str, Loss); 5] = [
    ("mse", Loss::Mse),
    ("half_mse", Loss::HalfMse),
    ("mae", Loss::Mae),
    ("bce", Loss::Bce),
    ("cross_entropy", Loss::CrossEntropy),
];
const METRICS: [(&str, Metric); 8] = [
    ("accuracy", Metric::Accuracy),
    ("precision", Metric::Precision),
    ("recall", Metric::Recall),
    ("f1", Metric::F1),
    ("mae", Metric::Mae),
    ("mse", Metric::Mse),
    ("rmse", Metric::Rmse),
    ("mape", Metric::Mape),
];
const SGD: [ParamDef; 2] = [
    req("lr", ArgKind::Float),
    opt("momentum", ArgKind::Float, Default::Absent),
];
const ADAM: [ParamDef; 2] = [
    opt("lr", ArgKind::Float, Default::Absent),
    opt("betas", ArgKind::FloatList, Default::Absent),
];
const RMSPROP: [ParamDef; 2] = [
    opt("lr", ArgKind::Float, Default::Absent),
    opt("alpha", ArgKind::Float, Default::Absent),
];
const LEAST_SQUARES: [ParamDef; 1] = [opt("l2", ArgKind::Float, Default::Absent)];
const EXHAUSTIVE: [ParamDef; 3] = [
    req("from", ArgKind::Float),
    req("to", ArgKind::Float),
    req("step", ArgKind::Float),
];
const OPTIMIZERS: [(&str, &[ParamDef], &str); 5] = [
    ("sgd", &SGD, "sgd(lr, momentum = 0)"),
    ("adam", &ADAM, "adam(lr = 0.001, betas = [0.9, 0.999])"),
    ("rmsprop", &RMSPROP, "rmsprop(lr = 0.01, alpha = 0.99)"),
    ("least_squares", &LEAST_SQUARES, "least_squares(l2 = 0)"),
    ("exhaustive", &EXHAUSTIVE, "exhaustive(from, to, step)"),
];

/// Checks one `train` block against the program's models and data.
pub fn check_train(
    checker: &mut BodyChecker,
    def: &TrainDef,
    data: &HashMap<String, Option<DataSet>>,
    data_names: &[String],
    standalone: &HashMap<String, crate::ir::Graph>,
) -> Option<TrainRun> {
    let mut ok = true;
    // Problems with the block as a whole point at its first line.
    let header = crate::span::Span {
        start: def.span.start,
        end: def.data.span.end,
    };
    let model = match checker.definitions.get(&def.model.name).copied() {
        Some(Definition::Model(m)) => Some(Definition::Model(m)),
        Some(Definition::Cell(_)) => {
            checker.diagnostics.push(
                Diagnostic::error(
                    Code::E0106,
                    format!(
                        "`{}` is a cell; only a model can be trained",
                        def.model.name
                    ),
                    def.model.span,
                    "a cell",
                )
                .with_help(format!(
                    "wrap it in a model: `model M(x: [T, I]) {{ {}(..) last dense(1) }}`",
                    def.model.name
                )),
            );
            None
        }
        None => {
            let names: Vec<String> = checker
                .definitions
                .iter()
                .filter(|(_, d)| matches!(d, Definition::Model(_)))
                .map(|(n, _)| n.clone())
                .collect();
            let d = Diagnostic::error(
                Code::E0106,
                format!("unknown model `{}`", def.model.name),
                def.model.span,
                "no model of this name",
            );
            checker.diagnostics.push(
                match error::suggest(&def.model.name, names.iter().map(String::as_str)) {
                    Some(best) => d.with_help(format!("did you mean `{best}`?")),
                    None => d,
                },
            );
            None
        }
    };
    let dataset = match data.get(&def.data.name) {
        Some(d) => d.clone(),
        None => {
            let d = Diagnostic::error(
                Code::E0105,
                format!("unknown data set `{}`", def.data.name),
                def.data.span,
                "no data of this name",
            );
            checker.diagnostics.push(
                match error::suggest(&def.data.name, data_names.iter().map(String::as_str)) {
                    Some(best) => d.with_help(format!("did you mean `{best}`?")),
                    None => {
                        d.with_help("declare it with `data NAME = csv(...)`, `mnist(...)`, ...")
                    }
                },
            );
            ok = false;
            None
        }
    };

    let mut seen: HashMap<&str, &Setting> = HashMap::new();
    let mut loss = None;
    let mut optimizer = None;
    let mut run = TrainRun {
        model: def.model.name.clone(),
        data: def.data.name.clone(),
        span: def.span,
        optimizer_span: header,
        loss: Loss::Mse,
        optimizer: Optimizer::Sgd {
            lr: 0.01,
            momentum: 0.0,
        },
        epochs: 1,
        batch: Batch::Size(32),
        seed: 0,
        clip: None,
        metrics: Vec::new(),
        save: None,
        graph: None,
    };
    let mut metric_spans = Vec::new();
    for setting in &def.settings {
        let name = setting.name.name.as_str();
        if !SETTINGS.contains(&name) || name == "l2" {
            let d = Diagnostic::error(
                Code::E0401,
                format!("unknown setting `{name}`"),
                setting.name.span,
                "not a train setting",
            );
            let list = SETTINGS[..8].join(", ");
            checker
                .diagnostics
                .push(match error::suggest(name, SETTINGS[..8].iter().copied()) {
                    Some(best) => d.with_help(format!("did you mean `{best}`? settings: {list}")),
                    None => d.with_help(format!("settings: {list}")),
                });
            ok = false;
            continue;
        }
        if let Some(first) = seen.insert(name, setting) {
            checker.diagnostics.push(
                Diagnostic::error(
                    Code::E0402,
                    format!("setting `{name}` is given twice"),
                    setting.span,
                    "given again here",
                )
                .with_label(first.span, "first given here"),
            );
            ok = false;
            continue;
        }
        let value = &setting.value;
        match name {
            "loss" => match name_of(value).and_then(|n| LOSSES.iter().find(|(l, _)| *l == n)) {
                Some((_, l)) => loss = Some(*l),
                None => {
                    checker.diagnostics.push(unknown_choice(
                        "loss",
                        value,
                        &LOSSES.map(|(n, _)| n),
                    ));
                    ok = false;
                }
            },
            "optimizer" => match check_optimizer(checker, value) {
                Some(o) => optimizer = Some(o),
                None => ok = false,
            },
            "epochs" | "seed" => match int_value(value) {
                Some(v) if v >= i64::from(name == "epochs") => {
                    if name == "epochs" {
                        run.epochs = v
                    } else {
                        run.seed = v as u64
                    }
                }
                _ => {
                    let expected = if name == "epochs" {
                        "a positive integer"
                    } else {
                        "a non-negative integer"
                    };
                    checker.diagnostics.push(error::invalid_value(
                        "train",
                        name,
                        &describe(value),
                        expected,
                        value.span,
                    ));
                    ok = false;
                }
            },
            "batch" => match (name_of(value), int_value(value)) {
                (Some("full"), _) => run.batch = Batch::Full,
                (_, Some(v)) if v >= 1 => run.batch = Batch::Size(v),
                _ => {
                    checker.diagnostics.push(error::invalid_value(
                        "train",
                        "batch",
                        &describe(value),
                        "a positive integer or `full`",
                        value.span,
                    ));
                    ok = false;
                }
            },
            "clip" => match float_value(value) {
                Some(v) if v > 0.0 => run.clip = Some(v),
                _ => {
                    checker.diagnostics.push(error::invalid_value(
                        "train",
                        "clip",
                        &describe(value),
                        "a positive number (the largest gradient norm)",
                        value.span,
                    ));
                    ok = false;
                }
            },
            "save" => match &value.kind {
                ExprKind::Str(s) if !s.is_empty() => run.save = Some(s.clone()),
                _ => {
                    checker.diagnostics.push(error::invalid_value(
                        "train",
                        "save",
                        &describe(value),
                        "a file path string such as \"runs/model.safetensors\"",
                        value.span,
                    ));
                    ok = false;
                }
            },
            _ => {
                let items: Vec<&Expr> = match &value.kind {
                    ExprKind::List(items) => items.iter().collect(),
                    _ => vec![value],
                };
                for item in items {
                    match name_of(item).and_then(|n| METRICS.iter().find(|(m, _)| *m == n)) {
                        Some((_, m)) if !run.metrics.contains(m) => {
                            run.metrics.push(*m);
                            metric_spans.push(item.span);
                        }
                        Some(_) => {}
                        None => {
                            checker.diagnostics.push(unknown_choice(
                                "metric",
                                item,
                                &METRICS.map(|(n, _)| n),
                            ));
                            ok = false;
                        }
                    }
                }
            }
        }
    }
    for (required, found) in [("loss", loss.is_some()), ("optimizer", optimizer.is_some())] {
        if !found && !seen.contains_key(required) {
            let example = if required == "loss" {
                "loss = cross_entropy"
            } else {
                "optimizer = sgd(lr = 0.01)"
            };
            checker.diagnostics.push(
                Diagnostic::error(
                    Code::E0402,
                    format!("`train` needs a `{required}`"),
                    header,
                    format!("no `{required}` setting"),
                )
                .with_help(format!("add `{example}`")),
            );
            ok = false;
        }
    }
    run.loss = loss.unwrap_or(Loss::Mse);
    if let Some(o) = optimizer {
        run.optimizer = o;
    }
    if let Some(setting) = seen.get("optimizer") {
        run.optimizer_span = setting.value.span;
    }

    if let Some(data) = &dataset {
        if let Some(loss) = loss {
            let classification = matches!(data.task, Task::Classification { .. });
            let wants_classes = matches!(loss, Loss::Bce | Loss::CrossEntropy);
            if classification != wants_classes {
                let (what, fix) = if classification {
                    (
                        "class labels",
                        "use `cross_entropy` (several classes) or `bce` (two classes)",
                    )
                } else {
                    ("real-valued targets", "use `mse`, `half_mse` or `mae`")
                };
                let setting = seen.get("loss").map(|s| s.value.span).unwrap_or(header);
                checker.diagnostics.push(
                    Diagnostic::error(
                        Code::E0405,
                        format!("loss `{}` does not fit the data", loss_name(loss)),
                        setting,
                        "this loss",
                    )
                    .with_label(data.span, format!("`{}` has {what}", data.name))
                    .with_help(fix),
                );
                ok = false;
            }
        }
        for (metric, span) in run.metrics.iter().zip(&metric_spans) {
            let for_classes = matches!(
                metric,
                Metric::Accuracy | Metric::Precision | Metric::Recall | Metric::F1
            );
            let classification = matches!(data.task, Task::Classification { .. });
            if for_classes != classification {
                let kind = if classification {
                    "classification"
                } else {
                    "regression"
                };
                let valid = if classification {
                    "accuracy, precision, recall, f1"
                } else {
                    "mae, mse, rmse, mape"
                };
                checker.diagnostics.push(
                    Diagnostic::error(
                        Code::E0405,
                        format!(
                            "metric `{}` does not fit {kind} data",
                            metric_label(*metric)
                        ),
                        *span,
                        "this metric",
                    )
                    .with_label(data.span, format!("`{}` is {kind} data", data.name))
                    .with_help(format!("metrics for {kind}: {valid}")),
                );
                ok = false;
            }
        }
    }
    if let (Some(model), Some(data)) = (model, &dataset)
        && let Some(input) = &data.input
        && !checker.check_definition(model)
    {
        let graph = checker.check_for_input(model, input, header);
        if let Some(graph) = &graph
            && let Some(loss) = loss
        {
            check_output(checker, graph, loss, data, header, &def.model);
        }
        run.graph = graph;
    }
    let model_ok = model.is_some_and(|m| !checker.check_definition(m));
    if model_ok
        && let (Some(optimizer), Some(graph)) = (
            seen.get("optimizer"),
            run.graph
                .as_ref()
                .or_else(|| standalone.get(&def.model.name)),
        )
    {
        let loss_span = seen.get("loss").map(|s| s.value.span);
        let fit = check_fit_method(&run, graph, optimizer.value.span, loss_span);
        ok &= fit.is_empty();
        checker.diagnostics.extend(fit);
    }
    (ok && model.is_some()).then_some(run)
}

/// The most learnable scalars `least_squares` fits (it runs the model once
/// per parameter to build the design matrix).
pub const MAX_LEAST_SQUARES_PARAMS: i64 = 1000;

/// The most grid points `exhaustive` evaluates.
pub const MAX_GRID_POINTS: f64 = 1e8;

/// The number of values `exhaustive(from, to, step)` tries per parameter
/// (as a float: it can exceed any integer type for absurd arguments).
pub fn grid_values(from: f64, to: f64, step: f64) -> f64 {
    // A small tolerance so that `to` itself is on the grid despite rounding.
    ((to - from) / step + 1e-9).floor() + 1.0
}

/// The number of points of the grid over `params` scalars, if it is within
/// [`MAX_GRID_POINTS`].
pub fn grid_points(values: f64, params: usize) -> Option<u64> {
    let points = values.powi(params.min(i32::MAX as usize) as i32);
    (points.is_finite() && points <= MAX_GRID_POINTS).then_some(points as u64)
}

/// Checks that the closed-form and grid-search optimizers can fit `graph`:
/// `least_squares` needs a squared-error loss and a model linear in its
/// parameters; `exhaustive` needs a grid of at most [`MAX_GRID_POINTS`].
fn check_fit_method(
    run: &TrainRun,
    graph: &crate::ir::Graph,
    optimizer_span: crate::span::Span,
    loss_span: Option<crate::span::Span>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    match run.optimizer {
        Optimizer::LeastSquares { .. } => {
            if let Some(span) = loss_span
                && !matches!(run.loss, Loss::Mse | Loss::HalfMse)
            {
                out.push(
                    Diagnostic::error(
                        Code::E0407,
                        format!(
                            "`least_squares` minimises squared error, not `{}`",
                            loss_name(run.loss)
                        ),
                        span,
                        "this loss",
                    )
                    .with_label(optimizer_span, "fitted by least squares here")
                    .with_help(
                        "use `loss = mse` or `loss = half_mse`, or a gradient optimizer such as \
                         `sgd(lr = 0.1)`",
                    ),
                );
            }
            if let Some(params) = graph.param_count().as_known()
                && params > MAX_LEAST_SQUARES_PARAMS
            {
                out.push(
                    Diagnostic::error(
                        Code::E0407,
                        format!(
                            "`least_squares` fits at most {MAX_LEAST_SQUARES_PARAMS} parameters; `{}` has {params}",
                            run.model
                        ),
                        optimizer_span,
                        "fitted by least squares here",
                    )
                    .with_note("the design matrix is built by running the model once per parameter")
                    .with_help("train this model with a gradient optimizer such as `sgd(lr = 0.1)`"),
                );
            } else if let Err(why) = super::linear::check_affine(graph) {
                let node = &graph.nodes[why.node];
                let headline = if graph.param_count().as_known() == Some(0) {
                    format!(
                        "`{}` has no parameters for `least_squares` to fit",
                        run.model
                    )
                } else {
                    format!(
                        "`least_squares` needs a model that is linear in its parameters, and `{}` is not",
                        run.model
                    )
                };
                out.push(
                    Diagnostic::error(Code::E0407, headline, node.span, why.reason)
                        .with_label(optimizer_span, "fitted by least squares here")
                        .with_note(
                            "least squares solves for θ in X θ ≈ y, so the output must be X θ \
                         (plus terms without parameters) for a matrix X computed from the input",
                        )
                        .with_help(
                            "fit a linear model (`dense(1)` or `x @ w + b`), or train this one \
                         with a gradient optimizer such as `sgd(lr = 0.1)`",
                        ),
                );
            }
        }
        Optimizer::Exhaustive { from, to, step } => {
            if let Some(params) = graph.param_count().as_known() {
                let values = grid_values(from, to, step);
                let points = values.powi(params.min(i32::MAX as i64) as i32);
                if grid_points(values, params as usize).is_none() {
                    out.push(
                        Diagnostic::error(
                            Code::E0407,
                            "the grid of `exhaustive` is too large",
                            optimizer_span,
                            format!(
                                "{} values for each of {params} parameters: \
                                 {}^{params} = {} evaluations",
                                format_points(values),
                                format_points(values),
                                format_points(points)
                            ),
                        )
                        .with_note("exhaustive search evaluates the loss at every grid point; the limit is 10^8 points")
                        .with_help(if params > 3 {
                            "grid search suits models with a handful of parameters: use \
                             `least_squares` or a gradient optimizer"
                        } else {
                            "use a larger `step` or a narrower range from `from` to `to`"
                        }),
                    );
                }
            }
        }
        _ => {}
    }
    out
}

/// `1.2e15`-style text for a large count, exact below a million.
fn format_points(points: f64) -> String {
    if !points.is_finite() {
        "more than 10^308".to_string()
    } else if points < 1e6 {
        format!("{points:.0}")
    } else {
        format!("{points:.1e}")
    }
}

fn check_output(
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

fn check_optimizer(checker: &mut BodyChecker, value: &Expr) -> Option<Optimizer> {
    let (callee, args) = match &value.kind {
        ExprKind::Name(n) => (
            Ident {
                name: n.clone(),
                span: value.span,
            },
            Vec::new(),
        ),
        ExprKind::Call(call) => (call.callee.clone(), call.args.clone().unwrap_or_default()),
        _ => {
            checker.diagnostics.push(unknown_choice(
                "optimizer",
                value,
                &OPTIMIZERS.map(|(n, _, _)| n),
            ));
            return None;
        }
    };
    let Some((name, params, signature)) = OPTIMIZERS.iter().find(|(n, _, _)| *n == callee.name)
    else {
        checker.diagnostics.push(unknown_choice(
            "optimizer",
            value,
            &OPTIMIZERS.map(|(n, _, _)| n),
        ));
        return None;
    };
    let env = HashMap::new();
    let evaluated: Vec<EvalArg> = args
        .iter()
        .map(|a| EvalArg {
            name: a.name.clone(),
            value: checker.eval_constant(&a.value, &env),
            span: a.value.span,
        })
        .collect();
    let params: Vec<Param> = params.iter().map(Param::from).collect();
    let bound = match args::bind(&callee, signature, &params, &evaluated) {
        Ok(b) => b,
        Err(errors) => {
            checker.diagnostics.extend(errors);
            return None;
        }
    };
    let f = |b: &Bound, n: &str, d: f64| b.float(n).unwrap_or(d);
    let positive = |checker: &mut BodyChecker, n: &str, v: f64| {
        if v > 0.0 {
            true
        } else {
            checker.diagnostics.push(error::invalid_value(
                name,
                n,
                &v.to_string(),
                "positive",
                bound.span(n, value.span),
            ));
            false
        }
    };
    let optimizer = match *name {
        "sgd" => Optimizer::Sgd {
            lr: f(&bound, "lr", 0.01),
            momentum: f(&bound, "momentum", 0.0),
        },
        "adam" => {
            let betas = match bound.get("betas") {
                Some((Value::List(items), span)) if items.len() == 2 => {
                    let b: Vec<f64> = items
                        .iter()
                        .map(|(v, _)| v.as_f64().unwrap_or(0.9))
                        .collect();
                    if b.iter().any(|x| !(0.0..1.0).contains(x)) {
                        checker.diagnostics.push(error::invalid_value(
                            "adam",
                            "betas",
                            "out of range",
                            "two numbers in [0, 1)",
                            *span,
                        ));
                        return None;
                    }
                    (b[0], b[1])
                }
                Some((_, span)) => {
                    checker.diagnostics.push(error::invalid_value(
                        "adam",
                        "betas",
                        "not a pair",
                        "two numbers `[b1, b2]`",
                        *span,
                    ));
                    return None;
                }
                None => (0.9, 0.999),
            };
            Optimizer::Adam {
                lr: f(&bound, "lr", 0.001),
                betas,
            }
        }
        "rmsprop" => Optimizer::RmsProp {
            lr: f(&bound, "lr", 0.01),
            alpha: f(&bound, "alpha", 0.99),
        },
        "least_squares" => {
            let l2 = f(&bound, "l2", 0.0);
            if !(l2.is_finite() && l2 >= 0.0) {
                checker.diagnostics.push(error::invalid_value(
                    name,
                    "l2",
                    &l2.to_string(),
                    "a finite number, at least 0 (the ridge penalty)",
                    bound.span("l2", value.span),
                ));
                return None;
            }
            Optimizer::LeastSquares { l2 }
        }
        _ => {
            let (from, to, step) = (
                f(&bound, "from", 0.0),
                f(&bound, "to", 0.0),
                f(&bound, "step", 1.0),
            );
            for (n, v) in [("from", from), ("to", to), ("step", step)] {
                if !v.is_finite() {
                    checker.diagnostics.push(error::invalid_value(
                        name,
                        n,
                        &v.to_string(),
                        "a finite number",
                        bound.span(n, value.span),
                    ));
                    return None;
                }
            }
            if !positive(checker, "step", step) {
                return None;
            }
            if to < from {
                checker.diagnostics.push(error::invalid_value(
                    "exhaustive",
                    "to",
                    &to.to_string(),
                    &format!("at least `from` ({from})"),
                    bound.span("to", value.span),
                ));
                return None;
            }
            Optimizer::Exhaustive { from, to, step }
        }
    };
    if let Optimizer::Sgd { lr, .. } | Optimizer::Adam { lr, .. } | Optimizer::RmsProp { lr, .. } =
        optimizer
        && !positive(checker, "lr", lr)
    {
        return None;
    }
    Some(optimizer)
}

fn name_of(expr: &Expr) -> Option<&str> {
    match &expr.kind {
        ExprKind::Name(n) => Some(n),
        _ => None,
    }
}

fn int_value(expr: &Expr) -> Option<i64> {
    match &expr.kind {
        ExprKind::Number {
            value,
            integer: true,
        } => Some(*value as i64),
        _ => None,
    }
}

fn float_value(expr: &Expr) -> Option<f64> {
    match &expr.kind {
        ExprKind::Number { value, .. } => Some(*value),
        _ => None,
    }
}

fn describe(expr: &Expr) -> String {
    match &expr.kind {
        ExprKind::Number { value, .. } => format!("{value}"),
        ExprKind::Str(s) => format!("\"{s}\""),
        ExprKind::Name(n) => format!("`{n}`"),
        _ => "this expression".to_string(),
    }
}

fn unknown_choice(kind: &str, value: &Expr, names: &[&str]) -> Diagnostic {
    let written = name_of(value).map(str::to_string).or_else(|| {
        if let ExprKind::Call(c) = &value.kind {
            Some(c.callee.name.clone())
        } else {
            None
        }
    });
    let message = match &written {
        Some(n) => format!("unknown {kind} `{n}`"),
        None => format!(
            "expected {} {kind}",
            if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            }
        ),
    };
    let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    let plural = if kind.ends_with('s') {
        format!("{kind}es")
    } else {
        format!("{kind}s")
    };
    let d = Diagnostic::error(
        Code::E0403,
        message,
        value.span,
        format!("not {article} {kind}"),
    );
    match written
        .as_deref()
        .and_then(|n| error::suggest(n, names.iter().copied()))
    {
        Some(best) => d.with_help(format!(
            "did you mean `{best}`? {plural}: {}",
            names.join(", ")
        )),
        None => d.with_help(format!("{plural}: {}", names.join(", "))),
    }
}

/// The name of a loss as written in programs.
pub fn loss_name(loss: Loss) -> &'static str {
    LOSSES
        .iter()
        .find(|(_, l)| *l == loss)
        .map(|(n, _)| *n)
        .unwrap_or("?")
}

/// The name of a metric as written in programs.
pub fn metric_label(metric: Metric) -> &'static str {
    METRICS
        .iter()
        .find(|(_, m)| *m == metric)
        .map(|(n, _)| *n)
        .unwrap_or("?")
}
