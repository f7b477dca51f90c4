//! `dl sample`: writes text with a character model trained on `text` data.
//!
//! The model reads the last `T` characters (its input window) and gives
//! scores for the next character at every position; the scores of the last
//! position, divided by the temperature, are turned into probabilities and
//! the next character is drawn from them with a seeded generator. The new
//! character joins the window, and so on.
//!
//! A prime shorter than `T` is read as it is, when the model accepts inputs
//! of any length (its input is declared `[T, V]` with a dimension variable):
//! the window grows with each new character until it reaches `T`. Padding
//! the prime would show the model windows unlike any it was trained on. A
//! model declared for exactly `T` steps gets the prime padded with spaces.

use super::{Exit, Session};
use dl::autodiff::Tensor;
use dl::check::{Checked, LoadedShape};
use dl::data::SourceKind;
use dl::interp::{ParamStore, predict};
use dl::ir::Task;
use dl::ir::dim::Dim;
use dl::ir::shape::Shape;
use dl::ir::{Graph, Layer, Op};
use ndarray::IxDyn;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use std::io::Write;
use std::path::PathBuf;

/// Options of `dl sample`.
#[derive(clap::Args)]
pub struct SampleOptions {
    /// Trained weights (`save =` of the `train` block).
    #[arg(long, value_name = "W")]
    pub weights: PathBuf,
    /// Use the K-th `train` block (counting from 1; default: the first on `text` data).
    #[arg(long, value_name = "K")]
    pub run: Option<usize>,
    /// Characters to write.
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub length: usize,
    /// Softmax temperature (below 1: safer, above 1: more varied).
    #[arg(
        long,
        value_name = "T",
        default_value_t = 0.8,
        allow_negative_numbers = true
    )]
    pub temperature: f64,
    /// Seed of the random draws.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Text to start from (default: a window of the training text).
    #[arg(long, value_name = "TEXT")]
    pub prime: Option<String>,
}

/// Runs `dl sample`.
pub fn run(session: &Session, options: &SampleOptions) -> Result<(), Exit> {
    if !(options.temperature > 0.0 && options.temperature.is_finite()) {
        eprintln!("error: the temperature must be a positive number");
        return Err(Exit::Usage);
    }
    let checked = session.check()?;
    let program = &checked.program;
    let is_text = |data: &str| {
        program
            .data
            .iter()
            .any(|d| d.name == data && matches!(d.source, dl::ir::Source::Text { .. }))
    };
    let index = match options.run {
        Some(k) => session.run_index(program, k)?,
        None => program
            .trains
            .iter()
            .position(|t| is_text(&t.data))
            .ok_or_else(|| {
                eprintln!(
                    "error: {} has no `train` block on `text` data to sample from",
                    session.file.display()
                );
                Exit::Program
            })?,
    };
    if !is_text(&program.trains[index].data) {
        eprintln!(
            "error: run {} trains on `{}`, which is not `text` data; `dl sample` writes characters",
            index + 1,
            program.trains[index].data
        );
        return Err(Exit::Program);
    }
    let dl::run::Prepared {
        run: _,
        graph,
        data: loaded,
        mut store,
    } = session.prepare(&checked, index)?;
    let SourceKind::Text { vocabulary } = &loaded.kind else {
        return Err(Exit::Program);
    };
    dl::train::checkpoint::load(&mut store, &options.weights).map_err(|e| {
        eprintln!("error: cannot use the weights: {e}");
        Exit::Program
    })?;
    let window = loaded.sample_shape[0];
    let vocab = vocabulary.len();
    let mut graphs = GraphsByLength::new(&checked, index, window, vocab, graph);
    let mut context: Vec<usize> = match &options.prime {
        Some(prime) => {
            let ids = prime_ids(prime, vocabulary)?;
            if ids.len() < window && !graphs.accepts(ids.len()) {
                pad_to(ids, window, vocabulary)
            } else {
                ids
            }
        }
        None if loaded.train.is_empty() => {
            eprintln!("error: the training part is empty; give the start with `--prime TEXT`");
            return Err(Exit::Usage);
        }
        None => loaded.train.x.row(0).iter().map(|&v| v as usize).collect(),
    };
    let mut rng = dl::seed::generator(options.seed);
    let mut out = std::io::stdout().lock();
    if let Some(prime) = &options.prime {
        let _ = write!(out, "{prime}");
    }
    for _ in 0..options.length {
        let recent = &context[context.len().saturating_sub(window)..];
        let graph = graphs.get(recent.len()).ok_or(Exit::Program)?;
        let scores = next_scores(graph, &store, recent, vocab).map_err(|e| {
            eprintln!("error: {e}");
            Exit::Program
        })?;
        let next = draw(&scores, options.temperature, &mut rng);
        let _ = write!(out, "{}", vocabulary[next]);
        context.push(next);
    }
    let _ = writeln!(out);
    Ok(())
}

/// The model instantiated for each window length it is run on.
struct GraphsByLength<'s> {
    checked: &'s Checked,
    run: usize,
    vocab: usize,
    graphs: std::collections::HashMap<usize, Option<Graph>>,
}

impl<'s> GraphsByLength<'s> {
    fn new(
        checked: &'s Checked,
        run: usize,
        window: usize,
        vocab: usize,
        graph: Graph,
    ) -> GraphsByLength<'s> {
        GraphsByLength {
            checked,
            run,
            vocab,
            graphs: std::collections::HashMap::from([(window, Some(graph))]),
        }
    }

    /// Whether the model can read windows of `length` characters.
    fn accepts(&mut self, length: usize) -> bool {
        self.get(length).is_some()
    }

    /// The model for windows of `length` characters, if its input allows it.
    fn get(&mut self, length: usize) -> Option<&Graph> {
        let (checked, run, vocab) = (self.checked, self.run, self.vocab);
        self.graphs
            .entry(length)
            .or_insert_with(|| {
                let shape = LoadedShape {
                    input: Shape::batched_known(&[length as i64, vocab as i64]),
                    task: Task::Classification {
                        classes: Some(Dim::known(vocab as i64)),
                    },
                };
                checked.bind_run(run, shape).0?.graph
            })
            .as_ref()
    }
}

/// `ids` padded on the left with spaces (or the first character of the
/// vocabulary) to `window` characters.
fn pad_to(ids: Vec<usize>, window: usize, vocabulary: &[char]) -> Vec<usize> {
    let pad = vocabulary.binary_search(&' ').unwrap_or(0);
    let mut padded = vec![pad; window.saturating_sub(ids.len())];
    padded.extend(ids);
    padded
}

/// The ids of the characters of `prime`.
fn prime_ids(prime: &str, vocabulary: &[char]) -> Result<Vec<usize>, Exit> {
    let ids: Vec<usize> = prime
        .chars()
        .map(|c| {
            vocabulary.binary_search(&c).map_err(|_| {
                eprintln!("error: the prime's character {c:?} is not in the training text");
                Exit::Usage
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(ids)
}

/// Log-probabilities (or scores) of the character after `window`.
fn next_scores(
    graph: &Graph,
    store: &ParamStore,
    window: &[usize],
    vocab: usize,
) -> Result<Vec<f64>, dl::interp::RunError> {
    let mut input = Tensor::zeros(IxDyn(&[1, window.len(), vocab]));
    for (t, &id) in window.iter().enumerate() {
        input[[0, t, id]] = 1.0;
    }
    let output = predict(graph, store, input)?;
    let last = output.shape()[1] - 1;
    let row = output.index_axis(ndarray::Axis(1), last);
    // A model ending in softmax gives probabilities; use their logarithms.
    let probabilities = matches!(
        graph.nodes[graph.output].op,
        Op::Layer(Layer::Softmax { .. })
    );
    Ok(row
        .iter()
        .map(|&v| {
            if probabilities {
                f64::from(v.max(f32::MIN_POSITIVE)).ln()
            } else {
                f64::from(v)
            }
        })
        .collect())
}

/// Draws an index with probability proportional to `exp(score / temperature)`.
fn draw(scores: &[f64], temperature: f64, rng: &mut ChaCha8Rng) -> usize {
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let weights: Vec<f64> = scores
        .iter()
        .map(|s| ((s - max) / temperature).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    let mut u = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if u < *w {
            return i;
        }
        u -= w;
    }
    weights.len() - 1
}
