//! `dl bench`: times training steps of a `train` block's model on synthetic
//! data, the way the PyTorch reference scripts in `bench/` time theirs, and
//! prints one JSON line with the same fields.
//!
//! What is timed, as in the reference scripts:
//! - the data is synthetic, seeded and made before timing, as `n_batches`
//!   distinct contiguous batches that the loop cycles through in order;
//! - a few warm-up steps run on a throw-away model, untimed;
//! - then a fresh model (initialised with the block's `seed`) and optimizer
//!   are trained for `steps` steps, and only that loop is timed.

use super::{Exit, Session};
use dl::autodiff::Tensor;
use dl::data::Targets;
use dl::interp::{ParamStore, standard_normal};
use dl::ir::{self, Batch, Graph, Loss, Op, Optimizer, TrainRun};
use dl::train::{Learner, TrainError};
use ndarray::{Array2, IxDyn};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Options of `dl bench`.
#[derive(clap::Args)]
pub struct BenchOptions {
    /// Use the K-th `train` block (counting from 1; default the first).
    #[arg(long, value_name = "K")]
    pub run: Option<usize>,
    /// Timed steps (default: the block's epochs times the number of batches).
    #[arg(long, value_name = "S")]
    pub steps: Option<usize>,
    /// Rows per batch (default: the block's batch size).
    #[arg(long, value_name = "B")]
    pub batch: Option<usize>,
    /// Untimed warm-up steps on a throw-away model.
    #[arg(long, value_name = "W", default_value_t = 20)]
    pub warmup: usize,
    /// Distinct synthetic batches that the loop cycles through.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub n_batches: usize,
    /// Seed of the synthetic data.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Runs `dl bench`.
pub fn run(session: &Session, options: &BenchOptions) -> Result<(), Exit> {
    let checked = session.check()?;
    let program = &checked.program;
    let index = session.run_index(program, options.run.unwrap_or(1))?;
    let run = &program.trains[index];
    let graph = graph_of(program, run).ok_or_else(|| {
        eprintln!(
            "error: the input shape of `{}` is not known without reading its data; \
             declare data whose shape is known (e.g. `synthetic.blobs` or `mnist`) \
             or give the model a concrete input shape",
            run.model
        );
        Exit::Program
    })?;
    if matches!(
        run.optimizer,
        Optimizer::LeastSquares { .. } | Optimizer::Exhaustive { .. }
    ) {
        eprintln!("error: `dl bench` times gradient steps; use sgd, adam or rmsprop");
        return Err(Exit::Program);
    }
    let batch = match (options.batch, &run.batch) {
        (Some(b), _) => b,
        (None, Batch::Size(b)) => usize::try_from(*b).unwrap_or(0),
        (None, Batch::Full) => {
            eprintln!("error: the run uses `batch = full`; give the batch size with `--batch B`");
            return Err(Exit::Usage);
        }
    };
    let steps = options
        .steps
        .unwrap_or_else(|| usize::try_from(run.epochs).unwrap_or(0) * options.n_batches);
    if batch == 0 || steps == 0 || options.n_batches == 0 {
        eprintln!("error: batch, steps and n-batches must be positive");
        return Err(Exit::Usage);
    }
    let batches = synthetic_batches(graph, run.loss, batch, options.n_batches, options.seed)
        .map_err(|e| {
            eprintln!("error: {e}");
            Exit::Program
        })?;

    let fail = |e: TrainError| {
        eprintln!("error: training stopped: {e}");
        Exit::Program
    };
    // Warm-up on a throw-away model: thread pool, allocator, scratch buffers.
    let mut warm = Learner::new(
        graph,
        run,
        ParamStore::init(graph, run.seed.wrapping_add(1)),
    );
    train(&mut warm, &batches, options.warmup).map_err(fail)?;
    drop(warm);

    let mut learner = Learner::new(graph, run, ParamStore::init(graph, run.seed));
    let load = loadavg();
    let before = cpu_counters();
    let started = Instant::now();
    let (first, last) = train(&mut learner, &batches, steps).map_err(fail)?;
    let seconds = started.elapsed().as_secs_f64();
    let after = cpu_counters();
    let other = match (before, after) {
        (Some((busy0, own0)), Some((busy1, own1))) => {
            let cpus = cpu_count().max(1) as f64;
            ((busy1 - busy0) - (own1 - own0)).max(0.0) / (seconds * cpus)
        }
        _ => f64::NAN,
    };

    let name = session
        .file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (optimizer, lr) = optimizer_label(&run.optimizer);
    let fields: Vec<(&str, Value)> = vec![
        ("name", json!(name)),
        ("framework", json!("dl")),
        ("version", json!(env!("CARGO_PKG_VERSION"))),
        ("threads", json!(rayon::current_num_threads())),
        ("batch", json!(batch)),
        ("steps", json!(steps)),
        ("seconds", json!(seconds)),
        ("steps_per_sec", json!(steps as f64 / seconds)),
        ("samples_per_sec", json!((steps * batch) as f64 / seconds)),
        ("first_loss", json!(first)),
        ("final_loss", json!(last)),
        ("optimizer", json!(optimizer)),
        ("lr", json!(lr)),
        ("warmup_steps", json!(options.warmup)),
        ("n_batches", json!(options.n_batches)),
        ("seed", json!(options.seed)),
        ("loadavg_1m", json!(load)),
        ("other_cpu_frac", json!((other * 1e4).round() / 1e4)),
        ("peak_rss_mib", json!(peak_rss_mib())),
        ("time_utc", json!(utc_now())),
    ];
    // The field order and separators of Python's `json.dumps`.
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}: {v}", Value::from(*k)))
        .collect();
    println!("{{{}}}", body.join(", "));
    Ok(())
}

/// The run's model instantiated for a concrete input shape: the one bound to
/// the data by the checker, or else the model's own graph when its declared
/// input shape is concrete (data read from files has no shape before it is read).
fn graph_of<'p>(program: &'p ir::Program, run: &'p TrainRun) -> Option<&'p Graph> {
    run.graph.as_ref().or_else(|| {
        let graph = &program.models.iter().find(|m| m.name == run.model)?.graph;
        let concrete = graph.nodes.iter().all(|n| n.shape.known_dims().is_some())
            && graph
                .params()
                .iter()
                .all(|p| p.shape.known_dims().is_some());
        concrete.then_some(graph)
    })
}

/// `(label, lr)` of an optimizer, as the reference scripts write them.
fn optimizer_label(optimizer: &Optimizer) -> (String, f64) {
    match *optimizer {
        Optimizer::Sgd { lr, momentum: 0.0 } => ("sgd".into(), lr),
        Optimizer::Sgd { lr, momentum } => (format!("sgd_momentum_{momentum}"), lr),
        Optimizer::Adam { lr, .. } => ("adam".into(), lr),
        Optimizer::RmsProp { lr, .. } => ("rmsprop".into(), lr),
        Optimizer::LeastSquares { .. } | Optimizer::Exhaustive { .. } => {
            ("closed_form".into(), f64::NAN)
        }
    }
}

/// Trains for `steps` steps, cycling through `batches` in order; returns the
/// losses of the first and the last step.
fn train(
    learner: &mut Learner,
    batches: &[(Tensor, Targets)],
    steps: usize,
) -> Result<(f32, f32), TrainError> {
    let (mut first, mut last) = (f32::NAN, f32::NAN);
    for i in 0..steps {
        let (x, y) = &batches[i % batches.len()];
        // Numbered as if each pass over the batches were an epoch.
        let (epoch, step) = ((i / batches.len()) as i64 + 1, i % batches.len());
        let loss = learner.step_at(x.clone(), y, epoch, step + 1)?;
        if i == 0 {
            first = loss;
        }
        last = loss;
    }
    Ok((first, last))
}

/// The per-sample dimensions of the graph's input and output.
fn io_dims(graph: &Graph) -> Result<(Vec<usize>, Vec<usize>), String> {
    let input = graph
        .nodes
        .iter()
        .find(|n| matches!(n.op, Op::Input))
        .ok_or("the model has no input")?;
    let input = input
        .shape
        .known_dims()
        .ok_or("the model's input shape is not concrete")?;
    let output = graph.nodes[graph.output]
        .shape
        .known_dims()
        .ok_or("the model's output shape is not concrete")?;
    Ok((input, output))
}

/// `n_batches` batches of `batch` rows, made like the reference scripts' data:
/// - `cross_entropy`: class templates `T ~ N(0, 1)` of the input shape,
///   labels uniform over the output's classes, `x = T[y] + e`, `e ~ N(0, 1)`;
/// - `bce`: `x ~ N(0, 1)`, `w ~ N(0, 1)`, `y = 1[x . w + 0.5 e > 0]`;
/// - regression losses on sequences of one feature (`[T, 1]`) with one
///   output: sine waves, see [`sine_waves`];
/// - other regression: `x ~ N(0, 1)`, `W ~ N(0, 1 / F)`, `y = x W + 0.5 e`.
fn synthetic_batches(
    graph: &Graph,
    loss: Loss,
    batch: usize,
    n_batches: usize,
    seed: u64,
) -> Result<Vec<(Tensor, Targets)>, String> {
    let (input, output) = io_dims(graph)?;
    let features: usize = input.iter().product();
    let outputs: usize = output.iter().product();
    let n = batch * n_batches;
    let mut rng = dl::seed::generator(seed);
    let (x, y): (Vec<f32>, Targets) = match loss {
        Loss::CrossEntropy => {
            let classes = *output.last().ok_or("cross_entropy needs class scores")?;
            // One label per sample, or per position for sequence outputs.
            let per_sample = outputs / classes.max(1);
            let templates = normals(&mut rng, classes * features);
            let labels: Vec<u32> = (0..n * per_sample)
                .map(|_| rng.random_range(0..classes as u32))
                .collect();
            let mut x = normals(&mut rng, n * features);
            if per_sample == 1 {
                for (row, &label) in x.chunks_mut(features).zip(&labels) {
                    let t = &templates[label as usize * features..][..features];
                    row.iter_mut().zip(t).for_each(|(v, t)| *v += t);
                }
            }
            let y = if per_sample == 1 {
                Targets::Classes(labels)
            } else {
                let ids = Array2::from_shape_vec((n, per_sample), labels).expect("n x positions");
                Targets::Sequences(ids)
            };
            (x, y)
        }
        Loss::Bce => {
            if outputs != 1 {
                return Err(format!(
                    "`bce` needs one output per sample; the model gives {outputs}"
                ));
            }
            let x = normals(&mut rng, n * features);
            let w = normals(&mut rng, features);
            let noise = normals(&mut rng, n);
            let labels = x
                .chunks(features)
                .zip(&noise)
                .map(|(row, e)| {
                    let dot: f32 = row.iter().zip(&w).map(|(a, b)| a * b).sum();
                    u32::from(dot + 0.5 * e > 0.0)
                })
                .collect();
            (x, Targets::Classes(labels))
        }
        Loss::Mse | Loss::HalfMse | Loss::Mae if matches!(input[..], [_, 1]) && outputs == 1 => {
            sine_waves(&mut rng, n, input[0])
        }
        Loss::Mse | Loss::HalfMse | Loss::Mae => {
            let x = normals(&mut rng, n * features);
            let scale = 1.0 / (features as f32).sqrt();
            let w: Vec<f32> = normals(&mut rng, features * outputs)
                .into_iter()
                .map(|v| v * scale)
                .collect();
            let noise = normals(&mut rng, n * outputs);
            let mut y = Vec::with_capacity(n * outputs);
            for (row, e) in x.chunks(features).zip(noise.chunks(outputs)) {
                for (k, e) in e.iter().enumerate() {
                    let dot: f32 = row
                        .iter()
                        .enumerate()
                        .map(|(j, a)| a * w[j * outputs + k])
                        .sum();
                    y.push(dot + 0.5 * e);
                }
            }
            let y = Array2::from_shape_vec((n, outputs), y).expect("n x outputs");
            (x, Targets::Values(y))
        }
    };
    let mut shape = vec![batch];
    shape.extend_from_slice(&input);
    let rows: Vec<usize> = (0..n).collect();
    Ok(x.chunks(batch * features)
        .zip(rows.chunks(batch))
        .map(|(xs, rows)| {
            let x = Tensor::from_shape_vec(IxDyn(&shape), xs.to_vec()).expect("batch shape");
            (x, y.select(rows))
        })
        .collect())
}

/// `n` sine waves of `steps` values and, as targets, the value after them,
/// like the reference scripts' sequence data: per wave a frequency
/// `f ~ U(0.1, 0.5)` and a phase `p ~ U(0, 2 pi)`; `x_t = sin(f t + p)` for
/// `t < steps`, target `sin(f steps + p)`.
fn sine_waves(rng: &mut ChaCha8Rng, n: usize, steps: usize) -> (Vec<f32>, Targets) {
    let mut x = Vec::with_capacity(n * steps);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let f = 0.1 + 0.4 * rng.random::<f32>();
        let p = std::f32::consts::TAU * rng.random::<f32>();
        x.extend((0..steps).map(|t| (f * t as f32 + p).sin()));
        y.push((f * steps as f32 + p).sin());
    }
    let y = Array2::from_shape_vec((n, 1), y).expect("n x 1");
    (x, Targets::Values(y))
}

/// `count` standard normal samples.
fn normals(rng: &mut ChaCha8Rng, count: usize) -> Vec<f32> {
    (0..count).map(|_| standard_normal(rng)).collect()
}

/// The 1-minute load average.
/// The process's peak resident memory so far in MiB (`VmHWM` in
/// `/proc/self/status`), or NaN where there is no `/proc`.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some((kib / 1024.0 * 10.0).round() / 10.0)
        })
        .unwrap_or(f64::NAN)
}

fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Linux's clock ticks per second for `/proc` times (`USER_HZ`, fixed by the ABI).
const USER_HZ: f64 = 100.0;

/// (busy seconds of the whole machine, steal included; this process's CPU
/// seconds), from `/proc`, like the reference scripts' `cpu_counters`.
fn cpu_counters() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let vals: Vec<f64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|v| v.parse().ok())
        .collect::<Option<_>>()?;
    let busy = (vals.iter().sum::<f64>() - vals.get(3)? - vals.get(4)?) / USER_HZ;
    let own = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses: utime and stime
    // are the 14th and 15th fields of the line, the 12th and 13th after it.
    let rest = own.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some((busy, ticks / USER_HZ))
}

/// The number of CPUs the kernel accounts for in `/proc/stat`.
fn cpu_count() -> usize {
    std::fs::read_to_string("/proc/stat")
        .map(|s| {
            s.lines()
                .filter(|l| {
                    l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit)
                })
                .count()
        })
        .unwrap_or(0)
}

/// The current time as `YYYY-MM-DDTHH:MM:SSZ`.
fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
