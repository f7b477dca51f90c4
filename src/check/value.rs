//! What an expression in a model body evaluates to at check time.

use super::dim::Dim;
use super::shape::Shape;
use crate::ir::NodeId;
use crate::span::Span;

/// A checked value.
#[derive(Clone, Debug)]
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
