//! The settings of a `train` block: the names of losses, metrics and
//! optimizers, reading an optimizer and its arguments, and the wording of a
//! setting that is not one of them.

use crate::check::args::{self, EvalArg, Param};
use crate::check::error;
use crate::check::model::BodyChecker;
use crate::diagnostic::{Code, Diagnostic};
use crate::ir::{Loss, Metric, Optimizer};
use crate::nn::signature::{ArgKind, Default, Param as ParamDef, opt, req};
use crate::nn::{Args as Bound, Value};
use crate::syntax::ast::{Expr, ExprKind, Ident};
use std::collections::HashMap;

/// The settings a `train` block may have.
pub(super) const SETTINGS: [&str; 10] = [
    "loss",
    "optimizer",
    "epochs",
    "batch",
    "seed",
    "clip",
    "metrics",
    "save",
    "save_every",
    "l2",
];

/// The losses, by the names programs use.
pub(super) const LOSSES: [(&str, Loss); 5] = [
    ("mse", Loss::Mse),
    ("half_mse", Loss::HalfMse),
    ("mae", Loss::Mae),
    ("bce", Loss::Bce),
    ("cross_entropy", Loss::CrossEntropy),
];

/// The metrics, by the names programs use.
pub(super) const METRICS: [(&str, Metric); 8] = [
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

/// The optimizer `value` names, with its arguments checked.
pub(super) fn check_optimizer(checker: &mut BodyChecker, value: &Expr) -> Option<Optimizer> {
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

/// The name `expr` is, if it is a bare name.
pub(super) fn name_of(expr: &Expr) -> Option<&str> {
    match &expr.kind {
        ExprKind::Name(n) => Some(n),
        _ => None,
    }
}

/// The integer `expr` is, if it is an integer literal.
pub(super) fn int_value(expr: &Expr) -> Option<i64> {
    match &expr.kind {
        ExprKind::Number {
            value,
            integer: true,
        } => Some(*value as i64),
        _ => None,
    }
}

/// The number `expr` is, if it is a number literal.
pub(super) fn float_value(expr: &Expr) -> Option<f64> {
    match &expr.kind {
        ExprKind::Number { value, .. } => Some(*value),
        _ => None,
    }
}

/// `expr` as a message shows it.
pub(super) fn describe(expr: &Expr) -> String {
    match &expr.kind {
        ExprKind::Number { value, .. } => format!("{value}"),
        ExprKind::Str(s) => format!("\"{s}\""),
        ExprKind::Name(n) => format!("`{n}`"),
        _ => "this expression".to_string(),
    }
}

/// A setting value that is not one of `names` (a `kind`).
pub(super) fn unknown_choice(kind: &str, value: &Expr, names: &[&str]) -> Diagnostic {
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
