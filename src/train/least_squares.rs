//! `optimizer = least_squares`: the closed-form fit of a model linear in its
//! parameters, from the reduced system of [`super::design`].
//!
//! The columns are scaled to unit length, then the SVD of the triangular
//! factor gives the rank, the condition number and the minimiser. With
//! `l2 = λ` the problem is ridge regression, the textbook's regularised
//! normal equation `(XᵀX + λL) θ = Xᵀy` with `L` the identity except on
//! intercept columns, which are not penalised (as in scikit-learn's `Ridge`).

use super::design::{Column, Reduced};
use nalgebra::{DMatrix, DVector};

/// Singular values below this fraction of the largest (after scaling the
/// columns to unit length) count as zero: the data are float32, so
/// directions this weak are rounding noise.
pub const RANK_TOLERANCE: f64 = 1e-7;

/// The closed-form fit.
#[derive(Clone, Debug)]
pub struct Solution {
    /// The parameters, in store order.
    pub theta: Vec<f64>,
    /// Condition number of the (column-scaled) design.
    pub condition: f64,
}

/// Why the design has no unique least-squares solution.
#[derive(Clone, Debug, PartialEq)]
pub struct RankDeficient {
    /// The numerical rank of the design.
    pub rank: usize,
    /// The number of parameters.
    pub params: usize,
    /// The number of training samples.
    pub rows: usize,
    /// Sets of columns that are (nearly) linearly dependent.
    pub groups: Vec<Vec<Column>>,
}

impl std::fmt::Display for RankDeficient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the design matrix has rank {} but the model has {} parameters",
            self.rank, self.params
        )
    }
}

/// Solves `min ‖J θ - y‖² + λ Σ θ_j²` (intercepts not penalised).
pub fn solve(reduced: &Reduced, l2: f64) -> Result<Solution, RankDeficient> {
    let p = reduced.params();
    if p == 0 {
        return Ok(Solution {
            theta: Vec::new(),
            condition: 1.0,
        });
    }
    let mut system = reduced.clone();
    if l2 > 0.0 {
        let penalised: Vec<usize> = (0..p).filter(|&j| !reduced.columns[j].intercept).collect();
        let mut ridge = DMatrix::<f64>::zeros(penalised.len(), p + 1);
        for (row, &j) in penalised.iter().enumerate() {
            ridge[(row, j)] = l2.sqrt();
        }
        system.fold_rows(&ridge);
    }
    let r = system.r.view((0, 0), (p, p)).into_owned();
    let z: DVector<f64> = system.r.view((0, p), (p, 1)).column(0).into_owned();
    let scale: Vec<f64> = (0..p)
        .map(|j| match r.column(j).norm() {
            n if n > 0.0 => n,
            _ => 1.0,
        })
        .collect();
    let mut scaled = r.clone();
    for (j, s) in scale.iter().enumerate() {
        scaled.column_mut(j).unscale_mut(*s);
    }
    let svd = scaled.svd(true, true);
    let (u, v_t) = (
        svd.u.as_ref().expect("u was requested"),
        svd.v_t.as_ref().expect("v_t was requested"),
    );
    let sigma = &svd.singular_values;
    let largest = sigma.max();
    let threshold = RANK_TOLERANCE * largest;
    let rank = sigma.iter().filter(|s| **s > threshold).count();
    if rank < p {
        let mut groups: Vec<Vec<Column>> = Vec::new();
        for (i, s) in sigma.iter().enumerate() {
            if *s > threshold {
                continue;
            }
            let direction = v_t.row(i);
            let biggest = direction.amax();
            let group: Vec<Column> = (0..p)
                .filter(|&j| direction[j].abs() >= 0.1 * biggest)
                .map(|j| reduced.columns[j].clone())
                .collect();
            if !groups.contains(&group) {
                groups.push(group);
            }
        }
        return Err(RankDeficient {
            rank,
            params: p,
            rows: reduced.rows,
            groups,
        });
    }
    let mut theta_scaled = DVector::<f64>::zeros(p);
    for (i, s) in sigma.iter().enumerate() {
        let coefficient = u.column(i).dot(&z) / s;
        theta_scaled += v_t.row(i).transpose() * coefficient;
    }
    let theta = theta_scaled
        .iter()
        .zip(&scale)
        .map(|(t, s)| t / s)
        .collect();
    Ok(Solution {
        theta,
        condition: largest / sigma.min(),
    })
}
