//! The store of a model's tensors: learnable parameters and state (batchnorm
//! running statistics), named by the paths `dl check` prints.

use crate::autodiff::Tensor;
use crate::ir::{Graph, Init, ParamSpec};
use ndarray::IxDyn;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// Named tensors in a fixed order (the graph's), so iteration is deterministic.
#[derive(Clone, Debug, Default)]
pub struct ParamStore {
    /// Values by name.
    pub values: BTreeMap<String, Tensor>,
    /// Names in graph order, with whether each is learnable.
    pub order: Vec<(String, bool)>,
}

impl ParamStore {
    /// Fresh values for every tensor of `graph`, drawn from one RNG seeded with `seed`.
    pub fn init(graph: &Graph, seed: u64) -> ParamStore {
        let mut rng = crate::seed::parameters(seed);
        let mut store = ParamStore::default();
        for spec in graph.params() {
            let value = initial_value(spec, &mut rng);
            store.order.push((spec.name.clone(), spec.trainable));
            store.values.insert(spec.name.clone(), value);
        }
        store
    }

    /// The value of a tensor.
    pub fn get(&self, name: &str) -> &Tensor {
        self.values
            .get(name)
            .unwrap_or_else(|| panic!("internal error: no tensor `{name}` in the parameter store"))
    }

    /// Names of the learnable parameters, in graph order.
    pub fn trainable(&self) -> impl Iterator<Item = &str> {
        self.order
            .iter()
            .filter(|(_, t)| *t)
            .map(|(n, _)| n.as_str())
    }

    /// Total number of learnable scalars.
    pub fn count(&self) -> usize {
        self.trainable().map(|n| self.values[n].len()).sum()
    }
}

fn dims(spec: &ParamSpec) -> Vec<usize> {
    spec.shape.known_dims().unwrap_or_else(|| {
        panic!(
            "internal error: parameter `{}` has a symbolic shape at run time",
            spec.name
        )
    })
}

/// Fan-in and fan-out: rows-by-columns for matrices (`x @ W`), and
/// `[out, in, kh, kw]` for convolution kernels.
fn fans(shape: &[usize]) -> (f32, f32) {
    match shape {
        [] => (1.0, 1.0),
        [n] => (*n as f32, *n as f32),
        [rows, cols] => (*rows as f32, *cols as f32),
        [out, inp, rest @ ..] => {
            let field: usize = rest.iter().product();
            ((inp * field) as f32, (out * field) as f32)
        }
    }
}

/// A standard normal sample (Box-Muller).
pub fn standard_normal(rng: &mut ChaCha8Rng) -> f32 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random::<f64>();
    ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
}

fn initial_value(spec: &ParamSpec, rng: &mut ChaCha8Rng) -> Tensor {
    initial_tensor(&dims(spec), &spec.init, rng)
}

/// A tensor of `shape` drawn as `init` says from `rng`.
pub fn initial_tensor(shape: &[usize], init: &Init, rng: &mut ChaCha8Rng) -> Tensor {
    let count: usize = shape.iter().product();
    let (fan_in, fan_out) = fans(shape);
    let data: Vec<f32> = match *init {
        Init::Zeros => vec![0.0; count],
        Init::Ones => vec![1.0; count],
        Init::Normal(mean, std) => (0..count)
            .map(|_| mean as f32 + std as f32 * standard_normal(rng))
            .collect(),
        Init::Uniform(lo, hi) => (0..count)
            .map(|_| lo as f32 + (hi - lo) as f32 * rng.random::<f32>())
            .collect(),
        // Glorot & Bengio 2010: U(-a, a), a = sqrt(6 / (fan_in + fan_out)).
        Init::Xavier => {
            let a = (6.0 / (fan_in + fan_out)).sqrt();
            (0..count)
                .map(|_| a * (2.0 * rng.random::<f32>() - 1.0))
                .collect()
        }
        // He et al. 2015: N(0, 2 / fan_in).
        Init::Kaiming => {
            let std = (2.0 / fan_in).sqrt();
            (0..count).map(|_| std * standard_normal(rng)).collect()
        }
    };
    Tensor::from_shape_vec(IxDyn(shape), data).expect("count matches shape")
}
