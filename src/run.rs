//! Preparing a run: the one path from a checked program to a model ready to
//! train or evaluate on its data. `dl train`, `eval`, `sample`, `bench`, the
//! REPL and the tests all go through it, so they read the same data, bind
//! the same shapes and start from the same weights.

use crate::check::{Checked, LoadedShape};
use crate::data::{DataError, Loaded};
use crate::diagnostic::{Code, Diagnostic};
use crate::interp::ParamStore;
use crate::ir::{DataSet, Dim, Graph, Program, Shape, Task, TrainRun};
use std::path::Path;

/// A train block bound to its data, with fresh parameters.
#[derive(Debug)]
pub struct Prepared {
    /// The checked block, for the data's shapes.
    pub run: TrainRun,
    /// Its model instantiated for them.
    pub graph: Graph,
    /// The data, read and split.
    pub data: Loaded,
    /// The parameters, initialised from the run's seed.
    pub store: ParamStore,
}

/// Reads the data set `name` of `program` (paths relative to `base_dir`);
/// a failure is E0701 at the data declaration, with the reader's words.
pub fn load_data(program: &Program, name: &str, base_dir: &Path) -> Result<Loaded, Diagnostic> {
    let set = program
        .data
        .iter()
        .find(|d| d.name == name)
        .expect("the checker resolved the data name");
    crate::data::load(set, base_dir).map_err(|e| data_error(set, &e))
}

/// The diagnostic for a data set that could not be read.
pub fn data_error(set: &DataSet, e: &DataError) -> Diagnostic {
    let d = Diagnostic::error(
        Code::E0701,
        format!("cannot load data set `{}`", set.name),
        set.span,
        "while reading this data",
    )
    .with_note(e.to_string());
    match e.help().filter(|h| !e.to_string().contains(h)) {
        Some(help) => d.with_help(help),
        None => d,
    }
}

/// What the checker needs to know of a data set that has been read.
pub fn shape_of(loaded: &Loaded) -> LoadedShape {
    shape_for(&loaded.sample_shape, loaded.classes)
}

/// What the checker needs to know of samples of `sample_shape` with
/// `classes` classes (`None` for regression).
pub fn shape_for(sample_shape: &[usize], classes: Option<usize>) -> LoadedShape {
    let dims: Vec<i64> = sample_shape.iter().map(|&d| d as i64).collect();
    LoadedShape {
        input: Shape::batched_known(&dims),
        task: match classes {
            Some(k) => Task::Classification {
                classes: Some(Dim::known(k as i64)),
            },
            None => Task::Regression,
        },
    }
}

/// Train block `index` of `checked` bound to the shapes of `data`: the block
/// and its instantiated model, or the errors the shapes reveal.
pub fn bind(
    checked: &Checked,
    index: usize,
    data: &Loaded,
) -> Result<(TrainRun, Graph), Vec<Diagnostic>> {
    bind_shape(checked, index, shape_of(data))
}

/// Train block `index` of `checked` bound to data of `shape`, known without
/// reading the data (from a checkpoint's input spec, for `dl predict`).
pub fn bind_shape(
    checked: &Checked,
    index: usize,
    shape: LoadedShape,
) -> Result<(TrainRun, Graph), Vec<Diagnostic>> {
    let (run, diagnostics) = checked.bind_run(index, shape);
    let errors: Vec<Diagnostic> = diagnostics.into_iter().filter(|d| d.is_error()).collect();
    match run {
        Some(run) if errors.is_empty() => match run.graph.clone() {
            Some(graph) => Ok((run, graph)),
            None => Err(vec![Diagnostic::error(
                Code::E0309,
                format!(
                    "the model `{}` could not be instantiated for the data",
                    run.model
                ),
                run.span,
                "for this run",
            )]),
        },
        _ => Err(errors),
    }
}

/// E0804 at the train block: what the run would need, part by part, and
/// what the machine has.
fn too_much_memory(
    run: &TrainRun,
    estimate: &crate::train::memory::Estimate,
    available: u64,
) -> Diagnostic {
    use crate::train::memory::bytes;
    Diagnostic::error(
        Code::E0804,
        format!(
            "training `{}` needs about {} of memory, more than the {} this machine has available",
            run.model,
            bytes(estimate.total()),
            bytes(available)
        ),
        run.span,
        "this run",
    )
    .with_note(estimate.parts())
    .with_help("use fewer units or filters, or a smaller `batch`")
}

/// What `dl check` can tell of the file system before anything runs, as
/// warnings: a data file (or the `mnist` folder) that does not exist, and a
/// `save =` path that cannot be written (W0701, W0801). Paths are relative
/// to `base_dir`, the program's folder.
pub fn filesystem_diagnostics(program: &Program, base_dir: &Path) -> Vec<Diagnostic> {
    use crate::ir::Source;
    let mut out = Vec::new();
    for set in &program.data {
        let (path, what) = match &set.source {
            Source::Csv { path, .. } | Source::Series { path, .. } | Source::Text { path, .. } => {
                (path, "file")
            }
            Source::Mnist { dir } => (dir, "folder"),
            Source::SyntheticLinear { .. } | Source::SyntheticBlobs { .. } => continue,
        };
        if !base_dir.join(path).exists() {
            out.push(
                Diagnostic::warning(
                    Code::W0701,
                    format!("the data {what} `{path}` of `{}` does not exist", set.name),
                    set.span,
                    "read from here",
                )
                .with_note(format!(
                    "paths are relative to the program's folder, `{}`",
                    base_dir.display()
                )),
            );
        }
    }
    // What `dl train` will refuse (E0806), said as a warning.
    for run in &program.trains {
        if let Err(e) = check_save_path(run, base_dir) {
            out.push(Diagnostic {
                severity: crate::diagnostic::Severity::Warning,
                code: Code::W0801,
                ..e
            });
        }
    }
    out
}

/// E0806 when `run` saves to a path that cannot be written: said before the
/// data is read and the first step runs, not after the last epoch.
pub fn check_save_path(run: &TrainRun, base_dir: &Path) -> Result<(), Diagnostic> {
    let Some(save) = &run.save else {
        return Ok(());
    };
    crate::train::output::check_writable(&base_dir.join(save)).map_err(|reason| {
        Diagnostic::error(
            Code::E0806,
            format!("cannot save the checkpoint to `{save}`"),
            run.save_span,
            "saved here",
        )
        .with_note(reason)
        .with_help(
            "choose a path in a folder you can write, e.g. `save = \"runs/model.safetensors\"`",
        )
    })
}

/// E0804 for each run of `program` that cannot fit in this machine's memory
/// even before its data is read (`dl check`): runs with a batch size whose
/// every size is known.
pub fn memory_diagnostics(program: &Program) -> Vec<Diagnostic> {
    use crate::train::memory::{before_data, exceeds};
    program
        .trains
        .iter()
        .filter_map(|run| {
            let crate::ir::Batch::Size(batch) = run.batch else {
                return None;
            };
            let estimate = before_data(run.graph.as_ref()?, run, batch.max(1) as u64)?;
            let available = exceeds(&estimate)?;
            Some(too_much_memory(run, &estimate, available))
        })
        .collect()
}

/// What training `run` on `data` needs, the data counted; `None` while a
/// size is unknown.
pub fn run_memory(
    run: &TrainRun,
    graph: &crate::ir::Graph,
    data: &Loaded,
) -> Option<crate::train::memory::Estimate> {
    let batch = match run.batch {
        crate::ir::Batch::Size(n) => (n.max(1) as usize).min(data.train.rows().max(1)),
        crate::ir::Batch::Full => data.train.rows(),
    };
    let evaluated = [data.val.as_ref(), data.test.as_ref()]
        .into_iter()
        .flatten()
        .map(|p| p.rows())
        .max()
        .unwrap_or(0);
    let workload = crate::train::memory::Workload::Training {
        batch: batch as u64,
        optimizer: &run.optimizer,
        eval_rows: evaluated as u64,
    };
    Some(crate::train::memory::estimate(graph, workload)?.with_data(data.bytes()))
}

/// Reads the data of train block `index`, binds the block to it, checks
/// that the run fits in memory (E0804) and initialises the parameters from
/// the run's seed.
pub fn prepare(
    checked: &Checked,
    index: usize,
    base_dir: &Path,
) -> Result<Prepared, Vec<Diagnostic>> {
    let declared = &checked.program.trains[index];
    check_save_path(declared, base_dir).map_err(|d| vec![d])?;
    let data = load_data(&checked.program, &declared.data, base_dir).map_err(|d| vec![d])?;
    let (run, graph) = bind(checked, index, &data)?;
    if let Some(estimate) = run_memory(&run, &graph, &data)
        && let Some(available) = crate::train::memory::exceeds(&estimate)
    {
        return Err(vec![too_much_memory(&run, &estimate, available)]);
    }
    let store = ParamStore::init(&graph, run.seed);
    Ok(Prepared {
        run,
        graph,
        data,
        store,
    })
}
