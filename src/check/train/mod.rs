//! Checking `train` blocks: settings, and the model against its data.

mod conditions;
mod fit;
mod settings;

pub use conditions::{MAX_LEAST_SQUARES_PARAMS, grid_points, grid_values};
pub use settings::{loss_name, metric_label};

use super::error::{self, TrainProblem};
use super::linear;
use super::model::{BodyChecker, Definition};
use crate::diagnostic::{Code, Diagnostic};
use crate::ir::{Batch, DataSet, Loss, Metric, Optimizer, Task, TrainRun};
use crate::syntax::ast::{Expr, ExprKind, Setting, TrainDef};
use conditions::check_fit_method;
use fit::check_output;
use settings::{
    LOSSES, METRICS, SETTINGS, check_optimizer, describe, float_value, int_value, name_of,
    unknown_choice,
};
use std::collections::HashMap;

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
                TrainProblem::CellTrained {
                    model: def.model.clone(),
                }
                .into(),
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
            checker.diagnostics.push(
                TrainProblem::UnknownModel {
                    model: def.model.clone(),
                    candidates: names,
                }
                .into(),
            );
            None
        }
    };
    let dataset = match data.get(&def.data.name) {
        Some(d) => d.clone(),
        None => {
            checker.diagnostics.push(
                TrainProblem::UnknownData {
                    data: def.data.clone(),
                    candidates: data_names.to_vec(),
                }
                .into(),
            );
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
        save_span: header,
        save_every: None,
        graph: None,
    };
    let mut metric_spans = Vec::new();
    for setting in &def.settings {
        let name = setting.name.name.as_str();
        if !SETTINGS.contains(&name) || name == "l2" {
            checker.diagnostics.push(
                TrainProblem::UnknownSetting {
                    name: setting.name.clone(),
                    settings: SETTINGS
                        .iter()
                        .filter(|s| **s != "l2")
                        .map(|s| s.to_string())
                        .collect(),
                }
                .into(),
            );
            ok = false;
            continue;
        }
        if let Some(first) = seen.insert(name, setting) {
            checker.diagnostics.push(
                TrainProblem::DuplicateSetting {
                    name: name.to_string(),
                    span: setting.span,
                    first: first.span,
                }
                .into(),
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
            "save_every" => match int_value(value) {
                Some(k) if k >= 1 => run.save_every = Some(k),
                _ => {
                    checker.diagnostics.push(error::invalid_value(
                        "train",
                        "save_every",
                        &describe(value),
                        "a positive number of epochs",
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
                ExprKind::Str(s) if !s.is_empty() => {
                    run.save = Some(s.clone());
                    run.save_span = value.span;
                }
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
            checker.diagnostics.push(
                TrainProblem::MissingSetting {
                    required: required.to_string(),
                    span: header,
                }
                .into(),
            );
            ok = false;
        }
    }
    if let (Some(every), None) = (seen.get("save_every"), seen.get("save")) {
        checker.diagnostics.push(
            Diagnostic::error(
                Code::E0202,
                "`save_every` needs a `save` path to write to",
                every.value.span,
                "saves every so many epochs",
            )
            .with_help("add `save = \"runs/model.safetensors\"` to the block"),
        );
        ok = false;
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
                let setting = seen.get("loss").map(|s| s.value.span).unwrap_or(header);
                checker.diagnostics.push(
                    TrainProblem::LossDoesNotFit {
                        loss: loss_name(loss).to_string(),
                        span: setting,
                        data: data.name.clone(),
                        data_span: data.span,
                        classification,
                    }
                    .into(),
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
                checker.diagnostics.push(
                    TrainProblem::MetricDoesNotFit {
                        metric: metric_label(*metric).to_string(),
                        span: *span,
                        data: data.name.clone(),
                        data_span: data.span,
                        classification,
                    }
                    .into(),
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
