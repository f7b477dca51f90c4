//! Optimizers: each keeps its state per parameter name and updates the
//! parameter store in place, in the store's fixed order.

use crate::autodiff::Tensor;
use crate::interp::ParamStore;
use crate::ir::Optimizer;
use std::collections::HashMap;

/// An optimizer with its running state.
pub struct Optim {
    config: Optimizer,
    step: i32,
    first: HashMap<String, Tensor>,
    second: HashMap<String, Tensor>,
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
            let p = store
                .values
                .get_mut(&name)
                .expect("trainable names come from the store");
            match self.config {
                Optimizer::Sgd { lr, momentum } => {
                    let lr = lr as f32;
                    if momentum == 0.0 {
                        p.zip_mut_with(g, |p, &g| *p -= lr * g);
                    } else {
                        // PyTorch's form: v = mu v + g; p -= lr v.
                        let v = self
                            .first
                            .entry(name)
                            .or_insert_with(|| Tensor::zeros(g.raw_dim()));
                        let mu = momentum as f32;
                        v.zip_mut_with(g, |v, &g| *v = mu * *v + g);
                        p.zip_mut_with(v, |p, &v| *p -= lr * v);
                    }
                }
                Optimizer::Adam { lr, betas } => {
                    let (b1, b2) = (betas.0 as f32, betas.1 as f32);
                    let m = self
                        .first
                        .entry(name.clone())
                        .or_insert_with(|| Tensor::zeros(g.raw_dim()));
                    m.zip_mut_with(g, |m, &g| *m = b1 * *m + (1.0 - b1) * g);
                    let v = self
                        .second
                        .entry(name)
                        .or_insert_with(|| Tensor::zeros(g.raw_dim()));
                    v.zip_mut_with(g, |v, &g| *v = b2 * *v + (1.0 - b2) * g * g);
                    let c1 = 1.0 - b1.powi(self.step);
                    let c2 = 1.0 - b2.powi(self.step);
                    let lr = lr as f32;
                    ndarray::Zip::from(p)
                        .and(&*m)
                        .and(&*v)
                        .for_each(|p, &m, &v| *p -= lr * (m / c1) / ((v / c2).sqrt() + 1e-8));
                }
                Optimizer::RmsProp { lr, alpha } => {
                    let a = alpha as f32;
                    let v = self
                        .second
                        .entry(name)
                        .or_insert_with(|| Tensor::zeros(g.raw_dim()));
                    v.zip_mut_with(g, |v, &g| *v = a * *v + (1.0 - a) * g * g);
                    let lr = lr as f32;
                    ndarray::Zip::from(p)
                        .and(g)
                        .and(&*v)
                        .for_each(|p, &g, &v| *p -= lr * g / (v.sqrt() + 1e-8));
                }
                Optimizer::LeastSquares { .. } | Optimizer::Exhaustive { .. } => {}
            }
        }
    }
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
