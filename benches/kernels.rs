//! Timings of the hot kernels on the shapes that matter for small models
//! (an MLP on MNIST, LeNet-5), printed as nanoseconds per call.
//!
//! Run with `cargo bench --bench kernels`. Only std is used: each case is
//! warmed up, then timed over repeated batches of calls, and the fastest
//! batch is reported (the least disturbed by other work on the machine).

use std::hint::black_box;
use std::time::{Duration, Instant};

use dl::kernels::{
    Conv2dGeometry, Pool2dGeometry, conv2d_backward, conv2d_forward, gemm, max_pool2d_backward,
    max_pool2d_forward,
};

/// A deterministic pseudo-random fill in [-1, 1).
fn fill(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// Times `f`, printing the best ns per call over a few rounds of ~0.2 s,
/// unless a filter was given on the command line and `name` lacks it
/// (`cargo bench --bench kernels -- conv2d`).
fn bench(name: &str, mut f: impl FnMut()) {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    if filter.is_some_and(|f| !name.contains(&f)) {
        return;
    }
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < Duration::from_millis(100) {
        f();
        calls += 1;
    }
    let per_round = (calls * 2).max(1);
    let best = (0..5)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..per_round {
                f();
            }
            t.elapsed().as_nanos() as f64 / per_round as f64
        })
        .fold(f64::INFINITY, f64::min);
    println!("{name:<48} {best:>12.0} ns/op");
}

fn bench_gemm(m: usize, k: usize, n: usize, a_trans: bool, b_trans: bool) {
    let a = fill(m * k, 1);
    let b = fill(k * n, 2);
    let mut c = vec![0.0; m * n];
    let name = format!(
        "gemm {m}x{k}x{n}{}{}",
        if a_trans { " Aᵀ" } else { "" },
        if b_trans { " Bᵀ" } else { "" }
    );
    bench(&name, || {
        gemm(m, k, n, &a, a_trans, &b, b_trans, &mut c, false);
        black_box(&c);
    });
}

fn bench_conv(name: &str, g: Conv2dGeometry) {
    let x = fill(g.input_len(), 3);
    let w = fill(g.weight_len(), 4);
    let b = fill(g.out_c, 5);
    let go = fill(g.output_len(), 6);
    let mut y = vec![0.0; g.output_len()];
    let mut gx = vec![0.0; g.input_len()];
    let mut gw = vec![0.0; g.weight_len()];
    let mut gb = vec![0.0; g.out_c];
    bench(&format!("conv2d forward {name}"), || {
        conv2d_forward(&g, &x, &w, Some(&b), &mut y);
        black_box(&y);
    });
    bench(&format!("conv2d backward {name}"), || {
        conv2d_backward(&g, &x, &w, &go, Some(&mut gx), Some(&mut gw), Some(&mut gb));
        black_box((&gx, &gw, &gb));
    });
    bench(&format!("conv2d backward (no grad_input) {name}"), || {
        conv2d_backward(&g, &x, &w, &go, None, Some(&mut gw), Some(&mut gb));
        black_box((&gw, &gb));
    });
}

fn main() {
    println!("rayon threads: {}", rayon::current_num_threads());
    bench_gemm(64, 784, 128, false, false);
    bench_gemm(64, 128, 10, false, false);
    bench_gemm(1, 784, 128, false, false);
    // The two products of a dense layer's backward.
    bench_gemm(784, 64, 128, true, false);
    bench_gemm(64, 128, 784, false, true);
    // The square product the GEMM's peak is quoted for.
    bench_gemm(2048, 2048, 2048, false, false);
    // ResNet-18's third stage (256 channels, 4x4, batch 16) as column-matrix
    // products: forward, weight gradient, column gradient.
    bench_gemm(256, 2304, 256, false, false);
    bench_gemm(256, 256, 2304, false, true);
    bench_gemm(2304, 256, 256, true, false);
    bench_gemm(64, 1024, 147, false, true);
    bench_gemm(64, 2048, 147, false, true);
    bench_gemm(147, 1024, 64, false, true);
    bench_gemm(64, 147, 1024, false, false);
    bench_gemm(64, 147, 4096, false, false);
    bench_gemm(64, 286, 576, false, true);
    bench_gemm(576, 286, 64, false, true);
    bench_gemm(128, 312, 1152, false, true);
    bench_gemm(1152, 312, 128, false, true);
    bench_gemm(2304, 256, 256, false, true);
    bench_gemm(512, 64, 4608, false, true);
    bench_gemm(4608, 64, 512, false, true);

    let lenet1 = Conv2dGeometry::new(64, 1, [28, 28], 6, [5, 5], [1, 1], [2, 2]).unwrap();
    let lenet2 = Conv2dGeometry::new(64, 6, [14, 14], 16, [5, 5], [1, 1], [0, 0]).unwrap();
    bench_conv("64x1x28x28 -> 6, 5x5 pad 2", lenet1);
    bench_conv("64x6x14x14 -> 16, 5x5", lenet2);
    // ResNet-18 on 3x64x64 at batch 16: the stem, a strided 3x3 and a 3x3
    // convolution of each stage.
    let stem = Conv2dGeometry::new(16, 3, [64, 64], 64, [7, 7], [2, 2], [3, 3]).unwrap();
    bench_conv("16x3x64x64 -> 64, 7x7 stride 2 pad 3", stem);
    let down = Conv2dGeometry::new(16, 64, [16, 16], 128, [3, 3], [2, 2], [1, 1]).unwrap();
    bench_conv("16x64x16x16 -> 128, 3x3 stride 2 pad 1", down);
    for (c, hw) in [(64, 16), (128, 8), (256, 4), (512, 2)] {
        let g = Conv2dGeometry::new(16, c, [hw, hw], c, [3, 3], [1, 1], [1, 1]).unwrap();
        bench_conv(&format!("16x{c}x{hw}x{hw} -> {c}, 3x3 pad 1"), g);
    }

    let pool = Pool2dGeometry::new(64, 6, [28, 28], [2, 2], [2, 2], [0, 0], false).unwrap();
    let x = fill(pool.input_len(), 7);
    let go = fill(pool.output_len(), 8);
    let mut y = vec![0.0; pool.output_len()];
    let mut idx = vec![0; pool.output_len()];
    let mut gx = vec![0.0; pool.input_len()];
    bench("maxpool 2x2 forward 64x6x28x28", || {
        max_pool2d_forward(&pool, &x, &mut y, &mut idx);
        black_box((&y, &idx));
    });
    bench("maxpool 2x2 backward 64x6x28x28", || {
        max_pool2d_backward(&pool, &go, &idx, &mut gx);
        black_box(&gx);
    });
    // ResNet-18's stem pooling.
    let stem = Pool2dGeometry::new(16, 64, [32, 32], [3, 3], [2, 2], [1, 1], false).unwrap();
    let x = fill(stem.input_len(), 9);
    let mut y = vec![0.0; stem.output_len()];
    let mut idx = vec![0; stem.output_len()];
    bench("maxpool 3x3 stride 2 pad 1 forward 16x64x32x32", || {
        max_pool2d_forward(&stem, &x, &mut y, &mut idx);
        black_box((&y, &idx));
    });
}
