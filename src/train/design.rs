//! The linear system of a model that is linear in its parameters.
//!
//! For such a model the output on a batch is `c + J θ`, with θ the learnable
//! scalars in store order. Running the model with θ = 0 gives `c`, and with θ
//! a unit vector `e_j` gives `c + J[:, j]`, so `J` comes from the model itself,
//! whatever its form (`dense(1)`, `x @ w + b`, polynomial features...).
//!
//! The rows are folded, a chunk at a time, into the triangular factor `R` of
//! the QR factorisation of `[J | y - c]` (Householder, by `nalgebra`), so
//! memory stays at `(P + 1)^2` whatever the number of samples, and the fit
//! never forms `JᵀJ` (whose condition number is the square of `J`'s).

use crate::autodiff::Tape;
use crate::data::{Loaded, Part, Targets};
use crate::interp::{Mode, ParamStore, RunError, Stepper};
use crate::ir::Graph;
use nalgebra::DMatrix;

/// Rows run through the model at once.
const CHUNK_ROWS: usize = 1024;

/// One column of the design: one learnable scalar.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    /// The parameter entry, e.g. `Line.w[0, 0]`.
    pub entry: String,
    /// The input feature the column equals exactly, if any (e.g. `bmi`).
    pub feature: Option<String>,
    /// Whether the column is the same non-zero number in every row: an
    /// intercept, which ridge regression does not penalise.
    pub intercept: bool,
}

impl Column {
    /// How a message names the column: `` `bmi` (Linear.dense_0.weight[2, 0]) ``.
    pub fn describe(&self) -> String {
        match (&self.feature, self.intercept) {
            (Some(feature), _) => format!("`{feature}` ({})", self.entry),
            (None, true) => format!("the constant term ({})", self.entry),
            (None, false) => format!("`{}`", self.entry),
        }
    }
}

/// The least-squares problem `min ‖J θ - (y - c)‖²` in reduced form.
#[derive(Clone, Debug)]
pub struct Reduced {
    /// Upper triangular `(P + 1) x (P + 1)`: `[[R, z], [0, ρ]]`, so that
    /// `‖J θ - (y - c)‖² = ‖R θ - z‖² + ρ²`.
    pub r: DMatrix<f64>,
    /// Number of samples folded in.
    pub rows: usize,
    /// The columns of `J`.
    pub columns: Vec<Column>,
}

impl Reduced {
    /// The number of parameters P.
    pub fn params(&self) -> usize {
        self.columns.len()
    }

    /// `‖J θ - (y - c)‖²`, the sum of squared residuals at θ, in O(P²).
    pub fn squared_error(&self, theta: &[f64]) -> f64 {
        let p = self.params();
        let mut total = self.r[(p, p)] * self.r[(p, p)];
        for i in 0..p {
            let mut residual = -self.r[(i, p)];
            for (j, t) in theta.iter().enumerate().skip(i) {
                residual += self.r[(i, j)] * t;
            }
            total += residual * residual;
        }
        total
    }

    /// Folds extra rows `[a | b]` (each `P + 1` long) into the factor.
    pub fn fold_rows(&mut self, extra: &DMatrix<f64>) {
        self.r = fold(&self.r, extra);
    }
}

/// The reduced system of `graph` (linear in its parameters) on `part`, with
/// the values of any non-learnable tensors taken from `store`.
pub fn reduce(
    graph: &Graph,
    store: &ParamStore,
    part: &Part,
    data: &Loaded,
) -> Result<Reduced, RunError> {
    let Targets::Values(_) = &part.y else {
        return Err(RunError::Internal(
            "least squares needs real-valued targets".into(),
        ));
    };
    let mut zeroed = store.clone();
    let mut entries: Vec<(String, usize)> = Vec::new();
    let mut columns = Vec::new();
    for name in store.trainable() {
        let value = zeroed.values.get_mut(name).expect("a stored tensor");
        value.fill(0.0);
        let shape = value.shape().to_vec();
        for flat in 0..value.len() {
            entries.push((name.to_string(), flat));
            columns.push(Column {
                entry: format!("{name}{}", index_text(&shape, flat)),
                feature: None,
                intercept: true,
            });
        }
    }
    let p = entries.len();
    let features = data.feature_names.len();
    // Which feature each column can still equal: compared only for small designs.
    let mut same_as: Vec<Vec<bool>> = if p * features <= 100_000 {
        vec![vec![true; features]; p]
    } else {
        vec![Vec::new(); p]
    };
    let mut first_value: Vec<Option<f64>> = vec![None; p];
    let mut r = DMatrix::<f64>::zeros(0, p + 1);
    let mut start = 0;
    while start < part.rows() {
        let rows: Vec<usize> = (start..(start + CHUNK_ROWS).min(part.rows())).collect();
        start += rows.len();
        let chunk = part.select(&rows);
        let offset = forward(graph, &zeroed, &chunk, data)?;
        let mut block = DMatrix::<f64>::zeros(rows.len(), p + 1);
        for (j, (name, flat)) in entries.iter().enumerate() {
            set_entry(&mut zeroed, name, *flat, 1.0);
            let output = forward(graph, &zeroed, &chunk, data);
            set_entry(&mut zeroed, name, *flat, 0.0);
            for (row, (with, without)) in output?.iter().zip(&offset).enumerate() {
                let value = with - without;
                block[(row, j)] = value;
                let first = *first_value[j].get_or_insert(value);
                columns[j].intercept &= value == first && value != 0.0;
                for (k, same) in same_as[j].iter_mut().enumerate() {
                    *same &= f64::from(chunk.x[(row, k)]) == value;
                }
            }
        }
        if let Targets::Values(targets) = &chunk.y {
            for (row, without) in offset.iter().enumerate() {
                block[(row, p)] = f64::from(targets[(row, 0)]) - without;
            }
        }
        r = fold(&r, &block);
    }
    // Each feature names at most one column: with a duplicated feature, the
    // first equal column takes the first copy, the next one the second.
    let mut named = vec![false; features];
    for (j, column) in columns.iter_mut().enumerate() {
        if let Some(k) = (0..same_as[j].len()).find(|&k| same_as[j][k] && !named[k]) {
            named[k] = true;
            column.feature = Some(data.feature_names[k].clone());
        }
    }
    Ok(Reduced {
        r: square(r, p + 1),
        rows: part.rows(),
        columns,
    })
}

/// The model's outputs (one per row) on `chunk`, as f64.
fn forward(
    graph: &Graph,
    store: &ParamStore,
    chunk: &Part,
    data: &Loaded,
) -> Result<Vec<f64>, RunError> {
    let mut tape = Tape::inference();
    let mut stepper = Stepper::new(graph, store, data.input(chunk), &mut tape, Mode::Eval, 0);
    let output = stepper.run(&mut tape)?;
    Ok(tape.value(output).iter().map(|&v| f64::from(v)).collect())
}

fn set_entry(store: &mut ParamStore, name: &str, flat: usize, value: f32) {
    let tensor = store.values.get_mut(name).expect("a stored tensor");
    if let Some(slot) = tensor.iter_mut().nth(flat) {
        *slot = value;
    }
}

/// `[2, 0]`-style text for the multi-index of flat position `flat`.
fn index_text(shape: &[usize], flat: usize) -> String {
    let mut index = vec![0; shape.len()];
    let mut rest = flat;
    for (axis, &size) in shape.iter().enumerate().rev() {
        index[axis] = rest % size.max(1);
        rest /= size.max(1);
    }
    let parts: Vec<String> = index.iter().map(usize::to_string).collect();
    format!("[{}]", parts.join(", "))
}

/// The triangular factor of `[r; extra]`.
fn fold(r: &DMatrix<f64>, extra: &DMatrix<f64>) -> DMatrix<f64> {
    let mut stacked = DMatrix::<f64>::zeros(r.nrows() + extra.nrows(), r.ncols());
    stacked.rows_mut(0, r.nrows()).copy_from(r);
    stacked.rows_mut(r.nrows(), extra.nrows()).copy_from(extra);
    stacked.qr().r()
}

/// `r` padded with zero rows to `n x n` (fewer samples than parameters).
fn square(r: DMatrix<f64>, n: usize) -> DMatrix<f64> {
    if r.nrows() == n {
        return r;
    }
    let mut out = DMatrix::<f64>::zeros(n, n);
    out.rows_mut(0, r.nrows().min(n))
        .copy_from(&r.rows(0, r.nrows().min(n)));
    out
}

/// Writes θ (learnable scalars in store order) into `store`.
pub fn set_params(store: &mut ParamStore, theta: &[f64]) {
    let names: Vec<String> = store.trainable().map(str::to_string).collect();
    let mut values = theta.iter();
    for name in names {
        let tensor = store.values.get_mut(&name).expect("a stored tensor");
        for (slot, value) in tensor.iter_mut().zip(&mut values) {
            *slot = *value as f32;
        }
    }
}
