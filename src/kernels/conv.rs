//! 2-d convolution (cross-correlation, as in every deep-learning library) by
//! unfolding each sample into a column matrix + GEMM, parallel over the batch.
//!
//! For one sample the column matrix has a row per filter weight `(c, i, j)`
//! and a column per output position, holding the input under that weight
//! at that position (zero in the padding). The convolution is then one GEMM
//! `weight [out_c, in_c*kh*kw] · cols`, and its gradients are two more:
//! `grad_weight += grad_out · colsᵀ` and `grad_cols = weightᵀ · grad_out`,
//! which is folded back (summed) onto the input. Three layouts, picked by
//! `Unfold::new`:
//! - pointwise (1×1 kernel, stride 1, no padding): the sample already is
//!   its column matrix;
//! - wide (any stride-1 convolution): each row is one contiguous run of the
//!   padded input, at the price of a few extra GEMM columns (see `Unfold`);
//! - im2col (any other stride, and stride 1 on small planes): the classic
//!   layout, gathered through a table of where each output position reads
//!   the padded plane.
//!
//! The weight gradient is summed over the batch in at most 8 chunks of
//! fixed size (a partial each, added in order); the copies around the
//! products (unfolding, folding, narrowing the output) run in parallel when
//! a single group of samples fills the batch.

use rayon::prelude::*;

use super::conv_direct as direct;
use super::matmul::gemm_in_bands;
use super::{PARALLEL_MIN_WORK, sum_f32, with_scratch};

/// The number of partial sums a batch is split into for the weight and bias
/// gradients. NOTE: it is a constant, not the thread count, so the order of
/// summation (and so every bit of the result) depends on the batch size
/// alone; 8 keeps 2-8 threads busy while bounding the partials' memory to 8
/// copies of the weight.
const MAX_BATCH_CHUNKS: usize = 8;

/// Every size of a 2-d convolution: input, kernel, stride, padding, output.
///
/// Build it with [`Conv2dGeometry::new`], which computes the output size;
/// the kernels trust `out_h` and `out_w` as given.
///
/// # Shapes
/// - input: `[batch, in_c, in_h, in_w]`
/// - weight: `[out_c, in_c, kh, kw]`
/// - bias: `[out_c]`
/// - output: `[batch, out_c, out_h, out_w]`
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv2dGeometry {
    /// Samples in the batch (`n`).
    pub batch: usize,
    /// Input channels.
    pub in_c: usize,
    /// Input height.
    pub in_h: usize,
    /// Input width.
    pub in_w: usize,
    /// Output channels (number of filters).
    pub out_c: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Stride `[vertical, horizontal]`, each at least 1.
    pub stride: [usize; 2],
    /// Zero padding `[vertical, horizontal]`, added on both sides.
    pub padding: [usize; 2],
    /// Output height: `(in_h + 2 * padding[0] - kh) / stride[0] + 1`.
    pub out_h: usize,
    /// Output width: `(in_w + 2 * padding[1] - kw) / stride[1] + 1`.
    pub out_w: usize,
}

impl Conv2dGeometry {
    /// Describes a convolution of a `[batch, in_c, in_hw[0], in_hw[1]]` input
    /// by `out_c` filters of size `kernel`, computing the output size per
    /// axis as `(in + 2 * padding - kernel) / stride + 1`, rounded down.
    ///
    /// Returns `None` when a stride or kernel size is zero or the kernel is
    /// larger than the padded input.
    pub fn new(
        batch: usize,
        in_c: usize,
        in_hw: [usize; 2],
        out_c: usize,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> Option<Self> {
        let out = |axis: usize| {
            let padded = in_hw[axis] + 2 * padding[axis];
            if stride[axis] == 0 || kernel[axis] == 0 || padded < kernel[axis] {
                None
            } else {
                Some((padded - kernel[axis]) / stride[axis] + 1)
            }
        };
        Some(Conv2dGeometry {
            batch,
            in_c,
            in_h: in_hw[0],
            in_w: in_hw[1],
            out_c,
            kh: kernel[0],
            kw: kernel[1],
            stride,
            padding,
            out_h: out(0)?,
            out_w: out(1)?,
        })
    }

    /// The same convolution with the output size the caller computed (the
    /// checker's, which keeps a partial last window under `round = "ceil"`):
    /// `None` unless each size is the rounded-down one or one more whose
    /// last window still starts inside the input or its left padding.
    pub fn with_output(self, out_hw: [usize; 2]) -> Option<Self> {
        let fits = |axis: usize, floor: usize, input: usize| {
            let out = out_hw[axis];
            out == floor
                || (out == floor + 1 && (out - 1) * self.stride[axis] < input + self.padding[axis])
        };
        (fits(0, self.out_h, self.in_h) && fits(1, self.out_w, self.in_w)).then_some(
            Conv2dGeometry {
                out_h: out_hw[0],
                out_w: out_hw[1],
                ..self
            },
        )
    }

    /// Elements in the input, `batch * in_c * in_h * in_w`.
    pub fn input_len(&self) -> usize {
        self.batch * self.input_sample_len()
    }

    /// Elements in the weight, `out_c * in_c * kh * kw`.
    pub fn weight_len(&self) -> usize {
        self.out_c * self.col_rows()
    }

    /// Elements in the output, `batch * out_c * out_h * out_w`.
    pub fn output_len(&self) -> usize {
        self.batch * self.output_sample_len()
    }

    fn input_sample_len(&self) -> usize {
        self.in_c * self.in_h * self.in_w
    }

    fn output_sample_len(&self) -> usize {
        self.out_c * self.out_positions()
    }

    /// Rows of the im2col matrix: one per weight of a filter.
    fn col_rows(&self) -> usize {
        self.in_c * self.kh * self.kw
    }

    /// Columns of the im2col matrix: one per output position.
    fn out_positions(&self) -> usize {
        self.out_h * self.out_w
    }

    /// Multiply-adds of one pass (forward, or each GEMM of backward).
    fn macs(&self) -> usize {
        self.batch * self.out_c * self.col_rows() * self.out_positions()
    }

    /// Whether the input sample is already its own im2col matrix.
    fn is_pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.stride == [1, 1] && self.padding == [0, 0]
    }
}

/// Computes a convolution: `output = conv(input, weight) + bias`.
///
/// # Shapes
/// - `input`: `[batch, in_c, in_h, in_w]`
/// - `weight`: `[out_c, in_c, kh, kw]`
/// - `bias`: `[out_c]`, or `None` for no bias
/// - `output`: `[batch, out_c, out_h, out_w]`, overwritten
///
/// # Panics
/// When a slice's length does not match `g` (an internal error).
pub fn conv2d_forward(
    g: &Conv2dGeometry,
    input: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) {
    assert_eq!(input.len(), g.input_len(), "conv2d: input length");
    assert_eq!(weight.len(), g.weight_len(), "conv2d: weight length");
    assert_eq!(output.len(), g.output_len(), "conv2d: output length");
    if let Some(b) = bias {
        assert_eq!(b.len(), g.out_c, "conv2d: bias length");
    }
    if output.is_empty() {
        return;
    }
    let u = Unfold::new(g);
    let plan = Batching::new(g, &u);
    let (in_s, out_s) = (g.input_sample_len(), g.output_sample_len());
    let group = |(index, ys): (usize, &mut [f32])| {
        let xs = &input[index * plan.group * in_s..][..ys.len() / out_s * in_s];
        forward_group(g, &u, plan.bands, xs, weight, bias, ys);
    };
    let group_len = plan.group * out_s;
    if plan.groups(g) > 1 && g.macs() >= PARALLEL_MIN_WORK {
        output.par_chunks_mut(group_len).enumerate().for_each(group);
    } else {
        output.chunks_mut(group_len).enumerate().for_each(group);
    }
}

/// The forward pass of one group of consecutive samples `xs` into `ys`:
/// their column matrices side by side, one GEMM, the outputs written back
/// sample by sample.
fn forward_group(
    g: &Conv2dGeometry,
    u: &Unfold,
    bands: usize,
    xs: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    ys: &mut [f32],
) {
    if u.direct {
        forward_direct(g, u, xs, weight, bias, ys);
        return;
    }
    let count = ys.len() / g.output_sample_len();
    let ld = count * u.n;
    // One sample whose GEMM output already is its output: no copy back.
    let direct = count == 1 && u.layout != Layout::Wide;
    let col_len = if count == 1 {
        u.col_len(g)
    } else {
        g.col_rows() * ld
    };
    let out_len = if direct { 0 } else { g.out_c * ld };
    let parallel = bands > 1;
    with_scratch(col_len + out_len, |scratch| {
        let (col, out) = scratch.split_at_mut(col_len);
        let cols = u.unfold_group(g, xs, col, parallel);
        let rows = g.col_rows();
        if direct {
            if let Some(b) = bias {
                for (plane, &bv) in ys.chunks_exact_mut(g.out_positions()).zip(b) {
                    plane.fill(bv);
                }
            }
            let (w, acc) = (weight, bias.is_some());
            gemm_in_bands(g.out_c, rows, ld, w, false, cols, false, ys, acc, bands);
        } else {
            gemm_in_bands(
                g.out_c, rows, ld, weight, false, cols, false, out, false, bands,
            );
            u.narrow_group(g, &out[..g.out_c * ld], bias, ys, parallel);
        }
    });
}

/// [`forward_group`] by the direct kernels, sample by sample.
fn forward_direct(
    g: &Conv2dGeometry,
    u: &Unfold,
    xs: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    ys: &mut [f32],
) {
    let offsets = u.tap_offsets(g);
    let (padded_len, out_len) = (u.padded_len(g), g.out_c * u.n);
    let samples = xs.chunks_exact(g.input_sample_len());
    with_scratch(padded_len + out_len, |scratch| {
        let (padded, out) = scratch.split_at_mut(padded_len);
        for (x, y) in samples.zip(ys.chunks_exact_mut(g.output_sample_len())) {
            let src = u.padded_input(g, x, padded);
            direct::forward_plane(out, u.n, weight, src, &offsets);
            u.narrow_group(g, out, bias, y, false);
        }
    });
}

/// One chunk of the batch in [`conv2d_backward`], with the output slices it
/// alone writes.
struct BackwardChunk<'a> {
    first: usize,
    count: usize,
    grad_input: Option<&'a mut [f32]>,
    weight_partial: Option<&'a mut [f32]>,
    bias_partial: Option<&'a mut [f32]>,
    /// Whether the weight partial holds a sum to add to (the gradient
    /// itself) rather than scratch to overwrite.
    accumulate: bool,
    /// Whether the weight partial is laid out transposed, `[in_c * kh *
    /// kw, out_c]`.
    transposed: bool,
}

/// What adding one element of a transposed weight partial costs, in GEMM
/// multiply-adds (a strided access): see `conv2d_backward`.
const TRANSPOSE_COST: usize = 128;

/// Accumulates a convolution's gradients, given the gradient of the loss
/// with respect to its output.
///
/// Each gradient is optional (`None` skips its work, e.g. `grad_input` for a
/// network's first layer) and is *accumulated*: `grad_x += dL/dx`.
///
/// NOTE: `grad_weight` and `grad_bias` sum over the batch. The batch is cut
/// into at most 8 chunks of consecutive groups of samples (see
/// [`Batching`]), a partition that depends only on the geometry; each chunk
/// sums its groups in order, and the chunk partials are added in chunk
/// order before they are added to `grad_weight`, so the result is
/// bit-identical for any number of threads.
///
/// # Shapes
/// - `input`: `[batch, in_c, in_h, in_w]` (the forward input)
/// - `weight`: `[out_c, in_c, kh, kw]`
/// - `grad_output`: `[batch, out_c, out_h, out_w]`
/// - `grad_input`: `[batch, in_c, in_h, in_w]`
/// - `grad_weight`: `[out_c, in_c, kh, kw]`
/// - `grad_bias`: `[out_c]`
///
/// # Panics
/// When a slice's length does not match `g` (an internal error).
pub fn conv2d_backward(
    g: &Conv2dGeometry,
    input: &[f32],
    weight: &[f32],
    grad_output: &[f32],
    grad_input: Option<&mut [f32]>,
    grad_weight: Option<&mut [f32]>,
    grad_bias: Option<&mut [f32]>,
) {
    assert_eq!(input.len(), g.input_len(), "conv2d: input length");
    assert_eq!(weight.len(), g.weight_len(), "conv2d: weight length");
    assert_eq!(
        grad_output.len(),
        g.output_len(),
        "conv2d: grad_output length"
    );
    if let Some(gi) = &grad_input {
        assert_eq!(gi.len(), g.input_len(), "conv2d: grad_input length");
    }
    if let Some(gw) = &grad_weight {
        assert_eq!(gw.len(), g.weight_len(), "conv2d: grad_weight length");
    }
    if let Some(gb) = &grad_bias {
        assert_eq!(gb.len(), g.out_c, "conv2d: grad_bias length");
    }
    if grad_output.is_empty() {
        return;
    }
    let u = Unfold::new(g);
    let plan = Batching::new(g, &u);
    let (in_s, w_len) = (g.input_sample_len(), g.weight_len());

    let chunk = plan.groups(g).div_ceil(MAX_BATCH_CHUNKS) * plan.group;
    let n_chunks = g.batch.div_ceil(chunk);
    let grad_input = grad_input.filter(|gi| !gi.is_empty());
    let grad_weight = grad_weight.filter(|gw| !gw.is_empty());
    let run = |job: BackwardChunk| backward_chunk(g, &u, &plan, input, weight, grad_output, job);
    if n_chunks == 1 {
        // One chunk sums straight into the gradients: no partials to
        // allocate, zero and add up (megabytes for ResNet's last stage).
        run(BackwardChunk {
            first: 0,
            count: g.batch,
            grad_input,
            weight_partial: grad_weight,
            bias_partial: grad_bias,
            accumulate: true,
            transposed: false,
        });
        return;
    }
    // NOTE: `gemm` runs the weight-gradient product faster as its transpose
    // `cols · grad_outᵀ` when there are more filter weights than filters
    // (measured: 1.3x on ResNet's 64-filter layers, 1.6x on its 7x7 stem);
    // the partials are then added up transposed, which pays when they are
    // small against the product.
    let transposed = u.layout != Layout::Compact
        && g.col_rows() > g.out_c
        && n_chunks * w_len * TRANSPOSE_COST < g.macs();
    let partials_len = |wanted: bool, len: usize| if wanted { n_chunks * len } else { 0 };
    let mut weight_partials = vec![0.0; partials_len(grad_weight.is_some(), w_len)];
    let mut bias_partials = vec![0.0; partials_len(grad_bias.is_some(), g.out_c)];

    let mut gi_chunks = grad_input.map(|gi| gi.chunks_mut(chunk * in_s));
    let mut wp_chunks = (!weight_partials.is_empty()).then(|| weight_partials.chunks_mut(w_len));
    let mut bp_chunks = (!bias_partials.is_empty()).then(|| bias_partials.chunks_mut(g.out_c));
    let jobs: Vec<BackwardChunk> = (0..n_chunks)
        .map(|c| BackwardChunk {
            first: c * chunk,
            count: chunk.min(g.batch - c * chunk),
            grad_input: gi_chunks.as_mut().and_then(Iterator::next),
            weight_partial: wp_chunks.as_mut().and_then(Iterator::next),
            bias_partial: bp_chunks.as_mut().and_then(Iterator::next),
            accumulate: false,
            transposed,
        })
        .collect();

    if g.macs() >= PARALLEL_MIN_WORK {
        jobs.into_par_iter().for_each(run);
    } else {
        jobs.into_iter().for_each(run);
    }

    if let Some(gw) = grad_weight {
        // The partials summed in chunk order into the first, then added to
        // the gradient once (transposing it if need be): each partial is
        // read once, contiguously.
        let parallel = weight_partials.len() >= PARALLEL_MIN_WORK;
        let (sum, rest) = weight_partials.split_at_mut(w_len);
        for partial in rest.chunks_exact(w_len) {
            each_piece(
                sum,
                SUM_PIECE,
                parallel,
                || (),
                |_, (i, piece)| {
                    add_short(piece, &partial[i * SUM_PIECE..][..piece.len()]);
                },
            );
        }
        if transposed {
            add_transposed(gw, sum, g.out_c, parallel);
        } else {
            each_piece(
                gw,
                SUM_PIECE,
                parallel,
                || (),
                |_, (i, piece)| {
                    add_short(piece, &sum[i * SUM_PIECE..][..piece.len()]);
                },
            );
        }
    }
    if let Some(gb) = grad_bias {
        for partial in bias_partials.chunks_exact(g.out_c) {
            for (g, p) in gb.iter_mut().zip(partial) {
                *g += p;
            }
        }
    }
}

/// The backward pass of one chunk of the batch, group by group: the bias
/// and weight partials of the chunk, and the input gradient of its samples.
fn backward_chunk(
    g: &Conv2dGeometry,
    u: &Unfold,
    plan: &Batching,
    input: &[f32],
    weight: &[f32],
    grad_output: &[f32],
    job: BackwardChunk,
) {
    let BackwardChunk {
        first,
        count,
        mut grad_input,
        mut weight_partial,
        mut bias_partial,
        accumulate,
        transposed,
    } = job;
    let (in_s, out_s, rows) = (g.input_sample_len(), g.output_sample_len(), g.col_rows());
    let want_w = weight_partial.is_some();
    let want_i = grad_input.is_some();
    // Scratch for the largest group of the chunk.
    let ld = plan.group.min(count) * u.n;
    let single = plan.group == 1;
    let col_of = |wanted: bool| match (wanted, single) {
        (false, _) => 0,
        (true, true) => u.col_len(g),
        (true, false) => rows * ld,
    };
    let col_len = col_of(want_w);
    let go_len = if single && u.layout != Layout::Wide {
        0
    } else {
        g.out_c * ld
    };
    let gcol_len = col_of(want_i && !(single && u.layout == Layout::Pointwise));
    let parallel = plan.bands > 1;
    with_scratch(col_len + go_len + gcol_len, |scratch| {
        let (col, rest) = scratch.split_at_mut(col_len);
        let (go_buf, gcol) = rest.split_at_mut(go_len);
        for (index, start) in (0..count).step_by(plan.group).enumerate() {
            let m = plan.group.min(count - start);
            let ld = m * u.n;
            let n0 = first + start;
            let go = &grad_output[n0 * out_s..][..m * out_s];
            if let Some(bp) = bias_partial.as_deref_mut() {
                for sample in go.chunks_exact(out_s) {
                    for (b, plane) in bp.iter_mut().zip(sample.chunks_exact(g.out_positions())) {
                        *b += sum_f32(plane);
                    }
                }
            }
            // The output gradient as the GEMMs see it: [out_c, ld].
            let go_cols: &[f32] = if go_buf.is_empty() {
                go
            } else {
                u.widen_group(g, go, go_buf, parallel);
                &go_buf[..g.out_c * ld]
            };
            if let Some(wp) = weight_partial.as_deref_mut() {
                let xs = &input[n0 * in_s..][..m * in_s];
                let acc = accumulate || index > 0;
                if u.layout == Layout::Compact {
                    // NOTE: with the columns gathered position-major, the
                    // product needs no transpose at all, which `gemm` runs
                    // fastest (1.7x on the 7x7 stem, 4-8% on ResNet's last
                    // stages).
                    let cols_t = u.unfold_positions(g, xs, col, parallel);
                    // grad_weight[out_c, rows] += grad_out[out_c, ld] · colsᵀ[ld, rows]
                    gemm_in_bands(
                        g.out_c, ld, rows, go_cols, false, cols_t, false, wp, acc, plan.bands,
                    );
                } else if transposed {
                    let cols = u.unfold_group(g, xs, col, parallel);
                    // grad_weightᵀ[rows, out_c] += cols · grad_out[out_c, ld]ᵀ
                    gemm_in_bands(
                        rows, ld, g.out_c, cols, false, go_cols, true, wp, acc, plan.bands,
                    );
                } else {
                    let cols = u.unfold_group(g, xs, col, parallel);
                    // grad_weight[out_c, rows] += grad_out[out_c, ld] · colsᵀ
                    gemm_in_bands(
                        g.out_c, ld, rows, go_cols, false, cols, true, wp, acc, plan.bands,
                    );
                }
            }
            if let Some(gi) = grad_input.as_deref_mut() {
                let gi = &mut gi[start * in_s..][..m * in_s];
                if gcol.is_empty() {
                    // A pointwise sample is its own column matrix.
                    gemm_in_bands(
                        rows, g.out_c, ld, weight, true, go_cols, false, gi, true, plan.bands,
                    );
                } else {
                    // grad_cols[rows, ld] = weightᵀ · grad_out[out_c, ld]
                    let gcol = &mut gcol[..rows * ld];
                    gemm_in_bands(
                        rows, g.out_c, ld, weight, true, go_cols, false, gcol, false, plan.bands,
                    );
                    u.fold_group(g, gcol, gi, parallel);
                }
            }
        }
    });
}

/// Below this many GEMM columns per sample, consecutive samples are grouped
/// so that each product has at least about this many: a per-sample product
/// of a late ResNet stage (2x2 or 4x4 outputs, 256-512 channels) would use
/// a quarter of a vector register and stream its weight once per sample.
const GROUP_COLUMNS: usize = 256;

/// How a batch is cut for the GEMMs, from the geometry alone (so that every
/// bit of the result is independent of the thread count).
#[derive(Clone, Copy, Debug)]
struct Batching {
    /// Samples per group (the last group may hold fewer): their column
    /// matrices sit side by side in one product.
    group: usize,
    /// Row bands each product is cut into (see [`gemm_in_bands`]):
    /// more than one when the groups are too few to keep the threads busy.
    bands: usize,
}

impl Batching {
    fn new(g: &Conv2dGeometry, u: &Unfold) -> Batching {
        let wanted = GROUP_COLUMNS.div_ceil(u.n.max(1)).clamp(1, g.batch.max(1));
        let groups = g.batch.div_ceil(wanted).max(1);
        let group = g.batch.div_ceil(groups).max(1);
        let bands = if groups >= 4 || g.macs() < PARALLEL_MIN_WORK {
            1
        } else {
            (g.out_c / 64).clamp(1, 4)
        };
        Batching { group, bands }
    }

    /// Number of groups in the batch.
    fn groups(&self, g: &Conv2dGeometry) -> usize {
        g.batch.div_ceil(self.group)
    }
}

/// What im2col's copy of one column-matrix element costs, in GEMM
/// multiply-adds (measured on LeNet-5 and ResNet-18 shapes): see
/// [`Unfold::new`].
const IM2COL_COPY_COST: usize = 32;

/// How one sample is laid out as the column matrix of the GEMMs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// A 1×1 kernel with stride 1 and no padding: the sample `[in_c, h * w]`
    /// is its own column matrix.
    Pointwise,
    /// Stride 1 where it pays: wide columns, one contiguous copy per row
    /// (see [`Unfold`]).
    Wide,
    /// Any other convolution: im2col, one column per output position.
    Compact,
}

/// Where one sample's columns sit in a group's matrix: its row `r` is
/// `matrix[r * ld + offset..][..n]`.
#[derive(Clone, Copy, Debug)]
struct Cols {
    ld: usize,
    offset: usize,
    n: usize,
}

impl Cols {
    /// The sample's rows, in order.
    fn rows_mut(self, matrix: &mut [f32]) -> impl Iterator<Item = &mut [f32]> {
        matrix[self.offset..]
            .chunks_mut(self.ld)
            .map(move |row| &mut row[..self.n])
    }

    /// The sample's rows, in order.
    fn rows(self, matrix: &[f32]) -> impl Iterator<Item = &[f32]> {
        matrix[self.offset..]
            .chunks(self.ld)
            .map(move |row| &row[..self.n])
    }
}

/// The column-matrix layout of a convolution's samples, with the sizes of
/// the scratch buffers it needs.
///
/// NOTE: with stride 1, column-matrix row `(c, i, j)` reads the padded
/// input plane `c` at `(oh + i, ow + j)`. Numbering the output positions
/// across the *padded* width, `q = oh * wp + ow` with `ow < wp`, makes that
/// row the contiguous run `padded[c][i * wp + j + q]`: the "wide" matrix,
/// with `n = (out_h - 1) * wp + out_w` columns, is built by one copy per
/// row. Its `wp - out_w` extra columns per output row wrap around the
/// plane's edge; their outputs are dropped, and in backward the output
/// gradient is zero there, so they contribute exact zeros (given finite
/// inputs and weights: an infinity there would turn into NaN). im2col instead
/// gathers `out_h * out_w` elements per row through `taps`; the wide layout
/// trades that for `wp / out_w` times the GEMM columns (14% for LeNet's
/// first layer).
#[derive(Clone, Debug)]
struct Unfold {
    layout: Layout,
    /// Padded plane height and width (the input's when unpadded and no
    /// `ceil` window hangs over the edge).
    hp: usize,
    wp: usize,
    /// Columns of a sample's column matrix.
    n: usize,
    /// Distance between output rows along the columns: `wp` when wide,
    /// `out_w` otherwise.
    row_step: usize,
    /// Whether the filters are small enough for the direct forward kernel
    /// of `conv_direct` (wide layout only).
    direct: bool,
    /// Compact layout only: where output position `p` of row `(c, 0, 0)`
    /// reads its (padded) plane, `(oh * sh) * wp + ow * sw`; row `(c, i, j)`
    /// reads `i * wp + j` further on. Empty for the other layouts.
    taps: Vec<u32>,
}

impl Unfold {
    fn new(g: &Conv2dGeometry) -> Unfold {
        // The padded plane, extended with zeros below and to the right when
        // `round = "ceil"` keeps a last window that hangs over the padding.
        let extent = |input: usize, pad: usize, out: usize, stride: usize, kernel: usize| {
            (input + 2 * pad).max((out - 1) * stride + kernel)
        };
        let hp = extent(g.in_h, g.padding[0], g.out_h, g.stride[0], g.kh);
        let wp = extent(g.in_w, g.padding[1], g.out_w, g.stride[1], g.kw);
        let wide_n = (g.out_h - 1) * wp + g.out_w;
        // NOTE: the wide layout's extra columns cost `out_c` multiply-adds
        // each per row; im2col's strided copy costs about
        // `IM2COL_COPY_COST` per output position and row. Small planes under
        // many filters (ResNet's late stages: 4x4 or 2x2 outputs, where the
        // wrap-around adds 37-50% columns) go to im2col; LeNet's few
        // filters on 14x14 planes stay wide.
        let wide_pays =
            g.out_c * (wide_n - g.out_positions()) <= IM2COL_COPY_COST * g.out_positions();
        let layout = if g.is_pointwise() {
            Layout::Pointwise
        } else if g.stride == [1, 1] && wide_pays {
            Layout::Wide
        } else {
            Layout::Compact
        };
        let (n, row_step) = match layout {
            Layout::Wide => (wide_n, wp),
            _ => (g.out_positions(), g.out_w),
        };
        let taps = if layout == Layout::Compact {
            let [sh, sw] = g.stride;
            (0..g.out_h)
                .flat_map(|oh| (0..g.out_w).map(move |ow| oh * sh * wp + ow * sw))
                .map(|t| u32::try_from(t).expect("conv2d: plane too large"))
                .collect()
        } else {
            Vec::new()
        };
        Unfold {
            layout,
            hp,
            wp,
            n,
            row_step,
            direct: layout == Layout::Wide && g.col_rows() <= direct::MAX_FILTER_WEIGHTS,
            taps,
        }
    }

    /// Where sample `s` of a group's matrix with `ld` columns sits.
    fn cols(&self, ld: usize, s: usize) -> Cols {
        Cols {
            ld,
            offset: s * self.n,
            n: self.n,
        }
    }

    /// Length of a sample's padded copy (zero when none is needed).
    fn padded_len(&self, g: &Conv2dGeometry) -> usize {
        if self.layout != Layout::Pointwise && (self.hp, self.wp) != (g.in_h, g.in_w) {
            g.in_c * self.hp * self.wp
        } else {
            0
        }
    }

    /// Length of one sample's column matrix (zero when the sample is its
    /// own).
    fn col_len(&self, g: &Conv2dGeometry) -> usize {
        if self.layout == Layout::Pointwise {
            0
        } else {
            g.col_rows() * self.n
        }
    }

    /// Returns the column matrix `[col_rows, count * n]` of the `count`
    /// samples `xs`, side by side, built in `col`; in parallel over the
    /// input channels when `parallel` (a group too large to share the
    /// threads with others). A single pointwise sample is its own matrix.
    fn unfold_group<'a>(
        &self,
        g: &Conv2dGeometry,
        xs: &'a [f32],
        col: &'a mut [f32],
        parallel: bool,
    ) -> &'a [f32] {
        let in_s = g.input_sample_len();
        if xs.len() == in_s && self.layout == Layout::Pointwise {
            return xs;
        }
        let ld = xs.len() / in_s * self.n;
        let col = &mut col[..g.col_rows() * ld];
        // The rows of input channel `c` are one block of `kh * kw` rows.
        let block = g.kh * g.kw * ld;
        let plane_len = g.in_h * g.in_w;
        let padded_plane = || {
            let padded = self.padded_len(g) > 0;
            vec![0.0; if padded { self.hp * self.wp } else { 0 }]
        };
        let channel = |padded: &mut Vec<f32>, (c, rows): (usize, &mut [f32])| {
            for (s, x) in xs.chunks_exact(in_s).enumerate() {
                let plane = &x[c * plane_len..][..plane_len];
                let src = self.padded_plane(g, plane, padded);
                self.unfold_plane(g, src, self.cols(ld, s).rows_mut(rows));
            }
        };
        each_piece(col, block, parallel, padded_plane, channel);
        col
    }

    /// The compact layout's column matrix of the samples `xs`, transposed:
    /// `[count * n, col_rows]`, a row per output position holding every
    /// filter weight's input there, built in `col`; in parallel over the
    /// samples when `parallel`.
    fn unfold_positions<'a>(
        &self,
        g: &Conv2dGeometry,
        xs: &[f32],
        col: &'a mut [f32],
        parallel: bool,
    ) -> &'a [f32] {
        debug_assert_eq!(self.layout, Layout::Compact);
        let (in_s, rows, plane) = (g.input_sample_len(), g.col_rows(), self.hp * self.wp);
        let col = &mut col[..xs.len() / in_s * self.n * rows];
        let scratch = || vec![0.0; self.padded_len(g)];
        let sample = |padded: &mut Vec<f32>, (s, out): (usize, &mut [f32])| {
            let src = self.padded_input(g, &xs[s * in_s..][..in_s], padded);
            for (weights, &t) in out.chunks_exact_mut(rows).zip(&self.taps) {
                // Row (c, i, j) reads src[c * plane + i * wp + j + t]: runs
                // of `kw` along j.
                let mut runs = weights.chunks_exact_mut(g.kw);
                for c in 0..g.in_c {
                    for i in 0..g.kh {
                        let run = runs.next().expect("unfold: row too short");
                        let from = &src[c * plane + i * self.wp + t as usize..][..g.kw];
                        for (d, v) in run.iter_mut().zip(from) {
                            *d = *v;
                        }
                    }
                }
            }
        };
        each_piece(col, self.n * rows, parallel, scratch, sample);
        col
    }

    /// Writes the `kh * kw` column-matrix rows that read (padded) input
    /// plane `src`.
    fn unfold_plane<'r>(
        &self,
        g: &Conv2dGeometry,
        src: &[f32],
        mut rows: impl Iterator<Item = &'r mut [f32]>,
    ) {
        if self.layout == Layout::Pointwise {
            copy_short(rows.next().expect("unfold: column matrix too short"), src);
            return;
        }
        for i in 0..g.kh {
            for j in 0..g.kw {
                let row = rows.next().expect("unfold: column matrix too short");
                let window = &src[i * self.wp + j..];
                if self.layout == Layout::Wide {
                    copy_short(row, &window[..self.n]);
                } else {
                    // NOTE: one gather through a table, not a copy per
                    // output row: on ResNet's 4x4 and 2x2 planes the runs
                    // are 2-4 long and their bookkeeping cost more than
                    // the GEMM.
                    for (d, &t) in row.iter_mut().zip(&self.taps) {
                        *d = window[t as usize];
                    }
                }
            }
        }
    }

    /// Input plane `plane` with its padding, copied into `padded` (whose
    /// border stays zero from one call to the next) when there is any.
    fn padded_plane<'a>(
        &self,
        g: &Conv2dGeometry,
        plane: &'a [f32],
        padded: &'a mut [f32],
    ) -> &'a [f32] {
        if padded.is_empty() {
            return plane;
        }
        let [ph, pw] = g.padding;
        let dst_rows = padded[ph * self.wp + pw..].chunks_mut(self.wp);
        for (s, d) in plane.chunks_exact(g.in_w).zip(dst_rows) {
            copy_short(&mut d[..g.in_w], s);
        }
        padded
    }

    /// Adds the gradient of the group's columns `gcol` (`[col_rows, count *
    /// n]`) onto the gradients `gi` of its samples, in parallel over the
    /// samples when `parallel`: the adjoint of [`Self::unfold_group`].
    fn fold_group(&self, g: &Conv2dGeometry, gcol: &[f32], gi: &mut [f32], parallel: bool) {
        let in_s = g.input_sample_len();
        let ld = gi.len() / in_s * self.n;
        let scratch = || vec![0.0; self.padded_len(g)];
        let sample = |padded: &mut Vec<f32>, (s, gi): (usize, &mut [f32])| {
            self.fold(g, gcol, self.cols(ld, s), padded, gi);
        };
        each_piece(gi, in_s, parallel, scratch, sample);
    }

    /// Adds the gradient of sample `at`'s columns in `gcol` onto the
    /// gradient `gi` of the sample: the adjoint of [`Self::unfold`].
    fn fold(&self, g: &Conv2dGeometry, gcol: &[f32], at: Cols, padded: &mut [f32], gi: &mut [f32]) {
        if self.layout == Layout::Pointwise {
            for (plane, row) in gi.chunks_exact_mut(self.n).zip(at.rows(gcol)) {
                add_short(plane, row);
            }
        } else if padded.is_empty() {
            self.fold_rows(g, gcol, at, gi);
        } else {
            padded.fill(0.0);
            self.fold_rows(g, gcol, at, padded);
            self.unpad_add(g, padded, gi);
        }
    }

    /// Adds each column-matrix row onto the (padded) planes it was read
    /// from.
    fn fold_rows(&self, g: &Conv2dGeometry, gcol: &[f32], at: Cols, planes: &mut [f32]) {
        let mut rows = at.rows(gcol);
        for plane in planes.chunks_exact_mut(self.hp * self.wp) {
            for i in 0..g.kh {
                for j in 0..g.kw {
                    let row = rows.next().expect("fold: column matrix too short");
                    let window = &mut plane[i * self.wp + j..];
                    if self.layout == Layout::Wide {
                        add_short(&mut window[..self.n], row);
                    } else {
                        // Within one row the taps are distinct positions.
                        for (&v, &t) in row.iter().zip(&self.taps) {
                            window[t as usize] += v;
                        }
                    }
                }
            }
        }
    }

    /// Sample `x` with its padding: copied into `padded` when there is any.
    fn padded_input<'a>(
        &self,
        g: &Conv2dGeometry,
        x: &'a [f32],
        padded: &'a mut [f32],
    ) -> &'a [f32] {
        if padded.is_empty() {
            x
        } else {
            self.pad(g, x, padded);
            padded
        }
    }

    /// Where each filter weight (`(c, i, j)` in row-major order) starts
    /// reading the padded input in the wide layout.
    fn tap_offsets(&self, g: &Conv2dGeometry) -> Vec<usize> {
        (0..g.col_rows())
            .map(|r| {
                let (c, ij) = (r / (g.kh * g.kw), r % (g.kh * g.kw));
                c * self.hp * self.wp + (ij / g.kw) * self.wp + ij % g.kw
            })
            .collect()
    }

    /// Copies sample `x` into the middle of `padded`, zeroing the border.
    fn pad(&self, g: &Conv2dGeometry, x: &[f32], padded: &mut [f32]) {
        padded.fill(0.0);
        let planes = x.chunks_exact(g.in_h * g.in_w);
        for (plane, dst) in planes.zip(padded.chunks_exact_mut(self.hp * self.wp)) {
            self.padded_plane(g, plane, dst);
        }
    }

    /// Adds the middle of `padded` onto `gi`: the adjoint of [`Self::pad`].
    fn unpad_add(&self, g: &Conv2dGeometry, padded: &[f32], gi: &mut [f32]) {
        let [ph, pw] = g.padding;
        for (dst, src) in gi
            .chunks_exact_mut(g.in_h * g.in_w)
            .zip(padded.chunks_exact(self.hp * self.wp))
        {
            let src_rows = src[ph * self.wp + pw..].chunks(self.wp);
            for (d, s) in dst.chunks_exact_mut(g.in_w).zip(src_rows) {
                add_short(d, &s[..g.in_w]);
            }
        }
    }

    /// Writes the group's GEMM output `out` (`[out_c, count * n]`) to the
    /// outputs `ys` of its samples, dropping wide wrap-around columns and
    /// adding the bias; in parallel over the samples when `parallel`.
    fn narrow_group(
        &self,
        g: &Conv2dGeometry,
        out: &[f32],
        bias: Option<&[f32]>,
        ys: &mut [f32],
        parallel: bool,
    ) {
        let out_s = g.output_sample_len();
        let ld = ys.len() / out_s * self.n;
        let sample = |(s, y): (usize, &mut [f32])| {
            let rows = self.cols(ld, s).rows(out);
            for (oc, (dst, src)) in y.chunks_exact_mut(g.out_positions()).zip(rows).enumerate() {
                self.narrow_plane(g, src, bias.map(|b| b[oc]), dst);
            }
        };
        each_piece(ys, out_s, parallel, || (), |_, item| sample(item));
    }

    /// One output plane `dst` from its GEMM row `src`, plus `bias`.
    fn narrow_plane(&self, g: &Conv2dGeometry, src: &[f32], bias: Option<f32>, dst: &mut [f32]) {
        for (d, s) in dst.chunks_exact_mut(g.out_w).zip(src.chunks(self.row_step)) {
            let s = &s[..g.out_w];
            match bias {
                Some(b) => {
                    for (d, s) in d.iter_mut().zip(s) {
                        *d = s + b;
                    }
                }
                None => copy_short(d, s),
            }
        }
    }

    /// Writes the output gradients `go` of a group's samples as the GEMMs
    /// see them, `[out_c, count * n]` in `cols`, zero in the wide
    /// wrap-around columns; in parallel over the output channels when
    /// `parallel`. The adjoint of [`Self::narrow_group`].
    fn widen_group(&self, g: &Conv2dGeometry, go: &[f32], cols: &mut [f32], parallel: bool) {
        let (out_s, positions) = (g.output_sample_len(), g.out_positions());
        let ld = go.len() / out_s * self.n;
        let channel = |(oc, row): (usize, &mut [f32])| {
            for (s, sample) in go.chunks_exact(out_s).enumerate() {
                let src = &sample[oc * positions..][..positions];
                let dst = &mut row[s * self.n..][..self.n];
                if self.row_step == g.out_w {
                    copy_short(dst, src);
                    continue;
                }
                for (s, d) in src.chunks_exact(g.out_w).zip(dst.chunks_mut(self.row_step)) {
                    let (run, gap) = d.split_at_mut(g.out_w);
                    copy_short(run, s);
                    gap.fill(0.0);
                }
            }
        };
        let cols = &mut cols[..g.out_c * ld];
        each_piece(cols, ld, parallel, || (), |_, item| channel(item));
    }
}

/// Runs `f(scratch, (index, piece))` over `data` cut into pieces of `len`
/// elements, in parallel when `parallel`; each worker gets a scratch of
/// its own from `init`. For work where every piece is independent, so the
/// result is the same either way.
fn each_piece<S>(
    data: &mut [f32],
    len: usize,
    parallel: bool,
    init: impl Fn() -> S + Sync + Send,
    f: impl Fn(&mut S, (usize, &mut [f32])) + Sync + Send,
) {
    if parallel {
        data.par_chunks_mut(len).enumerate().for_each_init(init, f);
    } else {
        let mut scratch = init();
        for item in data.chunks_mut(len).enumerate() {
            f(&mut scratch, item);
        }
    }
}

/// Elements per piece when partial sums are added in parallel.
const SUM_PIECE: usize = 1 << 14;

/// Filters per piece, and weights per tile, of [`add_transposed`].
const TRANSPOSE_TILE: usize = 16;

/// `gw[o, r] += sum[r, o]`: adds the transposed weight partial `sum`
/// (`[rows, out_c]`) onto the gradient `gw` (`[out_c, rows]`), tile by
/// tile so that both sides stay in cache, in parallel over the filters when
/// `parallel`.
fn add_transposed(gw: &mut [f32], sum: &[f32], out_c: usize, parallel: bool) {
    let rows = gw.len() / out_c;
    let block = |_: &mut (), (b, filters): (usize, &mut [f32])| {
        let first = b * TRANSPOSE_TILE;
        for r0 in (0..rows).step_by(TRANSPOSE_TILE) {
            let r1 = (r0 + TRANSPOSE_TILE).min(rows);
            for (k, weights) in filters.chunks_exact_mut(rows).enumerate() {
                let o = first + k;
                for (r, w) in (r0..r1).zip(&mut weights[r0..r1]) {
                    *w += sum[r * out_c + o];
                }
            }
        }
    };
    each_piece(gw, TRANSPOSE_TILE * rows, parallel, || (), block);
}

/// Copies `src` into `dst` (of equal length) eight elements at a time.
///
/// NOTE: the runs copied here are one output row long, often only 10-30
/// elements, where a `memcpy` call costs more than the copy; fixed-size
/// array moves compile to inline vector moves.
#[inline(always)]
fn copy_short(dst: &mut [f32], src: &[f32]) {
    debug_assert_eq!(dst.len(), src.len());
    let mut d = dst.chunks_exact_mut(8);
    let mut s = src.chunks_exact(8);
    for (d, s) in (&mut d).zip(&mut s) {
        let d: &mut [f32; 8] = d.try_into().unwrap();
        *d = s.try_into().unwrap();
    }
    for (d, s) in d.into_remainder().iter_mut().zip(s.remainder()) {
        *d = *s;
    }
}

/// Adds `src` into `dst` (of equal length) eight elements at a time, like
/// [`copy_short`].
#[inline(always)]
fn add_short(dst: &mut [f32], src: &[f32]) {
    debug_assert_eq!(dst.len(), src.len());
    let mut d = dst.chunks_exact_mut(8);
    let mut s = src.chunks_exact(8);
    for (d, s) in (&mut d).zip(&mut s) {
        let d: &mut [f32; 8] = d.try_into().unwrap();
        let s: &[f32; 8] = s.try_into().unwrap();
        // NOTE: working on a local copy lets LLVM see eight independent
        // adds and emit vector instructions; in place it stays scalar.
        let mut sum = *d;
        for (a, b) in sum.iter_mut().zip(s) {
            *a += b;
        }
        *d = sum;
    }
    for (d, s) in d.into_remainder().iter_mut().zip(s.remainder()) {
        *d += s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_util::{assert_close, fill};

    /// The input coordinate under output `o`, kernel tap `k`, or `None` in
    /// the padding.
    fn tap(o: usize, k: usize, stride: usize, pad: usize, len: usize) -> Option<usize> {
        let i = (o * stride + k) as isize - pad as isize;
        (0..len as isize).contains(&i).then_some(i as usize)
    }

    /// Calls `f(input index, weight index, output index)` for every term of
    /// the convolution sum that reads the input (not the padding).
    fn for_each_term(g: &Conv2dGeometry, mut f: impl FnMut(usize, usize, usize)) {
        for n in 0..g.batch {
            for oc in 0..g.out_c {
                for oh in 0..g.out_h {
                    for ow in 0..g.out_w {
                        let o = ((n * g.out_c + oc) * g.out_h + oh) * g.out_w + ow;
                        for ic in 0..g.in_c {
                            for i in 0..g.kh {
                                let Some(ih) = tap(oh, i, g.stride[0], g.padding[0], g.in_h) else {
                                    continue;
                                };
                                for j in 0..g.kw {
                                    let Some(iw) = tap(ow, j, g.stride[1], g.padding[1], g.in_w)
                                    else {
                                        continue;
                                    };
                                    let xi = ((n * g.in_c + ic) * g.in_h + ih) * g.in_w + iw;
                                    let wi = ((oc * g.in_c + ic) * g.kh + i) * g.kw + j;
                                    f(xi, wi, o);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    fn naive_forward(g: &Conv2dGeometry, x: &[f64], w: &[f64], b: Option<&[f64]>) -> Vec<f64> {
        let mut y = vec![0.0; g.output_len()];
        if let Some(b) = b {
            for (o, v) in y.iter_mut().enumerate() {
                *v = b[(o / g.out_positions()) % g.out_c];
            }
        }
        for_each_term(g, |xi, wi, o| y[o] += x[xi] * w[wi]);
        y
    }

    fn naive_backward(
        g: &Conv2dGeometry,
        x: &[f32],
        w: &[f32],
        go: &[f32],
    ) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let mut gx = vec![0.0; g.input_len()];
        let mut gw = vec![0.0; g.weight_len()];
        let mut gb = vec![0.0; g.out_c];
        for_each_term(g, |xi, wi, o| {
            gx[xi] += w[wi] as f64 * go[o] as f64;
            gw[wi] += x[xi] as f64 * go[o] as f64;
        });
        for (o, v) in go.iter().enumerate() {
            gb[(o / g.out_positions()) % g.out_c] += *v as f64;
        }
        (gx, gw, gb)
    }

    fn to_f64(x: &[f32]) -> Vec<f64> {
        x.iter().map(|&v| v as f64).collect()
    }

    /// (batch, in_c, in_hw, out_c, kernel, stride, padding)
    type Case = (
        usize,
        usize,
        [usize; 2],
        usize,
        [usize; 2],
        [usize; 2],
        [usize; 2],
    );

    const CASES: &[Case] = &[
        (2, 3, [7, 6], 4, [3, 2], [2, 2], [1, 1]),
        (3, 2, [9, 8], 5, [3, 3], [2, 1], [2, 0]),
        (1, 1, [5, 5], 2, [5, 5], [1, 1], [2, 2]),
        (2, 4, [6, 5], 3, [1, 1], [1, 1], [0, 0]),
        (2, 3, [6, 7], 2, [1, 1], [2, 3], [1, 0]),
        (17, 2, [4, 4], 3, [2, 3], [1, 2], [0, 1]),
        (2, 2, [3, 2], 2, [4, 5], [3, 1], [2, 2]),
        (4, 6, [14, 14], 16, [5, 5], [1, 1], [0, 0]),
        (3, 2, [6, 7], 3, [2, 3], [1, 1], [1, 0]),
        (2, 3, [5, 4], 2, [3, 3], [1, 1], [2, 1]),
        // Planes large enough for one sample per GEMM (wide, im2col,
        // pointwise); the cases above group several samples per GEMM.
        (2, 2, [20, 20], 3, [3, 3], [1, 1], [1, 1]),
        (3, 2, [40, 36], 3, [3, 3], [2, 2], [1, 1]),
        (2, 3, [16, 17], 4, [1, 1], [1, 1], [0, 0]),
    ];

    fn geometry(c: &Case) -> Conv2dGeometry {
        Conv2dGeometry::new(c.0, c.1, c.2, c.3, c.4, c.5, c.6).unwrap()
    }

    #[test]
    fn geometry_computes_floor_output_size() {
        let g = Conv2dGeometry::new(64, 1, [28, 28], 6, [5, 5], [1, 1], [2, 2]).unwrap();
        assert_eq!((g.out_h, g.out_w), (28, 28));
        let g = Conv2dGeometry::new(1, 1, [28, 27], 1, [5, 4], [2, 3], [0, 1]).unwrap();
        assert_eq!((g.out_h, g.out_w), (12, 9));
        assert_eq!(
            Conv2dGeometry::new(1, 1, [4, 4], 1, [5, 5], [1, 1], [0, 0]),
            None
        );
        assert_eq!(
            Conv2dGeometry::new(1, 1, [4, 4], 1, [3, 3], [0, 1], [0, 0]),
            None
        );
    }

    #[test]
    fn forward_matches_naive() {
        for (ci, case) in CASES.iter().enumerate() {
            let g = geometry(case);
            let x = fill(g.input_len(), 10 + ci as u64);
            let w = fill(g.weight_len(), 20 + ci as u64);
            let b = fill(g.out_c, 30 + ci as u64);
            let mut y = vec![f32::NAN; g.output_len()];
            conv2d_forward(&g, &x, &w, Some(&b), &mut y);
            let want = naive_forward(&g, &to_f64(&x), &to_f64(&w), Some(&to_f64(&b)));
            assert_close(&y, &want, 1e-5, &format!("case {ci} output"));
            conv2d_forward(&g, &x, &w, None, &mut y);
            let want = naive_forward(&g, &to_f64(&x), &to_f64(&w), None);
            assert_close(&y, &want, 1e-5, &format!("case {ci} output without bias"));
        }
    }

    #[test]
    fn backward_matches_naive_and_accumulates() {
        for (ci, case) in CASES.iter().enumerate() {
            let g = geometry(case);
            let x = fill(g.input_len(), 40 + ci as u64);
            let w = fill(g.weight_len(), 50 + ci as u64);
            let go = fill(g.output_len(), 60 + ci as u64);
            let (gx0, gw0, gb0) = (
                fill(g.input_len(), 1),
                fill(g.weight_len(), 2),
                fill(g.out_c, 3),
            );
            let (mut gx, mut gw, mut gb) = (gx0.clone(), gw0.clone(), gb0.clone());
            conv2d_backward(&g, &x, &w, &go, Some(&mut gx), Some(&mut gw), Some(&mut gb));
            let (wx, ww, wb) = naive_backward(&g, &x, &w, &go);
            let plus = |a: Vec<f64>, b: &[f32]| -> Vec<f64> {
                a.iter().zip(b).map(|(a, b)| a + *b as f64).collect()
            };
            assert_close(
                &gx,
                &plus(wx.clone(), &gx0),
                1e-5,
                &format!("case {ci} grad_input"),
            );
            assert_close(
                &gw,
                &plus(ww.clone(), &gw0),
                1e-5,
                &format!("case {ci} grad_weight"),
            );
            assert_close(&gb, &plus(wb, &gb0), 1e-5, &format!("case {ci} grad_bias"));

            // Each gradient on its own gives the same values.
            let mut gx = vec![0.0; g.input_len()];
            conv2d_backward(&g, &x, &w, &go, Some(&mut gx), None, None);
            assert_close(&gx, &wx, 1e-5, &format!("case {ci} grad_input alone"));
            let mut gw = vec![0.0; g.weight_len()];
            conv2d_backward(&g, &x, &w, &go, None, Some(&mut gw), None);
            assert_close(&gw, &ww, 1e-5, &format!("case {ci} grad_weight alone"));
        }
    }

    #[test]
    fn backward_matches_finite_differences() {
        let g = Conv2dGeometry::new(2, 2, [5, 6], 3, [3, 2], [2, 1], [1, 1]).unwrap();
        let x = to_f64(&fill(g.input_len(), 7));
        let w = to_f64(&fill(g.weight_len(), 8));
        let b = to_f64(&fill(g.out_c, 9));
        let r = fill(g.output_len(), 10);
        // L = sum(conv(x, w, b) * r), so dL/d(output) = r.
        let loss = |x: &[f64], w: &[f64], b: &[f64]| -> f64 {
            let y = naive_forward(&g, x, w, Some(b));
            y.iter().zip(&r).map(|(y, r)| y * *r as f64).sum()
        };
        let eps = 1e-6;
        let numeric = |v: &[f64], set: &dyn Fn(&[f64]) -> f64| -> Vec<f64> {
            (0..v.len())
                .map(|i| {
                    let (mut hi, mut lo) = (v.to_vec(), v.to_vec());
                    hi[i] += eps;
                    lo[i] -= eps;
                    (set(&hi) - set(&lo)) / (2.0 * eps)
                })
                .collect()
        };
        let nx = numeric(&x, &|x| loss(x, &w, &b));
        let nw = numeric(&w, &|w| loss(&x, w, &b));
        let nb = numeric(&b, &|b| loss(&x, &w, b));

        let f32s = |v: &[f64]| v.iter().map(|&v| v as f32).collect::<Vec<_>>();
        let mut gx = vec![0.0; g.input_len()];
        let mut gw = vec![0.0; g.weight_len()];
        let mut gb = vec![0.0; g.out_c];
        conv2d_backward(
            &g,
            &f32s(&x),
            &f32s(&w),
            &r,
            Some(&mut gx),
            Some(&mut gw),
            Some(&mut gb),
        );
        assert_close(&gx, &nx, 1e-4, "grad_input");
        assert_close(&gw, &nw, 1e-4, "grad_weight");
        assert_close(&gb, &nb, 1e-4, "grad_bias");
    }

    #[test]
    fn results_are_bit_identical_for_any_thread_count() {
        // Large enough to take the parallel path (macs >= PARALLEL_MIN_WORK),
        // with batches that do not divide evenly into chunks; one geometry
        // per layout (im2col, wide, pointwise).
        let geometries = [
            Conv2dGeometry::new(19, 3, [16, 15], 8, [3, 3], [1, 2], [1, 1]).unwrap(),
            Conv2dGeometry::new(21, 2, [14, 14], 6, [5, 5], [1, 1], [2, 2]).unwrap(),
            Conv2dGeometry::new(13, 16, [9, 9], 24, [1, 1], [1, 1], [0, 0]).unwrap(),
            // LeNet-5's first layer: the direct forward kernel.
            Conv2dGeometry::new(19, 1, [12, 12], 6, [5, 5], [1, 1], [2, 2]).unwrap(),
            // A late ResNet stage: the whole batch in one GEMM, cut into row
            // bands; and its strided shortcut.
            Conv2dGeometry::new(6, 24, [2, 2], 130, [3, 3], [1, 1], [1, 1]).unwrap(),
            Conv2dGeometry::new(5, 40, [4, 4], 129, [1, 1], [2, 2], [0, 0]).unwrap(),
        ];
        for g in geometries {
            assert!(g.macs() >= PARALLEL_MIN_WORK);
            let x = fill(g.input_len(), 1);
            let w = fill(g.weight_len(), 2);
            let b = fill(g.out_c, 3);
            let go = fill(g.output_len(), 4);
            let run = || {
                let mut y = vec![0.0; g.output_len()];
                conv2d_forward(&g, &x, &w, Some(&b), &mut y);
                let mut gx = vec![0.0; g.input_len()];
                let mut gw = vec![0.0; g.weight_len()];
                let mut gb = vec![0.0; g.out_c];
                conv2d_backward(&g, &x, &w, &go, Some(&mut gx), Some(&mut gw), Some(&mut gb));
                // Without an input gradient (a first layer).
                let mut gw_alone = vec![0.0; g.weight_len()];
                conv2d_backward(&g, &x, &w, &go, None, Some(&mut gw_alone), None);
                [y, gx, gw, gb, gw_alone]
                    .map(|v| v.iter().map(|f| f.to_bits()).collect::<Vec<u32>>())
            };
            let in_pool = |threads: usize| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap()
                    .install(run)
            };
            let one = in_pool(1);
            assert_eq!(one, in_pool(2), "{g:?}");
            assert_eq!(one, in_pool(3), "{g:?}");
            assert_eq!(one, run(), "{g:?}");
        }
    }
}
