//! Recurrent layers over whole sequences: forward through time, and
//! backpropagation through time.
//!
//! One weight `[I + H, g*H]` (rows for the input first, then for the previous
//! hidden state) and one bias `[g*H]` per layer, `g` gate blocks of `H`
//! columns each:
//! - `Rnn` (g = 1): `h_t = tanh(x_t W_x + h_{t-1} W_h + b)`;
//! - `Lstm` (g = 4, blocks i, f, g, o): `c_t = f c_{t-1} + i g`,
//!   `h_t = o tanh(c_t)`;
//! - `Gru` (g = 3, blocks r, z, candidate; Cho et al. 2014):
//!   `h~ = tanh(x W_x + (r h_{t-1}) W_h + b)`, `h_t = z h_{t-1} + (1 - z) h~`;
//! - `GruResetAfter` (the form of PyTorch's `nn.GRU`, cuDNN and Keras'
//!   `reset_after`), with a recurrent bias `b_h` `[3H]` of its own:
//!   `q = h_{t-1} W_h + b_h`, `r, z = sigmoid(x W_x + b + q)` on their
//!   blocks, `h~ = tanh(x W_xc + b_c + r q_c)`, `h_t` as above.
//!
//! NOTE: the input half of every gate is one GEMM over all time steps
//! (`[T*N, I] x [I, g*H]`); only the recurrent half is a GEMM per step. In
//! backward, the weight and input gradients are likewise one GEMM each over
//! the whole sequence; only the gradient flowing to `h_{t-1}` is per step.
//! Inside, sequences are time-major (`[T, N, ..]`) so each step is one
//! contiguous block.
//!
//! Sequences are independent, so the batch is cut into chunks (at least 16
//! sequences each, at most 8 chunks; the cut depends on the batch size
//! alone) that run in parallel; weight and bias gradients are summed over
//! the chunks in chunk order, so results are bit-identical for any thread
//! count.

use super::gemm;
use super::small::small_product;
use crate::multiversion;
use rayon::prelude::*;

/// Which recurrent layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecurrentKind {
    /// Elman RNN with tanh.
    Rnn,
    /// LSTM, gate blocks i, f, g, o.
    Lstm,
    /// GRU, blocks r, z, candidate; reset applied before `W_h`.
    Gru,
    /// GRU with the reset applied after `W_h` and a recurrent bias.
    GruResetAfter,
}

impl RecurrentKind {
    /// The number of `H`-wide column blocks of the weight.
    pub fn gates(self) -> usize {
        match self {
            RecurrentKind::Rnn => 1,
            RecurrentKind::Lstm => 4,
            RecurrentKind::Gru | RecurrentKind::GruResetAfter => 3,
        }
    }
}

/// Sizes of a recurrent layer applied to a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecurrentGeometry {
    /// The layer.
    pub kind: RecurrentKind,
    /// Sequences in the batch (`N`).
    pub batch: usize,
    /// Time steps (`T`).
    pub steps: usize,
    /// Input features per step (`I`).
    pub input: usize,
    /// Hidden size (`H`).
    pub hidden: usize,
}

impl RecurrentGeometry {
    /// Elements of the input `[N, T, I]`.
    pub fn input_len(&self) -> usize {
        self.batch * self.steps * self.input
    }

    /// Elements of the output `[N, T, H]`.
    pub fn output_len(&self) -> usize {
        self.batch * self.steps * self.hidden
    }

    /// Columns of the weight, `g*H`.
    pub fn width(&self) -> usize {
        self.kind.gates() * self.hidden
    }

    /// Elements of the weight `[I + H, g*H]`.
    pub fn weight_len(&self) -> usize {
        (self.input + self.hidden) * self.width()
    }

    /// Elements of the recurrent bias: `g*H` for [`RecurrentKind::GruResetAfter`],
    /// none for the others.
    pub fn recurrent_bias_len(&self) -> usize {
        if self.kind == RecurrentKind::GruResetAfter {
            self.width()
        } else {
            0
        }
    }
}

/// What the forward pass keeps for backward: one [`ChunkState`] per chunk
/// of the batch, with the geometry of that chunk and its first sequence.
#[derive(Clone, Debug)]
pub struct RecurrentSaved {
    chunks: Vec<(usize, RecurrentGeometry, ChunkState)>,
}

/// What the forward pass keeps of one chunk of sequences, all time-major.
#[derive(Clone, Debug)]
struct ChunkState {
    /// The input, `[T, N, I]`.
    x: Vec<f32>,
    /// Hidden states `h_0 .. h_T`, `[T + 1, N, H]` (`h_0` = 0).
    h: Vec<f32>,
    /// LSTM cell states `c_0 .. c_T`, `[T + 1, N, H]`; empty otherwise.
    c: Vec<f32>,
    /// LSTM `tanh(c_t)` for `t = 1 .. T`, `[T, N, H]`; empty otherwise.
    tc: Vec<f32>,
    /// Gate activations per step, `[T, N, g*H]`.
    gates: Vec<f32>,
    /// GRU `r * h_{t-1}` (reset after: `q_c`, the candidate's recurrent
    /// product with its bias) per step, `[T, N, H]`; empty otherwise.
    rh: Vec<f32>,
}

/// `e^x` to within about 2 ulp (Cephes' `expf`: `2^n e^r` with `|r| <= ln 2 / 2`
/// and a degree-6 polynomial), written without calls or branches so that a
/// loop of it vectorises; the library's `expf` and `tanhf` took half of an
/// LSTM step. Arguments are clamped to `[-87, 88]`, where `e^x` is a normal
/// `f32`.
#[inline(always)]
fn exp(x: f32) -> f32 {
    const ROUND: f32 = 12_582_912.0; // 1.5 * 2^23: adding it rounds to an integer
    let x = x.clamp(-87.0, 88.0);
    let shifted = x * std::f32::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    // NOTE: the integer n sits in the low mantissa bits of `shifted`; reading
    // it from there avoids a float-to-int conversion, which Rust saturates
    // lane by lane and so keeps the loop from vectorising.
    let n_bits = (shifted.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let p = 1.987_569_1e-4f32;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    y * f32::from_bits((n_bits.wrapping_add(127) << 23) as u32)
}

/// The logistic function `1 / (1 + e^-x)`.
#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// `tanh x = sign(x) (1 - e^-2|x|) / (1 + e^-2|x|)`.
#[inline(always)]
fn tanh(x: f32) -> f32 {
    let e = exp(-2.0 * x.abs());
    ((1.0 - e) / (1.0 + e)).copysign(x)
}

/// Columns `from..from + width` of the row-major `[rows, cols]` matrix `m`, as
/// a contiguous `[rows, width]` matrix.
fn columns(m: &[f32], cols: usize, from: usize, width: usize) -> Vec<f32> {
    m.chunks(cols)
        .flat_map(|row| row[from..from + width].iter().copied())
        .collect()
}

/// The transpose `[cols, rows]` of the row-major `[rows, cols]` matrix `m`.
fn transpose(m: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0; rows * cols];
    for (r, row) in m.chunks_exact(cols).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            t[c * rows + r] = v;
        }
    }
    t
}

/// Adds the contiguous `[rows, width]` matrix `src` into columns
/// `from..from + width` of the `[rows, cols]` matrix `dst`.
fn add_columns(dst: &mut [f32], cols: usize, from: usize, src: &[f32], width: usize) {
    for (row, s) in dst.chunks_mut(cols).zip(src.chunks(width)) {
        for (d, v) in row[from..from + width].iter_mut().zip(s) {
            *d += v;
        }
    }
}

/// Sequences per chunk below which a batch is not split.
const CHUNK_SEQUENCES: usize = 16;
/// The most chunks a batch is split into.
const MAX_CHUNKS: usize = 8;

/// The chunks of a batch of `batch` sequences, as `(first, end)`: as many
/// chunks of at least [`CHUNK_SEQUENCES`] as fit, at most [`MAX_CHUNKS`].
/// The split depends on the batch size alone, so results do not depend on
/// the thread count.
fn chunk_bounds(batch: usize) -> Vec<(usize, usize)> {
    let count = (batch / CHUNK_SEQUENCES).clamp(1, MAX_CHUNKS);
    (0..count)
        .map(|c| (batch * c / count, batch * (c + 1) / count))
        .collect()
}

/// Runs the layer over the sequences `x` (`[N, T, I]`) with `weight`
/// (`[I + H, g*H]`) and `bias` (`[g*H]`), writing every hidden state to
/// `out` (`[N, T, H]`); returns what backward needs. Sequences are
/// independent, so chunks of the batch run in parallel.
///
/// # Panics
/// When a slice's length does not match the geometry (an internal error).
pub fn recurrent_forward(
    g: &RecurrentGeometry,
    x: &[f32],
    weight: &[f32],
    bias: &[f32],
    recurrent_bias: &[f32],
    out: &mut [f32],
) -> RecurrentSaved {
    assert_eq!(x.len(), g.input_len(), "recurrent: input");
    assert_eq!(weight.len(), g.weight_len(), "recurrent: weight");
    assert_eq!(bias.len(), g.width(), "recurrent: bias");
    assert_eq!(
        recurrent_bias.len(),
        g.recurrent_bias_len(),
        "recurrent: recurrent bias"
    );
    assert_eq!(out.len(), g.output_len(), "recurrent: output");
    let run = |&(first, end): &(usize, usize)| {
        let cg = RecurrentGeometry {
            batch: end - first,
            ..*g
        };
        let x = &x[first * g.steps * g.input..end * g.steps * g.input];
        let mut o = vec![0.0; cg.output_len()];
        let state = chunk_forward(&cg, x, weight, bias, recurrent_bias, &mut o);
        (first, cg, state, o)
    };
    let bounds = chunk_bounds(g.batch);
    let results: Vec<_> = if bounds.len() > 1 {
        bounds.par_iter().map(run).collect()
    } else {
        bounds.iter().map(run).collect()
    };
    let per = g.steps * g.hidden;
    let chunks = results
        .into_iter()
        .map(|(first, cg, state, o)| {
            out[first * per..][..o.len()].copy_from_slice(&o);
            (first, cg, state)
        })
        .collect();
    RecurrentSaved { chunks }
}

multiversion! {
    /// [`recurrent_forward`] on one chunk of sequences.
    fn chunk_forward(
        g: &RecurrentGeometry,
        x: &[f32],
        weight: &[f32],
        bias: &[f32],
        recurrent_bias: &[f32],
        out: &mut [f32],
    ) -> ChunkState {
        let (n, steps, i, h, gh) = (g.batch, g.steps, g.input, g.hidden, g.width());
        assert_eq!(x.len(), g.input_len(), "recurrent: input");
        assert_eq!(weight.len(), g.weight_len(), "recurrent: weight");
        assert_eq!(bias.len(), gh, "recurrent: bias");
        assert_eq!(out.len(), g.output_len(), "recurrent: output");
        let rows = steps * n;
        let mut xt = vec![0.0; rows * i];
        for b in 0..n {
            for t in 0..steps {
                xt[(t * n + b) * i..][..i].copy_from_slice(&x[(b * steps + t) * i..][..i]);
            }
        }
        let (wx, wh) = weight.split_at(i * gh);
        let mut gates = vec![0.0; rows * gh];
        gemm(rows, i, gh, &xt, false, wx, false, &mut gates, false);
        for row in gates.chunks_mut(gh) {
            row.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
        }
        let block = n * h;
        let mut hs = vec![0.0; (steps + 1) * block];
        let mut cs = if g.kind == RecurrentKind::Lstm {
            vec![0.0; (steps + 1) * block]
        } else {
            Vec::new()
        };
        let mut tc = if g.kind == RecurrentKind::Lstm {
            vec![0.0; rows * h]
        } else {
            Vec::new()
        };
        let gru = matches!(g.kind, RecurrentKind::Gru | RecurrentKind::GruResetAfter);
        let mut rh = if gru { vec![0.0; rows * h] } else { Vec::new() };
        let mut q = if g.kind == RecurrentKind::GruResetAfter {
            vec![0.0; n * gh]
        } else {
            Vec::new()
        };
        let (wh_rz, wh_c) = if g.kind == RecurrentKind::Gru {
            (columns(wh, gh, 0, 2 * h), columns(wh, gh, 2 * h, h))
        } else {
            (Vec::new(), Vec::new())
        };
        let mut tmp_rz = vec![0.0; n * 2 * h];
        let mut tmp_c = vec![0.0; block];
        for t in 0..steps {
            let (past, future) = hs.split_at_mut((t + 1) * block);
            let h_prev = &past[t * block..];
            let h_next = &mut future[..block];
            let pre = &mut gates[t * n * gh..][..n * gh];
            match g.kind {
                RecurrentKind::Rnn => {
                    small_product(n, h, gh, h_prev, wh, pre, true);
                    pre.iter_mut().for_each(|p| *p = tanh(*p));
                    h_next.copy_from_slice(pre);
                }
                RecurrentKind::Lstm => {
                    small_product(n, h, gh, h_prev, wh, pre, true);
                    let (c_past, c_future) = cs.split_at_mut((t + 1) * block);
                    let c_prev = &c_past[t * block..];
                    let c_next = &mut c_future[..block];
                    let tc_t = &mut tc[t * block..][..block];
                    for b in 0..n {
                        let p = &mut pre[b * gh..][..gh];
                        let (ifg, rest) = p.split_at_mut(2 * h);
                        let (g_gate, o_gate) = rest.split_at_mut(h);
                        ifg.iter_mut().for_each(|v| *v = sigmoid(*v));
                        g_gate.iter_mut().for_each(|v| *v = tanh(*v));
                        o_gate.iter_mut().for_each(|v| *v = sigmoid(*v));
                        let (i_gate, f_gate) = ifg.split_at(h);
                        let k = b * h;
                        for j in 0..h {
                            c_next[k + j] = f_gate[j] * c_prev[k + j] + i_gate[j] * g_gate[j];
                        }
                        for j in 0..h {
                            tc_t[k + j] = tanh(c_next[k + j]);
                            h_next[k + j] = o_gate[j] * tc_t[k + j];
                        }
                    }
                }
                RecurrentKind::Gru => {
                    small_product(n, h, 2 * h, h_prev, &wh_rz, &mut tmp_rz, false);
                    let rh_t = &mut rh[t * block..][..block];
                    for b in 0..n {
                        let p = &mut pre[b * gh..][..gh];
                        let rz = &tmp_rz[b * 2 * h..][..2 * h];
                        for (v, r) in p[..2 * h].iter_mut().zip(rz) {
                            *v = sigmoid(*v + r);
                        }
                        for j in 0..h {
                            rh_t[b * h + j] = p[j] * h_prev[b * h + j];
                        }
                    }
                    small_product(n, h, h, rh_t, &wh_c, &mut tmp_c, false);
                    for b in 0..n {
                        let p = &mut pre[b * gh..][..gh];
                        for j in 0..h {
                            let cand = tanh(p[2 * h + j] + tmp_c[b * h + j]);
                            p[2 * h + j] = cand;
                            let z = p[h + j];
                            h_next[b * h + j] = z * h_prev[b * h + j] + (1.0 - z) * cand;
                        }
                    }
                }
                RecurrentKind::GruResetAfter => {
                    small_product(n, h, gh, h_prev, wh, &mut q, false);
                    let qc_t = &mut rh[t * block..][..block];
                    for b in 0..n {
                        let p = &mut pre[b * gh..][..gh];
                        let q = &mut q[b * gh..][..gh];
                        q.iter_mut().zip(recurrent_bias).for_each(|(v, c)| *v += c);
                        for (v, r) in p[..2 * h].iter_mut().zip(&q[..2 * h]) {
                            *v = sigmoid(*v + r);
                        }
                        for j in 0..h {
                            let qc = q[2 * h + j];
                            qc_t[b * h + j] = qc;
                            let cand = tanh(p[2 * h + j] + p[j] * qc);
                            p[2 * h + j] = cand;
                            let z = p[h + j];
                            h_next[b * h + j] = z * h_prev[b * h + j] + (1.0 - z) * cand;
                        }
                    }
                }
            }
        }
        for b in 0..n {
            for t in 0..steps {
                out[(b * steps + t) * h..][..h].copy_from_slice(&hs[(t + 1) * block + b * h..][..h]);
            }
        }
        ChunkState {
            x: xt,
            h: hs,
            c: cs,
            tc,
            gates,
            rh,
        }
    }
}

/// Backpropagation through time: given the gradient of every hidden state
/// (`grad_out`, `[N, T, H]`), adds the gradients of the input, weight and bias
/// into the buffers given (`None` for one nobody needs). Chunks of the batch
/// run in parallel; their weight and bias gradients are summed in chunk order.
///
/// # Panics
/// When a slice's length does not match the geometry (an internal error).
#[allow(clippy::too_many_arguments)] // one buffer per gradient, each optional
pub fn recurrent_backward(
    g: &RecurrentGeometry,
    saved: &RecurrentSaved,
    weight: &[f32],
    grad_out: &[f32],
    grad_x: Option<&mut [f32]>,
    grad_weight: Option<&mut [f32]>,
    grad_bias: Option<&mut [f32]>,
    grad_recurrent_bias: Option<&mut [f32]>,
) {
    assert_eq!(weight.len(), g.weight_len(), "recurrent: weight");
    assert_eq!(grad_out.len(), g.output_len(), "recurrent: output gradient");
    let (want_x, want_w, want_b) = (grad_x.is_some(), grad_weight.is_some(), grad_bias.is_some());
    let want_rb = grad_recurrent_bias.is_some();
    let run = |(first, cg, state): &(usize, RecurrentGeometry, ChunkState)| {
        let per = g.steps * g.hidden;
        let grad_out = &grad_out[first * per..][..cg.output_len()];
        let mut gx = want_x.then(|| vec![0.0; cg.input_len()]);
        let mut gw = want_w.then(|| vec![0.0; cg.weight_len()]);
        let mut gb = want_b.then(|| vec![0.0; cg.width()]);
        let mut grb = want_rb.then(|| vec![0.0; cg.recurrent_bias_len()]);
        chunk_backward(
            cg,
            state,
            weight,
            grad_out,
            gx.as_deref_mut(),
            gw.as_deref_mut(),
            gb.as_deref_mut(),
            grb.as_deref_mut(),
        );
        (*first, gx, gw, gb, grb)
    };
    let results: Vec<_> = if saved.chunks.len() > 1 {
        saved.chunks.par_iter().map(run).collect()
    } else {
        saved.chunks.iter().map(run).collect()
    };
    let (mut grad_x, mut grad_weight, mut grad_bias) = (grad_x, grad_weight, grad_bias);
    let mut grad_recurrent_bias = grad_recurrent_bias;
    let add = |dst: &mut [f32], src: &[f32]| dst.iter_mut().zip(src).for_each(|(d, s)| *d += s);
    for (first, gx, gw, gb, grb) in results {
        if let (Some(dst), Some(src)) = (grad_x.as_deref_mut(), gx) {
            assert_eq!(dst.len(), g.input_len(), "recurrent: input gradient");
            add(&mut dst[first * g.steps * g.input..][..src.len()], &src);
        }
        if let (Some(dst), Some(src)) = (grad_weight.as_deref_mut(), gw) {
            assert_eq!(dst.len(), g.weight_len(), "recurrent: weight gradient");
            add(dst, &src);
        }
        if let (Some(dst), Some(src)) = (grad_bias.as_deref_mut(), gb) {
            assert_eq!(dst.len(), g.width(), "recurrent: bias gradient");
            add(dst, &src);
        }
        if let (Some(dst), Some(src)) = (grad_recurrent_bias.as_deref_mut(), grb) {
            assert_eq!(
                dst.len(),
                g.recurrent_bias_len(),
                "recurrent: recurrent bias gradient"
            );
            add(dst, &src);
        }
    }
}

multiversion! {
    /// [`recurrent_backward`] on one chunk of sequences.
    #[allow(clippy::too_many_arguments)] // one buffer per gradient, each optional
    fn chunk_backward(
        g: &RecurrentGeometry,
        saved: &ChunkState,
        weight: &[f32],
        grad_out: &[f32],
        grad_x: Option<&mut [f32]>,
        grad_weight: Option<&mut [f32]>,
        grad_bias: Option<&mut [f32]>,
        grad_recurrent_bias: Option<&mut [f32]>,
    ) {
        let (n, steps, i, h, gh) = (g.batch, g.steps, g.input, g.hidden, g.width());
        assert_eq!(weight.len(), g.weight_len(), "recurrent: weight");
        assert_eq!(grad_out.len(), g.output_len(), "recurrent: output gradient");
        let rows = steps * n;
        let block = n * h;
        let (wx, wh) = weight.split_at(i * gh);
        // The per-step products need the recurrent weight transposed: made once
        // per sequence, not at every step.
        let (wh_t, wh_rz_t, wh_c_t) = if g.kind == RecurrentKind::Gru {
            let (rz, c) = (columns(wh, gh, 0, 2 * h), columns(wh, gh, 2 * h, h));
            (Vec::new(), transpose(&rz, h, 2 * h), transpose(&c, h, h))
        } else {
            (transpose(wh, h, gh), Vec::new(), Vec::new())
        };
        // Gradients of the gates' pre-activations, [T, N, g*H].
        let mut dpre = vec![0.0; rows * gh];
        let mut dh_next = vec![0.0; block];
        let mut dc_next = vec![0.0; block];
        let mut dh = vec![0.0; block];
        let mut d_rz = vec![0.0; n * 2 * h];
        let mut d_c = vec![0.0; block];
        let mut d_rh = vec![0.0; block];
        // Reset after: the gradients of the recurrent product `q`, [T, N, g*H].
        let mut dq = if g.kind == RecurrentKind::GruResetAfter {
            vec![0.0; rows * gh]
        } else {
            Vec::new()
        };
        for t in (0..steps).rev() {
            for b in 0..n {
                for j in 0..h {
                    dh[b * h + j] = grad_out[(b * steps + t) * h + j] + dh_next[b * h + j];
                }
            }
            let act = &saved.gates[t * n * gh..][..n * gh];
            let dp = &mut dpre[t * n * gh..][..n * gh];
            let h_prev = &saved.h[t * block..][..block];
            match g.kind {
                RecurrentKind::Rnn => {
                    for ((d, &a), &dy) in dp.iter_mut().zip(act).zip(&dh) {
                        *d = dy * (1.0 - a * a);
                    }
                    small_product(n, gh, h, dp, &wh_t, &mut dh_next, false);
                }
                RecurrentKind::Lstm => {
                    let tc = &saved.tc[t * block..][..block];
                    let c_prev = &saved.c[t * block..][..block];
                    for b in 0..n {
                        let a = &act[b * gh..][..gh];
                        let d = &mut dp[b * gh..][..gh];
                        for j in 0..h {
                            let k = b * h + j;
                            let (ig, fg, gg, og) = (a[j], a[h + j], a[2 * h + j], a[3 * h + j]);
                            let tc = tc[k];
                            let dc = dc_next[k] + dh[k] * og * (1.0 - tc * tc);
                            d[j] = dc * gg * ig * (1.0 - ig);
                            d[h + j] = dc * c_prev[k] * fg * (1.0 - fg);
                            d[2 * h + j] = dc * ig * (1.0 - gg * gg);
                            d[3 * h + j] = dh[k] * tc * og * (1.0 - og);
                            dc_next[k] = dc * fg;
                        }
                    }
                    small_product(n, gh, h, dp, &wh_t, &mut dh_next, false);
                }
                RecurrentKind::Gru => {
                    for b in 0..n {
                        let a = &act[b * gh..][..gh];
                        for j in 0..h {
                            let k = b * h + j;
                            let (z, cand) = (a[h + j], a[2 * h + j]);
                            d_rz[b * 2 * h + h + j] = dh[k] * (h_prev[k] - cand) * z * (1.0 - z);
                            d_c[k] = dh[k] * (1.0 - z) * (1.0 - cand * cand);
                            dh_next[k] = dh[k] * z;
                        }
                    }
                    small_product(n, h, h, &d_c, &wh_c_t, &mut d_rh, false);
                    for b in 0..n {
                        let a = &act[b * gh..][..gh];
                        for j in 0..h {
                            let k = b * h + j;
                            let r = a[j];
                            d_rz[b * 2 * h + j] = d_rh[k] * h_prev[k] * r * (1.0 - r);
                            dh_next[k] += d_rh[k] * r;
                        }
                    }
                    small_product(n, 2 * h, h, &d_rz, &wh_rz_t, &mut dh_next, true);
                    for b in 0..n {
                        let d = &mut dp[b * gh..][..gh];
                        d[..2 * h].copy_from_slice(&d_rz[b * 2 * h..][..2 * h]);
                        d[2 * h..].copy_from_slice(&d_c[b * h..][..h]);
                    }
                }
                RecurrentKind::GruResetAfter => {
                    let qc = &saved.rh[t * block..][..block];
                    let dq_t = &mut dq[t * n * gh..][..n * gh];
                    for b in 0..n {
                        let a = &act[b * gh..][..gh];
                        let d = &mut dp[b * gh..][..gh];
                        let e = &mut dq_t[b * gh..][..gh];
                        for j in 0..h {
                            let k = b * h + j;
                            let (r, z, cand) = (a[j], a[h + j], a[2 * h + j]);
                            let dc = dh[k] * (1.0 - z) * (1.0 - cand * cand);
                            let dz = dh[k] * (h_prev[k] - cand) * z * (1.0 - z);
                            let dr = dc * qc[k] * r * (1.0 - r);
                            (d[j], d[h + j], d[2 * h + j]) = (dr, dz, dc);
                            (e[j], e[h + j], e[2 * h + j]) = (dr, dz, dc * r);
                            dh_next[k] = dh[k] * z;
                        }
                    }
                    small_product(n, gh, h, dq_t, &wh_t, &mut dh_next, true);
                }
            }
        }
        if let Some(grb) = grad_recurrent_bias {
            assert_eq!(grb.len(), g.recurrent_bias_len(), "recurrent: recurrent bias gradient");
            for row in dq.chunks(gh) {
                grb.iter_mut().zip(row).for_each(|(s, v)| *s += v);
            }
        }
        if let Some(gb) = grad_bias {
            assert_eq!(gb.len(), gh, "recurrent: bias gradient");
            for row in dpre.chunks(gh) {
                gb.iter_mut().zip(row).for_each(|(s, v)| *s += v);
            }
        }
        if let Some(gw) = grad_weight {
            assert_eq!(gw.len(), g.weight_len(), "recurrent: weight gradient");
            let (gwx, gwh) = gw.split_at_mut(i * gh);
            gemm(i, rows, gh, &saved.x, true, &dpre, false, gwx, true);
            let h_prev = &saved.h[..rows * h];
            if g.kind == RecurrentKind::Gru {
                let d_rz_all = columns(&dpre, gh, 0, 2 * h);
                let d_c_all = columns(&dpre, gh, 2 * h, h);
                let mut w_rz = vec![0.0; h * 2 * h];
                let mut w_c = vec![0.0; h * h];
                gemm(
                    h,
                    rows,
                    2 * h,
                    h_prev,
                    true,
                    &d_rz_all,
                    false,
                    &mut w_rz,
                    false,
                );
                gemm(
                    h, rows, h, &saved.rh, true, &d_c_all, false, &mut w_c, false,
                );
                add_columns(gwh, gh, 0, &w_rz, 2 * h);
                add_columns(gwh, gh, 2 * h, &w_c, h);
            } else {
                // The recurrent rows see the recurrent product's gradient,
                // which differs from the gates' for the reset-after GRU.
                let dq_or_pre = if dq.is_empty() { &dpre } else { &dq };
                gemm(h, rows, gh, h_prev, true, dq_or_pre, false, gwh, true);
            }
        }
        if let Some(gx) = grad_x {
            assert_eq!(gx.len(), g.input_len(), "recurrent: input gradient");
            let mut dxt = vec![0.0; rows * i];
            gemm(rows, gh, i, &dpre, false, wx, true, &mut dxt, false);
            for b in 0..n {
                for t in 0..steps {
                    let src = &dxt[(t * n + b) * i..][..i];
                    let dst = &mut gx[(b * steps + t) * i..][..i];
                    dst.iter_mut().zip(src).for_each(|(d, s)| *d += s);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::simd::{self, Level};
    use crate::kernels::test_util::fill;

    /// Output and input, weight, bias and recurrent bias gradients of the
    /// whole-batch kernel.
    fn run_chunked(
        g: &RecurrentGeometry,
        x: &[f32],
        w: &[f32],
        b: &[f32],
        rb: &[f32],
        dy: &[f32],
    ) -> [Vec<f32>; 5] {
        let mut out = vec![0.0; g.output_len()];
        let saved = recurrent_forward(g, x, w, b, rb, &mut out);
        let [mut gx, mut gw, mut gb, mut grb] = gradient_buffers(g);
        recurrent_backward(
            g,
            &saved,
            w,
            dy,
            Some(&mut gx),
            Some(&mut gw),
            Some(&mut gb),
            Some(&mut grb),
        );
        [out, gx, gw, gb, grb]
    }

    fn gradient_buffers(g: &RecurrentGeometry) -> [Vec<f32>; 4] {
        [
            vec![0.0; g.input_len()],
            vec![0.0; g.weight_len()],
            vec![0.0; g.width()],
            vec![0.0; g.recurrent_bias_len()],
        ]
    }

    #[test]
    fn chunks_agree_with_one_pass_and_any_thread_count() {
        for kind in [
            RecurrentKind::Rnn,
            RecurrentKind::Lstm,
            RecurrentKind::Gru,
            RecurrentKind::GruResetAfter,
        ] {
            let g = RecurrentGeometry {
                kind,
                batch: 37,
                steps: 6,
                input: 3,
                hidden: 5,
            };
            assert_eq!(chunk_bounds(g.batch), vec![(0, 18), (18, 37)]);
            let x = fill(g.input_len(), 1);
            let w: Vec<f32> = fill(g.weight_len(), 2).iter().map(|v| v * 0.5).collect();
            let b = fill(g.width(), 3);
            let rb = fill(g.recurrent_bias_len(), 5);
            let dy = fill(g.output_len(), 4);
            let chunked = run_chunked(&g, &x, &w, &b, &rb, &dy);
            // The same computation as a single chunk.
            let mut out = vec![0.0; g.output_len()];
            let state = chunk_forward(&g, &x, &w, &b, &rb, &mut out);
            let [mut gx, mut gw, mut gb, mut grb] = gradient_buffers(&g);
            chunk_backward(
                &g,
                &state,
                &w,
                &dy,
                Some(&mut gx),
                Some(&mut gw),
                Some(&mut gb),
                Some(&mut grb),
            );
            for (got, want) in chunked.iter().zip([out, gx, gw, gb, grb]) {
                for (a, b) in got.iter().zip(&want) {
                    assert!(
                        (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                        "{kind:?}: {a} vs {b}"
                    );
                }
            }
            let pool = |n| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .build()
                    .unwrap()
            };
            let one = pool(1).install(|| run_chunked(&g, &x, &w, &b, &rb, &dy));
            let two = pool(2).install(|| run_chunked(&g, &x, &w, &b, &rb, &dy));
            assert_eq!(one, two, "{kind:?}: bit-identical for 1 and 2 threads");
            // And for every instruction set this machine has.
            for level in Level::ALL.into_iter().filter(|&l| l <= Level::detected()) {
                simd::force(Some(level));
                let at_level = run_chunked(&g, &x, &w, &b, &rb, &dy);
                simd::force(None);
                assert_eq!(one, at_level, "{kind:?}: bit-identical at {level:?}");
            }
        }
    }

    #[test]
    fn fast_functions_match_the_library_ones() {
        for k in -20_000..=20_000 {
            let x = k as f32 * 0.004;
            let e = f64::from(x).exp();
            assert!(
                (f64::from(exp(x)) - e).abs() <= 3e-7 * e,
                "exp({x}) = {} vs {e}",
                exp(x)
            );
            let t = f64::from(x).tanh();
            assert!((f64::from(tanh(x)) - t).abs() <= 3e-7, "tanh({x})");
            let s = 1.0 / (1.0 + (-f64::from(x)).exp());
            assert!((f64::from(sigmoid(x)) - s).abs() <= 3e-7, "sigmoid({x})");
        }
        assert_eq!(tanh(0.0), 0.0);
        assert_eq!(tanh(100.0), 1.0);
        assert_eq!(tanh(-100.0), -1.0);
        assert!(sigmoid(-1000.0) < 1e-37);
        assert_eq!(sigmoid(1000.0), 1.0);
        assert!(exp(-1000.0) > 0.0 && exp(1000.0).is_finite());
        // NaN stays NaN, so the interpreter's finiteness checks still see it.
        assert!(exp(f32::NAN).is_nan() && tanh(f32::NAN).is_nan());
    }
}
