//! A checked model as an ONNX model (opset 17): one ONNX node (or a few)
//! per node of the graph, the weights as initializers named relative to
//! the model (`conv2d_0.weight`), the batch as the symbolic axis `N`.
//!
//! The mapping, where `dl` and ONNX differ:
//! - `dense`: `dl` keeps the weight `[in, out]` (`x W + b`), so it is
//!   `Gemm` with `transB = 0` on a `[N, F]` input, `MatMul` and `Add` on
//!   longer ones.
//! - `conv1d`/`conv2d` with `round = "ceil"`: ONNX `Conv` has no ceil mode;
//!   the partial last window is kept by padding the end with the zeros
//!   `dl` pads with. Pooling keeps `ceil_mode`; average pooling counts the
//!   padding (`count_include_pad = 1`), as `dl` does.
//! - `global_avgpool` gives `[N, C]`: `GlobalAveragePool` then `Flatten`.
//! - `rnn`, `lstm`, `gru`: `dl` has one weight `[I + H, g H]` (input rows,
//!   then recurrent rows) and one bias; ONNX `W` `[1, g H, I]`, `R`
//!   `[1, g H, H]` and `B` `[1, 2 g H]` (the recurrent half zero, or the
//!   reset-after GRU's `recurrent_bias`), with its own gate order: LSTM
//!   `i, o, f, c` for `dl`'s `i, f, g, o`, GRU `z, r, h` for `dl`'s `r, z,
//!   candidate` (`linear_before_reset = 0` for the textbook form, 1 for
//!   `reset_after = true`). Time-major inside (the sequence transposed
//!   in and out), every step's state out, the direction axis squeezed away.
//! - `embedding`: the ids arrive as floats; `Cast` to int64, then `Gather`.
//! - `dropout` is the identity at inference; `batchnorm` uses its running
//!   statistics.

use super::proto::{
    AttributeProto, AttributeType, Dimension, ElementType, GraphProto, ModelProto, NodeProto,
    OperatorSetIdProto, TensorProto, TensorShapeProto, TensorTypeProto, TypeProto, ValueInfoProto,
};
use crate::interp::ParamStore;
use crate::ir::{
    Activation, Arith, CellGraph, Graph, Init, Layer, Node, Op, Pool, Recurrent, Reduce, Window,
};
use crate::span::Span;
use crate::train::checkpoint::relative;
use prost::Message;

/// The ONNX operator set the export targets.
pub const OPSET: i64 = 17;

/// The IR version that goes with opset 17.
const IR_VERSION: i64 = 8;

/// Why a model cannot be exported.
#[derive(Clone, Debug, PartialEq)]
pub struct ExportError {
    /// The node's path (`Model.Elman_0`).
    pub path: String,
    /// Where it is in the source.
    pub span: Span,
    /// What cannot be exported, and what to do instead.
    pub message: String,
}

/// The ONNX bytes of `graph` (a model bound to concrete input sizes) with
/// the tensors of `store`, named `name`.
pub fn export(graph: &Graph, store: &ParamStore, name: &str) -> Result<Vec<u8>, ExportError> {
    let mut b = Builder {
        graph,
        store,
        nodes: Vec::new(),
        initializers: Vec::new(),
        names: Vec::new(),
        value_info: Vec::new(),
        inputs: Vec::new(),
        step: None,
    };
    for (id, node) in graph.nodes.iter().enumerate() {
        let name = b.lower(id, node)?;
        b.names.push(name);
    }
    let output = &graph.nodes[graph.output];
    let output_info = value_info(&b.names[graph.output], output);
    let output_name = output_info.name.clone();
    b.value_info.retain(|v| v.name != output_name);
    let model = ModelProto {
        ir_version: IR_VERSION,
        producer_name: "dl".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: format!("model {name}, exported by dl"),
        graph: Some(GraphProto {
            node: b.nodes,
            name: name.to_string(),
            initializer: b.initializers,
            doc_string: String::new(),
            input: b.inputs,
            output: vec![output_info],
            value_info: b.value_info,
        }),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
    };
    Ok(model.encode_to_vec())
}

/// The type of a value of `node`'s shape: `float32`, the batch as `N`.
fn value_info(name: &str, node: &Node) -> ValueInfoProto {
    let mut dim = Vec::new();
    if node.shape.batched {
        dim.push(Dimension {
            dim_value: None,
            dim_param: Some("N".into()),
        });
    }
    for d in &node.shape.dims {
        dim.push(match d.as_known() {
            Some(v) => Dimension {
                dim_value: Some(v),
                dim_param: None,
            },
            None => Dimension {
                dim_value: None,
                dim_param: Some(d.to_string()),
            },
        });
    }
    ValueInfoProto {
        name: name.to_string(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type: ElementType::Float as i32,
                shape: Some(TensorShapeProto { dim }),
            }),
        }),
    }
}

fn int(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        i,
        r#type: AttributeType::Int as i32,
        ..Default::default()
    }
}

fn float(name: &str, f: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        f,
        r#type: AttributeType::Float as i32,
        ..Default::default()
    }
}

fn ints(name: &str, ints: Vec<i64>) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        ints,
        r#type: AttributeType::Ints as i32,
        ..Default::default()
    }
}

fn f32_tensor(name: &str, dims: &[usize], values: &[f32]) -> TensorProto {
    TensorProto {
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: ElementType::Float as i32,
        name: name.into(),
        raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    }
}

fn i64_tensor(name: &str, dims: &[usize], values: &[i64]) -> TensorProto {
    TensorProto {
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: ElementType::Int64 as i32,
        name: name.into(),
        raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    }
}

/// The model being built, node by node.
struct Builder<'a> {
    graph: &'a Graph,
    store: &'a ParamStore,
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    /// The ONNX value holding each graph node's output, by node id.
    names: Vec<String>,
    value_info: Vec<ValueInfoProto>,
    inputs: Vec<ValueInfoProto>,
    /// Inside a cell's step: its input, states and name suffix.
    step: Option<Step>,
}

/// One unrolled step of a cell: the ONNX values it reads.
struct Step {
    /// The step's input, `[N, I]`.
    input: String,
    /// The state values as of the previous step.
    states: Vec<String>,
    /// Appended to every value's name (`.t3`).
    suffix: String,
}

impl Builder<'_> {
    /// Adds an ONNX node.
    fn push(&mut self, op: &str, inputs: Vec<String>, output: &str, attrs: Vec<AttributeProto>) {
        self.nodes.push(NodeProto {
            input: inputs,
            output: vec![output.to_string()],
            name: output.to_string(),
            op_type: op.into(),
            attribute: attrs,
            doc_string: String::new(),
        });
    }

    /// The name of an initializer holding the node's parameter of `role`.
    fn param(&mut self, node: &Node, role: &str) -> Result<String, ExportError> {
        let spec = node
            .params
            .iter()
            .find(|p| p.role() == role)
            .ok_or_else(|| internal(node, &format!("it has no `{role}` tensor")))?;
        let name = relative(&spec.name).to_string();
        if !self.initializers.iter().any(|t| t.name == name) {
            let value = self.store.get(&spec.name);
            let values: Vec<f32> = value.iter().copied().collect();
            self.initializers
                .push(f32_tensor(&name, value.shape(), &values));
        }
        Ok(name)
    }

    /// Adds an int64 initializer named after `at` and `what`.
    fn i64_constant(&mut self, at: &str, what: &str, dims: &[usize], values: &[i64]) -> String {
        let name = format!("{at}.{what}");
        self.initializers.push(i64_tensor(&name, dims, values));
        name
    }

    fn input(&self, node: &Node, i: usize) -> String {
        self.names[node.inputs[i]].clone()
    }

    /// The per-sample sizes of input `i` of `node`.
    fn input_dims(&self, node: &Node, i: usize) -> Vec<usize> {
        self.graph.nodes[node.inputs[i]]
            .shape
            .known_dims()
            .unwrap_or_default()
    }

    /// Lowers graph node `id`; returns the name of the value it gives.
    fn lower(&mut self, id: usize, node: &Node) -> Result<String, ExportError> {
        let out = unique_name(self, id, node);
        let unsupported = |what: &str| ExportError {
            path: node.path.clone(),
            span: node.span,
            message: what.to_string(),
        };
        match &node.op {
            Op::Input => {
                if let Some(step) = &self.step {
                    return Ok(step.input.clone());
                }
                self.inputs.push(value_info(&out, node));
                return Ok(out);
            }
            Op::Param => {
                let spec = &node.params[0];
                let name = relative(&spec.name).to_string();
                if !self.initializers.iter().any(|t| t.name == name) {
                    let value = self.store.get(&spec.name);
                    let values: Vec<f32> = value.iter().copied().collect();
                    self.initializers
                        .push(f32_tensor(&name, value.shape(), &values));
                }
                return Ok(name);
            }
            Op::Constant(v) => {
                self.initializers.push(f32_tensor(&out, &[], &[*v as f32]));
                return Ok(out);
            }
            Op::Arith(a) => {
                let op = match a {
                    Arith::Add => "Add",
                    Arith::Sub => "Sub",
                    Arith::Mul => "Mul",
                    Arith::Div => "Div",
                };
                let inputs = vec![self.input(node, 0), self.input(node, 1)];
                self.push(op, inputs, &out, vec![]);
            }
            Op::MatMul => {
                let inputs = vec![self.input(node, 0), self.input(node, 1)];
                self.push("MatMul", inputs, &out, vec![]);
            }
            Op::Neg => {
                let inputs = vec![self.input(node, 0)];
                self.push("Neg", inputs, &out, vec![]);
            }
            Op::Layer(layer) => self.layer(node, layer, &out)?,
            Op::Cell(cell) => self.cell(node, cell, &out).map_err(|m| unsupported(&m))?,
            Op::StateIn(slot) => {
                return self
                    .step
                    .as_ref()
                    .and_then(|s| s.states.get(*slot).cloned())
                    .ok_or_else(|| internal(node, "a cell's state outside its cell"));
            }
        }
        self.value_info.push(value_info(&out, node));
        Ok(out)
    }

    /// Lowers a built-in layer.
    fn layer(&mut self, node: &Node, layer: &Layer, out: &str) -> Result<(), ExportError> {
        let x = self.input(node, 0);
        // Per-sample axes are one further along in ONNX when the batch is
        // there.
        let batch = usize::from(self.graph.nodes[node.inputs[0]].shape.batched) as i64;
        match layer {
            Layer::Dense { bias, .. } => {
                let w = self.param(node, "weight")?;
                let rank = self.input_dims(node, 0).len() as i64 + batch;
                if rank == 2 {
                    let mut inputs = vec![x, w];
                    if *bias {
                        inputs.push(self.param(node, "bias")?);
                    }
                    self.push("Gemm", inputs, out, vec![]);
                } else if *bias {
                    let product = format!("{out}.product");
                    self.push("MatMul", vec![x, w], &product, vec![]);
                    let b = self.param(node, "bias")?;
                    self.push("Add", vec![product, b], out, vec![]);
                } else {
                    self.push("MatMul", vec![x, w], out, vec![]);
                }
            }
            Layer::Conv { window, bias, .. } => {
                let mut inputs = vec![x, self.param(node, "weight")?];
                if *bias {
                    inputs.push(self.param(node, "bias")?);
                }
                let spatial = self.input_dims(node, 0)[1..].to_vec();
                let attrs = vec![
                    ints("kernel_shape", known(&window.kernel)),
                    ints("strides", known(&window.stride)),
                    ints("pads", conv_pads(window, &spatial)),
                ];
                self.push("Conv", inputs, out, attrs);
            }
            Layer::Pool { kind, window } => {
                let pads = known(&window.padding);
                let mut attrs = vec![
                    ints("kernel_shape", known(&window.kernel)),
                    ints("strides", known(&window.stride)),
                    ints("pads", pads.iter().chain(&pads).copied().collect()),
                    int("ceil_mode", i64::from(window.ceil)),
                ];
                let op = match kind {
                    Pool::Max => "MaxPool",
                    Pool::Avg => {
                        attrs.push(int("count_include_pad", 1));
                        "AveragePool"
                    }
                };
                self.push(op, vec![x], out, attrs);
            }
            Layer::GlobalAvgPool => {
                let pooled = format!("{out}.pooled");
                self.push("GlobalAveragePool", vec![x], &pooled, vec![]);
                self.push("Flatten", vec![pooled], out, vec![int("axis", 1)]);
            }
            Layer::Flatten => self.push("Flatten", vec![x], out, vec![int("axis", batch)]),
            Layer::Reshape => {
                let dims = node.shape.known_dims().unwrap_or_default();
                let mut shape: Vec<i64> = Vec::new();
                if node.shape.batched {
                    // 0: the input's own size on that axis, the batch.
                    shape.push(0);
                }
                shape.extend(dims.iter().map(|&d| d as i64));
                let s = self.i64_constant(out, "shape", &[shape.len()], &shape);
                self.push("Reshape", vec![x, s], out, vec![]);
            }
            Layer::Dropout { .. } => self.push("Identity", vec![x], out, vec![]),
            Layer::BatchNorm { eps, .. } => {
                let inputs = vec![
                    x,
                    self.param(node, "weight")?,
                    self.param(node, "bias")?,
                    self.param(node, "running_mean")?,
                    self.param(node, "running_var")?,
                ];
                self.push(
                    "BatchNormalization",
                    inputs,
                    out,
                    vec![float("epsilon", *eps as f32)],
                );
            }
            Layer::LayerNorm { eps } => {
                let inputs = vec![x, self.param(node, "weight")?, self.param(node, "bias")?];
                let attrs = vec![int("axis", -1), float("epsilon", *eps as f32)];
                self.push("LayerNormalization", inputs, out, attrs);
            }
            Layer::Embedding { .. } => {
                let ids = format!("{out}.ids");
                self.push(
                    "Cast",
                    vec![x],
                    &ids,
                    vec![int("to", ElementType::Int64 as i64)],
                );
                let table = self.param(node, "weight")?;
                self.push("Gather", vec![table, ids], out, vec![int("axis", 0)]);
            }
            Layer::Recurrent { kind, .. } => self.recurrent(node, *kind, x, out)?,
            Layer::Activation(a) => {
                let op = match a {
                    Activation::Sigmoid => "Sigmoid",
                    Activation::Tanh => "Tanh",
                    Activation::Relu => "Relu",
                    Activation::Exp => "Exp",
                    Activation::Log => "Log",
                };
                self.push(op, vec![x], out, vec![]);
            }
            Layer::LeakyRelu { slope } => {
                self.push(
                    "LeakyRelu",
                    vec![x],
                    out,
                    vec![float("alpha", *slope as f32)],
                );
            }
            Layer::Softmax { axis } => {
                self.push(
                    "Softmax",
                    vec![x],
                    out,
                    vec![int("axis", *axis as i64 + batch)],
                );
            }
            Layer::Concat { axis } => {
                let inputs = (0..node.inputs.len())
                    .map(|i| self.input(node, i))
                    .collect();
                self.push(
                    "Concat",
                    inputs,
                    out,
                    vec![int("axis", *axis as i64 + batch)],
                );
            }
            Layer::Reduce { kind, axis } => {
                let rank = self.input_dims(node, 0).len() as i64;
                let axes: Vec<i64> = match axis {
                    Some(a) => vec![*a as i64 + batch],
                    None => (batch..rank + batch).collect(),
                };
                let keep = int("keepdims", 0);
                match kind {
                    Reduce::Sum => {
                        let a = self.i64_constant(out, "axes", &[axes.len()], &axes);
                        self.push("ReduceSum", vec![x, a], out, vec![keep]);
                    }
                    Reduce::Mean => {
                        self.push("ReduceMean", vec![x], out, vec![ints("axes", axes), keep]);
                    }
                }
            }
            Layer::Last => {
                let last = self.i64_constant(out, "index", &[], &[-1]);
                self.push("Gather", vec![x, last], out, vec![int("axis", batch)]);
            }
        }
        Ok(())
    }

    /// A user cell unrolled over the (known) sequence length: its states
    /// start as `ConstantOfShape` of the batch, each step's input is
    /// `Gather` at `t` on the time axis, the step graph's nodes are repeated
    /// with `.t{t}` names (its weights shared), and the steps' outputs are
    /// concatenated on the time axis. An error names what is missing.
    fn cell(&mut self, node: &Node, cell: &CellGraph, out: &str) -> Result<(), String> {
        let x = self.input(node, 0);
        let steps = self.graph.nodes[node.inputs[0]].shape.dims[0]
            .as_known()
            .ok_or_else(|| {
                format!(
                    "ONNX needs the cell `{}` unrolled over a fixed sequence length, and this one is symbolic;                      export a `train` block's model (--run K), whose data fixes it",
                    cell.name
                )
            })?;
        let shape = format!("{out}.input_shape");
        self.push("Shape", vec![x.clone()], &shape, vec![]);
        let (start, end) = (
            self.i64_constant(out, "batch_start", &[1], &[0]),
            self.i64_constant(out, "batch_end", &[1], &[1]),
        );
        let batch = format!("{out}.batch");
        self.push("Slice", vec![shape, start, end], &batch, vec![]);
        let mut states = Vec::new();
        for slot in &cell.state {
            let fill = match slot.init {
                Init::Zeros => 0.0,
                Init::Ones => 1.0,
                _ => {
                    return Err(format!(
                        "the state `{}` of `{}` starts random, which ONNX cannot draw as dl does; start it at `zeros` or `ones`",
                        slot.name, cell.name
                    ));
                }
            };
            let dims: Vec<i64> = slot
                .shape
                .known_dims()
                .unwrap_or_default()
                .iter()
                .map(|&d| d as i64)
                .collect();
            let sizes =
                self.i64_constant(out, &format!("{}.sizes", slot.name), &[dims.len()], &dims);
            let full = format!("{out}.{}.shape", slot.name);
            self.push(
                "Concat",
                vec![batch.clone(), sizes],
                &full,
                vec![int("axis", 0)],
            );
            let initial = format!("{out}.{}.initial", slot.name);
            let value = AttributeProto {
                name: "value".into(),
                t: Some(f32_tensor("", &[1], &[fill])),
                r#type: AttributeType::Tensor as i32,
                ..Default::default()
            };
            self.push("ConstantOfShape", vec![full], &initial, vec![value]);
            states.push(initial);
        }
        let unsqueeze_axes = self.i64_constant(out, "time_axis", &[1], &[1]);
        let mut outputs = Vec::new();
        for t in 0..steps {
            let index = self.i64_constant(out, &format!("t{t}"), &[], &[t]);
            let input = format!("{out}.input.t{t}");
            self.push(
                "Gather",
                vec![x.clone(), index],
                &input,
                vec![int("axis", 1)],
            );
            let mut step = Builder {
                graph: &cell.step,
                store: self.store,
                nodes: std::mem::take(&mut self.nodes),
                initializers: std::mem::take(&mut self.initializers),
                names: Vec::new(),
                value_info: std::mem::take(&mut self.value_info),
                inputs: Vec::new(),
                step: Some(Step {
                    input,
                    states: states.clone(),
                    suffix: format!(".t{t}"),
                }),
            };
            let lowered = (|| {
                for (id, n) in cell.step.nodes.iter().enumerate() {
                    let value = step.lower(id, n)?;
                    step.names.push(value);
                }
                Ok::<(), ExportError>(())
            })();
            self.nodes = std::mem::take(&mut step.nodes);
            self.initializers = std::mem::take(&mut step.initializers);
            self.value_info = std::mem::take(&mut step.value_info);
            lowered.map_err(|e| e.message)?;
            states = cell
                .state
                .iter()
                .map(|s| step.names[s.next].clone())
                .collect();
            let output = format!("{out}.output.t{t}");
            self.push(
                "Unsqueeze",
                vec![step.names[cell.step.output].clone(), unsqueeze_axes.clone()],
                &output,
                vec![],
            );
            outputs.push(output);
        }
        self.push("Concat", outputs, out, vec![int("axis", 1)]);
        Ok(())
    }

    /// `rnn`, `lstm` or `gru` as ONNX's `RNN`, `LSTM` or `GRU`.
    fn recurrent(
        &mut self,
        node: &Node,
        kind: Recurrent,
        x: String,
        out: &str,
    ) -> Result<(), ExportError> {
        let [_, input] = self.input_dims(node, 0)[..] else {
            return Err(internal(node, "its input is not a sequence [T, I]"));
        };
        let weight = node.params.iter().find(|p| p.role() == "weight");
        let bias = node.params.iter().find(|p| p.role() == "bias");
        let (Some(weight), Some(bias)) = (weight, bias) else {
            return Err(internal(node, "it has no weight and bias"));
        };
        let (w, b) = (self.store.get(&weight.name), self.store.get(&bias.name));
        let width = w.shape()[1];
        let (op, order): (&str, &[usize]) = match kind {
            Recurrent::Rnn => ("RNN", &[0]),
            Recurrent::Lstm => ("LSTM", &[0, 3, 1, 2]),
            Recurrent::Gru | Recurrent::GruResetAfter => ("GRU", &[1, 0, 2]),
        };
        let hidden = width / order.len();
        let rows = w.shape()[0];
        // Row `r` of ONNX's W (or R) is column `c` of dl's weight, gate
        // block by gate block.
        let column = |r: usize| order[r / hidden] * hidden + r % hidden;
        let w_onnx: Vec<f32> = (0..width)
            .flat_map(|r| (0..input).map(move |i| (r, i)))
            .map(|(r, i)| w[[i, column(r)]])
            .collect();
        let r_onnx: Vec<f32> = (0..width)
            .flat_map(|r| (input..rows).map(move |k| (r, k)))
            .map(|(r, k)| w[[k, column(r)]])
            .collect();
        let mut b_onnx: Vec<f32> = (0..width).map(|r| b[[column(r)]]).collect();
        match node.params.iter().find(|p| p.role() == "recurrent_bias") {
            Some(spec) => {
                let rb = self.store.get(&spec.name);
                b_onnx.extend((0..width).map(|r| rb[[column(r)]]));
            }
            None => b_onnx.extend(std::iter::repeat_n(0.0, width)),
        }
        let base = relative(&weight.name)
            .trim_end_matches(".weight")
            .to_string();
        let names = [
            format!("{base}.W"),
            format!("{base}.R"),
            format!("{base}.B"),
        ];
        self.initializers
            .push(f32_tensor(&names[0], &[1, width, input], &w_onnx));
        self.initializers
            .push(f32_tensor(&names[1], &[1, width, hidden], &r_onnx));
        self.initializers
            .push(f32_tensor(&names[2], &[1, 2 * width], &b_onnx));
        // NOTE: time-major (`layout = 0`), which every runtime supports
        // (ONNX Runtime refuses `layout = 1`): the batch-first sequence is
        // transposed in and out.
        let swap = || ints("perm", vec![1, 0, 2]);
        let time_major = format!("{out}.time_major");
        self.push("Transpose", vec![x], &time_major, vec![swap()]);
        let states = format!("{out}.states");
        let [w_name, r_name, b_name] = names;
        let mut attrs = vec![int("hidden_size", hidden as i64)];
        if kind == Recurrent::GruResetAfter {
            attrs.push(int("linear_before_reset", 1));
        }
        self.push(op, vec![time_major, w_name, r_name, b_name], &states, attrs);
        // Y is [T, directions, N, H].
        let axes = self.i64_constant(out, "axes", &[1], &[1]);
        let squeezed = format!("{out}.squeezed");
        self.push("Squeeze", vec![states, axes], &squeezed, vec![]);
        self.push("Transpose", vec![squeezed], out, vec![swap()]);
        Ok(())
    }
}

/// An export error for what the checker should have ruled out.
fn internal(node: &Node, what: &str) -> ExportError {
    ExportError {
        path: node.path.clone(),
        span: node.span,
        message: format!("internal error: {what}"),
    }
}

/// A name for node `id`'s value: its path relative to the model, or with
/// its id when another value already has that name.
fn unique_name(b: &Builder, id: usize, node: &Node) -> String {
    let suffix = b.step.as_ref().map_or("", |s| s.suffix.as_str());
    let name = format!("{}{suffix}", relative(&node.path));
    if b.names.contains(&name) || name.is_empty() {
        format!("{name}_{id}")
    } else {
        name
    }
}

/// Known integers of a window's geometry.
pub(super) fn known(dims: &[crate::ir::Dim]) -> Vec<i64> {
    dims.iter().map(|d| d.as_known().unwrap_or(0)).collect()
}

/// A convolution's pads, begins then ends; the ends grow to keep a partial
/// last window (`round = "ceil"`).
pub(super) fn conv_pads(window: &Window, spatial: &[usize]) -> Vec<i64> {
    let (k, s, p, o) = (
        known(&window.kernel),
        known(&window.stride),
        known(&window.padding),
        known(&window.output),
    );
    let ends = (0..k.len()).map(|a| {
        let reach = (o[a] - 1) * s[a] + k[a];
        p[a].max(reach - spatial[a] as i64 - p[a])
    });
    p.iter().copied().chain(ends).collect()
}
