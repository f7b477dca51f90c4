//! Numerical gradient checks: every differentiable op of the autodiff tape and
//! every layer the interpreter runs is compared with central finite
//! differences.
//!
//! Each op's output is reduced to a scalar with a fixed random weighting,
//! `L = sum(w * out)`, so every output element matters. The analytic gradient
//! comes from `Tape::backward`; the numerical one from `(L(x + h) - L(x - h)) / 2h`
//! with `L` accumulated in f64. The tolerance (`RTOL`, `ATOL`) is tight enough
//! that a gradient off by 2% is rejected, and the tests check that it is.
//!
//! Every kind of op (`OpKind`) and every elementwise function (`Unary`) has a
//! case: `case_of` and `unary_case_of` are exhaustive matches, so a new one
//! does not compile until it is given a case, and `op_coverage_is_complete`
//! checks that each named case exists and exercises what it is named for.

use dl::autodiff::{NormStats, OpKind, RecurrentKind, Tape, Tensor, Unary, Var, recorded_kinds};
use dl::data::Targets;
use dl::diagnostic::Severity;
use dl::interp::{Mode, ParamStore, Stepper};
use dl::ir::{Graph, Loss};
use dl::nn::Builtin;
use ndarray::{Array2, IxDyn};

/// Relative part of the tolerance.
const RTOL: f64 = 1e-2;
/// Absolute part of the tolerance, as a fraction of the largest numerical
/// gradient of the tensor (at least `FLOOR`).
const ATOL: f64 = 2e-3;
/// The smallest gradient scale the absolute tolerance is measured against.
const FLOOR: f64 = 1e-2;

// ---------------------------------------------------------------------------
// Deterministic random numbers (splitmix64), so the test needs no extra crate.

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x2545_F491_4F6C_DD1D)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform on `[0, 1)`.
    fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform on `[lo, hi)`.
    fn uniform(&mut self, shape: &[usize], lo: f32, hi: f32) -> Tensor {
        Tensor::from_shape_fn(IxDyn(shape), |_| lo + (hi - lo) * self.unit())
    }

    /// Magnitudes uniform on `[lo, hi)`, random signs: values away from 0.
    fn signed(&mut self, shape: &[usize], lo: f32, hi: f32) -> Tensor {
        Tensor::from_shape_fn(IxDyn(shape), |_| {
            let m = lo + (hi - lo) * self.unit();
            if self.next_u64() & 1 == 0 { m } else { -m }
        })
    }

    /// Distinct values 0.05 apart in random order: no ties, and no near ties
    /// a finite-difference step could swap (for max pooling).
    fn distinct(&mut self, shape: &[usize]) -> Tensor {
        let n: usize = shape.iter().product();
        let mut order: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            order.swap(i, self.below(i + 1));
        }
        let values = order
            .iter()
            .map(|&k| (k as f32 - n as f32 / 2.0) * 0.05)
            .collect();
        Tensor::from_shape_vec(IxDyn(shape), values).expect("sizes agree")
    }

    /// Random 0/1 values.
    fn bits(&mut self, shape: &[usize]) -> Tensor {
        Tensor::from_shape_fn(IxDyn(shape), |_| (self.next_u64() & 1) as f32)
    }
}

// ---------------------------------------------------------------------------
// Comparison of an analytic gradient with a numerical one.

/// The worst element of a comparison.
#[derive(Debug)]
struct Mismatch {
    index: usize,
    analytic: f64,
    numeric: f64,
    allowed: f64,
}

/// Checks `|a - n| <= RTOL |n| + ATOL max(max |n|, FLOOR)` for every element.
fn compare(analytic: &[f64], numeric: &[f64]) -> Result<(), Mismatch> {
    assert_eq!(analytic.len(), numeric.len(), "gradient sizes");
    let scale = numeric.iter().fold(FLOOR, |m, &n| m.max(n.abs()));
    let mut worst: Option<(f64, Mismatch)> = None;
    for (index, (&a, &n)) in analytic.iter().zip(numeric).enumerate() {
        let allowed = RTOL * n.abs() + ATOL * scale;
        let ratio = (a - n).abs() / allowed;
        if (ratio > 1.0 || ratio.is_nan()) && worst.as_ref().is_none_or(|(r, _)| ratio > *r) {
            worst = Some((
                ratio,
                Mismatch {
                    index,
                    analytic: a,
                    numeric: n,
                    allowed,
                },
            ));
        }
    }
    match worst {
        Some((_, m)) => Err(m),
        None => Ok(()),
    }
}

/// Compares, and also proves the comparison is not vacuous: the gradient is
/// not all zero, and the same analytic gradient off by 2%, or with its
/// largest element off by 10%, is rejected.
fn check_gradient(label: &str, analytic: &[f64], numeric: &[f64]) {
    if let Err(m) = compare(analytic, numeric) {
        panic!(
            "{label}: wrong gradient at element {}: analytic {:.6}, numerical {:.6} (allowed difference {:.2e})\nanalytic:  {:?}\nnumerical: {:?}",
            m.index,
            m.analytic,
            m.numeric,
            m.allowed,
            short(analytic),
            short(numeric),
        );
    }
    let (top, largest) = numeric
        .iter()
        .enumerate()
        .fold(
            (0, 0.0f64),
            |(i, m), (j, &n)| {
                if n.abs() > m { (j, n.abs()) } else { (i, m) }
            },
        );
    assert!(
        largest > 1e-3,
        "{label}: the gradient is (almost) zero everywhere, the check would be vacuous"
    );
    let scaled: Vec<f64> = analytic.iter().map(|a| a * 1.02).collect();
    assert!(
        compare(&scaled, numeric).is_err(),
        "{label}: a gradient 2% too large passes the check"
    );
    let mut bumped = analytic.to_vec();
    bumped[top] += 0.1 * numeric[top];
    assert!(
        compare(&bumped, numeric).is_err(),
        "{label}: a gradient with one element 10% off passes the check"
    );
}

fn short(v: &[f64]) -> Vec<String> {
    v.iter().take(24).map(|x| format!("{x:.5}")).collect()
}

fn as_f64(t: &Tensor) -> Vec<f64> {
    t.iter().map(|&x| f64::from(x)).collect()
}

/// Central difference of `f` in element `i` of `values`, with step `h`.
fn central_difference(
    values: &mut Tensor,
    i: usize,
    h: f32,
    mut f: impl FnMut(&Tensor) -> f64,
) -> f64 {
    let slice = values.as_slice_mut().expect("standard layout");
    let x = slice[i];
    let (plus, minus) = (x + h, x - h);
    slice[i] = plus;
    let up = f(values);
    values.as_slice_mut().expect("standard layout")[i] = minus;
    let down = f(values);
    values.as_slice_mut().expect("standard layout")[i] = x;
    (up - down) / (f64::from(plus) - f64::from(minus))
}

// ---------------------------------------------------------------------------
// Tape ops.

type Build = Box<dyn Fn(&mut Tape, &[Var]) -> Var>;

/// One gradient case: inputs, and how to compute the output.
struct OpCase {
    name: &'static str,
    /// Input values, and whether each wants a gradient.
    inputs: Vec<(Tensor, bool)>,
    /// Finite-difference step.
    h: f32,
    build: Build,
}

fn case(
    name: &'static str,
    inputs: Vec<Tensor>,
    build: impl Fn(&mut Tape, &[Var]) -> Var + 'static,
) -> OpCase {
    OpCase {
        name,
        inputs: inputs.into_iter().map(|t| (t, true)).collect(),
        h: 1e-2,
        build: Box::new(build),
    }
}

impl OpCase {
    /// Marks input `i` as a constant (no gradient wanted).
    fn constant(mut self, i: usize) -> OpCase {
        self.inputs[i].1 = false;
        self
    }

    fn step(mut self, h: f32) -> OpCase {
        self.h = h;
        self
    }
}

fn unary_case(name: &'static str, f: Unary, x: Tensor) -> OpCase {
    case(name, vec![x], move |t, v| t.unary(f, v[0]))
}

fn conv_case(
    name: &'static str,
    rng: &mut Rng,
    x: &[usize],
    w: &[usize],
    bias: bool,
    stride: [usize; 2],
    padding: [usize; 2],
) -> OpCase {
    let mut inputs = vec![rng.uniform(x, -1.0, 1.0), rng.uniform(w, -1.0, 1.0)];
    if bias {
        inputs.push(rng.uniform(&[w[0]], -1.0, 1.0));
    }
    let out = |a: usize| output_size(x[2 + a], w[2 + a], stride[a], padding[a], false);
    let output = [out(0), out(1)];
    case(name, inputs, move |t, v| {
        t.conv2d(v[0], v[1], v.get(2).copied(), stride, padding, output)
    })
}

/// The checker's output size, for kernels that are given it.
fn output_size(input: usize, kernel: usize, stride: usize, padding: usize, ceil: bool) -> usize {
    let size = |v: usize| v as i64;
    dl::nn::window::output_size(size(input), size(kernel), size(stride), size(padding), ceil)
        as usize
}

#[allow(clippy::too_many_arguments)]
fn pool_case(
    name: &'static str,
    rng: &mut Rng,
    x: &[usize],
    max: bool,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    ceil: bool,
) -> OpCase {
    let input = if max {
        rng.distinct(x)
    } else {
        rng.uniform(x, -1.0, 1.0)
    };
    let out = |a: usize| output_size(x[2 + a], kernel[a], stride[a], padding[a], ceil);
    let output = [out(0), out(1)];
    case(name, vec![input], move |t, v| {
        t.pool2d(v[0], max, kernel, stride, padding, output)
    })
}

fn op_cases() -> Vec<OpCase> {
    let mut r = Rng::new(1);
    let r = &mut r;
    let mut cases = vec![
        // Elementwise binary ops, same shape and broadcast both ways.
        case(
            "add [2,3]+[2,3]",
            vec![r.uniform(&[2, 3], -1.0, 1.0), r.uniform(&[2, 3], -1.0, 1.0)],
            |t, v| t.add(v[0], v[1]),
        ),
        case(
            "add [2,3]+[3]",
            vec![r.uniform(&[2, 3], -1.0, 1.0), r.uniform(&[3], -1.0, 1.0)],
            |t, v| t.add(v[0], v[1]),
        ),
        case(
            "add [2,1]+[1,3]",
            vec![r.uniform(&[2, 1], -1.0, 1.0), r.uniform(&[1, 3], -1.0, 1.0)],
            |t, v| t.add(v[0], v[1]),
        ),
        case(
            "add [3]+[2,3] (broadcast on the left)",
            vec![r.uniform(&[3], -1.0, 1.0), r.uniform(&[2, 3], -1.0, 1.0)],
            |t, v| t.add(v[0], v[1]),
        ),
        case(
            "add [2,3]+scalar",
            vec![r.uniform(&[2, 3], -1.0, 1.0), r.uniform(&[], -1.0, 1.0)],
            |t, v| t.add(v[0], v[1]),
        ),
        case(
            "sub [2,3]-[3]",
            vec![r.uniform(&[2, 3], -1.0, 1.0), r.uniform(&[3], -1.0, 1.0)],
            |t, v| t.sub(v[0], v[1]),
        ),
        case(
            "sub [2,1]-[1,3]",
            vec![r.uniform(&[2, 1], -1.0, 1.0), r.uniform(&[1, 3], -1.0, 1.0)],
            |t, v| t.sub(v[0], v[1]),
        ),
        case(
            "mul [2,3]*[3]",
            vec![r.uniform(&[2, 3], -1.0, 1.0), r.uniform(&[3], -1.0, 1.0)],
            |t, v| t.mul(v[0], v[1]),
        ),
        case(
            "mul [2,1]*[1,3]",
            vec![r.uniform(&[2, 1], -1.0, 1.0), r.uniform(&[1, 3], -1.0, 1.0)],
            |t, v| t.mul(v[0], v[1]),
        ),
        case(
            "mul x*x (one value used twice)",
            vec![r.uniform(&[2, 3], -1.0, 1.0)],
            |t, v| t.mul(v[0], v[0]),
        ),
        case(
            "div [2,3]/[3]",
            vec![r.uniform(&[2, 3], -1.0, 1.0), r.signed(&[3], 0.5, 1.5)],
            |t, v| t.div(v[0], v[1]),
        ),
        case(
            "div [2,1]/[1,3]",
            vec![r.uniform(&[2, 1], -1.0, 1.0), r.signed(&[1, 3], 0.5, 1.5)],
            |t, v| t.div(v[0], v[1]),
        ),
        case(
            "div [2,3]/[2,3], denominator only",
            vec![r.uniform(&[2, 3], -1.0, 1.0), r.signed(&[2, 3], 0.5, 1.5)],
            |t, v| t.div(v[0], v[1]),
        )
        .constant(0),
        case("neg", vec![r.uniform(&[2, 3], -1.0, 1.0)], |t, v| {
            t.neg(v[0])
        }),
        {
            let k = r.uniform(&[2, 3], -2.0, 2.0);
            case(
                "mul_const",
                vec![r.uniform(&[2, 3], -1.0, 1.0)],
                move |t, v| t.mul_const(v[0], k.clone()),
            )
        },
        case("scale", vec![r.uniform(&[2, 3], -1.0, 1.0)], |t, v| {
            t.scale(v[0], -1.7)
        }),
        // Every elementwise function, away from kinks and domain edges.
        unary_case("sigmoid", Unary::Sigmoid, r.uniform(&[3, 4], -3.0, 3.0)),
        unary_case("tanh", Unary::Tanh, r.uniform(&[3, 4], -2.0, 2.0)),
        unary_case("relu", Unary::Relu, r.signed(&[3, 4], 0.1, 2.0)),
        unary_case(
            "leaky_relu",
            Unary::LeakyRelu(0.1),
            r.signed(&[3, 4], 0.1, 2.0),
        ),
        unary_case("exp", Unary::Exp, r.uniform(&[3, 4], -2.0, 1.5)),
        unary_case("log", Unary::Log, r.uniform(&[3, 4], 0.3, 3.0)),
        unary_case("sqrt", Unary::Sqrt, r.uniform(&[3, 4], 0.3, 3.0)),
        unary_case("abs", Unary::Abs, r.signed(&[3, 4], 0.1, 2.0)),
        // Matrix products.
        case(
            "matmul [4,3]@[3,2]",
            vec![r.uniform(&[4, 3], -1.0, 1.0), r.uniform(&[3, 2], -1.0, 1.0)],
            |t, v| t.matmul(v[0], v[1]),
        ),
        case(
            "matmul [2,4,3]@[3,2]",
            vec![
                r.uniform(&[2, 4, 3], -1.0, 1.0),
                r.uniform(&[3, 2], -1.0, 1.0),
            ],
            |t, v| t.matmul(v[0], v[1]),
        ),
        case(
            "matmul batched [2,4,3]@[2,3,5]",
            vec![
                r.uniform(&[2, 4, 3], -1.0, 1.0),
                r.uniform(&[2, 3, 5], -1.0, 1.0),
            ],
            |t, v| t.matmul(v[0], v[1]),
        ),
        // Softmax.
        case(
            "softmax axis 1 of [3,4]",
            vec![r.uniform(&[3, 4], -2.0, 2.0)],
            |t, v| t.softmax(v[0], 1),
        ),
        case(
            "softmax axis 0 of [3,4]",
            vec![r.uniform(&[3, 4], -2.0, 2.0)],
            |t, v| t.softmax(v[0], 0),
        ),
        case(
            "softmax axis 1 of [2,3,4]",
            vec![r.uniform(&[2, 3, 4], -2.0, 2.0)],
            |t, v| t.softmax(v[0], 1),
        ),
        // Reductions.
        case(
            "sum axis 1 of [2,3,4]",
            vec![r.uniform(&[2, 3, 4], -1.0, 1.0)],
            |t, v| t.sum(v[0], &[1], false),
        ),
        case(
            "sum axis 1 of [2,3,4], keep",
            vec![r.uniform(&[2, 3, 4], -1.0, 1.0)],
            |t, v| t.sum(v[0], &[1], true),
        ),
        case(
            "sum axes [2,0] of [2,3,4]",
            vec![r.uniform(&[2, 3, 4], -1.0, 1.0)],
            |t, v| t.sum(v[0], &[2, 0], false),
        ),
        case(
            "sum axes [0,2] of [2,3,4], keep",
            vec![r.uniform(&[2, 3, 4], -1.0, 1.0)],
            |t, v| t.sum(v[0], &[0, 2], true),
        ),
        case(
            "sum of everything",
            vec![r.uniform(&[2, 3], -1.0, 1.0)],
            |t, v| t.sum(v[0], &[0, 1], false),
        ),
        case(
            "mean axis 2 of [2,3,4]",
            vec![r.uniform(&[2, 3, 4], -1.0, 1.0)],
            |t, v| t.mean(v[0], &[2], false),
        ),
        case(
            "mean axes [0,2] of [2,3,4], keep",
            vec![r.uniform(&[2, 3, 4], -1.0, 1.0)],
            |t, v| t.mean(v[0], &[0, 2], true),
        ),
        case(
            "mean axes [0,1] of [2,3,4]",
            vec![r.uniform(&[2, 3, 4], -1.0, 1.0)],
            |t, v| t.mean(v[0], &[0, 1], false),
        ),
        // Shape ops.
        case(
            "reshape [2,3,4] -> [4,6]",
            vec![r.uniform(&[2, 3, 4], -1.0, 1.0)],
            |t, v| t.reshape(v[0], &[4, 6]),
        ),
        case(
            "reshape [2,3,4] -> [24]",
            vec![r.uniform(&[2, 3, 4], -1.0, 1.0)],
            |t, v| t.reshape(v[0], &[24]),
        ),
        case(
            "concat axis 0, three parts",
            vec![
                r.uniform(&[1, 3], -1.0, 1.0),
                r.uniform(&[2, 3], -1.0, 1.0),
                r.uniform(&[3, 3], -1.0, 1.0),
            ],
            |t, v| t.concat(&[v[0], v[1], v[2]], 0),
        ),
        case(
            "concat axis 1, three parts",
            vec![
                r.uniform(&[2, 2, 2], -1.0, 1.0),
                r.uniform(&[2, 1, 2], -1.0, 1.0),
                r.uniform(&[2, 3, 2], -1.0, 1.0),
            ],
            |t, v| t.concat(&[v[0], v[1], v[2]], 1),
        ),
        case(
            "concat of one value with itself",
            vec![r.uniform(&[2, 3], -1.0, 1.0)],
            |t, v| t.concat(&[v[0], v[0]], 1),
        ),
        case(
            "select axis 1, last index",
            vec![r.uniform(&[2, 4, 3], -1.0, 1.0)],
            |t, v| t.select(v[0], 1, 3),
        ),
        case(
            "select axis 0",
            vec![r.uniform(&[3, 2], -1.0, 1.0)],
            |t, v| t.select(v[0], 0, 1),
        ),
        case(
            "gather with repeated ids",
            vec![r.uniform(&[5, 3], -1.0, 1.0)],
            |t, v| t.gather(v[0], vec![1, 3, 1, 0, 3, 3], &[2, 3]),
        ),
    ];
    cases.extend([
        // Convolution: stride 2, padding 1, 2 -> 3 channels, batch 2.
        conv_case(
            "conv2d stride 2 padding 1, bias",
            r,
            &[2, 2, 5, 5],
            &[3, 2, 3, 3],
            true,
            [2, 2],
            [1, 1],
        ),
        conv_case(
            "conv2d stride 2 padding 1, no bias",
            r,
            &[2, 2, 6, 6],
            &[3, 2, 3, 3],
            false,
            [2, 2],
            [1, 1],
        ),
        conv_case(
            "conv2d kernel [2,3] stride [1,2] padding [1,0]",
            r,
            &[2, 2, 4, 7],
            &[3, 2, 2, 3],
            true,
            [1, 2],
            [1, 0],
        ),
        conv_case(
            "conv2d kernel [3,1] stride [2,1] padding [0,1]",
            r,
            &[1, 2, 5, 3],
            &[2, 2, 3, 1],
            false,
            [2, 1],
            [0, 1],
        ),
        conv_case(
            "conv2d batch 9 (several samples per kernel chunk)",
            r,
            &[9, 1, 4, 4],
            &[2, 1, 3, 3],
            true,
            [1, 1],
            [1, 1],
        ),
        {
            let c = conv_case(
                "conv2d, constant image (weight and bias only)",
                r,
                &[2, 2, 5, 5],
                &[3, 2, 3, 3],
                true,
                [2, 2],
                [1, 1],
            );
            c.constant(0)
        },
        {
            let c = conv_case(
                "conv2d, constant kernel (image only)",
                r,
                &[2, 2, 5, 5],
                &[3, 2, 3, 3],
                false,
                [1, 1],
                [1, 1],
            );
            c.constant(1)
        },
        // `round = "ceil"` on a convolution: 7 with kernel 2 and stride 2
        // gives 4 windows, the last covering only input row (column) 6.
        {
            let inputs = vec![
                r.uniform(&[2, 2, 7, 7], -1.0, 1.0),
                r.uniform(&[3, 2, 2, 2], -1.0, 1.0),
            ];
            case("conv2d ceil (a partial last window)", inputs, |t, v| {
                t.conv2d(v[0], v[1], None, [2, 2], [0, 0], [4, 4])
            })
        },
        // Pooling, with padding and with ceil mode adding a partial window:
        // 6 with kernel 3, stride 2, padding 1 gives 3 windows (floor) or 4
        // (ceil, the last covering only input row 5); 5 with kernel 2 and
        // stride 2 gives 2 (floor) or 3 (ceil, the last hanging past the input).
        pool_case(
            "maxpool 2x2 stride 2",
            r,
            &[2, 2, 4, 4],
            true,
            [2, 2],
            [2, 2],
            [0, 0],
            false,
        ),
        pool_case(
            "maxpool 3x3 stride 2 padding 1",
            r,
            &[2, 2, 6, 6],
            true,
            [3, 3],
            [2, 2],
            [1, 1],
            false,
        ),
        pool_case(
            "maxpool 3x3 stride 2 padding 1, ceil",
            r,
            &[2, 2, 6, 6],
            true,
            [3, 3],
            [2, 2],
            [1, 1],
            true,
        ),
        pool_case(
            "maxpool 2x2 stride 2, ceil",
            r,
            &[2, 2, 5, 5],
            true,
            [2, 2],
            [2, 2],
            [0, 0],
            true,
        ),
        pool_case(
            "maxpool kernel [2,3] stride [1,2] padding [1,1], ceil",
            r,
            &[1, 2, 4, 6],
            true,
            [2, 3],
            [1, 2],
            [1, 1],
            true,
        ),
        pool_case(
            "avgpool 2x2 stride 2",
            r,
            &[2, 2, 4, 4],
            false,
            [2, 2],
            [2, 2],
            [0, 0],
            false,
        ),
        pool_case(
            "avgpool 3x3 stride 2 padding 1",
            r,
            &[2, 2, 6, 6],
            false,
            [3, 3],
            [2, 2],
            [1, 1],
            false,
        ),
        pool_case(
            "avgpool 3x3 stride 2 padding 1, ceil",
            r,
            &[2, 2, 6, 6],
            false,
            [3, 3],
            [2, 2],
            [1, 1],
            true,
        ),
        pool_case(
            "avgpool 2x2 stride 2, ceil",
            r,
            &[2, 2, 5, 5],
            false,
            [2, 2],
            [2, 2],
            [0, 0],
            true,
        ),
        pool_case(
            "avgpool kernel [2,3] stride [1,2] padding [1,1], ceil",
            r,
            &[1, 2, 4, 6],
            false,
            [2, 3],
            [1, 2],
            [1, 1],
            true,
        ),
    ]);
    // Batch normalisation with the batch's statistics (gradients through
    // them) and with given ones (constants), on images and on vectors.
    for (name, shape) in [
        ("batch_norm batch statistics [3,2,2,3]", vec![3, 2, 2, 3]),
        ("batch_norm batch statistics [5,3]", vec![5, 3]),
    ] {
        let c = shape[1];
        cases.push(case(
            name,
            vec![
                r.uniform(&shape, -1.0, 1.0),
                r.uniform(&[c], 0.5, 1.5),
                r.uniform(&[c], -0.5, 0.5),
            ],
            |t, v| t.batch_norm(v[0], v[1], v[2], 1e-5, NormStats::Batch).0,
        ));
    }
    cases.push(case(
        "batch_norm given statistics [2,3,2,2]",
        vec![
            r.uniform(&[2, 3, 2, 2], -1.0, 1.0),
            r.uniform(&[3], 0.5, 1.5),
            r.uniform(&[3], -0.5, 0.5),
        ],
        |t, v| {
            let stats = NormStats::Given {
                mean: &[0.1, -0.2, 0.3],
                var: &[0.5, 1.0, 2.0],
            };
            t.batch_norm(v[0], v[1], v[2], 1e-5, stats).0
        },
    ));
    // Recurrent layers over 6 steps: gradients of the input, weight and bias.
    for (name, kind, gates) in [
        ("recurrent rnn [2,6,3] h 4", RecurrentKind::Rnn, 1),
        ("recurrent lstm [2,6,3] h 4", RecurrentKind::Lstm, 4),
        ("recurrent gru [2,6,3] h 4", RecurrentKind::Gru, 3),
    ] {
        cases.push(case(
            name,
            vec![
                r.uniform(&[2, 6, 3], -1.0, 1.0),
                r.uniform(&[7, gates * 4], -0.8, 0.8),
                r.uniform(&[gates * 4], -0.5, 0.5),
            ],
            move |t, v| t.recurrent(kind, v[0], v[1], v[2], None),
        ));
    }
    // The reset-after GRU also has a recurrent bias.
    cases.push(case(
        "recurrent gru reset_after [2,6,3] h 4",
        vec![
            r.uniform(&[2, 6, 3], -1.0, 1.0),
            r.uniform(&[7, 12], -0.8, 0.8),
            r.uniform(&[12], -0.5, 0.5),
            r.uniform(&[12], -0.5, 0.5),
        ],
        |t, v| t.recurrent(RecurrentKind::GruResetAfter, v[0], v[1], v[2], Some(v[3])),
    ));
    // Losses.
    let probs = r.uniform(&[4, 3], 0.1, 0.9);
    let (bits_a, bits_b) = (r.bits(&[4, 3]), r.bits(&[5, 1]));
    cases.extend([
        case(
            "softmax_cross_entropy",
            vec![r.uniform(&[4, 5], -2.0, 2.0)],
            |t, v| t.softmax_cross_entropy(v[0], &[0, 3, 4, 3]),
        ),
        {
            let bits = bits_a.clone();
            case(
                "bce_with_logits [4,3]",
                vec![r.uniform(&[4, 3], -3.0, 3.0)],
                move |t, v| t.bce_with_logits(v[0], bits.clone()),
            )
        },
        case(
            "bce_with_logits [5,1]",
            vec![r.uniform(&[5, 1], -3.0, 3.0)],
            move |t, v| t.bce_with_logits(v[0], bits_b.clone()),
        ),
        case("bce", vec![probs], move |t, v| t.bce(v[0], bits_a.clone())).step(1e-3),
        // A chain: a value used by several ops, gradients accumulate.
        case(
            "chain tanh(x @ w) * x + softmax(x)",
            vec![r.uniform(&[3, 3], -1.0, 1.0), r.uniform(&[3, 3], -1.0, 1.0)],
            |t, v| {
                let h = t.matmul(v[0], v[1]);
                let h = t.unary(Unary::Tanh, h);
                let p = t.mul(h, v[0]);
                let s = t.softmax(v[0], 1);
                t.add(p, s)
            },
        ),
    ]);
    cases
}

/// `sum(w * out)` in f64.
fn weighted_sum(out: &Tensor, w: &Tensor) -> f64 {
    assert_eq!(out.shape(), w.shape(), "output shape changed");
    out.iter()
        .zip(w.iter())
        .map(|(&o, &w)| f64::from(o) * f64::from(w))
        .sum()
}

/// Runs `case.build` on a fresh tape with `values` as leaves.
fn forward(case: &OpCase, values: &[Tensor]) -> (Tape, Vec<Var>, Var) {
    let mut tape = Tape::new();
    let vars: Vec<Var> = values
        .iter()
        .zip(&case.inputs)
        .map(|(v, (_, grad))| tape.leaf(v.clone(), *grad))
        .collect();
    let out = (case.build)(&mut tape, &vars);
    (tape, vars, out)
}

/// The analytic and numerical gradients of every input that wants one.
fn op_gradients(case: &OpCase, seed: u64) -> Vec<(usize, Vec<f64>, Vec<f64>)> {
    let values: Vec<Tensor> = case.inputs.iter().map(|(v, _)| v.clone()).collect();
    let (mut tape, vars, out) = forward(case, &values);
    let shape = tape.value(out).shape().to_vec();
    let w = Rng::new(seed).uniform(&shape, -1.0, 1.0);
    let weighted = tape.mul_const(out, w.clone());
    let axes: Vec<usize> = (0..shape.len()).collect();
    let loss = tape.sum(weighted, &axes, false);
    let grads = tape.backward(loss);
    let mut result = Vec::new();
    for (i, (value, wants)) in case.inputs.iter().enumerate() {
        let grad = grads.get(vars[i]);
        if !*wants {
            assert!(
                grad.is_none(),
                "{}: a constant input got a gradient",
                case.name
            );
            continue;
        }
        let grad = grad.unwrap_or_else(|| panic!("{}: no gradient for input {i}", case.name));
        assert_eq!(
            grad.shape(),
            value.shape(),
            "{}: gradient shape of input {i}",
            case.name
        );
        let mut probe = values.clone();
        let numeric: Vec<f64> = (0..value.len())
            .map(|j| {
                let mut x = probe[i].clone();
                let n = central_difference(&mut x, j, case.h, |x| {
                    probe[i] = x.clone();
                    let (tape, _, out) = forward(case, &probe);
                    weighted_sum(tape.value(out), &w)
                });
                probe[i] = values[i].clone();
                n
            })
            .collect();
        result.push((i, as_f64(grad), numeric));
    }
    result
}

#[test]
fn tape_ops_match_finite_differences() {
    for (k, case) in op_cases().iter().enumerate() {
        for (i, analytic, numeric) in op_gradients(case, 1000 + k as u64) {
            check_gradient(&format!("{} (input {i})", case.name), &analytic, &numeric);
        }
    }
}

// ---------------------------------------------------------------------------
// Coverage: no op without a gradient case.

/// The gradient case of each kind of op. The match is exhaustive on purpose:
/// a new op does not compile here until it names a case, which
/// `op_coverage_is_complete` then checks.
fn case_of(kind: OpKind) -> Option<&'static str> {
    Some(match kind {
        // Inputs and parameters: nothing to differentiate.
        OpKind::Leaf => return None,
        OpKind::Add => "add [2,3]+[2,3]",
        OpKind::Sub => "sub [2,3]-[3]",
        OpKind::Mul => "mul [2,3]*[3]",
        OpKind::Div => "div [2,3]/[3]",
        OpKind::Neg => "neg",
        OpKind::MulConst => "mul_const",
        OpKind::Unary => "sigmoid",
        OpKind::MatMul => "matmul [4,3]@[3,2]",
        OpKind::Softmax => "softmax axis 1 of [3,4]",
        OpKind::Sum => "sum axis 1 of [2,3,4]",
        OpKind::Reshape => "reshape [2,3,4] -> [4,6]",
        OpKind::Concat => "concat axis 0, three parts",
        OpKind::Select => "select axis 1, last index",
        OpKind::Gather => "gather with repeated ids",
        OpKind::Conv2d => "conv2d stride 2 padding 1, bias",
        OpKind::BatchNorm => "batch_norm batch statistics [3,2,2,3]",
        OpKind::MaxPool => "maxpool 2x2 stride 2",
        OpKind::AvgPool => "avgpool 2x2 stride 2",
        OpKind::Recurrent => "recurrent lstm [2,6,3] h 4",
        OpKind::SoftmaxCrossEntropy => "softmax_cross_entropy",
        OpKind::BceWithLogits => "bce_with_logits [4,3]",
        OpKind::Bce => "bce",
    })
}

/// Every elementwise function. A new `Unary` stops `unary_case_of` compiling;
/// add it here too, so that its case is checked.
const UNARIES: [Unary; 8] = [
    Unary::Sigmoid,
    Unary::Tanh,
    Unary::Relu,
    Unary::LeakyRelu(0.1),
    Unary::Exp,
    Unary::Log,
    Unary::Sqrt,
    Unary::Abs,
];

/// The gradient case of each elementwise function; exhaustive, like `case_of`.
fn unary_case_of(f: Unary) -> &'static str {
    match f {
        Unary::Sigmoid => "sigmoid",
        Unary::Tanh => "tanh",
        Unary::Relu => "relu",
        Unary::LeakyRelu(_) => "leaky_relu",
        Unary::Exp => "exp",
        Unary::Log => "log",
        Unary::Sqrt => "sqrt",
        Unary::Abs => "abs",
    }
}

/// The case named `name`, run: its inputs and its output on the tape.
fn run_case(cases: &[OpCase], name: &str) -> (Tape, Vec<Var>, Var) {
    let case = cases
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no gradient case is named `{name}`"));
    let values: Vec<Tensor> = case.inputs.iter().map(|(v, _)| v.clone()).collect();
    forward(case, &values)
}

#[test]
fn op_coverage_is_complete() {
    let cases = op_cases();
    for &kind in OpKind::ALL {
        let Some(name) = case_of(kind) else {
            continue;
        };
        let (tape, _, _) = run_case(&cases, name);
        assert!(
            recorded_kinds(&tape).contains(&kind),
            "the case `{name}` records no {kind:?} op"
        );
    }
    for f in UNARIES {
        let name = unary_case_of(f);
        let (tape, inputs, out) = run_case(&cases, name);
        assert_eq!(
            recorded_kinds(&tape).last(),
            Some(&OpKind::Unary),
            "the case `{name}` ends in no elementwise function"
        );
        let expected = tape.value(inputs[0]).mapv(|x| f.f(x));
        assert!(
            tape.value(out)
                .iter()
                .zip(&expected)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "the case `{name}` does not compute {f:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// The check rejects wrong rules, not just perturbed gradients.

#[test]
fn check_rejects_wrong_backward_rules() {
    let mut r = Rng::new(77);
    // Numerical gradient of L = sum(w * f(x)) for an elementwise f.
    let x = r.uniform(&[3, 4], -2.0, 2.0);
    let w = r.uniform(&[3, 4], -1.0, 1.0);
    let numeric_of = |f: &dyn Fn(f32) -> f32| -> Vec<f64> {
        let mut x = x.clone();
        (0..x.len())
            .map(|j| central_difference(&mut x, j, 1e-2, |x| weighted_sum(&x.mapv(f), &w)))
            .collect()
    };
    let by_rule = |df: &dyn Fn(f32) -> f32| -> Vec<f64> {
        x.iter()
            .zip(w.iter())
            .map(|(&x, &w)| f64::from(w * df(x)))
            .collect()
    };
    let sig = |x: f32| 1.0 / (1.0 + (-x).exp());
    // The right rules pass...
    let tanh_num = numeric_of(&|x: f32| x.tanh());
    assert!(compare(&by_rule(&|x: f32| 1.0 - x.tanh().powi(2)), &tanh_num).is_ok());
    let sig_num = numeric_of(&sig);
    assert!(compare(&by_rule(&|x: f32| sig(x) * (1.0 - sig(x))), &sig_num).is_ok());
    // ...and the classic mistakes do not.
    assert!(compare(&by_rule(&|x: f32| 1.0 - x * x), &tanh_num).is_err());
    assert!(compare(&by_rule(&sig), &sig_num).is_err());
    assert!(compare(&by_rule(&|x: f32| sig(x) * (1.0 - sig(x)) * 1.03), &sig_num).is_err());

    // Softmax without the `- sum(g * y)` term; mean without `1 / count`.
    let softmax = case("softmax", vec![x.clone()], |t, v| t.softmax(v[0], 1));
    let (_, analytic, numeric) = op_gradients(&softmax, 5).remove(0);
    assert!(compare(&analytic, &numeric).is_ok());
    let wsoft = Rng::new(5).uniform(&[3, 4], -1.0, 1.0);
    let (t, _, y) = forward(&softmax, std::slice::from_ref(&x));
    let wrong: Vec<f64> = t
        .value(y)
        .iter()
        .zip(wsoft.iter())
        .map(|(&y, &g)| f64::from(y * g))
        .collect();
    assert!(compare(&wrong, &numeric).is_err());

    let mean = case("mean", vec![x.clone()], |t, v| t.mean(v[0], &[1], false));
    let (_, analytic, numeric) = op_gradients(&mean, 6).remove(0);
    assert!(compare(&analytic, &numeric).is_ok());
    let unscaled: Vec<f64> = analytic.iter().map(|a| a * 4.0).collect();
    assert!(compare(&unscaled, &numeric).is_err());

    // Division: the denominator's gradient with the wrong sign.
    let div = case("div", vec![x.clone(), r.signed(&[4], 0.5, 1.5)], |t, v| {
        t.div(v[0], v[1])
    });
    let (_, analytic, numeric) = op_gradients(&div, 7).remove(1);
    assert!(compare(&analytic, &numeric).is_ok());
    let flipped: Vec<f64> = analytic.iter().map(|a| -a).collect();
    assert!(compare(&flipped, &numeric).is_err());
}

// ---------------------------------------------------------------------------
// Layers, through the interpreter and the training losses.

struct LayerCase {
    name: &'static str,
    source: &'static str,
    /// The model to run (the program's last model when empty).
    model: &'static str,
    input: Tensor,
    targets: Targets,
    loss: Loss,
    mode: Mode,
    h: f32,
    /// Parameters whose gradient is exactly zero in theory (a bias followed
    /// by batchnorm in training mode): checked to be ~0 both ways.
    zero: &'static [&'static str],
    /// Checked shapes of some nodes, by path: proves e.g. that ceil mode
    /// really added a partial window.
    shapes: &'static [(&'static str, &'static str)],
}

impl LayerCase {
    fn step(self, h: f32) -> LayerCase {
        LayerCase { h, ..self }
    }

    fn shapes(self, shapes: &'static [(&'static str, &'static str)]) -> LayerCase {
        LayerCase { shapes, ..self }
    }
}

const SEED: u64 = 42;

fn classes(r: &mut Rng, n: usize, k: usize) -> Targets {
    Targets::Classes((0..n).map(|_| r.below(k) as u32).collect())
}

fn values(r: &mut Rng, n: usize) -> Targets {
    let t = r.uniform(&[n, 1], -1.0, 1.0);
    Targets::Values(Array2::from_shape_vec((n, 1), t.iter().copied().collect()).expect("n x 1"))
}

fn layer_cases() -> Vec<LayerCase> {
    let mut r = Rng::new(2);
    let r = &mut r;
    let mut ids = Tensor::zeros(IxDyn(&[3, 5]));
    for (k, v) in ids.iter_mut().enumerate() {
        *v = [0.0, 3.0, 3.0, 6.0, 1.0, 3.0, 0.0][k % 7];
    }
    let layer = |name, source, input: Tensor, targets, loss| LayerCase {
        name,
        source,
        model: "",
        input,
        targets,
        loss,
        mode: Mode::Train,
        h: 1e-2,
        zero: &[],
        shapes: &[],
    };
    vec![
        layer(
            "dense tanh dense, mse",
            "model M(x: [4]) { dense(5) tanh dense(1) }",
            r.uniform(&[6, 4], -1.0, 1.0),
            values(r, 6),
            Loss::Mse,
        ),
        layer(
            "dense sigmoid dense, half_mse",
            "model M(x: [4]) { dense(3) sigmoid dense(1) }",
            r.uniform(&[6, 4], -1.0, 1.0),
            values(r, 6),
            Loss::HalfMse,
        ),
        layer(
            "dense (no bias) leaky_relu dense, mae",
            "model M(x: [4]) { dense(5, bias = false) leaky_relu(a = 0.2) dense(1) }",
            r.uniform(&[6, 4], -1.0, 1.0),
            values(r, 6),
            Loss::Mae,
        )
        .step(1e-3),
        layer(
            "dense relu, mse",
            "model M(x: [4]) { dense(6) relu dense(1) }",
            r.uniform(&[6, 4], -1.0, 1.0),
            values(r, 6),
            Loss::Mse,
        )
        .step(1e-3),
        layer(
            "conv2d stride 2 padding 1, maxpool ceil with padding, softmax + cross_entropy (fused)",
            r#"model M(x: [2, 7, 7]) {
                conv2d(3, kernel = 3, stride = 2, padding = 1, round = "floor")
                maxpool(3, stride = 2, padding = 1, round = "ceil")
                flatten dense(3) softmax
            }"#,
            r.uniform(&[2, 2, 7, 7], -1.0, 1.0),
            classes(r, 2, 3),
            Loss::CrossEntropy,
        )
        .step(1e-3)
        .shapes(&[
            ("M.conv2d_0", "[N, 3, 4, 4]"),
            ("M.maxpool_0", "[N, 3, 3, 3]"),
        ]),
        layer(
            "conv2d kernel [3,2], avgpool ceil with padding, cross_entropy on logits",
            r#"model M(x: [2, 6, 6]) {
                conv2d(3, kernel = [3, 2], padding = [1, 0], round = "floor")
                avgpool(3, stride = 2, padding = 1, round = "ceil")
                flatten dense(3)
            }"#,
            r.uniform(&[2, 2, 6, 6], -1.0, 1.0),
            classes(r, 2, 3),
            Loss::CrossEntropy,
        )
        .shapes(&[
            ("M.conv2d_0", "[N, 3, 6, 5]"),
            ("M.avgpool_0", "[N, 3, 4, 3]"),
        ]),
        layer(
            "conv2d, maxpool and avgpool ceil hanging past the input, global_avgpool",
            r#"model M(x: [1, 5, 5]) {
                let c = x -> conv2d(2, kernel = 3, padding = 1, bias = false, round = "floor")
                let a = c -> maxpool(2, round = "ceil")
                let b = c -> avgpool(2, round = "ceil")
                concat(a, b, axis = 0) -> global_avgpool -> dense(3) -> softmax
            }"#,
            r.uniform(&[3, 1, 5, 5], -1.0, 1.0),
            classes(r, 3, 3),
            Loss::CrossEntropy,
        )
        .step(1e-3)
        .shapes(&[
            ("M.maxpool_0", "[N, 2, 3, 3]"),
            ("M.avgpool_0", "[N, 2, 3, 3]"),
        ]),
        layer(
            "batchnorm (train) on images, global_avgpool",
            r#"model M(x: [2, 5, 5]) {
                conv2d(3, kernel = 3, padding = 1, bias = false, round = "floor")
                batchnorm tanh global_avgpool dense(3) softmax
            }"#,
            r.uniform(&[3, 2, 5, 5], -1.0, 1.0),
            classes(r, 3, 3),
            Loss::CrossEntropy,
        ),
        LayerCase {
            zero: &["M.dense_0.bias"],
            ..layer(
                "batchnorm (train) on vectors",
                "model M(x: [4]) { dense(3) batchnorm tanh dense(1) }",
                r.uniform(&[5, 4], -1.0, 1.0),
                values(r, 5),
                Loss::Mse,
            )
        },
        LayerCase {
            mode: Mode::Eval,
            ..layer(
                "batchnorm (eval, running statistics) on images",
                r#"model M(x: [2, 4, 4]) {
                    conv2d(3, kernel = 3, padding = 1, round = "floor")
                    batchnorm(momentum = 0.2, eps = 0.001) tanh flatten dense(2)
                }"#,
                r.uniform(&[2, 2, 4, 4], -1.0, 1.0),
                classes(r, 2, 2),
                Loss::CrossEntropy,
            )
        },
        LayerCase {
            mode: Mode::Eval,
            ..layer(
                "batchnorm (eval, running statistics) on vectors",
                "model M(x: [4]) { dense(3) batchnorm tanh dense(1) }",
                r.uniform(&[5, 4], -1.0, 1.0),
                values(r, 5),
                Loss::Mse,
            )
        },
        LayerCase {
            mode: Mode::Eval,
            ..layer(
                "dropout (eval: identity)",
                "model M(x: [6]) { dense(8) tanh dropout(0.5) dense(1) }",
                r.uniform(&[4, 6], -1.0, 1.0),
                values(r, 4),
                Loss::Mse,
            )
        },
        layer(
            "dropout (train: seeded mask)",
            "model M(x: [6]) { dense(8) tanh dropout(0.5) dense(1) }",
            r.uniform(&[4, 6], -1.0, 1.0),
            values(r, 4),
            Loss::Mse,
        ),
        layer(
            "rnn over 6 steps, last, dense",
            "model M(x: [T, 3]) { rnn(4) last dense(1) }",
            r.uniform(&[3, 6, 3], -1.0, 1.0),
            values(r, 3),
            Loss::Mse,
        ),
        layer(
            "lstm over 6 steps, every step used",
            "model M(x: [T, 3]) { lstm(4) tanh mean(axis = 0) dense(1) }",
            r.uniform(&[3, 6, 3], -1.0, 1.0),
            values(r, 3),
            Loss::Mse,
        ),
        layer(
            "gru over 6 steps, stacked on lstm",
            "model M(x: [T, 2]) { lstm(3) gru(4) last dense(1) }",
            r.uniform(&[3, 6, 2], -1.0, 1.0),
            values(r, 3),
            Loss::Mse,
        ),
        layer(
            "gru with the reset after, over 6 steps",
            "model M(x: [T, 2]) { gru(4, reset_after = true) last dense(1) }",
            r.uniform(&[3, 6, 2], -1.0, 1.0),
            values(r, 3),
            Loss::Mse,
        ),
        LayerCase {
            model: "M",
            ..layer(
                "Elman cell over 5 steps",
                r#"cell Elman(x: [I], hidden: int) state (h: [hidden] = zeros) {
                    param U: [I, hidden]
                    param W: [hidden, hidden]
                    param b: [hidden] = zeros
                    next h = tanh(x @ U + h @ W + b)
                    h
                }
                model M(x: [T, 3]) { Elman(4) last dense(1) }"#,
                r.uniform(&[3, 5, 3], -1.0, 1.0),
                values(r, 3),
                Loss::Mse,
            )
        },
        LayerCase {
            model: "M",
            ..layer(
                "LSTMCell over 5 steps, two states, every output used",
                LSTM_CELL,
                r.uniform(&[2, 5, 2], -1.0, 1.0),
                values(r, 2),
                Loss::Mse,
            )
        },
        layer(
            "embedding (repeated ids) lstm over 5 steps",
            "model M(x: [5]) { embedding(7, 3) lstm(4) last dense(1) }",
            ids.clone(),
            values(r, 3),
            Loss::Mse,
        ),
        layer(
            "embedding (repeated ids) flatten dense",
            "model M(x: [5]) { embedding(7, 3) flatten dense(1) }",
            ids,
            values(r, 3),
            Loss::Mse,
        ),
        layer(
            "sigmoid + bce (fused)",
            "model M(x: [4]) { dense(3) tanh dense(1) sigmoid }",
            r.uniform(&[6, 4], -1.0, 1.0),
            classes(r, 6, 2),
            Loss::Bce,
        ),
        layer(
            "bce on probabilities (not fused)",
            "model M(x: [4]) { let p = x -> dense(1) -> sigmoid  p * 0.5 + 0.25 }",
            r.uniform(&[6, 4], -1.0, 1.0),
            classes(r, 6, 2),
            Loss::Bce,
        ),
        layer(
            "concat of branches",
            r#"model M(x: [4]) {
                let a = x -> dense(3)
                let b = x -> dense(2) -> sigmoid
                concat(a, b, axis = 0) -> tanh -> dense(1)
            }"#,
            r.uniform(&[5, 4], -1.0, 1.0),
            values(r, 5),
            Loss::Mse,
        ),
        layer(
            "residual relu(y + x)",
            r#"model M(x: [4]) {
                let y = x -> dense(4)
                relu(y + x) -> dense(1)
            }"#,
            r.uniform(&[5, 4], -1.0, 1.0),
            values(r, 5),
            Loss::Mse,
        )
        .step(1e-3),
        LayerCase {
            model: "Net",
            h: 1e-3,
            ..layer(
                "user block with residual on images",
                r#"model Block(x: [C, H, W]) {
                    let y = x -> conv2d(C, kernel = 3, padding = 1, bias = false) -> batchnorm
                    relu(y + x)
                }
                model Net(x: [2, 4, 4]) {
                    Block global_avgpool dense(2)
                }"#,
                r.uniform(&[3, 2, 4, 4], -1.0, 1.0),
                classes(r, 3, 2),
                Loss::CrossEntropy,
            )
        },
        layer(
            "functions: last, mean, sum, exp, log, neg, softmax(axis = 0), @ param",
            r#"model M(x: [3, 4]) {
                param w: [4, 5]
                let h = tanh(x @ w)
                let a = last(h)
                let m = mean(h, axis = 0)
                let s = log(sum(exp(h), axis = 0))
                let p = softmax(-h, axis = 0) -> sum(axis = 0)
                concat(a, m, s, p, axis = 0) -> dense(1)
            }"#,
            r.uniform(&[2, 3, 4], -1.0, 1.0),
            values(r, 2),
            Loss::Mse,
        ),
        layer(
            "conv2d round = \"ceil\" (a partial last window), cross_entropy",
            r#"model M(x: [1, 7, 7]) {
                conv2d(2, kernel = 2, stride = 2, round = "ceil") tanh flatten dense(3) softmax
            }"#,
            r.uniform(&[2, 1, 7, 7], -1.0, 1.0),
            classes(r, 2, 3),
            Loss::CrossEntropy,
        )
        .step(1e-3)
        .shapes(&[("M.conv2d_0", "[N, 2, 4, 4]")]),
        layer(
            "conv1d stride 2 padding 1, conv1d ceil, cross_entropy",
            r#"model M(x: [2, 9]) {
                conv1d(3, kernel = 3, stride = 2, padding = 1) relu
                conv1d(2, kernel = 2, stride = 2, round = "ceil") flatten dense(3) softmax
            }"#,
            r.uniform(&[2, 2, 9], -1.0, 1.0),
            classes(r, 2, 3),
            Loss::CrossEntropy,
        )
        .step(1e-3)
        .shapes(&[("M.conv1d_0", "[N, 3, 5]"), ("M.conv1d_1", "[N, 2, 3]")]),
        layer(
            "layernorm on sequences and on vectors, reshape",
            r#"model M(x: [3, 4]) {
                dense(5) layernorm tanh reshape([5, 3]) flatten dense(4) layernorm(eps = 1e-3) dense(1)
            }"#,
            r.uniform(&[2, 3, 4], -1.0, 1.0),
            values(r, 2),
            Loss::Mse,
        ),
    ]
}

/// The textbook LSTM cell of LANGUAGE.md, used over a sequence and reduced
/// with `mean` so that every step's output matters.
const LSTM_CELL: &str = r#"
cell LSTMCell(x: [I], hidden: int) state (h: [hidden] = zeros, c: [hidden] = zeros) {
    param Wf: [I + hidden, hidden]
    param Wi: [I + hidden, hidden]
    param Wc: [I + hidden, hidden]
    param Wo: [I + hidden, hidden]
    param bf: [hidden] = ones
    param bi: [hidden] = zeros
    param bc: [hidden] = zeros
    param bo: [hidden] = zeros
    let z = concat(x, h, axis = -1)
    let f = sigmoid(z @ Wf + bf)
    let i = sigmoid(z @ Wi + bi)
    let g = tanh(z @ Wc + bc)
    let o = sigmoid(z @ Wo + bo)
    next c = f * c + i * g
    next h = o * tanh(c)
    h
}
model M(x: [T, 2]) { LSTMCell(4) mean(axis = 0) dense(1) }
model B(x: [T, 2]) { lstm(4) mean(axis = 0) dense(1) }
"#;

fn graph_of(case: &LayerCase) -> Graph {
    let (program, diagnostics) = dl::check_source(case.source);
    let errors: Vec<_> = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    assert!(errors.is_empty(), "{}: {errors:#?}", case.name);
    let program = program.expect("parsed");
    let model = if case.model.is_empty() {
        program.models.last().expect("a model")
    } else {
        program
            .models
            .iter()
            .find(|m| m.name == case.model)
            .expect("the named model")
    };
    for (path, shape) in case.shapes {
        let node = model
            .graph
            .nodes
            .iter()
            .find(|n| n.path == *path)
            .unwrap_or_else(|| panic!("{}: no node `{path}`", case.name));
        assert_eq!(node.shape.to_string(), *shape, "{}: `{path}`", case.name);
    }
    model.graph.clone()
}

/// A store with every tensor made non-trivial: biases and batchnorm scales
/// and shifts random, running statistics random (variances positive).
fn store_for(graph: &Graph, r: &mut Rng) -> ParamStore {
    let mut store = ParamStore::init(graph, 3);
    for (name, value) in store.values.iter_mut() {
        let shape = value.shape().to_vec();
        if name.ends_with(".running_var") {
            *value = r.uniform(&shape, 0.5, 2.0);
        } else if name.ends_with(".running_mean") || name.ends_with(".bias") {
            *value = r.uniform(&shape, -0.5, 0.5);
        } else if name.contains("batchnorm") {
            *value = r.uniform(&shape, 0.5, 1.5);
        }
    }
    store
}

/// The loss of the model on the case's batch, and the tape holding it.
fn layer_loss(
    case: &LayerCase,
    graph: &Graph,
    store: &ParamStore,
) -> (Tape, Var, std::collections::HashMap<String, Var>) {
    let mut tape = Tape::new();
    let mut stepper = Stepper::new(graph, store, case.input.clone(), &mut tape, case.mode, SEED);
    let output = stepper
        .run(&mut tape)
        .unwrap_or_else(|e| panic!("{}: {e}", case.name));
    let loss =
        dl::train::loss::record(&mut tape, graph, &stepper, output, case.loss, &case.targets);
    let vars = stepper.param_vars().clone();
    (tape, loss, vars)
}

fn scalar(t: &Tensor) -> f64 {
    f64::from(t.iter().next().copied().expect("a scalar loss"))
}

/// Every built-in layer and function appears in a layer case: a new one
/// fails here until its gradient is checked. The built-ins are read off the
/// checked graphs, so nothing depends on how a case is written.
#[test]
fn every_builtin_has_a_gradient_case() {
    let mut covered = std::collections::BTreeSet::new();
    for case in layer_cases() {
        for node in graph_of(&case).nodes {
            if let dl::ir::Op::Layer(layer) = &node.op {
                covered.insert(Builtin::of(layer).name());
            }
        }
    }
    let missing: Vec<&str> = Builtin::ALL
        .iter()
        .map(|b| b.name())
        .filter(|name| !covered.contains(name))
        .collect();
    assert!(
        missing.is_empty(),
        "built-ins without a gradient case: {missing:?}"
    );
}

#[test]
fn layers_match_finite_differences() {
    let mut r = Rng::new(3);
    for case in layer_cases() {
        let graph = graph_of(&case);
        let mut store = store_for(&graph, &mut r);
        let (tape, loss, vars) = layer_loss(&case, &graph, &store);
        assert!(scalar(tape.value(loss)).is_finite(), "{}: loss", case.name);
        let grads = tape.backward(loss);
        let trainable: Vec<String> = store.trainable().map(str::to_string).collect();
        assert!(!trainable.is_empty(), "{}: no parameters", case.name);
        for name in &trainable {
            let analytic = grads
                .get(vars[name])
                .unwrap_or_else(|| panic!("{}: no gradient for {name}", case.name));
            assert_eq!(analytic.shape(), store.get(name).shape(), "{name}");
            let analytic = as_f64(analytic);
            // Every element of small tensors, a sample of larger ones.
            let len = analytic.len();
            let picked: Vec<usize> = if len <= 64 {
                (0..len).collect()
            } else {
                (0..64).map(|k| k * len / 64 + r.below(len / 64)).collect()
            };
            let mut value = store.get(name).clone();
            let numeric: Vec<f64> = picked
                .iter()
                .map(|&j| {
                    central_difference(&mut value, j, case.h, |v| {
                        store.values.insert(name.clone(), v.clone());
                        let (tape, loss, _) = layer_loss(&case, &graph, &store);
                        scalar(tape.value(loss))
                    })
                })
                .collect();
            store.values.insert(name.clone(), value);
            let analytic: Vec<f64> = picked.iter().map(|&j| analytic[j]).collect();
            if case.zero.contains(&name.as_str()) {
                let largest = |v: &[f64]| v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
                assert!(
                    largest(&analytic) <= 1e-5 && largest(&numeric) <= 1e-4,
                    "{}: {name} should have a zero gradient: analytic {analytic:?}, numerical {numeric:?}",
                    case.name
                );
                continue;
            }
            check_gradient(&format!("{}: {name}", case.name), &analytic, &numeric);
        }
        // State (running statistics) never gets a gradient.
        for (name, trainable) in &store.order {
            if !trainable {
                assert!(grads.get(vars[name]).is_none(), "{}: {name}", case.name);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The textbook logistic-regression gradient.

const LOGREG: &str = r#"
data d = synthetic.blobs(n = 16, classes = 2, features = 3, seed = 1)
model LogReg(x: [F]) {
    param w: [F, 1] = zeros
    param b: [1] = zeros
    sigmoid(x @ w + b)
}
train LogReg on d { loss = bce  optimizer = sgd(lr = 0.1)  batch = full }
"#;

#[test]
fn logistic_regression_gradient_is_the_textbook_one() {
    let (program, diagnostics) = dl::check_source(LOGREG);
    assert!(
        diagnostics.iter().all(|d| d.severity != Severity::Error),
        "{diagnostics:#?}"
    );
    let program = program.expect("parsed");
    let graph = program.trains[0]
        .graph
        .clone()
        .expect("F is bound by the data");
    let mut r = Rng::new(4);
    let (m, f) = (8, 3);
    for scenario in 0..3 {
        let mut store = ParamStore::init(&graph, 0);
        if scenario > 0 {
            store
                .values
                .insert("LogReg.w".into(), r.uniform(&[f, 1], -1.5, 1.5));
            store
                .values
                .insert("LogReg.b".into(), r.uniform(&[1], -1.0, 1.0));
        }
        let x = r.uniform(&[m, f], -2.0, 2.0);
        let y: Vec<u32> = (0..m)
            .map(|i| (i % 2) as u32 ^ u32::from(scenario == 2))
            .collect();
        let mut tape = Tape::new();
        let mut stepper = Stepper::new(&graph, &store, x.clone(), &mut tape, Mode::Train, 0);
        let out = stepper.run(&mut tape).expect("runs");
        let targets = Targets::Classes(y.clone());
        let loss = dl::train::loss::record(&mut tape, &graph, &stepper, out, Loss::Bce, &targets);
        let grads = tape.backward(loss);
        let dw = grads.get(stepper.param_vars()["LogReg.w"]).expect("dJ/dw");
        let db = grads.get(stepper.param_vars()["LogReg.b"]).expect("dJ/db");

        // By hand, in f64: dJ/dw = (1/m) sum (s(w.x + b) - y) x, dJ/db = (1/m) sum (s - y).
        let w = store.get("LogReg.w");
        let b = f64::from(store.get("LogReg.b")[[0]]);
        let (mut want_w, mut want_b, mut want_j) = (vec![0.0f64; f], 0.0f64, 0.0f64);
        for i in 0..m {
            let z = b
                + (0..f)
                    .map(|j| f64::from(x[[i, j]]) * f64::from(w[[j, 0]]))
                    .sum::<f64>();
            let s = 1.0 / (1.0 + (-z).exp());
            let t = f64::from(y[i]);
            for (j, g) in want_w.iter_mut().enumerate() {
                *g += (s - t) * f64::from(x[[i, j]]) / m as f64;
            }
            want_b += (s - t) / m as f64;
            want_j -= (t * s.ln() + (1.0 - t) * (1.0 - s).ln()) / m as f64;
        }
        for j in 0..f {
            let got = f64::from(dw[[j, 0]]);
            assert!(
                (got - want_w[j]).abs() <= 1e-5,
                "scenario {scenario}: dJ/dw[{j}] = {got}, textbook {}",
                want_w[j]
            );
        }
        let got = f64::from(db[[0]]);
        assert!(
            (got - want_b).abs() <= 1e-5,
            "scenario {scenario}: dJ/db = {got}, textbook {want_b}"
        );
        let j = scalar(tape.value(loss));
        assert!(
            (j - want_j).abs() <= 1e-5,
            "scenario {scenario}: J = {j}, textbook {want_j}"
        );
    }
}

// ---------------------------------------------------------------------------
// The textbook LSTM cell and the built-in `lstm` are the same function.

/// The one tensor of `store` whose name contains `part` and ends with `suffix`.
fn named<'s>(store: &'s ParamStore, part: &str, suffix: &str) -> &'s str {
    let found: Vec<&str> = store
        .values
        .keys()
        .filter(|n| n.contains(part) && n.ends_with(suffix))
        .map(String::as_str)
        .collect();
    assert_eq!(found.len(), 1, "{part}*{suffix}: {found:?}");
    found[0]
}

#[test]
fn lstm_cell_matches_builtin_lstm_with_mapped_weights() {
    let (program, diagnostics) = dl::check_source(LSTM_CELL);
    assert!(
        diagnostics.iter().all(|d| d.severity != Severity::Error),
        "{diagnostics:#?}"
    );
    let program = program.expect("parsed");
    let graph = |name: &str| {
        program
            .models
            .iter()
            .find(|m| m.name == name)
            .expect("model")
            .graph
            .clone()
    };
    let (cell_graph, builtin_graph) = (graph("M"), graph("B"));
    let mut r = Rng::new(9);
    let mut cell = ParamStore::init(&cell_graph, 5);
    for value in cell.values.values_mut() {
        let shape = value.shape().to_vec();
        *value = r.uniform(&shape, -0.7, 0.7);
    }
    // Built-in columns are the gate blocks i, f, g, o: Wi, Wf, Wc, Wo side by side.
    let blocks = ["i", "f", "c", "o"];
    let weight = |prefix: &str| {
        let parts: Vec<_> = blocks
            .iter()
            .map(|g| {
                cell.get(named(&cell, ".LSTMCell_", &format!(".{prefix}{g}")))
                    .view()
            })
            .collect();
        ndarray::concatenate(ndarray::Axis(parts[0].ndim() - 1), &parts).expect("blocks")
    };
    let mut builtin = ParamStore::init(&builtin_graph, 5);
    let (w, b) = (weight("W"), weight("b"));
    let (w_name, b_name) = (
        named(&builtin, ".lstm_", ".weight").to_string(),
        named(&builtin, ".lstm_", ".bias").to_string(),
    );
    builtin.values.insert(w_name.clone(), w);
    builtin.values.insert(b_name.clone(), b);
    for suffix in [".weight", ".bias"] {
        let from = named(&cell, ".dense_", suffix).to_string();
        let to = named(&builtin, ".dense_", suffix).to_string();
        builtin.values.insert(to, cell.get(&from).clone());
    }

    let input = r.uniform(&[3, 7, 2], -1.0, 1.0);
    let targets = values(&mut r, 3);
    let run = |graph: &Graph, store: &ParamStore| {
        let mut tape = Tape::new();
        let mut stepper = Stepper::new(graph, store, input.clone(), &mut tape, Mode::Train, 0);
        let out = stepper.run(&mut tape).expect("runs");
        // The recurrent layer's own output, [3, 7, 4]: the node before `mean`.
        let seq = graph
            .nodes
            .iter()
            .position(|n| n.path.contains("mean"))
            .map(|id| stepper.value_of(graph.nodes[id].inputs[0]).expect("ran"))
            .expect("a mean node");
        let loss = dl::train::loss::record(&mut tape, graph, &stepper, out, Loss::Mse, &targets);
        let grads = tape.backward(loss);
        let by_name: std::collections::HashMap<String, Tensor> = stepper
            .param_vars()
            .iter()
            .filter_map(|(n, v)| grads.get(*v).map(|g| (n.clone(), g.clone())))
            .collect();
        (tape.value(seq).clone(), scalar(tape.value(loss)), by_name)
    };
    let (cell_seq, cell_loss, cell_grads) = run(&cell_graph, &cell);
    let (builtin_seq, builtin_loss, builtin_grads) = run(&builtin_graph, &builtin);
    let close = |a: &Tensor, b: &Tensor, what: &str| {
        assert_eq!(a.shape(), b.shape(), "{what}");
        for (x, y) in a.iter().zip(b.iter()) {
            assert!((x - y).abs() <= 1e-5, "{what}: {x} vs {y}");
        }
    };
    close(&cell_seq, &builtin_seq, "hidden states");
    assert!((cell_loss - builtin_loss).abs() <= 1e-5);
    let grad = |grads: &std::collections::HashMap<String, Tensor>, name: &str| {
        grads.get(name).cloned().expect("a gradient")
    };
    for (k, g) in blocks.iter().enumerate() {
        for (prefix, builtin_name) in [("W", &w_name), ("b", &b_name)] {
            let cell_name = named(&cell, ".LSTMCell_", &format!(".{prefix}{g}"));
            let whole = grad(&builtin_grads, builtin_name);
            let axis = ndarray::Axis(whole.ndim() - 1);
            let part = whole.slice_axis(axis, ndarray::Slice::from(k * 4..(k + 1) * 4));
            close(
                &grad(&cell_grads, cell_name),
                &part.to_owned(),
                &format!("gradient of {cell_name}"),
            );
        }
    }
    for suffix in [".weight", ".bias"] {
        close(
            &grad(&cell_grads, named(&cell, ".dense_", suffix)),
            &grad(&builtin_grads, named(&builtin, ".dense_", suffix)),
            suffix,
        );
    }
}
