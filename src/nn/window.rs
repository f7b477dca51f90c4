//! Output sizes of windowed layers (convolutions and pooling), per spatial
//! axis: `O = (I + 2P - K) / S + 1`, computed here once. The result is
//! recorded in [`Window::output`], and the kernels are given those sizes.
//!
//! In a model checked on its own, a kernel, stride or padding may be an
//! option without a default: the output size is then symbolic in it (or
//! unknown, for a stride), and the size is checked at each use.

use super::error::{LayerProblem, WindowGeometry};
use super::site::Site;
use crate::diagnostic::Diagnostic;
use crate::ir::{Dim, Shape, Window};

/// The output size along one axis of a window of `kernel` moved by `stride`
/// over `input` padded by `padding` on each side; below 1 when nothing fits.
/// With `ceil`, a partial window at the end is kept (PyTorch's `ceil_mode`),
/// unless it would start in the right padding.
pub fn output_size(input: i64, kernel: i64, stride: i64, padding: i64, ceil: bool) -> i64 {
    // NOTE: i128 so that absurd sizes cannot overflow.
    let (i, k, s, p) = (
        i128::from(input),
        i128::from(kernel),
        i128::from(stride),
        i128::from(padding),
    );
    let numerator = i + 2 * p - k;
    let mut out = numerator.div_euclid(s) + 1;
    if ceil && numerator.rem_euclid(s) != 0 {
        out += 1;
        if (out - 1) * s >= i + p {
            out -= 1;
        }
    }
    out.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// The names of the spatial axes of a window of `rank` axes, for messages.
fn axis_names(rank: usize) -> &'static [&'static str] {
    match rank {
        1 => &["length"],
        _ => &["height", "width"],
    }
}

/// The geometry a windowed layer asks for.
pub struct Request<'a> {
    /// `conv2d`, `maxpool`...
    pub layer: &'static str,
    /// Kernel size per spatial axis.
    pub kernel: Vec<Dim>,
    /// Stride per spatial axis.
    pub stride: Vec<Dim>,
    /// Padding per spatial axis.
    pub padding: Vec<Dim>,
    /// Whether the padding is `"same"`: with stride 1, the output keeps the
    /// input's size even when the kernel (so the padding) is not known yet.
    pub same: bool,
    /// `"floor"`, `"ceil"` or `"exact"`.
    pub round: &'a str,
    /// Whether `round` was written (an implicit floor warns when inexact).
    pub round_explicit: bool,
}

/// Applies a window to the spatial axes of `input` (every axis after the
/// first, the channels): the window with its output sizes, and the warnings
/// for sizes rounded down without being asked to.
pub fn apply(
    request: &Request,
    input: &Shape,
    site: Site,
) -> Result<(Window, Vec<Diagnostic>), Diagnostic> {
    let rank = request.kernel.len();
    let ceil = request.round == "ceil";
    let mut output = Vec::with_capacity(rank);
    let mut rounded = Vec::new();
    for (axis, axis_name) in axis_names(rank).iter().enumerate() {
        let size = &input.dims[1 + axis];
        let (kernel, stride, padding) = (
            &request.kernel[axis],
            &request.stride[axis],
            &request.padding[axis],
        );
        let (Some(kernel), Some(stride), Some(padding)) =
            (kernel.as_known(), stride.as_known(), padding.as_known())
        else {
            // Sizes given at each use of the model: checked there.
            output.push(deferred_size(size, kernel, stride, padding, request));
            continue;
        };
        let geometry = WindowGeometry {
            layer: request.layer,
            axis: axis_name,
            input: size.clone(),
            kernel,
            stride,
            padding,
        };
        let numerator = size.add(&Dim::known(2 * padding - kernel));
        let Some(n) = numerator.as_known() else {
            let steps = if ceil {
                numerator.ceil_div(stride)
            } else {
                numerator.floor_div(stride)
            };
            output.push(steps.add(&Dim::known(1)));
            continue;
        };
        let exact = n.rem_euclid(stride) == 0;
        let out = output_size(size.as_known().unwrap_or(0), kernel, stride, padding, ceil);
        if out < 1 {
            return Err(LayerProblem::WindowBelowOne { geometry, site }.into());
        }
        if !exact {
            match request.round {
                "exact" => {
                    return Err(LayerProblem::WindowInexact { geometry, site }.into());
                }
                "floor" if !request.round_explicit => rounded.push((geometry, out)),
                _ => {}
            }
        }
        output.push(Dim::known(out));
    }
    // A square window on a square input rounds both axes alike: say it once.
    let warnings = match rounded.as_slice() {
        [(h, out_h), (w, out_w)]
            if h.input == w.input
                && h.kernel == w.kernel
                && h.stride == w.stride
                && h.padding == w.padding
                && out_h == out_w =>
        {
            let both = WindowGeometry {
                axis: "height and width",
                ..h.clone()
            };
            vec![
                LayerProblem::WindowRounded {
                    geometry: both,
                    out: *out_h,
                    span: site.span,
                }
                .into(),
            ]
        }
        _ => rounded
            .iter()
            .map(|(g, out)| {
                LayerProblem::WindowRounded {
                    geometry: g.clone(),
                    out: *out,
                    span: site.span,
                }
                .into()
            })
            .collect(),
    };
    let window = Window {
        kernel: request.kernel.clone(),
        stride: request.stride.clone(),
        padding: request.padding.clone(),
        ceil,
        output,
    };
    Ok((window, warnings))
}

/// The output size along an axis whose kernel, stride or padding is not
/// known (an option without a default, or poisoned): symbolic in them when
/// the stride is known, the input size under `"same"` padding with stride 1,
/// else unknown.
fn deferred_size(size: &Dim, kernel: &Dim, stride: &Dim, padding: &Dim, request: &Request) -> Dim {
    match stride.as_known() {
        Some(1) if request.same => size.clone(),
        Some(s) if s >= 1 => {
            let numerator = size.add(&padding.mul(&Dim::known(2))).sub(kernel);
            let steps = if request.round == "ceil" {
                numerator.ceil_div(s)
            } else {
                numerator.floor_div(s)
            };
            steps.add(&Dim::known(1))
        }
        _ => Dim::error(),
    }
}

#[cfg(test)]
mod tests {
    use super::output_size;

    #[test]
    fn sizes_follow_pytorch() {
        // LeNet-5's first convolution and pooling.
        assert_eq!(output_size(32, 5, 1, 0, false), 28);
        assert_eq!(output_size(28, 2, 2, 0, false), 14);
        // An inexact division: floor drops the last column, ceil keeps a
        // partial window.
        assert_eq!(output_size(7, 2, 2, 0, false), 3);
        assert_eq!(output_size(7, 2, 2, 0, true), 4);
        // ResNet's stem pool: 112 with kernel 3, stride 2, padding 1.
        assert_eq!(output_size(112, 3, 2, 1, false), 56);
        assert_eq!(output_size(112, 3, 2, 1, true), 57);
        // A last window that would start in the right padding is dropped.
        assert_eq!(output_size(5, 2, 2, 1, true), 3);
        assert_eq!(output_size(2, 5, 1, 0, false), -2);
    }
}
