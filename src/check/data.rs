//! Checking `data` items: sources, transforms, and the shapes they imply.

use super::args::{self, EvalArg, Param};
use super::error::{self, CheckError};
use super::model::BodyChecker;
use crate::ir::dim::Dim;
use crate::ir::shape::Shape;
use crate::nn::signature::{ArgKind, Default, Param as ParamDef, opt, req};
use crate::nn::{Args as Bound, Value};

use crate::diagnostic::Diagnostic;
use crate::ir::{DataSet, Source, Task, Transform};
use crate::syntax::ast::{Call, DataDef};
use std::collections::HashMap;

const CSV: [ParamDef; 4] = [
    req("path", ArgKind::Str),
    opt("label", ArgKind::Str, Default::Absent),
    opt("target", ArgKind::Str, Default::Absent),
    opt("classes", ArgKind::Int, Default::Absent),
];
const MNIST: [ParamDef; 1] = [req("dir", ArgKind::Str)];
const SERIES: [ParamDef; 4] = [
    req("path", ArgKind::Str),
    req("column", ArgKind::Str),
    req("window", ArgKind::Int),
    opt("horizon", ArgKind::Int, Default::Absent),
];
const TEXT: [ParamDef; 2] = [req("path", ArgKind::Str), req("seq", ArgKind::Int)];
const LINEAR: [ParamDef; 4] = [
    req("n", ArgKind::Int),
    req("features", ArgKind::Int),
    opt("noise", ArgKind::Float, Default::Absent),
    opt("seed", ArgKind::Int, Default::Absent),
];
const BLOBS: [ParamDef; 4] = [
    req("n", ArgKind::Int),
    req("classes", ArgKind::Int),
    req("features", ArgKind::Int),
    opt("seed", ArgKind::Int, Default::Absent),
];
const SCALE: [ParamDef; 1] = [req("k", ArgKind::Float)];
const RESHAPE: [ParamDef; 1] = [req("shape", ArgKind::IntList)];
const SHUFFLE: [ParamDef; 1] = [opt("seed", ArgKind::Int, Default::Absent)];
const SPLIT: [ParamDef; 5] = [
    opt("train", ArgKind::Float, Default::Absent),
    opt("val", ArgKind::Float, Default::Absent),
    opt("test", ArgKind::Float, Default::Absent),
    opt("seed", ArgKind::Int, Default::Absent),
    opt("shuffle", ArgKind::Bool, Default::Bool(true)),
];

/// Data sources, with their signatures.
pub const SOURCES: [(&str, &[ParamDef]); 6] = [
    ("csv", &CSV),
    ("mnist", &MNIST),
    ("series", &SERIES),
    ("text", &TEXT),
    ("synthetic.linear", &LINEAR),
    ("synthetic.blobs", &BLOBS),
];
/// Data transforms, with their signatures.
pub const TRANSFORMS: [(&str, &[ParamDef]); 5] = [
    ("standardize", &[]),
    ("scale", &SCALE),
    ("reshape", &RESHAPE),
    ("shuffle", &SHUFFLE),
    ("split", &SPLIT),
];

fn signature(name: &str, params: &[ParamDef]) -> String {
    let parts: Vec<String> = params
        .iter()
        .map(|p| {
            if p.required() {
                p.name.to_string()
            } else {
                format!("{} = ...", p.name)
            }
        })
        .collect();
    if parts.is_empty() {
        name.to_string()
    } else {
        format!("{name}({})", parts.join(", "))
    }
}

fn bind_stage(
    checker: &mut BodyChecker,
    call: &Call,
    params: &'static [ParamDef],
) -> Option<Bound> {
    let env = HashMap::new();
    let args: Vec<EvalArg> = call
        .args
        .iter()
        .flatten()
        .map(|a| EvalArg {
            name: a.name.clone(),
            value: checker.eval_constant(&a.value, &env),
            span: a.value.span,
        })
        .collect();
    let signature = signature(&call.callee.name, params);
    let signature_params: Vec<Param> = params.iter().map(Param::from).collect();
    match args::bind(&call.callee, &signature, &signature_params, &args) {
        Ok(bound) => Some(bound.with_signature(params)),
        Err(errors) => {
            checker.diagnostics.extend(errors);
            None
        }
    }
}

fn known_int(bound: &Bound, name: &str, default: i64) -> i64 {
    bound
        .int(name)
        .and_then(|d| d.as_known())
        .unwrap_or(default)
}

fn positive(checker: &mut BodyChecker, bound: &Bound, call: &Call, name: &str) -> i64 {
    let value = known_int(bound, name, 1);
    if value < 1 {
        checker.diagnostics.push(error::invalid_value(
            &call.callee.name,
            name,
            &value.to_string(),
            "a positive integer",
            bound.span(name, call.span),
        ));
        return 1;
    }
    value
}

/// Checks one data declaration.
pub fn check_data(checker: &mut BodyChecker, def: &DataDef) -> Option<DataSet> {
    let mut stages = def.stages.iter();
    let source_call = stages.next().expect("data_item: at least one stage");
    let Some((_, params)) = SOURCES.iter().find(|(n, _)| *n == source_call.callee.name) else {
        checker
            .diagnostics
            .push(data_error_unknown(source_call, true));
        return None;
    };
    let bound = bind_stage(checker, source_call, params)?;
    let path = |name: &str| bound.str(name).unwrap_or("").to_string();
    let seed = |b: &Bound| known_int(b, "seed", 0).max(0) as u64;
    let (source, mut input, task) = match source_call.callee.name.as_str() {
        "csv" => {
            let (column, label) = match (bound.str("label"), bound.str("target")) {
                (Some(l), None) => (l.to_string(), true),
                (None, Some(t)) => (t.to_string(), false),
                _ => {
                    checker.diagnostics.push(csv_column_error(source_call));
                    return None;
                }
            };
            if !label && bound.has("classes") {
                checker.diagnostics.push(
                    CheckError::ClassesWithoutLabel {
                        span: bound.span("classes", source_call.span),
                    }
                    .into(),
                );
            }
            let classes = bound.int("classes").and_then(|d| d.as_known());
            let task = if label {
                Task::Classification {
                    classes: classes.map(Dim::known),
                }
            } else {
                Task::Regression
            };
            (
                Source::Csv {
                    path: path("path"),
                    column,
                    label,
                    classes,
                },
                None,
                task,
            )
        }
        "mnist" => (
            Source::Mnist { dir: path("dir") },
            Some(Shape::batched_known(&[1, 28, 28])),
            Task::Classification {
                classes: Some(Dim::known(10)),
            },
        ),
        "series" => {
            let window = positive(checker, &bound, source_call, "window");
            let horizon = if bound.has("horizon") {
                positive(checker, &bound, source_call, "horizon")
            } else {
                1
            };
            (
                Source::Series {
                    path: path("path"),
                    column: bound.str("column").unwrap_or("").to_string(),
                    window,
                    horizon,
                },
                Some(Shape::batched_known(&[window, 1])),
                Task::Regression,
            )
        }
        "text" => {
            let seq = positive(checker, &bound, source_call, "seq");
            (
                Source::Text {
                    path: path("path"),
                    seq,
                },
                Some(Shape::batched(vec![Dim::known(seq), Dim::var("V")])),
                Task::Classification {
                    classes: Some(Dim::var("V")),
                },
            )
        }
        "synthetic.linear" => {
            let n = positive(checker, &bound, source_call, "n");
            let features = positive(checker, &bound, source_call, "features");
            let noise = bound.float("noise").unwrap_or(0.0);
            (
                Source::SyntheticLinear {
                    n,
                    features,
                    noise,
                    seed: seed(&bound),
                },
                Some(Shape::batched_known(&[features])),
                Task::Regression,
            )
        }
        _ => {
            let n = positive(checker, &bound, source_call, "n");
            let classes = positive(checker, &bound, source_call, "classes");
            let features = positive(checker, &bound, source_call, "features");
            (
                Source::SyntheticBlobs {
                    n,
                    classes,
                    features,
                    seed: seed(&bound),
                },
                Some(Shape::batched_known(&[features])),
                Task::Classification {
                    classes: Some(Dim::known(classes)),
                },
            )
        }
    };
    let mut transforms = Vec::new();
    for call in stages {
        let Some((_, params)) = TRANSFORMS.iter().find(|(n, _)| *n == call.callee.name) else {
            checker.diagnostics.push(data_error_unknown(call, false));
            continue;
        };
        let Some(bound) = bind_stage(checker, call, params) else {
            continue;
        };
        let transform = match call.callee.name.as_str() {
            "standardize" => Transform::Standardize,
            "scale" => Transform::Scale(bound.float("k").unwrap_or(1.0)),
            "shuffle" => Transform::Shuffle { seed: seed(&bound) },
            "reshape" => {
                let dims: Vec<i64> = match bound.get("shape") {
                    Some((Value::List(items), _)) => items
                        .iter()
                        .map(|(v, _)| {
                            if let Value::Int(d) = v {
                                d.as_known().unwrap_or(0)
                            } else {
                                0
                            }
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                let target = Shape::batched_known(&dims);
                if let Some(current) = &input
                    && let (Some(a), Some(b)) =
                        (current.elements().as_known(), target.elements().as_known())
                    && a != b
                {
                    checker.diagnostics.push(error::reshape_count(
                        current,
                        &target.dims,
                        bound.span("shape", call.span),
                        source_call.span,
                    ));
                }
                if dims.iter().any(|&d| d < 1) {
                    checker.diagnostics.push(error::invalid_value(
                        "reshape",
                        "shape",
                        "a size below 1",
                        "positive sizes",
                        bound.span("shape", call.span),
                    ));
                }
                input = Some(target);
                Transform::Reshape(dims)
            }
            _ => {
                let fraction = |name: &str| bound.float(name);
                let val = fraction("val").unwrap_or(0.0);
                let test = fraction("test").unwrap_or(0.0);
                let train = fraction("train");
                for (name, value) in [("train", train), ("val", Some(val)), ("test", Some(test))] {
                    if let Some(v) = value
                        && !(0.0..=1.0).contains(&v)
                    {
                        checker.diagnostics.push(error::invalid_value(
                            "split",
                            name,
                            &v.to_string(),
                            "a fraction between 0 and 1",
                            bound.span(name, call.span),
                        ));
                    }
                }
                let total = train.unwrap_or(0.0) + val + test;
                if total > 1.0 + 1e-9 {
                    checker.diagnostics.push(
                        CheckError::SplitOverOne {
                            total,
                            span: call.span,
                        }
                        .into(),
                    );
                }
                if matches!(source, Source::Mnist { .. })
                    && (bound.has("test") || bound.has("train"))
                {
                    checker
                        .diagnostics
                        .push(CheckError::MnistHasTest { span: call.span }.into());
                }
                Transform::Split {
                    train,
                    val,
                    test,
                    seed: seed(&bound),
                    shuffle: bound.bool("shuffle"),
                }
            }
        };
        transforms.push(transform);
    }
    Some(DataSet {
        name: def.name.name.clone(),
        span: def.span,
        source,
        transforms,
        input,
        task,
    })
}

fn data_error_unknown(call: &Call, expect_source: bool) -> Diagnostic {
    let name = &call.callee.name;
    let is_source = SOURCES.iter().any(|(n, _)| n == name);
    let is_transform = TRANSFORMS.iter().any(|(n, _)| n == name);
    if expect_source && is_transform {
        return CheckError::StartsWithTransform {
            name: name.clone(),
            span: call.span,
        }
        .into();
    }
    if !expect_source && is_source {
        return CheckError::SecondSource {
            name: name.clone(),
            span: call.span,
        }
        .into();
    }
    let list: &[(&str, _)] = if expect_source { &SOURCES } else { &TRANSFORMS };
    CheckError::UnknownDataStage {
        name: name.clone(),
        span: call.callee.span,
        source: expect_source,
        candidates: list.iter().map(|(n, _)| n.to_string()).collect(),
    }
    .into()
}

fn csv_column_error(call: &Call) -> Diagnostic {
    CheckError::CsvColumn { span: call.span }.into()
}
