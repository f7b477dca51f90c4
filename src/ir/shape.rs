//! Tensor shapes as the checker sees them: per-sample dims plus the batch.

use super::dim::Dim;
use serde::Serialize;
use std::fmt;

/// The shape of a tensor. `dims` never include the batch; `batched` says
/// whether the tensor has the symbolic batch dimension `N` in front
/// (activations do, parameters do not).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Shape {
    /// Whether the batch dimension `N` leads.
    pub batched: bool,
    /// The dims after the batch.
    pub dims: Vec<Dim>,
}

impl Shape {
    /// A per-sample shape with the batch in front.
    pub fn batched(dims: Vec<Dim>) -> Shape {
        Shape {
            batched: true,
            dims,
        }
    }

    /// A shape without batch (a parameter).
    pub fn unbatched(dims: Vec<Dim>) -> Shape {
        Shape {
            batched: false,
            dims,
        }
    }

    /// A shape of known sizes with the batch in front.
    pub fn batched_known(dims: &[i64]) -> Shape {
        Shape::batched(dims.iter().map(|&d| Dim::known(d)).collect())
    }

    /// Number of per-sample axes.
    pub fn rank(&self) -> usize {
        self.dims.len()
    }

    /// Product of the per-sample dims.
    pub fn elements(&self) -> Dim {
        self.dims.iter().fold(Dim::known(1), |acc, d| acc.mul(d))
    }

    /// Whether two shapes agree, treating poisoned dims as wildcards.
    pub fn agrees_with(&self, other: &Shape) -> bool {
        self.batched == other.batched
            && self.dims.len() == other.dims.len()
            && self
                .dims
                .iter()
                .zip(&other.dims)
                .all(|(a, b)| a.agrees_with(b))
    }

    /// The per-sample dims as known sizes, if they all are.
    pub fn known_dims(&self) -> Option<Vec<usize>> {
        self.dims
            .iter()
            .map(|d| d.as_known().and_then(|v| usize::try_from(v).ok()))
            .collect()
    }

    /// Resolves a possibly negative axis against the per-sample rank.
    pub fn axis(&self, axis: i64) -> Option<usize> {
        let rank = self.rank() as i64;
        let resolved = if axis < 0 { axis + rank } else { axis };
        (0..rank).contains(&resolved).then_some(resolved as usize)
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        if self.batched {
            parts.push("N".to_string());
        }
        parts.extend(self.dims.iter().map(|d| d.to_string()));
        write!(f, "[{}]", parts.join(", "))
    }
}

impl Serialize for Shape {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

/// Numpy broadcasting of the per-sample dims, right-aligned; `None` names the
/// first pair of axes that cannot broadcast, counted from the right.
pub fn broadcast(a: &Shape, b: &Shape) -> Result<Shape, usize> {
    let rank = a.rank().max(b.rank());
    let mut dims = Vec::with_capacity(rank);
    for i in 0..rank {
        let da = a.dims.len().checked_sub(rank - i).map(|j| &a.dims[j]);
        let db = b.dims.len().checked_sub(rank - i).map(|j| &b.dims[j]);
        let dim = match (da, db) {
            (Some(x), None) | (None, Some(x)) => x.clone(),
            (Some(x), Some(y)) => {
                if x.is_error() || y.is_error() {
                    Dim::error()
                } else if x == y || y.as_known() == Some(1) {
                    x.clone()
                } else if x.as_known() == Some(1) {
                    y.clone()
                } else {
                    return Err(rank - i);
                }
            }
            (None, None) => unreachable!("broadcast: axis within the larger rank"),
        };
        dims.push(dim);
    }
    Ok(Shape {
        batched: a.batched || b.batched,
        dims,
    })
}
