//! Times the kernels on the layer shapes of LeNet-5 and ResNet-20 at batch 128:
//! `cargo run --release -p shears-kernels --example kernel_timing` (threads: RAYON_NUM_THREADS).
use shears_kernels::*;
use std::time::Instant;

fn best_ms(mut f: impl FnMut()) -> f64 {
    f();
    (0..5)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .fold(f64::INFINITY, f64::min)
}

/// A batch-128 convolution on a square input with a square kernel and symmetric padding.
fn square(
    c_in: usize,
    hw: usize,
    c_out: usize,
    k: usize,
    stride: usize,
    pad: usize,
) -> Conv2dShape {
    Conv2dShape {
        batch: 128,
        c_in,
        h: hw,
        w: hw,
        c_out,
        kh: k,
        kw: k,
        stride: [stride; 2],
        pad: [pad; 4],
    }
}

fn main() {
    let layers = [
        ("lenet5 conv1 1->6 5x5 28x28", square(1, 28, 6, 5, 1, 2)),
        ("lenet5 conv2 6->16 5x5 14x14", square(6, 14, 16, 5, 1, 0)),
        ("resnet stem 3->16 3x3 32x32", square(3, 32, 16, 3, 1, 1)),
        ("resnet 16->16 3x3 32x32", square(16, 32, 16, 3, 1, 1)),
        ("resnet 32->32 3x3 16x16", square(32, 16, 32, 3, 1, 1)),
        ("resnet 64->64 3x3 8x8", square(64, 8, 64, 3, 1, 1)),
        ("resnet 1x1 s2 16->32 32x32", square(16, 32, 32, 1, 2, 0)),
    ];
    println!("threads {}", rayon::current_num_threads());
    for (name, s) in layers {
        let x = vec![0.5f32; s.input_len()];
        let w = vec![0.1f32; s.weight_len()];
        let b = vec![0.0f32; s.c_out];
        let mut y = vec![0.0f32; s.output_len()];
        let mut dx = vec![0.0f32; s.input_len()];
        let mut dw = vec![0.0f32; s.weight_len()];
        let mut db = vec![0.0f32; s.c_out];
        let gflop = 2.0 * (s.output_len() * s.k()) as f64 / 1e9;
        let f = best_ms(|| conv2d_forward(&s, &x, &w, Some(&b), &mut y).unwrap());
        let i = best_ms(|| conv2d_backward_input(&s, &w, &y, &mut dx).unwrap());
        let g = best_ms(|| conv2d_backward_weight(&s, &x, &y, &mut dw, Some(&mut db)).unwrap());
        println!(
            "{name:30} fwd {f:6.2} ms ({:5.1} GFLOP/s)  dx {i:6.2} ms  dw {g:6.2} ms",
            gflop / f * 1e3
        );
    }
    let p = Pool2dShape {
        batch: 128,
        channels: 6,
        h: 28,
        w: 28,
        kh: 2,
        kw: 2,
        stride: [2, 2],
        pad: [0, 0],
    };
    let x = vec![0.5f32; p.input_len()];
    let mut y = vec![0.0; p.output_len()];
    let mut a = vec![0u32; p.output_len()];
    let mut dx = vec![0.0; p.input_len()];
    let f = best_ms(|| max_pool2d_forward(&p, &x, &mut y, &mut a).unwrap());
    let bw = best_ms(|| max_pool2d_backward(&p, &a, &y, &mut dx).unwrap());
    println!("maxpool 6x28x28 2x2            fwd {f:6.2} ms  bwd {bw:6.2} ms");
}
