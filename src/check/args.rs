//! Binding call arguments to a signature: positional and keyword arguments,
//! missing and unknown ones, and their types.

use super::error::{self, CheckError};
use crate::diagnostic::Diagnostic;
use crate::nn::{ArgKind, Args, Value};
use crate::span::Span;
use crate::syntax::ast::Ident;

/// An argument after evaluation.
#[derive(Clone, Debug)]
pub struct EvalArg {
    /// The keyword, if given by name.
    pub name: Option<Ident>,
    /// Its value.
    pub value: Value,
    /// Where it is written.
    pub span: Span,
}

impl<'a> From<&'a crate::nn::Param> for Param<'a> {
    fn from(p: &'a crate::nn::Param) -> Param<'a> {
        Param {
            name: p.name,
            kind: p.kind,
            required: p.required(),
        }
    }
}

/// One parameter of a signature being bound against.
#[derive(Clone, Copy, Debug)]
pub struct Param<'a> {
    /// Its keyword.
    pub name: &'a str,
    /// Its type.
    pub kind: ArgKind,
    /// Whether it must be given.
    pub required: bool,
}

/// Whether `value` has the type `kind` asks for (erroneous values pass).
pub fn matches_kind(kind: ArgKind, value: &Value) -> bool {
    let is_int = |v: &Value| matches!(v, Value::Int(_) | Value::Error);
    match (kind, value) {
        (_, Value::Error) => true,
        (ArgKind::Int | ArgKind::Axis, v) => is_int(v),
        (ArgKind::Float, v) => matches!(v, Value::Int(_) | Value::Float(_)),
        (ArgKind::Bool, v) => matches!(v, Value::Bool(_)),
        (ArgKind::IntPair, Value::List(items)) => {
            items.len() == 2 && items.iter().all(|(v, _)| is_int(v))
        }
        (ArgKind::IntPair, v) => is_int(v),
        (ArgKind::Padding, Value::Str(s)) => s == "same",
        (ArgKind::Padding, v) => matches_kind(ArgKind::IntPair, v),
        (ArgKind::IntOrSame, Value::Str(s)) => s == "same",
        (ArgKind::IntOrSame, v) => is_int(v),
        (ArgKind::Round, Value::Str(s)) => matches!(s.as_str(), "floor" | "ceil" | "exact"),
        (ArgKind::Round, _) => false,
        (ArgKind::IntList, Value::List(items)) => items.iter().all(|(v, _)| is_int(v)),
        (ArgKind::IntList, _) => false,
        (ArgKind::Tensor, v) => matches!(v, Value::Tensor { .. }),
        (ArgKind::Str, v) => matches!(v, Value::Str(_)),
        (ArgKind::FloatList, Value::List(items)) => items
            .iter()
            .all(|(v, _)| matches!(v, Value::Int(_) | Value::Float(_) | Value::Error)),
        (ArgKind::FloatList, _) => false,
    }
}

/// Binds `args` to `params` for a call of `callee` (whose signature, as
/// documented, is `signature`). Every problem found is reported.
pub fn bind(
    callee: &Ident,
    signature: &str,
    params: &[Param],
    args: &[EvalArg],
) -> Result<Args, Vec<Diagnostic>> {
    let mut bound = Args::default();
    let mut errors = Vec::new();
    let mut positional = 0;
    // Parameters that an unknown keyword probably meant (`kernal` for `kernel`):
    // their absence is the same mistake, already reported.
    let mut meant: Vec<&str> = Vec::new();
    for arg in args {
        match &arg.name {
            None => {
                if positional >= params.len() {
                    errors.push(
                        CheckError::TooManyArguments {
                            callee: callee.clone(),
                            max: params.len(),
                            span: arg.span,
                            signature: signature.to_string(),
                        }
                        .into(),
                    );
                    positional += 1;
                    continue;
                }
                let param = params[positional];
                positional += 1;
                bind_one(&mut bound, &mut errors, callee, param, arg, signature);
            }
            Some(keyword) => match params.iter().find(|p| p.name == keyword.name) {
                None => {
                    let names: Vec<&str> = params.iter().map(|p| p.name).collect();
                    if let Some(best) = error::suggest(&keyword.name, names.iter().copied()) {
                        meant.push(best);
                    }
                    errors.push(
                        CheckError::UnknownKeyword {
                            callee: callee.clone(),
                            keyword: keyword.clone(),
                            names: names.iter().map(|n| n.to_string()).collect(),
                            signature: signature.to_string(),
                        }
                        .into(),
                    );
                }
                Some(param) => {
                    if bound.has(param.name) {
                        errors.push(
                            CheckError::DuplicateArgument {
                                callee: callee.clone(),
                                keyword: keyword.clone(),
                                first: bound.span(param.name, keyword.span),
                            }
                            .into(),
                        );
                    } else {
                        bind_one(&mut bound, &mut errors, callee, *param, arg, signature);
                    }
                }
            },
        }
    }
    for param in params {
        if param.required && !bound.has(param.name) && !meant.contains(&param.name) {
            errors.push(
                CheckError::MissingArgument {
                    callee: callee.clone(),
                    param: param.name.to_string(),
                    signature: signature.to_string(),
                }
                .into(),
            );
        }
    }
    if errors.is_empty() {
        Ok(bound)
    } else {
        Err(errors)
    }
}

fn bind_one(
    bound: &mut Args,
    errors: &mut Vec<Diagnostic>,
    callee: &Ident,
    param: Param,
    arg: &EvalArg,
    signature: &str,
) {
    if matches_kind(param.kind, &arg.value) {
        bound.insert(param.name, arg.value.clone(), arg.span);
    } else {
        errors.push(
            CheckError::WrongArgumentType {
                callee: callee.clone(),
                param: param.name.to_string(),
                kind: param.kind,
                value: arg.value.clone(),
                span: arg.span,
                signature: signature.to_string(),
            }
            .into(),
        );
        bound.insert(param.name, Value::Error, arg.span);
    }
}
