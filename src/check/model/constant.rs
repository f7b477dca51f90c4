//! Constants: shapes, dimension expressions, option values and initialisers,
//! evaluated without tensors.

use super::{BodyChecker, Frame, GraphBuilder, is_dimension_variable};
use crate::check::error::CheckError;
use crate::diagnostic::Diagnostic;
use crate::ir::Init;
use crate::ir::dim::Dim;
use crate::nn::Value;
use crate::syntax::ast::{BinOp, Expr, ExprKind, ShapeExpr};
use std::collections::HashMap;

impl<'a> BodyChecker<'a> {
    /// Evaluates the dims of a shape; entries below one are reported and poisoned.
    pub(super) fn eval_shape(
        &mut self,
        shape: &ShapeExpr,
        env: &HashMap<String, Value>,
    ) -> Vec<Dim> {
        let mut diagnostics = Vec::new();
        let dims = shape
            .dims
            .iter()
            .map(|e| {
                let dim = eval_dim(e, env, &mut diagnostics);
                match dim.as_known() {
                    Some(value) if value < 1 => {
                        let d = Diagnostic::from(CheckError::DimensionBelowOne {
                            text: self.text(e.span),
                            value,
                            span: e.span,
                        });
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
        let constants = env
            .iter()
            .filter(|(_, v)| !matches!(v, Value::Tensor { .. }))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut frame = Frame::new(String::new(), None, constants);
        self.eval_expr(&mut builder, &mut frame, expr)
    }

    /// The initialiser `expr` names, reporting one that is not (as `zeros`).
    pub(super) fn eval_init(&mut self, expr: &Expr) -> Init {
        match parse_init(expr) {
            Ok(init) => init,
            Err(d) => {
                self.diagnostics.push(d);
                Init::Zeros
            }
        }
    }

    /// Like [`Self::eval_init`], for an initialiser already reported on.
    pub(super) fn eval_init_quiet(&mut self, expr: &Expr) -> Init {
        parse_init(expr).unwrap_or(Init::Zeros)
    }
}

/// Whether a division of `a` by `b` is unknown only because of options
/// without a default (a model checked on its own): each use gives them
/// values, and the division is checked there.
pub(super) fn awaits_options(a: &Dim, b: &Dim) -> bool {
    let waits = |d: &Dim| d.depends_only_on_options() || d.as_known().is_some();
    waits(a)
        && waits(b)
        && b.as_known() != Some(0)
        && (a.depends_only_on_options() || b.depends_only_on_options())
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
                diagnostics.push(
                    CheckError::DimensionNotInt {
                        value: other.clone(),
                        span: expr.span,
                    }
                    .into(),
                );
                Dim::error()
            }
            None if is_dimension_variable(name) => {
                diagnostics.push(
                    CheckError::UnboundDimension {
                        name: name.clone(),
                        span: expr.span,
                    }
                    .into(),
                );
                Dim::error()
            }
            None => {
                let candidates: Vec<String> = env
                    .iter()
                    .filter(|(_, v)| matches!(v, Value::Int(_)))
                    .map(|(k, _)| k.clone())
                    .collect();
                diagnostics.push(
                    CheckError::UnknownName {
                        name: name.clone(),
                        span: expr.span,
                        candidates,
                    }
                    .into(),
                );
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
                        diagnostics.push(CheckError::SymbolicDivision { span: expr.span }.into());
                        Dim::error()
                    }
                },
                BinOp::MatMul => {
                    diagnostics.push(CheckError::DimensionSyntax { span: expr.span }.into());
                    Dim::error()
                }
            }
        }
        ExprKind::Neg(inner) => Dim::known(0).sub(&eval_dim(inner, env, diagnostics)),
        _ => {
            diagnostics.push(CheckError::DimensionSyntax { span: expr.span }.into());
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
            "normal" | "uniform" => Err(CheckError::InitNeedsArgs {
                name: name.clone(),
                span: expr.span,
            }
            .into()),
            _ => Err(CheckError::UnknownInit {
                name: name.clone(),
                span: expr.span,
                names: NAMES.map(String::from).into(),
            }
            .into()),
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
                _ => Err(CheckError::InitNeedsArgs {
                    name: call.callee.name.clone(),
                    span: expr.span,
                }
                .into()),
            }
        }
        ExprKind::Call(call) => Err(CheckError::UnknownInit {
            name: call.callee.name.clone(),
            span: call.callee.span,
            names: NAMES.map(String::from).into(),
        }
        .into()),
        _ => Err(CheckError::UnknownInit {
            name: String::new(),
            span: expr.span,
            names: NAMES.map(String::from).into(),
        }
        .into()),
    }
}
