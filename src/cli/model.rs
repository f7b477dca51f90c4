//! The model a command works on: a `train` block's (bound to its data's
//! shapes) or a model of the program on its own, with its weights.

use super::{Exit, Session};
use dl::check::Checked;
use dl::data::InputSpec;
use dl::interp::ParamStore;
use dl::ir::{Graph, Transform};
use dl::train::checkpoint;
use std::path::Path;

/// Which model, from the command line.
pub struct Choice<'a> {
    /// `--run K`.
    pub run: Option<usize>,
    /// `--model M`.
    pub model: Option<&'a str>,
    /// `--weights W`: loaded into the model; without, its seeded initial values.
    pub weights: Option<&'a Path>,
}

/// A model ready to run.
pub struct Chosen {
    /// What it is, for summaries: `LeNet5 (run 1, data `digits`)`.
    pub title: String,
    /// The model's name.
    pub name: String,
    /// Its graph, for concrete input sizes.
    pub graph: Graph,
    /// Its tensors.
    pub store: ParamStore,
    /// What its inputs look like.
    pub spec: InputSpec,
    /// The data's transforms (none for a model on its own).
    pub transforms: Vec<Transform>,
    /// The index of its `train` block, when it is one's model.
    pub run: Option<usize>,
}

impl Choice<'_> {
    /// The model, bound and with its weights; reports what goes wrong.
    pub fn select(&self, session: &Session, checked: &Checked) -> Result<Chosen, Exit> {
        let mut chosen = match self.model {
            Some(name) => model_alone(session, checked, name)?,
            None => self.train_block(session, checked)?,
        };
        if let Some(weights) = self.weights {
            checkpoint::load(&mut chosen.store, weights).map_err(|e| {
                eprintln!("error: cannot use the weights: {e}");
                Exit::Program
            })?;
        }
        Ok(chosen)
    }

    /// The model and data transforms of a `train` block; the input spec from
    /// the checkpoint, or (for weights saved before checkpoints held it) from
    /// the training data itself.
    fn train_block(&self, session: &Session, checked: &Checked) -> Result<Chosen, Exit> {
        let program = &checked.program;
        let index = session.run_index(program, self.run.unwrap_or(1))?;
        let spec = match self.weights {
            Some(weights) => checkpoint::input_spec(weights).map_err(|e| {
                eprintln!("error: cannot use the weights: {e}");
                Exit::Program
            })?,
            None => None,
        };
        let (run, graph, spec) = match spec {
            Some(spec) => {
                let shape = dl::run::shape_for(&spec.sample_shape, spec.classes);
                let (run, graph) =
                    dl::run::bind_shape(checked, index, shape).map_err(|errors| {
                        session.report(&errors);
                        Exit::Program
                    })?;
                (run, graph, spec)
            }
            None => {
                if let Some(weights) = self.weights {
                    eprintln!(
                        "note: {} holds no input statistics (it was saved by an older `dl`); \
                     reading them from the training data",
                        weights.display()
                    );
                }
                let prepared = session.prepare(checked, index)?;
                (prepared.run, prepared.graph, prepared.data.input_spec())
            }
        };
        let transforms = program
            .data
            .iter()
            .find(|d| d.name == run.data)
            .map(|d| d.transforms.clone())
            .unwrap_or_default();
        let store = ParamStore::init(&graph, run.seed);
        Ok(Chosen {
            title: format!("{} (run {}, data `{}`)", run.model, index + 1, run.data),
            name: run.model.clone(),
            graph,
            store,
            spec,
            transforms,
            run: Some(index),
        })
    }
}

/// A model of the program on its own: its declared input shape must be
/// concrete; its inputs are taken as they are.
fn model_alone(session: &Session, checked: &Checked, name: &str) -> Result<Chosen, Exit> {
    let models = &checked.program.models;
    let Some(model) = models.iter().find(|m| m.name == name && !m.is_cell) else {
        let names: Vec<&str> = models
            .iter()
            .filter(|m| !m.is_cell)
            .map(|m| m.name.as_str())
            .collect();
        eprintln!(
            "error: {} has no model `{name}`; its models are: {}",
            session.file.display(),
            names.join(", ")
        );
        return Err(Exit::Usage);
    };
    let graph = model.graph.clone();
    let input = graph
        .nodes
        .iter()
        .find(|n| matches!(n.op, dl::ir::Op::Input))
        .and_then(|n| n.shape.known_dims());
    let Some(dims) = input else {
        eprintln!(
            "error: the input shape of `{name}` is not concrete, so its samples cannot be read; \
             use --run with a `train` block of it"
        );
        return Err(Exit::Usage);
    };
    let mut spec = InputSpec::of_shape(&dims);
    if ends_in_class_scores(&graph) {
        let width = graph.nodes[graph.output]
            .shape
            .known_dims()
            .unwrap_or_default();
        spec.classes = Some(width.last().copied().unwrap_or(1).max(2));
    }
    let store = ParamStore::init(&graph, 0);
    Ok(Chosen {
        title: format!("{name} (on its own)"),
        name: name.to_string(),
        graph,
        store,
        spec,
        transforms: Vec::new(),
        run: None,
    })
}

/// Whether a model's last layer is a softmax or a sigmoid: its outputs are
/// then class scores.
fn ends_in_class_scores(graph: &Graph) -> bool {
    use dl::ir::{Activation, Layer, Op};
    matches!(
        graph.nodes[graph.output].op,
        Op::Layer(Layer::Softmax { .. } | Layer::Activation(Activation::Sigmoid))
    )
}
