//! Optimizers: each keeps its state per parameter name and updates the
//! parameter store in place, in the store's fixed order.

use crate::autodiff::Tensor;
use crate::interp::ParamStore;
use crate::ir::Optimizer;
use crate::multiversion;
use rayon::prelude::*;
use std::collections::HashMap;

/// An optimizer with its running state.
pub struct Optim {
    config: Optimizer,
    step: i32,
    /// First-moment (momentum) state per parameter, in its layout.
    first: HashMap<String, Vec<f32>>,
    /// Second-moment state per parameter.
    second: HashMap<String, Vec<f32>>,
}

impl Optim {
    /// A fresh optimizer (gradient-based kinds only).
    pub fn new(config: &Optimizer) -> Optim {
        Optim {
            config: config.clone(),
            step: 0,
            first: HashMap::new(),
            second: HashMap::new(),
        }
    }

    /// Applies one update with `grads` (by parameter name).
    pub fn step(&mut self, store: &mut ParamStore, grads: &HashMap<String, Tensor>) {
        self.step += 1;
        let names: Vec<String> = store.trainable().map(str::to_string).collect();
        for name in names {
            let Some(g) = grads.get(&name) else { continue };
            let g = g.as_slice().expect("gradients are contiguous");
            let p = store
                .values
                .get_mut(&name)
                .expect("trainable names come from the store")
                .as_slice_mut()
                .expect("parameters are contiguous");
            match self.config {
                Optimizer::Sgd { lr, momentum } => {
                    let lr = lr as f32;
                    if momentum == 0.0 {
                        chunks2(p, g, |p, g| sgd_update(p, g, lr));
                    } else {
                        // PyTorch's form: v = mu v + g; p -= lr v.
                        let v = state(&mut self.first, &name, g.len());
                        let mu = momentum as f32;
                        chunks3(p, v, g, |p, v, g| momentum_update(p, v, g, lr, mu));
                    }
                }
                Optimizer::Adam { lr, betas } => {
                    let (b1, b2) = (betas.0 as f32, betas.1 as f32);
                    let m = state(&mut self.first, &name, g.len());
                    let v = state(&mut self.second, &name, g.len());
                    let c1 = 1.0 - b1.powi(self.step);
                    let c2 = 1.0 - b2.powi(self.step);
                    let lr = lr as f32;
                    let adam = Adam { lr, b1, b2, c1, c2 };
                    chunks4(p, m, v, g, |p, m, v, g| adam_update(p, m, v, g, adam));
                }
                Optimizer::RmsProp { lr, alpha } => {
                    let a = alpha as f32;
                    let v = state(&mut self.second, &name, g.len());
                    let lr = lr as f32;
                    chunks3(p, v, g, |p, v, g| rmsprop_update(p, v, g, lr, a));
                }
                Optimizer::LeastSquares { .. } | Optimizer::Exhaustive { .. } => {}
            }
        }
    }
}

multiversion! {
    /// Plain SGD: `p -= lr g`.
    fn sgd_update(p: &mut [f32], g: &[f32], lr: f32) {
        for (p, g) in p.iter_mut().zip(g) {
            *p -= lr * g;
        }
    }
}

multiversion! {
    /// SGD with momentum, PyTorch's form: `v = mu v + g; p -= lr v`.
    fn momentum_update(p: &mut [f32], v: &mut [f32], g: &[f32], lr: f32, mu: f32) {
        for ((p, v), g) in p.iter_mut().zip(v).zip(g) {
            *v = mu * *v + g;
            *p -= lr * *v;
        }
    }
}

/// Adam's constants for one step: the rate, the decays and their bias
/// corrections `1 - beta^t`.
#[derive(Clone, Copy)]
struct Adam {
    lr: f32,
    b1: f32,
    b2: f32,
    c1: f32,
    c2: f32,
}

multiversion! {
    /// Adam: both moments, then `p -= lr m^ / (sqrt(v^) + 1e-8)`.
    fn adam_update(p: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], k: Adam) {
        for (((p, m), v), g) in p.iter_mut().zip(m).zip(v).zip(g) {
            *m = k.b1 * *m + (1.0 - k.b1) * g;
            *v = k.b2 * *v + (1.0 - k.b2) * g * g;
            *p -= k.lr * (*m / k.c1) / ((*v / k.c2).sqrt() + 1e-8);
        }
    }
}

multiversion! {
    /// RMSprop: `v = a v + (1 - a) g^2; p -= lr g / (sqrt(v) + 1e-8)`.
    fn rmsprop_update(p: &mut [f32], v: &mut [f32], g: &[f32], lr: f32, a: f32) {
        for ((p, v), g) in p.iter_mut().zip(v).zip(g) {
            *v = a * *v + (1.0 - a) * g * g;
            *p -= lr * g / (v.sqrt() + 1e-8);
        }
    }
}

/// The state of parameter `name` in `states`, zeros of `len` at first.
fn state<'a>(states: &'a mut HashMap<String, Vec<f32>>, name: &str, len: usize) -> &'a mut [f32] {
    if !states.contains_key(name) {
        states.insert(name.to_string(), vec![0.0; len]);
    }
    states.get_mut(name).expect("just inserted")
}

/// Elements per parallel piece of an update. NOTE: updates are elementwise,
/// so how the pieces fall (and how many threads run them) cannot change a
/// bit of the result; the size only keeps small tensors on one thread.
const CHUNK: usize = 1 << 14;

/// Runs `f` on matching pieces of a parameter and its gradient, in parallel.
fn chunks2(p: &mut [f32], g: &[f32], f: impl Fn(&mut [f32], &[f32]) + Sync) {
    p.par_chunks_mut(CHUNK)
        .zip(g.par_chunks(CHUNK))
        .for_each(|(p, g)| f(p, g));
}

/// [`chunks2`] with one optimizer state.
fn chunks3(
    p: &mut [f32],
    s: &mut [f32],
    g: &[f32],
    f: impl Fn(&mut [f32], &mut [f32], &[f32]) + Sync,
) {
    p.par_chunks_mut(CHUNK)
        .zip(s.par_chunks_mut(CHUNK))
        .zip(g.par_chunks(CHUNK))
        .for_each(|((p, s), g)| f(p, s, g));
}

/// [`chunks2`] with two optimizer states.
fn chunks4(
    p: &mut [f32],
    s: &mut [f32],
    t: &mut [f32],
    g: &[f32],
    f: impl Fn(&mut [f32], &mut [f32], &mut [f32], &[f32]) + Sync,
) {
    p.par_chunks_mut(CHUNK)
        .zip(s.par_chunks_mut(CHUNK))
        .zip(t.par_chunks_mut(CHUNK))
        .zip(g.par_chunks(CHUNK))
        .for_each(|(((p, s), t), g)| f(p, s, t, g));
}

/// Scales all gradients so that their global L2 norm is at most `max_norm`;
/// returns the norm before clipping.
pub fn clip_global_norm(
    grads: &mut HashMap<String, Tensor>,
    order: &[String],
    max_norm: f64,
) -> f64 {
    let norm = order
        .iter()
        .filter_map(|n| grads.get(n))
        .map(|g| g.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>())
        .sum::<f64>()
        .sqrt();
    if norm > max_norm {
        let scale = (max_norm / (norm + 1e-6)) as f32;
        for g in grads.values_mut() {
            g.mapv_inplace(|x| x * scale);
        }
    }
    norm
}
