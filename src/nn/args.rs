//! What a built-in is called with: check-time values bound to the names of
//! its signature, read with the signature's defaults.

use super::signature::{Default, Param};
use crate::ir::{Dim, NodeId, Shape};
use crate::span::Span;
use std::collections::HashMap;

/// A value at check time: what an expression of a model body, or an
/// argument, evaluates to.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A tensor computed by a node.
    Tensor {
        /// The node computing it.
        node: NodeId,
        /// Its shape.
        shape: Shape,
    },
    /// An integer, possibly symbolic (a dimension variable or an option).
    Int(Dim),
    /// A number; `None` when it is an option whose value is known only at a use.
    Float(Option<f64>),
    /// `true` or `false`.
    Bool(bool),
    /// A string.
    Str(String),
    /// A list, each element with its span.
    List(Vec<(Value, Span)>),
    /// The result of an expression that already had an error.
    Error,
}

impl Value {
    /// A short description for "found ..." in messages.
    pub fn describe(&self) -> String {
        match self {
            Value::Tensor { shape, .. } => format!("a tensor of shape {shape}"),
            Value::Int(d) => format!("the integer {d}"),
            Value::Float(Some(x)) => format!("the number {x}"),
            Value::Float(None) => "a number".to_string(),
            Value::Bool(b) => format!("`{b}`"),
            Value::Str(s) => format!("the string \"{s}\""),
            Value::List(items) => format!("a list of {} elements", items.len()),
            Value::Error => "an erroneous value".to_string(),
        }
    }

    /// The value as a number, if it is one and is known.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(d) => d.as_known().map(|v| v as f64),
            Value::Float(x) => *x,
            _ => None,
        }
    }
}

/// Arguments bound to parameter names.
#[derive(Clone, Debug, Default)]
pub struct Args {
    values: HashMap<String, (Value, Span)>,
    /// The signature bound against, for defaults.
    params: &'static [Param],
}

impl Args {
    /// No arguments yet, for a call of a built-in with `params`.
    pub fn new(params: &'static [Param]) -> Args {
        Args {
            values: HashMap::new(),
            params,
        }
    }

    /// The same arguments, read with the defaults of `params`.
    pub fn with_signature(self, params: &'static [Param]) -> Args {
        Args { params, ..self }
    }

    /// Records the argument given for `name`.
    pub fn insert(&mut self, name: &str, value: Value, span: Span) {
        self.values.insert(name.to_string(), (value, span));
    }

    /// The value and span given for `name`, if any.
    pub fn get(&self, name: &str) -> Option<&(Value, Span)> {
        self.values.get(name)
    }

    /// Whether `name` was given.
    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    fn default(&self, name: &str) -> Default {
        self.params
            .iter()
            .find(|p| p.name == name)
            .map_or(Default::Absent, |p| p.default)
    }

    /// An integer argument; poisoned when the value had an error.
    pub fn int(&self, name: &str) -> Option<Dim> {
        self.values.get(name).map(|(v, _)| match v {
            Value::Int(d) => d.clone(),
            _ => Dim::error(),
        })
    }

    /// A numeric argument, or its default (`None` when unknown at check time).
    pub fn float(&self, name: &str) -> Option<f64> {
        match self.values.get(name) {
            Some((v, _)) => v.as_f64(),
            None => match self.default(name) {
                Default::Float(x) => Some(x),
                Default::Int(i) => Some(i as f64),
                _ => None,
            },
        }
    }

    /// A boolean argument, or its default.
    pub fn bool(&self, name: &str) -> bool {
        match self.values.get(name) {
            Some((Value::Bool(b), _)) => *b,
            _ => matches!(self.default(name), Default::Bool(true)),
        }
    }

    /// A string argument, or its default.
    pub fn str(&self, name: &str) -> Option<&str> {
        match self.values.get(name) {
            Some((Value::Str(s), _)) => Some(s.as_str()),
            Some(_) => None,
            None => match self.default(name) {
                Default::Str(s) => Some(s),
                _ => None,
            },
        }
    }

    /// An integer-or-list argument with one entry per spatial axis (`axes`
    /// of them: an integer applies to every axis); poisoned entries where the
    /// value had an error or has the wrong length.
    pub fn per_axis(&self, name: &str, axes: usize) -> Option<Vec<Dim>> {
        self.values.get(name).map(|(v, _)| match v {
            Value::Int(d) => vec![d.clone(); axes],
            Value::List(items) if items.len() == axes => items
                .iter()
                .map(|(item, _)| match item {
                    Value::Int(d) => d.clone(),
                    _ => Dim::error(),
                })
                .collect(),
            _ => vec![Dim::error(); axes],
        })
    }

    /// The span of argument `name`, or `fallback`.
    pub fn span(&self, name: &str, fallback: Span) -> Span {
        self.values.get(name).map(|(_, s)| *s).unwrap_or(fallback)
    }
}
