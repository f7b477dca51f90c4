//! The tape: an arena of values in record order, and the reverse pass.

use super::op::{Op, Unary, sigmoid};
use super::tensor::Tensor;
use crate::kernels;
use crate::kernels::conv::Conv2dGeometry;
use crate::kernels::pool::Pool2dGeometry;
use crate::kernels::recurrent::{RecurrentGeometry, RecurrentKind};
use ndarray::{Axis, IxDyn};

/// A value recorded on a tape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Var(usize);

struct Node {
    value: Tensor,
    op: Op,
    inputs: Vec<Var>,
    /// Whether a gradient flows to this node (some leaf below it wants one).
    needs_grad: bool,
}

/// Records operations in execution order. A tape made with
/// [`Tape::inference`] keeps values but no backward information.
pub struct Tape {
    nodes: Vec<Node>,
    recording: bool,
}

/// Gradients of a scalar with respect to every recorded value that needs one.
pub struct Grads {
    grads: Vec<Option<Tensor>>,
}

impl Grads {
    /// The gradient of `var`, if it needs one and the loss depends on it.
    pub fn get(&self, var: Var) -> Option<&Tensor> {
        self.grads.get(var.0).and_then(Option::as_ref)
    }

    /// Moves the gradient of `var` out, leaving none.
    pub fn take(&mut self, var: Var) -> Option<Tensor> {
        self.grads.get_mut(var.0).and_then(Option::take)
    }
}

impl Default for Tape {
    fn default() -> Tape {
        Tape::new()
    }
}

impl Tape {
    /// A tape that records for backward.
    pub fn new() -> Tape {
        Tape {
            nodes: Vec::new(),
            recording: true,
        }
    }

    /// A tape for evaluation: no gradients, no saved backward state.
    pub fn inference() -> Tape {
        Tape {
            nodes: Vec::new(),
            recording: false,
        }
    }

    /// Whether this tape records for backward.
    pub fn is_recording(&self) -> bool {
        self.recording
    }

    /// Number of recorded values.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The value of `var`.
    pub fn value(&self, var: Var) -> &Tensor {
        &self.nodes[var.0].value
    }

    /// The value of a scalar `var` such as a loss (NaN if it is empty).
    pub fn scalar(&self, var: Var) -> f32 {
        self.value(var).iter().next().copied().unwrap_or(f32::NAN)
    }

    /// Records an input (`needs_grad = false`) or parameter (`true`).
    pub fn leaf(&mut self, value: Tensor, needs_grad: bool) -> Var {
        self.nodes.push(Node {
            value,
            op: Op::Leaf,
            inputs: Vec::new(),
            needs_grad: needs_grad && self.recording,
        });
        Var(self.nodes.len() - 1)
    }

    fn push(&mut self, value: Tensor, op: Op, inputs: Vec<Var>) -> Var {
        let needs_grad = self.recording && inputs.iter().any(|v| self.nodes[v.0].needs_grad);
        let op = if needs_grad { op } else { Op::Leaf };
        self.nodes.push(Node {
            value,
            op,
            inputs,
            needs_grad,
        });
        Var(self.nodes.len() - 1)
    }

    /// `a + b` with broadcasting.
    pub fn add(&mut self, a: Var, b: Var) -> Var {
        let value = self.value(a) + self.value(b);
        self.push(value, Op::Add, vec![a, b])
    }

    /// `a - b` with broadcasting.
    pub fn sub(&mut self, a: Var, b: Var) -> Var {
        let value = self.value(a) - self.value(b);
        self.push(value, Op::Sub, vec![a, b])
    }

    /// `a * b` with broadcasting.
    pub fn mul(&mut self, a: Var, b: Var) -> Var {
        let value = self.value(a) * self.value(b);
        self.push(value, Op::Mul, vec![a, b])
    }

    /// `a / b` with broadcasting.
    pub fn div(&mut self, a: Var, b: Var) -> Var {
        let value = self.value(a) / self.value(b);
        self.push(value, Op::Div, vec![a, b])
    }

    /// `-a`
    pub fn neg(&mut self, a: Var) -> Var {
        let value = self.value(a).mapv(|x| -x);
        self.push(value, Op::Neg, vec![a])
    }

    /// `a * k` for a constant `k` of the same shape (a dropout mask).
    pub fn mul_const(&mut self, a: Var, k: Tensor) -> Var {
        let value = self.value(a) * &k;
        self.push(value, Op::MulConst(k), vec![a])
    }

    /// An elementwise function.
    pub fn unary(&mut self, f: Unary, a: Var) -> Var {
        let value = self.value(a).mapv(|x| f.f(x));
        self.push(value, Op::Unary(f), vec![a])
    }

    /// Matrix product: `[.., k] @ [k, n] -> [.., n]`, or batched
    /// `[b, m, k] @ [b, k, n] -> [b, m, n]`.
    pub fn matmul(&mut self, a: Var, b: Var) -> Var {
        let value = matmul_value(self.value(a), self.value(b));
        self.push(value, Op::MatMul, vec![a, b])
    }

    /// Softmax along `axis`.
    pub fn softmax(&mut self, a: Var, axis: usize) -> Var {
        let value = softmax(self.value(a), axis);
        self.push(value, Op::Softmax(axis), vec![a])
    }

    /// Sum over `axes`, keeping them as size-1 axes if `keep`.
    pub fn sum(&mut self, a: Var, axes: &[usize], keep: bool) -> Var {
        let mut axes = axes.to_vec();
        axes.sort_unstable();
        axes.dedup();
        let value = sum_axes(self.value(a), &axes, keep);
        self.push(value, Op::Sum { axes, keep }, vec![a])
    }

    /// Mean over `axes`, keeping them as size-1 axes if `keep`.
    pub fn mean(&mut self, a: Var, axes: &[usize], keep: bool) -> Var {
        let count: usize = axes.iter().map(|&ax| self.value(a).shape()[ax]).product();
        let total = self.sum(a, axes, keep);
        self.scale(total, 1.0 / count.max(1) as f32)
    }

    /// `a * k` for a scalar `k`.
    pub fn scale(&mut self, a: Var, k: f32) -> Var {
        let shape = self.value(a).raw_dim();
        self.mul_const(a, Tensor::from_elem(shape, k))
    }

    /// A new shape with the same elements in the same order.
    pub fn reshape(&mut self, a: Var, shape: &[usize]) -> Var {
        let value = self
            .value(a)
            .as_standard_layout()
            .into_owned()
            .into_shape_with_order(IxDyn(shape))
            .expect("reshape: caller checked the element count");
        self.push(value, Op::Reshape, vec![a])
    }

    /// Concatenation along `axis`.
    pub fn concat(&mut self, parts: &[Var], axis: usize) -> Var {
        let views: Vec<_> = parts.iter().map(|v| self.value(*v).view()).collect();
        let value =
            ndarray::concatenate(Axis(axis), &views).expect("concat: caller checked the shapes");
        self.push(value, Op::Concat(axis), parts.to_vec())
    }

    /// Index `index` along `axis`, removing the axis (`last` is the final index of axis 1).
    pub fn select(&mut self, a: Var, axis: usize, index: usize) -> Var {
        let value = self.value(a).index_axis(Axis(axis), index).to_owned();
        self.push(value, Op::Select { axis, index }, vec![a])
    }

    /// Rows of `table` (`[V, D]`) picked by `ids`, shaped `shape + [D]`.
    pub fn gather(&mut self, table: Var, ids: Vec<usize>, shape: &[usize]) -> Var {
        let t = self.value(table);
        let dim = t.shape()[1];
        let mut out = Vec::with_capacity(ids.len() * dim);
        for &id in &ids {
            out.extend(t.index_axis(Axis(0), id).iter());
        }
        let mut full = shape.to_vec();
        full.push(dim);
        let value = Tensor::from_shape_vec(IxDyn(&full), out).expect("gather: sizes agree");
        self.push(value, Op::Gather(ids), vec![table])
    }

    /// 2-D convolution of `x` (`[n, c, h, w]`) with `weight` (`[o, c, kh, kw]`)
    /// and an optional `bias` (`[o]`).
    pub fn conv2d(
        &mut self,
        x: Var,
        weight: Var,
        bias: Option<Var>,
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> Var {
        let (xs, ws) = (
            self.value(x).shape().to_vec(),
            self.value(weight).shape().to_vec(),
        );
        let g = Conv2dGeometry::new(
            xs[0],
            xs[1],
            [xs[2], xs[3]],
            ws[0],
            [ws[2], ws[3]],
            stride,
            padding,
        )
        .expect("conv2d: the checker proved the output size is at least 1");
        let mut out = vec![0.0; g.output_len()];
        {
            let input = contiguous(self.value(x));
            let w = contiguous(self.value(weight));
            let b = bias.map(|b| contiguous(self.value(b)));
            kernels::conv::conv2d_forward(&g, &input, &w, b.as_deref(), &mut out);
        }
        let value = Tensor::from_shape_vec(IxDyn(&[g.batch, g.out_c, g.out_h, g.out_w]), out)
            .expect("output size");
        let mut inputs = vec![x, weight];
        inputs.extend(bias);
        self.push(value, Op::Conv2d(g), inputs)
    }

    /// Max (`max = true`) or average pooling of `x` (`[n, c, h, w]`).
    pub fn pool2d(
        &mut self,
        x: Var,
        max: bool,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        ceil: bool,
    ) -> Var {
        let xs = self.value(x).shape().to_vec();
        let g = Pool2dGeometry::new(xs[0], xs[1], [xs[2], xs[3]], kernel, stride, padding, ceil)
            .expect("pool: the checker proved the output size is at least 1");
        let mut out = vec![0.0; g.output_len()];
        let input = contiguous(self.value(x));
        let op = if max {
            let mut indices = vec![0; g.output_len()];
            kernels::pool::max_pool2d_forward(&g, &input, &mut out, &mut indices);
            Op::MaxPool(g, indices)
        } else {
            kernels::pool::avg_pool2d_forward(&g, &input, &mut out);
            Op::AvgPool(g)
        };
        let value = Tensor::from_shape_vec(IxDyn(&[g.batch, g.channels, g.out_h, g.out_w]), out)
            .expect("output size");
        self.push(value, op, vec![x])
    }

    /// A recurrent layer of `kind` over the sequences `x` (`[n, t, i]`), with
    /// `weight` (`[i + h, gates * h]`) and `bias` (`[gates * h]`): every hidden
    /// state, `[n, t, h]`. Backward is backpropagation through time.
    pub fn recurrent(&mut self, kind: RecurrentKind, x: Var, weight: Var, bias: Var) -> Var {
        let xs = self.value(x).shape().to_vec();
        let width = self.value(bias).len();
        let g = RecurrentGeometry {
            kind,
            batch: xs[0],
            steps: xs[1],
            input: xs[2],
            hidden: width / kind.gates(),
        };
        let mut out = vec![0.0; g.output_len()];
        let saved = kernels::recurrent::recurrent_forward(
            &g,
            &contiguous(self.value(x)),
            &contiguous(self.value(weight)),
            &contiguous(self.value(bias)),
            &mut out,
        );
        let value =
            Tensor::from_shape_vec(IxDyn(&[g.batch, g.steps, g.hidden]), out).expect("output size");
        self.push(
            value,
            Op::Recurrent(g, Box::new(saved)),
            vec![x, weight, bias],
        )
    }

    /// Mean cross-entropy of softmax(`logits`) (`[N, K]`) against class ids.
    pub fn softmax_cross_entropy(&mut self, logits: Var, targets: &[u32]) -> Var {
        let probs = softmax(self.value(logits), 1);
        let n = targets.len().max(1) as f32;
        let lp = log_softmax(self.value(logits), 1);
        let total: f32 = targets
            .iter()
            .enumerate()
            .map(|(i, &t)| -lp[[i, t as usize]])
            .sum();
        let value = Tensor::from_elem(IxDyn(&[]), total / n);
        self.push(
            value,
            Op::SoftmaxCrossEntropy {
                probs,
                targets: targets.to_vec(),
            },
            vec![logits],
        )
    }

    /// Mean binary cross-entropy of sigmoid(`logits`) against 0/1 `targets`
    /// of the same shape, computed stably from the logits.
    pub fn bce_with_logits(&mut self, logits: Var, targets: Tensor) -> Var {
        let z = self.value(logits);
        // NOTE: -[y log s(z) + (1-y) log(1-s(z))] = max(z, 0) - z y + log(1 + e^-|z|).
        let total: f32 = z
            .iter()
            .zip(targets.iter())
            .map(|(&z, &y)| z.max(0.0) - z * y + (-z.abs()).exp().ln_1p())
            .sum();
        let value = Tensor::from_elem(IxDyn(&[]), total / z.len().max(1) as f32);
        self.push(value, Op::BceWithLogits(targets), vec![logits])
    }

    /// Mean binary cross-entropy of probabilities `p` against 0/1 `targets`.
    pub fn bce(&mut self, p: Var, targets: Tensor) -> Var {
        let p_val = self.value(p);
        let total: f32 = p_val
            .iter()
            .zip(targets.iter())
            .map(|(&p, &y)| {
                let p = p.clamp(f32::EPSILON, 1.0 - f32::EPSILON);
                -(y * p.ln() + (1.0 - y) * (1.0 - p).ln())
            })
            .sum();
        let value = Tensor::from_elem(IxDyn(&[]), total / p_val.len().max(1) as f32);
        self.push(value, Op::Bce(targets), vec![p])
    }

    /// Gradients of the scalar `loss` with respect to every value that needs one.
    pub fn backward(&self, loss: Var) -> Grads {
        let mut grads: Vec<Option<Tensor>> = vec![None; self.nodes.len()];
        grads[loss.0] = Some(Tensor::ones(self.value(loss).raw_dim()));
        for index in (0..=loss.0).rev() {
            let node = &self.nodes[index];
            if !node.needs_grad || matches!(node.op, Op::Leaf) {
                continue;
            }
            let Some(grad) = grads[index].take() else {
                continue;
            };
            let contributions = self.input_grads(node, &grad);
            grads[index] = Some(grad);
            for (input, contribution) in node.inputs.iter().zip(contributions) {
                if !self.nodes[input.0].needs_grad {
                    continue;
                }
                let Some(contribution) = contribution else {
                    continue;
                };
                match &mut grads[input.0] {
                    Some(existing) => *existing += &contribution,
                    slot @ None => *slot = Some(contribution),
                }
            }
        }
        Grads { grads }
    }

    /// The gradient flowing to each input of `node`, given the gradient of its output.
    fn input_grads(&self, node: &Node, grad: &Tensor) -> Vec<Option<Tensor>> {
        let input = |i: usize| &self.nodes[node.inputs[i].0].value;
        match &node.op {
            Op::Leaf => Vec::new(),
            Op::Add => vec![
                Some(sum_to(grad, input(0).shape())),
                Some(sum_to(grad, input(1).shape())),
            ],
            Op::Sub => vec![
                Some(sum_to(grad, input(0).shape())),
                Some(sum_to(&grad.mapv(|g| -g), input(1).shape())),
            ],
            Op::Mul => vec![
                Some(sum_to(&(grad * input(1)), input(0).shape())),
                Some(sum_to(&(grad * input(0)), input(1).shape())),
            ],
            Op::Div => {
                let (a, b) = (input(0), input(1));
                let da = grad / b;
                let db = -(grad * a) / (b * b);
                vec![Some(sum_to(&da, a.shape())), Some(sum_to(&db, b.shape()))]
            }
            Op::Neg => vec![Some(grad.mapv(|g| -g))],
            Op::MulConst(k) => vec![Some(grad * k)],
            Op::Unary(f) => {
                let mut out = grad.clone();
                ndarray::Zip::from(&mut out)
                    .and(input(0))
                    .and(&node.value)
                    .for_each(|g, &x, &y| *g *= f.df(x, y));
                vec![Some(out)]
            }
            Op::MatMul => {
                let wants = [0, 1].map(|i| self.nodes[node.inputs[i].0].needs_grad);
                let (da, db) = matmul_backward(input(0), input(1), grad, wants);
                vec![da, db]
            }
            Op::Softmax(axis) => {
                // dx = y * (g - sum(g * y))
                let y = &node.value;
                let gy = grad * y;
                let s = gy.sum_axis(Axis(*axis)).insert_axis(Axis(*axis));
                vec![Some(y * &(grad - &s))]
            }
            Op::Sum { axes, keep } => {
                let mut g = grad.clone();
                if !keep {
                    for &axis in axes {
                        g = g.insert_axis(Axis(axis));
                    }
                }
                vec![Some(
                    g.broadcast(input(0).raw_dim())
                        .expect("sum: grad broadcasts back")
                        .to_owned(),
                )]
            }
            Op::Reshape => vec![Some(
                grad.as_standard_layout()
                    .into_owned()
                    .into_shape_with_order(input(0).raw_dim())
                    .expect("reshape: same count"),
            )],
            Op::Concat(axis) => {
                let mut offset = 0;
                node.inputs
                    .iter()
                    .map(|v| {
                        let size = self.nodes[v.0].value.shape()[*axis];
                        let part = grad
                            .slice_axis(Axis(*axis), ndarray::Slice::from(offset..offset + size))
                            .to_owned();
                        offset += size;
                        Some(part)
                    })
                    .collect()
            }
            Op::Select { axis, index } => {
                let mut g = Tensor::zeros(input(0).raw_dim());
                g.index_axis_mut(Axis(*axis), *index).assign(grad);
                vec![Some(g)]
            }
            Op::Gather(ids) => {
                let table = input(0);
                let dim = table.shape()[1];
                let mut g = Tensor::zeros(table.raw_dim());
                let flat = grad.as_standard_layout();
                let flat = flat.as_slice().expect("standard layout");
                for (row, &id) in ids.iter().enumerate() {
                    let mut target = g.index_axis_mut(Axis(0), id);
                    for (t, &v) in target.iter_mut().zip(&flat[row * dim..(row + 1) * dim]) {
                        *t += v;
                    }
                }
                vec![Some(g)]
            }
            Op::Conv2d(g) => {
                let wants = |i: usize| {
                    node.inputs
                        .get(i)
                        .is_some_and(|v| self.nodes[v.0].needs_grad)
                };
                let input = contiguous(input(0));
                let weight = contiguous(input_value(self, node, 1));
                let grad_out = contiguous(grad);
                let mut gi = wants(0).then(|| vec![0.0; g.input_len()]);
                let mut gw = wants(1).then(|| vec![0.0; g.weight_len()]);
                let mut gb = wants(2).then(|| vec![0.0; g.out_c]);
                kernels::conv::conv2d_backward(
                    g,
                    &input,
                    &weight,
                    &grad_out,
                    gi.as_deref_mut(),
                    gw.as_deref_mut(),
                    gb.as_deref_mut(),
                );
                let shaped = |data: Option<Vec<f32>>, i: usize| {
                    data.map(|d| {
                        Tensor::from_shape_vec(input_value(self, node, i).raw_dim(), d)
                            .expect("same size")
                    })
                };
                let mut out = vec![shaped(gi, 0), shaped(gw, 1)];
                if node.inputs.len() == 3 {
                    out.push(shaped(gb, 2));
                }
                out
            }
            Op::MaxPool(g, indices) => {
                let mut gi = vec![0.0; g.input_len()];
                kernels::pool::max_pool2d_backward(g, &contiguous(grad), indices, &mut gi);
                vec![Some(
                    Tensor::from_shape_vec(input(0).raw_dim(), gi).expect("same size"),
                )]
            }
            Op::AvgPool(g) => {
                let mut gi = vec![0.0; g.input_len()];
                kernels::pool::avg_pool2d_backward(g, &contiguous(grad), &mut gi);
                vec![Some(
                    Tensor::from_shape_vec(input(0).raw_dim(), gi).expect("same size"),
                )]
            }
            Op::Recurrent(g, saved) => {
                let wants = |i: usize| self.nodes[node.inputs[i].0].needs_grad;
                let mut gx = wants(0).then(|| vec![0.0; g.input_len()]);
                let mut gw = wants(1).then(|| vec![0.0; g.weight_len()]);
                let mut gb = wants(2).then(|| vec![0.0; g.width()]);
                kernels::recurrent::recurrent_backward(
                    g,
                    saved,
                    &contiguous(input(1)),
                    &contiguous(grad),
                    gx.as_deref_mut(),
                    gw.as_deref_mut(),
                    gb.as_deref_mut(),
                );
                [gx, gw, gb]
                    .into_iter()
                    .enumerate()
                    .map(|(i, d)| {
                        d.map(|d| Tensor::from_shape_vec(input(i).raw_dim(), d).expect("same size"))
                    })
                    .collect()
            }
            Op::SoftmaxCrossEntropy { probs, targets } => {
                let scale =
                    grad.iter().next().copied().unwrap_or(1.0) / targets.len().max(1) as f32;
                let mut g = probs.clone();
                for (i, &t) in targets.iter().enumerate() {
                    g[[i, t as usize]] -= 1.0;
                }
                g.mapv_inplace(|v| v * scale);
                vec![Some(g)]
            }
            Op::BceWithLogits(targets) => {
                let z = input(0);
                let scale = grad.iter().next().copied().unwrap_or(1.0) / z.len().max(1) as f32;
                let mut g = z.mapv(sigmoid);
                g.zip_mut_with(targets, |s, &y| *s = (*s - y) * scale);
                vec![Some(g)]
            }
            Op::Bce(targets) => {
                let p = input(0);
                let scale = grad.iter().next().copied().unwrap_or(1.0) / p.len().max(1) as f32;
                let mut g = p.clone();
                g.zip_mut_with(targets, |p, &y| {
                    let q = p.clamp(f32::EPSILON, 1.0 - f32::EPSILON);
                    *p = (q - y) / (q * (1.0 - q)) * scale;
                });
                vec![Some(g)]
            }
        }
    }
}

/// The value of input `i` of `node`.
fn input_value<'t>(tape: &'t Tape, node: &Node, i: usize) -> &'t Tensor {
    &tape.nodes[node.inputs[i].0].value
}

/// The elements of `a` in row-major order, borrowed when already contiguous.
fn contiguous(a: &Tensor) -> std::borrow::Cow<'_, [f32]> {
    match a.as_slice() {
        Some(slice) => std::borrow::Cow::Borrowed(slice),
        None => std::borrow::Cow::Owned(a.iter().copied().collect()),
    }
}

/// Sums `grad` down to `shape`, undoing broadcasting.
fn sum_to(grad: &Tensor, shape: &[usize]) -> Tensor {
    if grad.shape() == shape {
        return grad.clone();
    }
    let mut g = grad.clone();
    while g.ndim() > shape.len() {
        g = g.sum_axis(Axis(0));
    }
    for (axis, &size) in shape.iter().enumerate() {
        if size == 1 && g.shape()[axis] != 1 {
            g = g.sum_axis(Axis(axis)).insert_axis(Axis(axis));
        }
    }
    g
}

fn sum_axes(a: &Tensor, axes: &[usize], keep: bool) -> Tensor {
    let mut out = a.clone();
    for &axis in axes.iter().rev() {
        out = out.sum_axis(Axis(axis));
        if keep {
            out = out.insert_axis(Axis(axis));
        }
    }
    out
}

/// Softmax along `axis`, shifted by the maximum for stability.
pub fn softmax(a: &Tensor, axis: usize) -> Tensor {
    let max = a
        .map_axis(Axis(axis), |lane| {
            lane.fold(f32::NEG_INFINITY, |m, &x| m.max(x))
        })
        .insert_axis(Axis(axis));
    let mut e = a - &max;
    e.mapv_inplace(f32::exp);
    let s = e.sum_axis(Axis(axis)).insert_axis(Axis(axis));
    e / &s
}

fn log_softmax(a: &Tensor, axis: usize) -> Tensor {
    let max = a
        .map_axis(Axis(axis), |lane| {
            lane.fold(f32::NEG_INFINITY, |m, &x| m.max(x))
        })
        .insert_axis(Axis(axis));
    let shifted = a - &max;
    let lse = shifted
        .mapv(f32::exp)
        .sum_axis(Axis(axis))
        .mapv(f32::ln)
        .insert_axis(Axis(axis));
    shifted - &lse
}

/// The sizes of `a @ b`: `(batches, m, k, n)`. A matrix `b` (`[k, n]`) is
/// shared, so all leading axes of `a` are rows of one product; a batched `b`
/// (`[batches, k, n]`) pairs with `a` (`[batches, m, k]`) slice by slice.
fn matmul_sizes(a: &Tensor, b: &Tensor) -> (usize, usize, usize, usize) {
    let (batches, k, n) = match *b.shape() {
        [batches, k, n] => (batches, k, n),
        [k, n] => (1, k, n),
        _ => unreachable!(
            "matmul: the checker proved the right operand is a matrix or a batch of them"
        ),
    };
    (batches, a.len() / (batches * k).max(1), k, n)
}

fn matmul_value(a: &Tensor, b: &Tensor) -> Tensor {
    let (batches, m, k, n) = matmul_sizes(a, b);
    let (a_data, b_data) = (contiguous(a), contiguous(b));
    let mut out = vec![0.0; batches * m * n];
    for i in 0..batches {
        kernels::gemm(
            m,
            k,
            n,
            &a_data[i * m * k..][..m * k],
            false,
            &b_data[i * k * n..][..k * n],
            false,
            &mut out[i * m * n..][..m * n],
            false,
        );
    }
    let mut shape = a.shape().to_vec();
    *shape.last_mut().expect("rank >= 1") = n;
    Tensor::from_shape_vec(IxDyn(&shape), out).expect("batches * m * n elements")
}

/// The gradients of `a @ b` with respect to the operands that `wants` asks for:
/// per slice, dA = dC B^T (`[m, n] x [n, k]`) and dB = A^T dC (`[k, m] x [m, n]`).
fn matmul_backward(
    a: &Tensor,
    b: &Tensor,
    grad: &Tensor,
    wants: [bool; 2],
) -> (Option<Tensor>, Option<Tensor>) {
    let (batches, m, k, n) = matmul_sizes(a, b);
    let g = contiguous(grad);
    let da = wants[0].then(|| {
        let b_data = contiguous(b);
        let mut da = vec![0.0; batches * m * k];
        for i in 0..batches {
            kernels::gemm(
                m,
                n,
                k,
                &g[i * m * n..][..m * n],
                false,
                &b_data[i * k * n..][..k * n],
                true,
                &mut da[i * m * k..][..m * k],
                false,
            );
        }
        Tensor::from_shape_vec(a.raw_dim(), da).expect("same size as a")
    });
    let db = wants[1].then(|| {
        let a_data = contiguous(a);
        let mut db = vec![0.0; batches * k * n];
        for i in 0..batches {
            kernels::gemm(
                k,
                m,
                n,
                &a_data[i * m * k..][..m * k],
                true,
                &g[i * m * n..][..m * n],
                false,
                &mut db[i * k * n..][..k * n],
                false,
            );
        }
        Tensor::from_shape_vec(b.raw_dim(), db).expect("same size as b")
    });
    (da, db)
}
