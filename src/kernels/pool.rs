//! Max, average and global average pooling over `[n, c, h, w]` tensors.
//!
//! Every `h × w` plane (one channel of one sample) is pooled on its own, so
//! the kernels run in parallel over planes with results independent of the
//! thread count.
//!
//! Window `(oh, ow)` covers input rows `oh * stride[0] - padding[0] ..` for
//! `kernel[0]` rows, and likewise for columns. Windows are clipped to the
//! input (padding is never read), and with PyTorch's `ceil_mode` sizes the
//! last window may also extend past the padded input; it is clipped too.

use rayon::prelude::*;

use super::PARALLEL_MIN_WORK;

/// The index stored for a max-pooling window that contains no input element
/// (only possible with a geometry whose windows lie wholly in the padding,
/// which [`pool_output_size`] never produces); backward skips it.
pub const NO_INDEX: u32 = u32::MAX;

/// Every size of a 2-d pooling: input, window, stride, padding, output.
///
/// The output size is given explicitly, so callers may use floor or
/// PyTorch `ceil_mode` sizes; [`Pool2dGeometry::new`] computes either.
///
/// # Shapes
/// - input: `[batch, channels, in_h, in_w]`
/// - output (and max-pooling indices): `[batch, channels, out_h, out_w]`
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pool2dGeometry {
    /// Samples in the batch.
    pub batch: usize,
    /// Channels per sample.
    pub channels: usize,
    /// Input height.
    pub in_h: usize,
    /// Input width.
    pub in_w: usize,
    /// Window size `[height, width]`.
    pub kernel: [usize; 2],
    /// Stride `[vertical, horizontal]`, each at least 1.
    pub stride: [usize; 2],
    /// Implicit padding `[vertical, horizontal]` on both sides.
    pub padding: [usize; 2],
    /// Output height.
    pub out_h: usize,
    /// Output width.
    pub out_w: usize,
}

impl Pool2dGeometry {
    /// Describes a pooling of a `[batch, channels, in_hw[0], in_hw[1]]`
    /// input, computing the output size per axis with [`pool_output_size`].
    ///
    /// Returns `None` when [`pool_output_size`] does for either axis.
    pub fn new(
        batch: usize,
        channels: usize,
        in_hw: [usize; 2],
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        ceil_mode: bool,
    ) -> Option<Self> {
        let out =
            |a: usize| pool_output_size(in_hw[a], kernel[a], stride[a], padding[a], ceil_mode);
        Some(Pool2dGeometry {
            batch,
            channels,
            in_h: in_hw[0],
            in_w: in_hw[1],
            kernel,
            stride,
            padding,
            out_h: out(0)?,
            out_w: out(1)?,
        })
    }

    /// The same pooling with the output size the caller computed (the
    /// checker's): `None` unless it is this geometry's rounded-down size, or
    /// its `ceil_mode` size, per axis.
    pub fn with_output(self, out_hw: [usize; 2]) -> Option<Self> {
        let ceil = |a: usize, input: usize| {
            pool_output_size(input, self.kernel[a], self.stride[a], self.padding[a], true)
        };
        let fits = |a: usize, floor: usize, input: usize| {
            out_hw[a] == floor || Some(out_hw[a]) == ceil(a, input)
        };
        (fits(0, self.out_h, self.in_h) && fits(1, self.out_w, self.in_w)).then_some(
            Pool2dGeometry {
                out_h: out_hw[0],
                out_w: out_hw[1],
                ..self
            },
        )
    }

    /// Elements in the input, `batch * channels * in_h * in_w`.
    pub fn input_len(&self) -> usize {
        self.batch * self.channels * self.in_h * self.in_w
    }

    /// Elements in the output, `batch * channels * out_h * out_w`.
    pub fn output_len(&self) -> usize {
        self.batch * self.channels * self.out_h * self.out_w
    }

    fn in_plane(&self) -> usize {
        self.in_h * self.in_w
    }

    fn out_plane(&self) -> usize {
        self.out_h * self.out_w
    }

    fn parallel(&self) -> bool {
        self.batch * self.channels > 1
            && self.output_len() * self.kernel[0] * self.kernel[1] >= PARALLEL_MIN_WORK
    }

    /// The windows of every output row and of every output column.
    ///
    /// Computed once per call: per output, recomputing them cost more than
    /// the pooling itself (windows are often just 2×2).
    fn windows(&self) -> (Vec<Window>, Vec<Window>) {
        let axis = |a: usize, out: usize, len: usize| -> Vec<Window> {
            (0..out)
                .map(|o| Window::new(o, self.kernel[a], self.stride[a], self.padding[a], len))
                .collect()
        };
        (
            axis(0, self.out_h, self.in_h),
            axis(1, self.out_w, self.in_w),
        )
    }
}

/// One axis of a pooling window.
#[derive(Clone, Copy, Debug)]
struct Window {
    /// First input coordinate inside the window.
    lo: usize,
    /// One past the last input coordinate inside the window (`lo` if none).
    hi: usize,
    /// Window extent inside the padded input: the average's divisor factor.
    padded: usize,
}

impl Window {
    fn new(o: usize, kernel: usize, stride: usize, pad: usize, len: usize) -> Window {
        // In padded coordinates the window is start..start + kernel, and the
        // padded input is 0..len + 2 * pad; the real input is pad..pad + len.
        let start = o * stride;
        let end = start + kernel;
        let padded = end.min(len + 2 * pad).saturating_sub(start);
        let lo = start.max(pad).min(pad + len) - pad;
        let hi = end.min(pad + len).max(pad) - pad;
        Window {
            lo,
            hi: hi.max(lo),
            padded,
        }
    }
}

/// The output length of a pooling along one axis, PyTorch's rule.
///
/// With `ceil_mode` false it is `(input + 2 * padding - kernel) / stride + 1`
/// rounded down; with `ceil_mode` true it is rounded up, minus one if the
/// last window would then start past the input and its left padding (so
/// every window overlaps the input).
///
/// Returns `None` when `stride` or `kernel` is zero, the kernel is larger
/// than the padded input, or `padding > kernel / 2` (PyTorch's limit, which
/// keeps every window overlapping the input).
pub fn pool_output_size(
    input: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    ceil_mode: bool,
) -> Option<usize> {
    let padded = input + 2 * padding;
    if stride == 0 || kernel == 0 || padded < kernel || 2 * padding > kernel {
        return None;
    }
    let span = padded - kernel;
    let mut out = if ceil_mode {
        span.div_ceil(stride)
    } else {
        span / stride
    } + 1;
    if ceil_mode && (out - 1) * stride >= input + padding {
        out -= 1;
    }
    Some(out)
}

/// Max pooling: each output is the largest input in its window, and
/// `indices` records where it was, for [`max_pool2d_backward`].
///
/// An index is `ih * in_w + iw`, a position in the sample's channel plane.
/// Ties go to the first element in row-major window order; a NaN wins (as in
/// PyTorch). A window containing no input gives `-inf` and [`NO_INDEX`].
///
/// # Shapes
/// - `input`: `[batch, channels, in_h, in_w]`
/// - `output`, `indices`: `[batch, channels, out_h, out_w]`, overwritten
///
/// # Panics
/// When a slice's length does not match `g`, or a plane has more than
/// `u32::MAX` elements.
pub fn max_pool2d_forward(
    g: &Pool2dGeometry,
    input: &[f32],
    output: &mut [f32],
    indices: &mut [u32],
) {
    assert_eq!(input.len(), g.input_len(), "max_pool2d: input length");
    assert_eq!(output.len(), g.output_len(), "max_pool2d: output length");
    assert_eq!(indices.len(), g.output_len(), "max_pool2d: indices length");
    assert!(u32::try_from(g.in_plane()).is_ok_and(|n| n < NO_INDEX));
    if output.is_empty() {
        return;
    }
    let (in_plane, out_plane) = (g.in_plane(), g.out_plane());
    let (row_windows, col_windows) = g.windows();
    let halving = g.kernel == [2, 2] && g.stride == [2, 2] && g.padding == [0, 0];
    // The outputs whose column windows lie whole inside the input.
    let whole = |w: &Window| w.hi - w.lo == g.kernel[1];
    let interior = col_windows.iter().position(whole).map_or(0..0, |first| {
        first
            ..col_windows
                .iter()
                .rposition(whole)
                .map_or(first, |last| last + 1)
    });
    let plane = |p: usize, (y, idx): (&mut [f32], &mut [u32])| {
        let x = &input[p * in_plane..][..in_plane];
        let out_rows = y
            .chunks_exact_mut(g.out_w)
            .zip(idx.chunks_exact_mut(g.out_w));
        for (oh, (rows, (y, idx))) in row_windows.iter().zip(out_rows).enumerate() {
            if halving && rows.hi - rows.lo == 2 && 2 * g.out_w <= g.in_w {
                max_2x2_row(x, g.in_w, 2 * oh, y, idx);
                continue;
            }
            let (start, end) = (interior.start, interior.end);
            let lanes = if rows.lo < rows.hi {
                max_row_interior(g, x, *rows, start, &mut y[start..end], &mut idx[start..end])
            } else {
                0
            };
            let border = col_windows.iter().zip(y.iter_mut().zip(idx)).enumerate();
            let rest = border.filter(|(ow, _)| !(start..start + lanes).contains(ow));
            for (_, (cols, (y, idx))) in rest {
                if rows.lo == rows.hi || cols.lo == cols.hi {
                    (*y, *idx) = (f32::NEG_INFINITY, NO_INDEX);
                    continue;
                }
                let first = rows.lo * g.in_w + cols.lo;
                let mut best = (x[first], first as u32);
                for ih in rows.lo..rows.hi {
                    let base = ih * g.in_w + cols.lo;
                    for (iw, &v) in x[base..base + cols.hi - cols.lo].iter().enumerate() {
                        best = keep_max(best, (v, (base + iw) as u32));
                    }
                }
                (*y, *idx) = best;
            }
        }
    };
    if g.parallel() {
        output
            .par_chunks_mut(out_plane)
            .zip(indices.par_chunks_mut(out_plane))
            .enumerate()
            .for_each(|(p, pair)| plane(p, pair));
    } else {
        output
            .chunks_mut(out_plane)
            .zip(indices.chunks_mut(out_plane))
            .enumerate()
            .for_each(|(p, pair)| plane(p, pair));
    }
}

/// Accumulates max pooling's input gradient: each output's gradient goes to
/// the input element its index names (`grad_input[idx] += grad_output`).
///
/// # Shapes
/// - `grad_output`, `indices`: `[batch, channels, out_h, out_w]`
/// - `grad_input`: `[batch, channels, in_h, in_w]`, accumulated
///
/// # Panics
/// When a slice's length does not match `g`, or an index (other than
/// [`NO_INDEX`]) lies outside the plane.
pub fn max_pool2d_backward(
    g: &Pool2dGeometry,
    grad_output: &[f32],
    indices: &[u32],
    grad_input: &mut [f32],
) {
    assert_eq!(
        grad_output.len(),
        g.output_len(),
        "max_pool2d: grad_output length"
    );
    assert_eq!(indices.len(), g.output_len(), "max_pool2d: indices length");
    assert_eq!(
        grad_input.len(),
        g.input_len(),
        "max_pool2d: grad_input length"
    );
    if grad_output.is_empty() || grad_input.is_empty() {
        return;
    }
    let out_plane = g.out_plane();
    let plane = |p: usize, gi: &mut [f32]| {
        let go = &grad_output[p * out_plane..][..out_plane];
        let idx = &indices[p * out_plane..][..out_plane];
        for (&d, &i) in go.iter().zip(idx) {
            if i != NO_INDEX {
                gi[i as usize] += d;
            }
        }
    };
    for_each_plane(g, grad_input, g.in_plane(), plane);
}

/// Average pooling: each output is the sum of its window's inputs divided
/// by the number of window elements inside the padded input (PyTorch's
/// `count_include_pad = true`; a `ceil_mode` window hanging past the padded
/// input is not charged for the overhang).
///
/// # Shapes
/// - `input`: `[batch, channels, in_h, in_w]`
/// - `output`: `[batch, channels, out_h, out_w]`, overwritten
///
/// # Panics
/// When a slice's length does not match `g`.
pub fn avg_pool2d_forward(g: &Pool2dGeometry, input: &[f32], output: &mut [f32]) {
    assert_eq!(input.len(), g.input_len(), "avg_pool2d: input length");
    assert_eq!(output.len(), g.output_len(), "avg_pool2d: output length");
    if output.is_empty() {
        return;
    }
    let in_plane = g.in_plane();
    let (row_windows, col_windows) = g.windows();
    let plane = |p: usize, y: &mut [f32]| {
        let x = &input[p * in_plane..][..in_plane];
        for (rows, y) in row_windows.iter().zip(y.chunks_exact_mut(g.out_w)) {
            for (cols, y) in col_windows.iter().zip(y) {
                let mut sum = 0.0f32;
                for ih in rows.lo..rows.hi {
                    for &v in &x[ih * g.in_w..][cols.lo..cols.hi] {
                        sum += v;
                    }
                }
                *y = sum / (rows.padded * cols.padded) as f32;
            }
        }
    };
    for_each_plane(g, output, g.out_plane(), plane);
}

/// Accumulates average pooling's input gradient: each output's gradient,
/// divided by its window's divisor (see [`avg_pool2d_forward`]), is added to
/// every input element of the window.
///
/// # Shapes
/// - `grad_output`: `[batch, channels, out_h, out_w]`
/// - `grad_input`: `[batch, channels, in_h, in_w]`, accumulated
///
/// # Panics
/// When a slice's length does not match `g`.
pub fn avg_pool2d_backward(g: &Pool2dGeometry, grad_output: &[f32], grad_input: &mut [f32]) {
    assert_eq!(
        grad_output.len(),
        g.output_len(),
        "avg_pool2d: grad_output length"
    );
    assert_eq!(
        grad_input.len(),
        g.input_len(),
        "avg_pool2d: grad_input length"
    );
    if grad_output.is_empty() || grad_input.is_empty() {
        return;
    }
    let out_plane = g.out_plane();
    let (row_windows, col_windows) = g.windows();
    let plane = |p: usize, gi: &mut [f32]| {
        let go = &grad_output[p * out_plane..][..out_plane];
        for (rows, go) in row_windows.iter().zip(go.chunks_exact(g.out_w)) {
            for (cols, &go) in col_windows.iter().zip(go) {
                let d = go / (rows.padded * cols.padded) as f32;
                for ih in rows.lo..rows.hi {
                    for v in &mut gi[ih * g.in_w..][cols.lo..cols.hi] {
                        *v += d;
                    }
                }
            }
        }
    };
    for_each_plane(g, grad_input, g.in_plane(), plane);
}

/// Max pooling of input rows `ih` and `ih + 1` by 2×2 windows at stride 2
/// into one output row: the common case, without the general loop's
/// per-window bookkeeping. Requires `2 * y.len() <= in_w`.
fn max_2x2_row(x: &[f32], in_w: usize, ih: usize, y: &mut [f32], idx: &mut [u32]) {
    const L: usize = 8;
    let (r0, r1) = (&x[ih * in_w..][..in_w], &x[(ih + 1) * in_w..][..in_w]);
    let base = (ih * in_w) as u32;
    let w = in_w as u32;
    let mut ow = 0;
    // Eight outputs at a time as lane arrays, so the compiler emits vector
    // compares and blends (which never mispredict).
    while ow + L <= y.len() {
        let (a, b) = (&r0[2 * ow..][..2 * L], &r1[2 * ow..][..2 * L]);
        let mut v = [0.0f32; L];
        let mut i = [0u32; L];
        for k in 0..L {
            let at = base + 2 * (ow + k) as u32;
            let mut best = (a[2 * k], at);
            best = keep_max(best, (a[2 * k + 1], at + 1));
            best = keep_max(best, (b[2 * k], at + w));
            best = keep_max(best, (b[2 * k + 1], at + w + 1));
            (v[k], i[k]) = best;
        }
        y[ow..ow + L].copy_from_slice(&v);
        idx[ow..ow + L].copy_from_slice(&i);
        ow += L;
    }
    for ow in ow..y.len() {
        let at = base + 2 * ow as u32;
        let (a, b) = (&r0[2 * ow..][..2], &r1[2 * ow..][..2]);
        let mut best = (a[0], at);
        best = keep_max(best, (a[1], at + 1));
        best = keep_max(best, (b[0], at + w));
        best = keep_max(best, (b[1], at + w + 1));
        (y[ow], idx[ow]) = best;
    }
}

crate::multiversion! {
    /// Max pooling of the outputs `first..first + y.len()` of one output row
    /// (window rows `rows`), whose column windows all lie whole inside the
    /// input, eight outputs at a time as lane arrays: the windows' running
    /// maxima become independent chains the compiler keeps in vector
    /// registers. Returns how many outputs it did (all of them, or none when
    /// there are fewer than eight or the stride is not 1 or 2); the caller
    /// does the rest. The scan order is the generic one (row by row,
    /// left to right), so ties and NaNs resolve the same way.
    fn max_row_interior(
        g: &Pool2dGeometry,
        x: &[f32],
        rows: Window,
        first: usize,
        y: &mut [f32],
        idx: &mut [u32],
    ) -> usize {
        // NOTE: a stride known at compile time lets the compiler load a
        // block's candidates as whole vectors and shuffle them apart.
        match g.stride[1] {
            1 => max_row_lanes::<1>(g, x, rows, first, y, idx),
            2 => max_row_lanes::<2>(g, x, rows, first, y, idx),
            _ => 0,
        }
    }
}

/// [`max_row_interior`] for column stride `SW`.
#[inline(always)]
fn max_row_lanes<const SW: usize>(
    g: &Pool2dGeometry,
    x: &[f32],
    rows: Window,
    first: usize,
    y: &mut [f32],
    idx: &mut [u32],
) -> usize {
    const L: usize = 8;
    let (kw, pw) = (g.kernel[1], g.padding[1]);
    if y.len() < L {
        return 0;
    }
    // Blocks of eight from the left, the last one moved back to end at the
    // last output (redoing a few: the same values again).
    let starts = (0..y.len() - L).step_by(L).chain([y.len() - L]);
    for start in starts {
        let left = (first + start) * SW - pw;
        let mut v = [0.0f32; L];
        let mut i = [0u32; L];
        let top = &x[rows.lo * g.in_w..][..g.in_w];
        for k in 0..L {
            let at = left + k * SW;
            (v[k], i[k]) = (top[at], (rows.lo * g.in_w + at) as u32);
        }
        for ih in rows.lo..rows.hi {
            let row = &x[ih * g.in_w..][..g.in_w];
            let base = (ih * g.in_w) as u32;
            for j in usize::from(ih == rows.lo)..kw {
                // A slice of constant length: no bounds checks in the lanes.
                let taps = &row[left + j..][..(L - 1) * SW + 1];
                let at = base + (left + j) as u32;
                for k in 0..L {
                    let candidate = (taps[k * SW], at + (k * SW) as u32);
                    (v[k], i[k]) = keep_max((v[k], i[k]), candidate);
                }
            }
        }
        y[start..start + L].copy_from_slice(&v);
        idx[start..start + L].copy_from_slice(&i);
    }
    y.len()
}

/// The running maximum `best` (value, index) updated with candidate `new`,
/// which wins if larger or NaN (so NaN propagates, as in PyTorch; on a tie
/// the earlier element stays).
///
/// NOTE: written with bit masks rather than `if`: which element wins is
/// data-dependent, and the branches LLVM emitted for an `if` mispredicted
/// about once per window, doubling the cost of 2×2 pooling.
#[inline(always)]
fn keep_max(best: (f32, u32), new: (f32, u32)) -> (f32, u32) {
    // `|`, not `||`: a short circuit is a branch again.
    let take = (new.0 > best.0) | new.0.is_nan();
    let mask = 0u32.wrapping_sub(take as u32);
    let value = (new.0.to_bits() & mask) | (best.0.to_bits() & !mask);
    (f32::from_bits(value), (new.1 & mask) | (best.1 & !mask))
}

/// Runs `f(plane number, plane)` over the consecutive `plane_len`-element
/// planes of `out`, in parallel when the pooling is large enough.
fn for_each_plane(
    g: &Pool2dGeometry,
    out: &mut [f32],
    plane_len: usize,
    f: impl Fn(usize, &mut [f32]) + Sync,
) {
    if g.parallel() {
        out.par_chunks_mut(plane_len)
            .enumerate()
            .for_each(|(p, x)| f(p, x));
    } else {
        out.chunks_mut(plane_len)
            .enumerate()
            .for_each(|(p, x)| f(p, x));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_util::{assert_close, fill};

    /// For output `o` of one axis, the in-input coordinates of its window
    /// and its divisor factor, by brute force over the window.
    fn window(o: usize, k: usize, s: usize, p: usize, len: usize) -> (Vec<usize>, usize) {
        let mut inside = Vec::new();
        let mut padded = 0;
        for t in 0..k {
            let i = (o * s + t) as isize - p as isize;
            if i < (len + p) as isize {
                padded += 1;
            }
            if (0..len as isize).contains(&i) {
                inside.push(i as usize);
            }
        }
        (inside, padded)
    }

    /// Calls `f(plane, output index, window elements, divisor)` per output.
    fn for_each_window(g: &Pool2dGeometry, mut f: impl FnMut(usize, usize, &[usize], usize)) {
        for p in 0..g.batch * g.channels {
            for oh in 0..g.out_h {
                let (rows, ph) = window(oh, g.kernel[0], g.stride[0], g.padding[0], g.in_h);
                for ow in 0..g.out_w {
                    let (cols, pw) = window(ow, g.kernel[1], g.stride[1], g.padding[1], g.in_w);
                    let elems: Vec<usize> = rows
                        .iter()
                        .flat_map(|r| cols.iter().map(move |c| r * g.in_w + c))
                        .collect();
                    let o = (p * g.out_h + oh) * g.out_w + ow;
                    f(p, o, &elems, ph * pw);
                }
            }
        }
    }

    /// (batch, channels, in_hw, kernel, stride, padding, ceil_mode)
    type Case = (
        usize,
        usize,
        [usize; 2],
        [usize; 2],
        [usize; 2],
        [usize; 2],
        bool,
    );

    const CASES: &[Case] = &[
        (2, 3, [6, 6], [2, 2], [2, 2], [0, 0], false),
        (2, 2, [7, 5], [3, 2], [2, 2], [1, 1], false),
        (2, 2, [7, 5], [3, 2], [2, 2], [1, 1], true),
        (1, 3, [5, 8], [2, 3], [3, 2], [0, 1], true),
        (3, 1, [6, 6], [3, 3], [2, 2], [1, 1], true),
        (2, 2, [4, 4], [4, 4], [1, 1], [2, 2], false),
        (64, 6, [28, 28], [2, 2], [2, 2], [0, 0], false),
        // ResNet's stem pooling: whole eight-output blocks of interior
        // windows, then a shorter one.
        (2, 2, [32, 32], [3, 3], [2, 2], [1, 1], false),
        // The same at stride 1: ten interior windows a row.
        (1, 2, [10, 12], [3, 3], [1, 1], [1, 1], false),
    ];

    fn geometry(c: &Case) -> Pool2dGeometry {
        Pool2dGeometry::new(c.0, c.1, c.2, c.3, c.4, c.5, c.6).unwrap()
    }

    #[test]
    fn output_size_matches_pytorch() {
        // floor: (6 - 3) / 2 + 1 = 2; ceil: 3, and the last window starts at
        // 4 < 6, so it stays.
        assert_eq!(pool_output_size(6, 3, 2, 0, false), Some(2));
        assert_eq!(pool_output_size(6, 3, 2, 0, true), Some(3));
        // ceil((5 + 2 - 2) / 2) + 1 = 4, but window 3 would start at 6 >= 5 + 1.
        assert_eq!(pool_output_size(5, 2, 2, 1, true), Some(3));
        assert_eq!(pool_output_size(28, 2, 2, 0, true), Some(14));
        assert_eq!(pool_output_size(3, 4, 1, 0, false), None);
        assert_eq!(pool_output_size(3, 2, 1, 2, false), None);
        assert_eq!(pool_output_size(3, 2, 0, 0, false), None);
        // Rows: ceil((7 + 2 - 3) / 2) + 1 = 4; columns: ceil((5 + 2 - 2) / 2)
        // + 1 = 4, but the last window would start at 6 >= 5 + 1, so 3.
        let g = geometry(&CASES[2]);
        assert_eq!((g.out_h, g.out_w), (4, 3));
    }

    #[test]
    fn max_pool_matches_naive() {
        for (ci, case) in CASES.iter().enumerate() {
            let g = geometry(case);
            let x = fill(g.input_len(), ci as u64);
            let mut y = vec![0.0; g.output_len()];
            let mut idx = vec![0; g.output_len()];
            max_pool2d_forward(&g, &x, &mut y, &mut idx);
            let plane = g.in_h * g.in_w;
            let mut want_y = vec![0.0; g.output_len()];
            let mut want_gx = fill(g.input_len(), 100);
            let gx0 = want_gx.clone();
            let go = fill(g.output_len(), 200);
            for_each_window(&g, |p, o, elems, _| {
                let best = *elems
                    .iter()
                    .max_by(|&&a, &&b| x[p * plane + a].total_cmp(&x[p * plane + b]))
                    .unwrap();
                assert_eq!(idx[o] as usize, best, "case {ci} index {o}");
                want_y[o] = x[p * plane + best] as f64;
                want_gx[p * plane + best] += go[o];
            });
            assert_close(&y, &want_y, 0.0, &format!("case {ci} max"));
            let mut gx = gx0;
            max_pool2d_backward(&g, &go, &idx, &mut gx);
            let want_gx: Vec<f64> = want_gx.iter().map(|&v| v as f64).collect();
            assert_close(&gx, &want_gx, 1e-6, &format!("case {ci} max grad"));
        }
    }

    #[test]
    fn avg_pool_matches_naive() {
        for (ci, case) in CASES.iter().enumerate() {
            let g = geometry(case);
            let x = fill(g.input_len(), ci as u64);
            let go = fill(g.output_len(), 300);
            let gx0 = fill(g.input_len(), 400);
            let plane = g.in_h * g.in_w;
            let mut want_y = vec![0.0; g.output_len()];
            let mut want_gx: Vec<f64> = gx0.iter().map(|&v| v as f64).collect();
            for_each_window(&g, |p, o, elems, div| {
                let sum: f64 = elems.iter().map(|&e| x[p * plane + e] as f64).sum();
                want_y[o] = sum / div as f64;
                for &e in elems {
                    want_gx[p * plane + e] += go[o] as f64 / div as f64;
                }
            });
            let mut y = vec![0.0; g.output_len()];
            avg_pool2d_forward(&g, &x, &mut y);
            assert_close(&y, &want_y, 1e-6, &format!("case {ci} avg"));
            let mut gx = gx0;
            avg_pool2d_backward(&g, &go, &mut gx);
            assert_close(&gx, &want_gx, 1e-6, &format!("case {ci} avg grad"));
        }
    }

    #[test]
    fn avg_pool_divisor_counts_padding_but_not_ceil_overhang() {
        // One 1x3 row, kernel 2, stride 2, padding 1, ceil mode: windows
        // cover padded columns 0..2 and 2..4 of the padded row 0..5.
        let g = Pool2dGeometry::new(1, 1, [1, 3], [1, 2], [1, 2], [0, 1], true).unwrap();
        assert_eq!(g.out_w, 2);
        let mut y = vec![0.0; 2];
        avg_pool2d_forward(&g, &[2.0, 4.0, 8.0], &mut y);
        assert_eq!(y, vec![1.0, 6.0]);
        // Ceil mode without padding: the second window hangs past the input
        // and is divided by the one element it covers.
        let g = Pool2dGeometry::new(1, 1, [1, 3], [1, 2], [1, 2], [0, 0], true).unwrap();
        let mut y = vec![0.0; 2];
        avg_pool2d_forward(&g, &[2.0, 4.0, 8.0], &mut y);
        assert_eq!(y, vec![3.0, 8.0]);
    }

    #[test]
    fn max_pool_never_selects_padding() {
        let g = Pool2dGeometry::new(1, 1, [2, 2], [2, 2], [1, 1], [1, 1], false).unwrap();
        let x = [-4.0, -3.0, -2.0, -1.0];
        let mut y = vec![0.0; g.output_len()];
        let mut idx = vec![0; g.output_len()];
        max_pool2d_forward(&g, &x, &mut y, &mut idx);
        assert_eq!(
            y,
            vec![-4.0, -3.0, -3.0, -2.0, -1.0, -1.0, -2.0, -1.0, -1.0]
        );
        assert_eq!(idx, vec![0, 1, 1, 2, 3, 3, 2, 3, 3]);
    }

    #[test]
    fn max_pool_ties_keep_the_first_and_nan_wins() {
        // 2×2 windows at stride 2 over two rows of 18: nine outputs, enough
        // for both the eight-lane and the one-at-a-time path.
        let g = Pool2dGeometry::new(1, 1, [2, 18], [2, 2], [2, 2], [0, 0], false).unwrap();
        let mut x = vec![1.0f32; 36];
        x[3] = f32::NAN; // window 1, top right
        x[18 + 4] = 5.0; // window 2, bottom left
        x[18 + 17] = f32::NAN; // window 8, bottom right
        let mut y = vec![0.0; 9];
        let mut idx = vec![0; 9];
        max_pool2d_forward(&g, &x, &mut y, &mut idx);
        assert_eq!(idx, vec![0, 3, 22, 6, 8, 10, 12, 14, 35]);
        assert!(y[1].is_nan() && y[8].is_nan());
        assert_eq!((y[0], y[2], y[3]), (1.0, 5.0, 1.0));
        // The general path agrees (a 2×2 window at stride 1 is not special).
        let g = Pool2dGeometry::new(1, 1, [2, 3], [2, 2], [1, 1], [0, 0], false).unwrap();
        let x = [1.0, f32::NAN, 1.0, 1.0, 2.0, 2.0];
        let mut y = vec![0.0; 2];
        let mut idx = vec![0; 2];
        max_pool2d_forward(&g, &x, &mut y, &mut idx);
        assert_eq!(idx, vec![1, 1]);
        // So does the eight-lane path of whole 3×3 windows (stride 2,
        // padding 1, 20 outputs a row): on a tie, each window's first
        // element, the top row's, wins; a NaN wins wherever it is.
        let g = Pool2dGeometry::new(1, 1, [3, 40], [3, 3], [2, 2], [1, 1], false).unwrap();
        let mut x = vec![1.0f32; 120];
        x[2 * 40 + 10] = f32::NAN; // the bottom row of window (1, 5) alone
        let mut y = vec![0.0; g.output_len()];
        let mut idx = vec![0; g.output_len()];
        max_pool2d_forward(&g, &x, &mut y, &mut idx);
        let first_of = |oh: usize, ow: usize| {
            ((2 * oh).saturating_sub(1) * 40 + (2 * ow).saturating_sub(1)) as u32
        };
        for ow in 0..20 {
            assert_eq!(idx[ow], first_of(0, ow), "output (0, {ow})");
            let want = if ow == 5 {
                2 * 40 + 10
            } else {
                first_of(1, ow)
            };
            assert_eq!(idx[20 + ow], want, "output (1, {ow})");
        }
        assert!(y[25].is_nan());
    }

    #[test]
    fn results_are_bit_identical_for_any_thread_count() {
        let g = geometry(&CASES[6]);
        assert!(g.parallel());
        let x = fill(g.input_len(), 1);
        let go = fill(g.output_len(), 2);
        let run = || {
            let mut y = vec![0.0; g.output_len()];
            let mut idx = vec![0; g.output_len()];
            max_pool2d_forward(&g, &x, &mut y, &mut idx);
            let mut gx = vec![0.0; g.input_len()];
            max_pool2d_backward(&g, &go, &idx, &mut gx);
            let mut ya = vec![0.0; g.output_len()];
            avg_pool2d_forward(&g, &x, &mut ya);
            avg_pool2d_backward(&g, &go, &mut gx);
            [y, gx, ya].map(|v| v.iter().map(|f| f.to_bits()).collect::<Vec<u32>>())
        };
        let in_pool = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(run)
        };
        assert_eq!(in_pool(1), in_pool(2));
    }
}
