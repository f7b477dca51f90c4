//! Text for tensors: statistics, shapes and truncated values, with fixed
//! number formats so transcripts are stable.

use crate::autodiff::Tensor;

/// Summary statistics of a tensor's values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    /// Mean of the finite values.
    pub mean: f64,
    /// Population standard deviation of the finite values.
    pub std: f64,
    /// Smallest finite value.
    pub min: f32,
    /// Largest finite value.
    pub max: f32,
    /// Number of NaN values.
    pub nan: usize,
    /// Number of infinite values.
    pub inf: usize,
    /// Number of finite values.
    pub finite: usize,
}

impl Stats {
    /// The statistics of `values`, summed in order in `f64`.
    pub fn of(values: &Tensor) -> Stats {
        let (mut sum, mut finite, mut nan, mut inf) = (0.0f64, 0usize, 0usize, 0usize);
        let (mut min, mut max) = (f32::INFINITY, f32::NEG_INFINITY);
        for &v in values.iter() {
            if v.is_nan() {
                nan += 1;
            } else if v.is_infinite() {
                inf += 1;
            } else {
                sum += v as f64;
                finite += 1;
                min = min.min(v);
                max = max.max(v);
            }
        }
        let mean = if finite > 0 { sum / finite as f64 } else { 0.0 };
        let squares: f64 = values
            .iter()
            .filter(|v| v.is_finite())
            .map(|&v| (v as f64 - mean).powi(2))
            .sum();
        let std = if finite > 0 {
            (squares / finite as f64).sqrt()
        } else {
            0.0
        };
        Stats {
            mean,
            std,
            min,
            max,
            nan,
            inf,
            finite,
        }
    }

    /// Whether any value is NaN or infinite.
    pub fn non_finite(&self) -> bool {
        self.nan + self.inf > 0
    }
}

impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.finite == 0 {
            write!(f, "no finite values")?;
        } else {
            write!(
                f,
                "mean {} std {} min {} max {}",
                number(self.mean),
                number(self.std),
                number(self.min as f64),
                number(self.max as f64)
            )?;
        }
        write!(f, "  NaN {} Inf {}", self.nan, self.inf)
    }
}

/// A number in a fixed, readable form: four decimals in the usual range,
/// scientific notation for very small or large magnitudes.
pub fn number(x: f64) -> String {
    if x == 0.0 {
        "0".to_string()
    } else if !x.is_finite() {
        format!("{x}")
    } else if (1e-3..1e5).contains(&x.abs()) {
        format!("{x:.4}")
    } else {
        format!("{x:.3e}")
    }
}

/// A shape as `[1, 6, 28, 28]`.
pub fn shape(dims: &[usize]) -> String {
    let parts: Vec<String> = dims.iter().map(usize::to_string).collect();
    format!("[{}]", parts.join(", "))
}

/// The L2 norm of a tensor, summed in order in `f64`.
pub fn norm(values: &Tensor) -> f64 {
    values
        .iter()
        .map(|&v| (v as f64) * (v as f64))
        .sum::<f64>()
        .sqrt()
}

/// Two columns, the first padded to its widest entry, indented by two.
pub fn aligned(rows: &[(String, String)]) -> String {
    let width = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    rows.iter()
        .map(|(left, right)| format!("  {left:<width$}  {right}\n"))
        .collect()
}

/// How many values of an axis are shown at each end when it is too long.
const EDGE: usize = 3;

/// A tensor's values, nested by axis like NumPy prints them; an axis longer
/// than `2 * EDGE` shows its first and last `EDGE` entries around `...`.
pub fn values(t: &Tensor) -> String {
    let t = t.as_standard_layout();
    let data = t.as_slice().expect("standard layout");
    let mut out = String::new();
    nest(&mut out, data, t.shape(), 0);
    out.push('\n');
    out
}

fn nest(out: &mut String, data: &[f32], dims: &[usize], depth: usize) {
    let Some((&len, rest)) = dims.split_first() else {
        out.push_str(&cell(data[0]));
        return;
    };
    let stride: usize = rest.iter().product();
    let shown: Vec<Option<usize>> = if len > 2 * EDGE {
        (0..EDGE)
            .map(Some)
            .chain(std::iter::once(None))
            .chain((len - EDGE..len).map(Some))
            .collect()
    } else {
        (0..len).map(Some).collect()
    };
    out.push('[');
    for (k, index) in shown.iter().enumerate() {
        if k > 0 {
            if rest.is_empty() {
                out.push_str(", ");
            } else {
                // One blank line between blocks per axis below the rows.
                out.push(',');
                out.push_str(&"\n".repeat(rest.len()));
                out.push_str(&" ".repeat(depth + 1));
            }
        }
        match index {
            Some(i) => nest(out, &data[i * stride..(i + 1) * stride], rest, depth + 1),
            None => out.push_str("..."),
        }
    }
    out.push(']');
}

fn cell(x: f32) -> String {
    let x = x as f64;
    if x.is_finite() && x != 0.0 && !(1e-3..1e5).contains(&x.abs()) {
        format!("{x:10.3e}")
    } else if x.is_finite() {
        format!("{x:7.4}")
    } else {
        format!("{x:>7}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::IxDyn;

    fn tensor(shape: &[usize], data: Vec<f32>) -> Tensor {
        Tensor::from_shape_vec(IxDyn(shape), data).unwrap()
    }

    #[test]
    fn statistics_skip_non_finite_values_and_count_them() {
        let s = Stats::of(&tensor(&[5], vec![1.0, 3.0, f32::NAN, f32::INFINITY, 2.0]));
        assert_eq!((s.mean, s.min, s.max, s.nan, s.inf), (2.0, 1.0, 3.0, 1, 1));
        assert_eq!(
            s.to_string(),
            "mean 2.0000 std 0.8165 min 1.0000 max 3.0000  NaN 1 Inf 1"
        );
        assert_eq!(
            Stats::of(&tensor(&[1], vec![f32::NAN])).to_string(),
            "no finite values  NaN 1 Inf 0"
        );
    }

    #[test]
    fn numbers_have_fixed_forms() {
        assert_eq!(number(0.0), "0");
        assert_eq!(
            Stats::of(&tensor(&[2], vec![1.0, 1.0])).to_string(),
            "mean 1.0000 std 0 min 1.0000 max 1.0000  NaN 0 Inf 0"
        );
        assert_eq!(number(0.5), "0.5000");
        assert_eq!(number(-1.5e-6), "-1.500e-6");
        assert_eq!(number(2e6), "2.000e6");
    }

    #[test]
    fn long_axes_are_truncated() {
        let t = tensor(&[2, 8], (0..16).map(|i| i as f32).collect());
        assert_eq!(
            values(&t),
            "[[ 0.0000,  1.0000,  2.0000, ...,  5.0000,  6.0000,  7.0000],\n [ 8.0000,  9.0000, 10.0000, ..., 13.0000, 14.0000, 15.0000]]\n"
        );
        assert_eq!(values(&tensor(&[], vec![2.0])), " 2.0000\n");
    }
}
