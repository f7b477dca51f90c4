//! A checked model as PyTorch: the source of an `nn.Module` (`model.py`)
//! and its weights in PyTorch's layout (`weights.safetensors`, which
//! `load_state_dict(strict=True)` accepts).
//!
//! The module mirrors `dl check`'s summary: each layer with weights is a
//! submodule at its `dl` path (`conv2d_0`, `Block_3.conv2d_0`, a sub-model
//! instance being a plain `nn.Module` holding its layers), and `forward` is
//! straight-line code, one line per layer with its shape in a comment, the
//! way `torch.fx` prints a graph. Where `dl` and PyTorch differ:
//! - `dense`: `dl` keeps the weight `[in, out]`, `nn.Linear` `[out, in]`.
//! - `rnn`, `lstm`: `dl` has one weight `[I + H, g H]` and one bias;
//!   `nn.RNN`/`nn.LSTM` (batch first; the gate order `i, f, g, o` is the
//!   same) have `weight_ih_l0`, `weight_hh_l0` and two biases. `bias_ih_l0`
//!   is `dl`'s bias and `bias_hh_l0` is kept at zero and frozen, so that
//!   training in PyTorch updates the same parameters as in `dl`.
//! - `gru` (the textbook form, reset before the recurrent product) is not
//!   `nn.GRU` (reset after it): it is the explicit cell `TextbookGRU`,
//!   with `dl`'s own weight layout. `gru(..., reset_after = true)` is
//!   `nn.GRU`, its `recurrent_bias` being `bias_hh_l0` (trained).
//! - `conv` with `round = "ceil"`: the zeros `dl` pads the end with are an
//!   explicit `F.pad`; pooling keeps `ceil_mode`, average pooling counts
//!   the padding.
//! - `batchnorm` also has PyTorch's `num_batches_tracked` (0).
//! - `embedding` ids arrive as floats and are cast to integers.
//!
//! `forward(x, logits=True)` stops before a final `softmax` or `sigmoid`,
//! for PyTorch's losses on logits; `dl_state_dict` gives the weights back
//! in `dl`'s layout and names, which `dl` reads as a checkpoint.

use super::onnx::{ExportError, conv_pads, known};
use crate::interp::ParamStore;
use crate::ir::{
    Activation, Arith, CellGraph, Graph, Init, Layer, Node, Op, Pool, Recurrent, Reduce,
};
use crate::train::checkpoint::relative;
use std::collections::BTreeSet;
use std::fmt::Write;

/// A tensor of the PyTorch state dict.
pub struct StateTensor {
    /// Its key in `state_dict()`.
    pub name: String,
    /// Its sizes.
    pub shape: Vec<usize>,
    /// Its values.
    pub values: StateValues,
}

/// The values of a [`StateTensor`].
pub enum StateValues {
    /// Weights.
    F32(Vec<f32>),
    /// Counters (`num_batches_tracked`).
    I64(Vec<i64>),
}

/// A model as PyTorch source and state dict.
pub struct TorchModel {
    /// The Python source of the module (`model.py`).
    pub source: String,
    /// The state dict, in `state_dict()` order.
    pub state: Vec<StateTensor>,
}

/// A line of `dl_state_dict`: how one `dl` tensor is made from the state
/// dict `sd`.
struct Back {
    dl_name: String,
    expression: String,
}

/// `graph` (a model bound to concrete sizes) with the tensors of `store`
/// as the PyTorch module `name`. `origin` (the program's file name) goes
/// into the module's docstring.
pub fn export(
    graph: &Graph,
    store: &ParamStore,
    name: &str,
    origin: &str,
) -> Result<TorchModel, ExportError> {
    let mut b = Builder {
        graph,
        store,
        init: Vec::new(),
        containers: BTreeSet::new(),
        forward: Vec::new(),
        names: Vec::new(),
        state: Vec::new(),
        back: Vec::new(),
        needs_gru: false,
        input: "x".to_string(),
        states: Vec::new(),
        top: true,
    };
    for (id, node) in graph.nodes.iter().enumerate() {
        let value = b.lower(id, node)?;
        b.names.push(value);
    }
    let source = b.source(name, origin);
    Ok(TorchModel {
        source,
        state: b.state,
    })
}

/// The module being written, node by node.
struct Builder<'a> {
    graph: &'a Graph,
    store: &'a ParamStore,
    /// Lines of `__init__`.
    init: Vec<String>,
    /// Sub-model instances already declared as containers.
    containers: BTreeSet<String>,
    /// Lines of `forward`.
    forward: Vec<String>,
    /// The Python variable holding each node's value, by node id.
    names: Vec<String>,
    state: Vec<StateTensor>,
    back: Vec<Back>,
    needs_gru: bool,
    /// The expression of the graph's input: `x`, or a cell's step input.
    input: String,
    /// The variables of a cell's state, inside its step.
    states: Vec<String>,
    /// Whether this is the model's own graph (not a cell's step).
    top: bool,
}

impl Builder<'_> {
    fn input(&self, node: &Node, i: usize) -> String {
        self.names[node.inputs[i]].clone()
    }

    fn input_node(&self, node: &Node, i: usize) -> &Node {
        &self.graph.nodes[node.inputs[i]]
    }

    /// The per-sample sizes of input `i` of `node`.
    fn input_dims(&self, node: &Node, i: usize) -> Vec<usize> {
        self.input_node(node, i)
            .shape
            .known_dims()
            .unwrap_or_default()
    }

    /// The `dl` tensor of `node`'s parameter `role`, with its full name.
    fn tensor(
        &self,
        node: &Node,
        role: &str,
    ) -> Result<(String, Vec<usize>, Vec<f32>), ExportError> {
        let spec = node
            .params
            .iter()
            .find(|p| p.role() == role)
            .ok_or_else(|| internal(node, &format!("it has no `{role}` tensor")))?;
        let value = self.store.get(&spec.name);
        Ok((
            spec.name.clone(),
            value.shape().to_vec(),
            value.iter().copied().collect(),
        ))
    }

    /// The module path (`Block_3.conv2d_0`) of a layer's parameters, its
    /// parent containers declared.
    fn module_path(&mut self, node: &Node) -> Result<String, ExportError> {
        let spec = node
            .params
            .first()
            .ok_or_else(|| internal(node, "it has no tensors"))?;
        let path = relative(&spec.name)
            .rsplit_once('.')
            .map_or(String::new(), |(p, _)| p.to_string());
        self.declare_parents(node, &path)?;
        Ok(path)
    }

    /// Declares every container above `path` (`Block_3` for
    /// `Block_3.conv2d_0`) and checks that each part is a Python name.
    fn declare_parents(&mut self, node: &Node, path: &str) -> Result<(), ExportError> {
        let parts: Vec<&str> = path.split('.').collect();
        if let Some(bad) = parts.iter().find(|p| !is_identifier(p)) {
            return Err(ExportError {
                path: node.path.clone(),
                span: node.span,
                message: format!("`{bad}` is not a Python name, so it cannot name a submodule"),
            });
        }
        for end in 1..parts.len() {
            let container = parts[..end].join(".");
            if self.containers.insert(container.clone()) {
                self.init.push(format!(
                    "self.{container} = nn.Module()  # the sub-model {container}"
                ));
            }
        }
        Ok(())
    }

    /// Adds a tensor of the state dict, in PyTorch's layout.
    fn state(&mut self, name: String, shape: Vec<usize>, values: Vec<f32>) {
        self.state.push(StateTensor {
            name,
            shape,
            values: StateValues::F32(values),
        });
    }

    /// Adds a state-dict tensor that is `dl`'s tensor as it is.
    fn same(&mut self, node: &Node, module: &str, role: &str) -> Result<(), ExportError> {
        let (dl_name, shape, values) = self.tensor(node, role)?;
        let key = join(module, role);
        self.back.push(Back {
            dl_name: relative(&dl_name).to_string(),
            expression: format!("sd[\"{key}\"]"),
        });
        self.state(key, shape, values);
        Ok(())
    }

    /// Writes the line computing node `id` in `forward`; returns its variable.
    fn lower(&mut self, id: usize, node: &Node) -> Result<String, ExportError> {
        let out = variable(self, id, node);
        let shape = &node.shape;
        let expression = match &node.op {
            Op::Input if self.top => {
                self.forward.push(format!("# {out}: {shape}"));
                return Ok(out);
            }
            Op::Input => self.input.clone(),
            Op::Param => {
                let spec = &node.params[0];
                let key = relative(&spec.name).to_string();
                let module = key.rsplit_once('.').map_or("", |(p, _)| p).to_string();
                if !module.is_empty() {
                    self.declare_parents(node, &format!("{module}.x"))?;
                }
                let (_, dims, values) = self.tensor(node, spec.role())?;
                let sizes = python_tuple(&dims);
                self.init
                    .push(format!("self.{key} = nn.Parameter(torch.zeros({sizes}))"));
                self.back.push(Back {
                    dl_name: key.clone(),
                    expression: format!("sd[\"{key}\"]"),
                });
                self.state(key.clone(), dims, values);
                format!("self.{key}")
            }
            Op::Constant(v) => python_float(*v),
            Op::Arith(a) => {
                let op = match a {
                    Arith::Add => "+",
                    Arith::Sub => "-",
                    Arith::Mul => "*",
                    Arith::Div => "/",
                };
                format!("{} {op} {}", self.input(node, 0), self.input(node, 1))
            }
            Op::MatMul => format!("{} @ {}", self.input(node, 0), self.input(node, 1)),
            Op::Neg => format!("-{}", self.input(node, 0)),
            Op::Layer(layer) => self.layer(id, node, layer)?,
            Op::Cell(cell) => self.cell(node, cell, &out)?,
            Op::StateIn(slot) => {
                return self
                    .states
                    .get(*slot)
                    .cloned()
                    .ok_or_else(|| internal(node, "a cell's state outside its cell"));
            }
        };
        self.forward
            .push(format!("{out} = {expression}  # {shape}"));
        Ok(out)
    }

    /// The expression of a built-in layer (its module declared).
    fn layer(&mut self, id: usize, node: &Node, layer: &Layer) -> Result<String, ExportError> {
        let x = self.input(node, 0);
        let in_dims = self.input_dims(node, 0);
        let batch = usize::from(self.input_node(node, 0).shape.batched);
        Ok(match layer {
            Layer::Dense { bias, .. } => {
                let module = self.module_path(node)?;
                let (dl_name, dims, w) = self.tensor(node, "weight")?;
                let (inputs, units) = (dims[0], dims[1]);
                self.init.push(format!(
                    "self.{module} = nn.Linear({inputs}, {units}, bias={})",
                    python_bool(*bias)
                ));
                let key = join(&module, "weight");
                self.back.push(Back {
                    dl_name: relative(&dl_name).to_string(),
                    expression: format!("sd[\"{key}\"].t()"),
                });
                self.state(key, vec![units, inputs], transpose(&w, inputs, units));
                if *bias {
                    self.same(node, &module, "bias")?;
                }
                format!("self.{module}({x})")
            }
            Layer::Conv { window, bias, .. } => {
                let module = self.module_path(node)?;
                let (_, dims, _) = self.tensor(node, "weight")?;
                let rank = window.kernel.len();
                let kernel = known(&window.kernel);
                let stride = known(&window.stride);
                let pads = conv_pads(window, &in_dims[1..]);
                let (begins, ends) = pads.split_at(rank);
                let symmetric = begins == ends;
                let padding = if symmetric {
                    begins.to_vec()
                } else {
                    vec![0; rank]
                };
                self.init.push(format!(
                    "self.{module} = nn.Conv{rank}d({}, {}, kernel_size={}, stride={}, padding={}, bias={})",
                    dims[1],
                    dims[0],
                    python_tuple(&kernel),
                    python_tuple(&stride),
                    python_tuple(&padding),
                    python_bool(*bias)
                ));
                self.same(node, &module, "weight")?;
                if *bias {
                    self.same(node, &module, "bias")?;
                }
                if symmetric {
                    format!("self.{module}({x})")
                } else {
                    // F.pad lists the last axis first.
                    let order: Vec<usize> = (0..rank)
                        .rev()
                        .flat_map(|a| [begins[a] as usize, ends[a] as usize])
                        .collect();
                    format!("self.{module}(F.pad({x}, {}))", python_tuple(&order))
                }
            }
            Layer::Pool { kind, window } => {
                let rank = window.kernel.len();
                let args = format!(
                    "kernel_size={}, stride={}, padding={}, ceil_mode={}",
                    python_tuple(&known(&window.kernel)),
                    python_tuple(&known(&window.stride)),
                    python_tuple(&known(&window.padding)),
                    python_bool(window.ceil)
                );
                match kind {
                    Pool::Max => format!("F.max_pool{rank}d({x}, {args})"),
                    Pool::Avg => {
                        format!("F.avg_pool{rank}d({x}, {args}, count_include_pad=True)")
                    }
                }
            }
            Layer::GlobalAvgPool => {
                let axes: Vec<usize> = (batch + 1..batch + in_dims.len()).collect();
                format!("{x}.mean(dim={})", python_tuple(&axes))
            }
            Layer::Flatten => format!("torch.flatten({x}, {batch})"),
            Layer::Reshape => {
                let dims = node.shape.known_dims().unwrap_or_default();
                let mut sizes: Vec<String> = Vec::new();
                if node.shape.batched {
                    sizes.push(format!("{x}.shape[0]"));
                }
                sizes.extend(dims.iter().map(usize::to_string));
                format!("{x}.reshape({})", sizes.join(", "))
            }
            Layer::Dropout { p } => {
                format!(
                    "F.dropout({x}, p={}, training=self.training)",
                    python_float(*p)
                )
            }
            Layer::BatchNorm { momentum, eps } => {
                let module = self.module_path(node)?;
                let channels = in_dims[0];
                let flavour = if in_dims.len() == 3 { 2 } else { 1 };
                self.init.push(format!(
                    "self.{module} = nn.BatchNorm{flavour}d({channels}, eps={}, momentum={})",
                    python_float(*eps),
                    python_float(*momentum)
                ));
                for role in ["weight", "bias", "running_mean", "running_var"] {
                    self.same(node, &module, role)?;
                }
                self.state.push(StateTensor {
                    name: join(&module, "num_batches_tracked"),
                    shape: vec![],
                    values: StateValues::I64(vec![0]),
                });
                format!("self.{module}({x})")
            }
            Layer::LayerNorm { eps } => {
                let module = self.module_path(node)?;
                let width = in_dims.last().copied().unwrap_or(1);
                self.init.push(format!(
                    "self.{module} = nn.LayerNorm({width}, eps={})",
                    python_float(*eps)
                ));
                self.same(node, &module, "weight")?;
                self.same(node, &module, "bias")?;
                format!("self.{module}({x})")
            }
            Layer::Embedding { .. } => {
                let module = self.module_path(node)?;
                let (_, dims, _) = self.tensor(node, "weight")?;
                self.init.push(format!(
                    "self.{module} = nn.Embedding({}, {})",
                    dims[0], dims[1]
                ));
                self.same(node, &module, "weight")?;
                format!("self.{module}({x}.long())")
            }
            Layer::Recurrent { kind, .. } => self.recurrent(node, *kind, &x, &in_dims)?,
            Layer::Activation(a) => {
                let f = match a {
                    Activation::Sigmoid => "sigmoid",
                    Activation::Tanh => "tanh",
                    Activation::Relu => "relu",
                    Activation::Exp => "exp",
                    Activation::Log => "log",
                };
                let plain = format!("torch.{f}({x})");
                if self.top && id == self.graph.output && *a == Activation::Sigmoid {
                    self.forward.push(format!("if logits:\n    return {x}"));
                }
                plain
            }
            Layer::LeakyRelu { slope } => {
                format!("F.leaky_relu({x}, {})", python_float(*slope))
            }
            Layer::Softmax { axis } => {
                if self.top && id == self.graph.output {
                    self.forward.push(format!("if logits:\n    return {x}"));
                }
                format!("torch.softmax({x}, dim={})", axis + batch)
            }
            Layer::Concat { axis } => {
                let parts: Vec<String> = (0..node.inputs.len())
                    .map(|i| self.input(node, i))
                    .collect();
                format!("torch.cat([{}], dim={})", parts.join(", "), axis + batch)
            }
            Layer::Reduce { kind, axis } => {
                let f = match kind {
                    Reduce::Sum => "sum",
                    Reduce::Mean => "mean",
                };
                let axes: Vec<usize> = match axis {
                    Some(a) => vec![a + batch],
                    None => (batch..batch + in_dims.len()).collect(),
                };
                format!("{x}.{f}(dim={})", python_tuple(&axes))
            }
            Layer::Last => {
                if batch == 1 {
                    format!("{x}[:, -1]")
                } else {
                    format!("{x}[-1]")
                }
            }
        })
    }

    /// A user cell as a loop over the time axis: its state variables start
    /// at their initial values, each step runs the cell's graph on the
    /// step's input and updates them; the steps' outputs are stacked.
    fn cell(&mut self, node: &Node, cell: &CellGraph, out: &str) -> Result<String, ExportError> {
        let x = self.input(node, 0);
        let mut states = Vec::new();
        for slot in &cell.state {
            let var = format!("{out}_{}", slot.name);
            let dims = slot.shape.known_dims().unwrap_or_default();
            let make = match slot.init {
                Init::Zeros => "new_zeros",
                Init::Ones => "new_ones",
                _ => {
                    return Err(ExportError {
                        path: node.path.clone(),
                        span: node.span,
                        message: format!(
                            "the state `{}` of `{}` starts random, which PyTorch cannot draw as dl does; start it at `zeros` or `ones`",
                            slot.name, cell.name
                        ),
                    });
                }
            };
            let mut sizes = vec![format!("{x}.shape[0]")];
            sizes.extend(dims.iter().map(usize::to_string));
            self.forward.push(format!(
                "{var} = {x}.{make}(({}))  # the state {} of {}",
                sizes.join(", "),
                slot.name,
                cell.name
            ));
            states.push(var);
        }
        let steps = format!("{out}_steps");
        self.forward.push(format!("{steps} = []"));
        self.forward.push(format!("for t in range({x}.shape[1]):"));
        let mut step = Builder {
            graph: &cell.step,
            store: self.store,
            init: std::mem::take(&mut self.init),
            containers: std::mem::take(&mut self.containers),
            forward: Vec::new(),
            names: Vec::new(),
            state: std::mem::take(&mut self.state),
            back: std::mem::take(&mut self.back),
            needs_gru: self.needs_gru,
            input: format!("{x}[:, t]"),
            states: states.clone(),
            top: false,
        };
        let lowered = (|| {
            for (id, n) in cell.step.nodes.iter().enumerate() {
                let value = step.lower(id, n)?;
                step.names.push(value);
            }
            Ok(())
        })();
        self.init = std::mem::take(&mut step.init);
        self.containers = std::mem::take(&mut step.containers);
        self.state = std::mem::take(&mut step.state);
        self.back = std::mem::take(&mut step.back);
        self.needs_gru = step.needs_gru;
        lowered?;
        let next: Vec<String> = cell
            .state
            .iter()
            .map(|s| step.names[s.next].clone())
            .collect();
        if !states.is_empty() {
            step.forward
                .push(format!("{} = {}", states.join(", "), next.join(", ")));
        }
        step.forward
            .push(format!("{steps}.append({})", step.names[cell.step.output]));
        for line in &step.forward {
            self.forward
                .push(format!("    {}", line.replace('\n', "\n    ")));
        }
        Ok(format!("torch.stack({steps}, dim=1)"))
    }

    /// `rnn` and `lstm` as `nn.RNN` and `nn.LSTM`, `gru` as `TextbookGRU`.
    fn recurrent(
        &mut self,
        node: &Node,
        kind: Recurrent,
        x: &str,
        in_dims: &[usize],
    ) -> Result<String, ExportError> {
        let module = self.module_path(node)?;
        let [_, inputs] = in_dims[..] else {
            return Err(internal(node, "its input is not a sequence [T, I]"));
        };
        let (dl_weight, dims, w) = self.tensor(node, "weight")?;
        let (dl_bias, _, bias) = self.tensor(node, "bias")?;
        let width = dims[1];
        let (class, gates) = match kind {
            Recurrent::Rnn => ("nn.RNN", 1),
            Recurrent::Lstm => ("nn.LSTM", 4),
            Recurrent::GruResetAfter => ("nn.GRU", 3),
            Recurrent::Gru => {
                self.needs_gru = true;
                let hidden = width / 3;
                self.init
                    .push(format!("self.{module} = TextbookGRU({inputs}, {hidden})"));
                self.same(node, &module, "weight")?;
                self.same(node, &module, "bias")?;
                return Ok(format!("self.{module}({x})"));
            }
        };
        let hidden = width / gates;
        self.init.push(format!(
            "self.{module} = {class}({inputs}, {hidden}, batch_first=True)"
        ));
        let recurrent_bias = match node.params.iter().find(|p| p.role() == "recurrent_bias") {
            Some(spec) => Some((
                spec.name.clone(),
                self.store
                    .get(&spec.name)
                    .iter()
                    .copied()
                    .collect::<Vec<f32>>(),
            )),
            None => {
                self.init.push(format!(
            "# dl has one bias: bias_ih_l0; bias_hh_l0 stays zero.\nself.{module}.bias_hh_l0.requires_grad_(False)"
        ));
                None
            }
        };
        let rows = dims[0];
        let w_ih = transpose(&w[..inputs * width], inputs, width);
        let w_hh = transpose(&w[inputs * width..], rows - inputs, width);
        self.state(join(&module, "weight_ih_l0"), vec![width, inputs], w_ih);
        self.state(join(&module, "weight_hh_l0"), vec![width, hidden], w_hh);
        self.state(join(&module, "bias_ih_l0"), vec![width], bias);
        let hh = recurrent_bias
            .as_ref()
            .map_or_else(|| vec![0.0; width], |(_, v)| v.clone());
        self.state(join(&module, "bias_hh_l0"), vec![width], hh);
        self.back.push(Back {
            dl_name: relative(&dl_weight).to_string(),
            expression: format!(
                "torch.cat([sd[\"{module}.weight_ih_l0\"].t(), sd[\"{module}.weight_hh_l0\"].t()])"
            ),
        });
        match recurrent_bias {
            Some((name, _)) => {
                self.back.push(Back {
                    dl_name: relative(&dl_bias).to_string(),
                    expression: format!("sd[\"{module}.bias_ih_l0\"]"),
                });
                self.back.push(Back {
                    dl_name: relative(&name).to_string(),
                    expression: format!("sd[\"{module}.bias_hh_l0\"]"),
                });
            }
            None => self.back.push(Back {
                dl_name: relative(&dl_bias).to_string(),
                expression: format!("sd[\"{module}.bias_ih_l0\"] + sd[\"{module}.bias_hh_l0\"]"),
            }),
        }
        Ok(format!("self.{module}({x})[0]"))
    }

    /// The whole of `model.py`.
    fn source(&self, name: &str, origin: &str) -> String {
        let mut s = String::new();
        let version = env!("CARGO_PKG_VERSION");
        let _ = writeln!(
            s,
            "\"\"\"The model {name} of {origin}, exported by dl {version}.\n\n\
             Load its weights with\n\n    \
             model = {name}()\n    \
             model.load_state_dict(safetensors.torch.load_file(\"weights.safetensors\"))\n\n\
             and save them for dl with\n\n    \
             safetensors.torch.save_file(dl_state_dict(model), \"model.safetensors\")\n\"\"\"\n"
        );
        s.push_str("import torch\nfrom torch import nn\nimport torch.nn.functional as F\n\n");
        if self.needs_gru {
            s.push_str(TEXTBOOK_GRU);
        }
        let _ = writeln!(s, "\nclass {name}(nn.Module):");
        let _ = writeln!(s, "    def __init__(self):");
        s.push_str("        super().__init__()\n");
        for line in &self.init {
            indent(&mut s, line, 8);
        }
        s.push_str("\n    def forward(self, x, logits=False):\n");
        let _ = writeln!(
            s,
            "        \"\"\"The model's output; with `logits`, before a final softmax or sigmoid.\"\"\""
        );
        for line in &self.forward {
            indent(&mut s, line, 8);
        }
        let _ = writeln!(s, "        return {}", self.names[self.graph.output]);
        s.push_str("\n\ndef dl_state_dict(model):\n");
        s.push_str(
            "    \"\"\"The model's tensors in dl's layout and names, for a dl checkpoint.\"\"\"\n",
        );
        s.push_str(
            "    sd = {k: v.detach().float().cpu() for k, v in model.state_dict().items()}\n",
        );
        s.push_str("    dl = {\n");
        for b in &self.back {
            let _ = writeln!(s, "        \"{}\": {},", b.dl_name, b.expression);
        }
        s.push_str("    }\n    return {k: v.contiguous() for k, v in dl.items()}\n");
        s
    }
}

/// The explicit cell for `dl`'s textbook GRU.
const TEXTBOOK_GRU: &str = r#"
class TextbookGRU(nn.Module):
    """dl's `gru` (Cho et al. 2014), batch first, every step's state out:
    r = sigmoid(x Wx_r + h Wh_r + b_r), z = sigmoid(x Wx_z + h Wh_z + b_z),
    c = tanh(x Wx_c + (r * h) Wh_c + b_c), h' = z * h + (1 - z) * c.
    `weight` is [inputs + hidden, 3 hidden] (the input rows, then the
    recurrent ones; blocks r, z, c), as in dl. nn.GRU applies the reset
    after the recurrent product, so it is another function.
    """

    def __init__(self, inputs, hidden):
        super().__init__()
        self.inputs, self.hidden = inputs, hidden
        self.weight = nn.Parameter(torch.zeros(inputs + hidden, 3 * hidden))
        self.bias = nn.Parameter(torch.zeros(3 * hidden))

    def forward(self, x):
        n, steps, _ = x.shape
        hid = self.hidden
        w_x, w_h = self.weight[: self.inputs], self.weight[self.inputs :]
        pre = x @ w_x + self.bias
        h = x.new_zeros(n, hid)
        states = []
        for t in range(steps):
            p = pre[:, t]
            gates = torch.sigmoid(p[:, : 2 * hid] + h @ w_h[:, : 2 * hid])
            r, z = gates[:, :hid], gates[:, hid:]
            c = torch.tanh(p[:, 2 * hid :] + (r * h) @ w_h[:, 2 * hid :])
            h = z * h + (1 - z) * c
            states.append(h)
        return torch.stack(states, dim=1)
"#;

/// Appends `text`'s lines to `s`, indented by `by` spaces.
fn indent(s: &mut String, text: &str, by: usize) {
    for line in text.lines() {
        let _ = writeln!(s, "{:by$}{line}", "");
    }
}

/// `module.role`, or `role` at the top.
fn join(module: &str, role: &str) -> String {
    if module.is_empty() {
        role.to_string()
    } else {
        format!("{module}.{role}")
    }
}

/// Whether `s` can be a Python attribute name.
fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A Python variable for node `id`: its path relative to the model with
/// `_` for `.`, or with its id when that is taken.
fn variable(b: &Builder, id: usize, node: &Node) -> String {
    if b.top && matches!(node.op, Op::Input) {
        return "x".to_string();
    }
    let name: String = relative(&node.path)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let taken = |n: &str| b.names.iter().any(|m| m == n) || PYTHON_NAMES.contains(&n);
    if name.is_empty() || !is_identifier(&name) || taken(&name) {
        format!("v{id}")
    } else {
        name
    }
}

/// Names a forward variable must not shadow.
const PYTHON_NAMES: &[&str] = &[
    "x", "self", "logits", "torch", "nn", "F", "and", "or", "not", "in", "is", "if", "else", "for",
    "while", "def", "class", "return", "lambda", "None", "True", "False", "del", "pass",
];

fn internal(node: &Node, what: &str) -> ExportError {
    ExportError {
        path: node.path.clone(),
        span: node.span,
        message: format!("internal error: {what}"),
    }
}

/// `m` `[rows, cols]` transposed.
fn transpose(m: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    (0..cols)
        .flat_map(|c| (0..rows).map(move |r| m[r * cols + c]))
        .collect()
}

fn python_tuple<T: ToString>(values: &[T]) -> String {
    match values {
        [one] => format!("({},)", one.to_string()),
        _ => format!(
            "({})",
            values
                .iter()
                .map(T::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn python_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

/// A float as Python reads it back exactly.
fn python_float(v: f64) -> String {
    let s = format!("{v:?}");
    if s.contains(['.', 'e', 'n', 'i']) {
        s
    } else {
        format!("{s}.0")
    }
}

/// The safetensors bytes of the state dict.
pub fn state_bytes(state: &[StateTensor]) -> Result<Vec<u8>, safetensors::SafeTensorError> {
    use safetensors::tensor::{Dtype, TensorView};
    let data: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = state
        .iter()
        .map(|t| {
            let (dtype, bytes) = match &t.values {
                StateValues::F32(v) => {
                    (Dtype::F32, v.iter().flat_map(|x| x.to_le_bytes()).collect())
                }
                StateValues::I64(v) => {
                    (Dtype::I64, v.iter().flat_map(|x| x.to_le_bytes()).collect())
                }
            };
            (t.name.clone(), dtype, t.shape.clone(), bytes)
        })
        .collect();
    let views = data
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            TensorView::new(*dtype, shape.clone(), bytes).map(|v| (name.clone(), v))
        })
        .collect::<Result<Vec<_>, _>>()?;
    safetensors::tensor::serialize(views, None)
}
