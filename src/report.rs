//! Summaries of a checked program: the per-layer table `dl check` prints, and
//! the same as JSON.

use crate::check::{loss_name, metric_label};
use crate::diagnostic::Diagnostic;
use crate::ir::dim::Dim;
use crate::ir::{Batch, DataSet, Graph, Op, Optimizer, Program, Source, Task, TrainRun};
use serde_json::{Value, json};

/// One row of a model summary.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Layer path, e.g. `ResNet18.Down_1.conv2d_0`.
    pub path: String,
    /// The op as written.
    pub op: String,
    /// Output shape.
    pub shape: String,
    /// Learnable scalars.
    pub params: Dim,
    /// Nesting depth (0 for the model's own layers).
    pub depth: usize,
}

/// The rows of a graph's summary; with `expand`, the layers inside sub-models
/// and cells are listed under a row for the use itself.
pub fn rows(graph: &Graph, expand: bool) -> Vec<Row> {
    let mut out = Vec::new();
    let mut emitted = vec![false; graph.calls.len()];
    for (id, node) in graph.nodes.iter().enumerate() {
        if matches!(node.op, Op::Constant(_)) {
            continue;
        }
        // The chain of sub-model uses this node is inside, outermost first.
        let mut chain = Vec::new();
        let mut call = node.call;
        while let Some(c) = call {
            chain.push(c);
            call = graph.calls[c].parent;
        }
        chain.reverse();
        let visible = if expand {
            chain.len()
        } else {
            chain.len().min(1)
        };
        for (depth, &c) in chain
            .iter()
            .take(visible.max(usize::from(!chain.is_empty())))
            .enumerate()
        {
            if !emitted[c] {
                emitted[c] = true;
                out.push(Row {
                    path: graph.calls[c].path.clone(),
                    op: graph.calls[c].label.clone(),
                    shape: graph.nodes[graph.calls[c].output].shape.to_string(),
                    params: call_params(graph, c),
                    depth,
                });
            }
        }
        if !expand && !chain.is_empty() {
            continue;
        }
        out.push(Row {
            path: node.path.clone(),
            op: node.label.clone(),
            shape: node.shape.to_string(),
            params: graph.node_param_count(id),
            depth: chain.len(),
        });
        if expand && let Op::Cell(cell) = &node.op {
            for mut row in rows(&cell.step, true) {
                row.depth += chain.len() + 1;
                // Activations are per step; parameters are shared by all steps.
                if row.shape.starts_with("[N") {
                    row.shape = format!("{} /step", row.shape);
                }
                out.push(row);
            }
        }
    }
    out
}

/// Learnable scalars inside sub-model use `call`, nested uses included.
fn call_params(graph: &Graph, call: usize) -> Dim {
    let inside = |mut c: Option<usize>| {
        while let Some(x) = c {
            if x == call {
                return true;
            }
            c = graph.calls[x].parent;
        }
        false
    };
    graph
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| inside(n.call))
        .fold(Dim::known(0), |acc, (id, _)| {
            acc.add(&graph.node_param_count(id))
        })
}

/// A count with thousands separators; symbolic counts as they are.
pub fn format_count(count: &Dim) -> String {
    match count.as_known() {
        Some(n) => {
            let digits = n.abs().to_string();
            let mut out = String::new();
            for (i, c) in digits.chars().enumerate() {
                if i > 0 && (digits.len() - i) % 3 == 0 {
                    out.push(',');
                }
                out.push(c);
            }
            if n < 0 { format!("-{out}") } else { out }
        }
        None => count.to_string(),
    }
}

/// The summary table of one model or cell instance: a header line, one row
/// per layer, and the total parameter count.
pub fn render_graph(kind: &str, name: &str, graph: &Graph, expand: bool) -> String {
    let input = graph
        .nodes
        .first()
        .map(|n| n.shape.to_string())
        .unwrap_or_default();
    let per_step = if kind == "cell" { " per step" } else { "" };
    let mut out = format!("{kind} {name} (input {input}{per_step})\n");
    out.push_str(&table(&rows(graph, expand)));
    out.push_str(&format!(
        "  total parameters: {}\n",
        format_count(&graph.param_count())
    ));
    out
}

/// The table `dl check` prints for every model, data set and training run.
pub fn render_text(program: &Program, expand: bool) -> String {
    let mut out = String::new();
    for model in &program.models {
        let kind = if model.is_cell { "cell" } else { "model" };
        out.push_str(&render_graph(kind, &model.name, &model.graph, expand));
        out.push('\n');
    }
    for data in &program.data {
        out.push_str(&format!("data {}: {}\n", data.name, describe_data(data)));
    }
    if !program.data.is_empty() {
        out.push('\n');
    }
    for (index, run) in program.trains.iter().enumerate() {
        out.push_str(&format!(
            "train #{} {} on {}: {}\n",
            index + 1,
            run.model,
            run.data,
            describe_train(run, program)
        ));
    }
    out
}

fn table(rows: &[Row]) -> String {
    let header = ["layer", "op", "output", "params"];
    let cells: Vec<[String; 4]> = rows
        .iter()
        .map(|r| {
            [
                format!("{}{}", "  ".repeat(r.depth), r.path),
                truncate(&r.op, 48),
                r.shape.clone(),
                format_count(&r.params),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |c: [&str; 4]| {
        format!(
            "  {:<w0$}  {:<w1$}  {:<w2$}  {:>w3$}\n",
            c[0],
            c[1],
            c[2],
            c[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3]
        )
    };
    let mut out = line(header);
    out.push_str(&format!(
        "  {}\n",
        "-".repeat(widths.iter().sum::<usize>() + 6)
    ));
    for row in &cells {
        out.push_str(&line([&row[0], &row[1], &row[2], &row[3]]));
    }
    out
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max - 3).collect();
        format!("{cut}...")
    }
}

fn describe_data(data: &DataSet) -> String {
    let source = match &data.source {
        Source::Csv {
            path,
            column,
            label,
            ..
        } => format!(
            "csv \"{path}\", {} column \"{column}\"",
            if *label { "label" } else { "target" }
        ),
        Source::Mnist { dir } => format!("mnist \"{dir}\""),
        Source::Series {
            path,
            column,
            window,
            horizon,
        } => format!("series \"{path}\" column \"{column}\", window {window}, horizon {horizon}"),
        Source::Text { path, seq } => format!("text \"{path}\", sequences of {seq}"),
        Source::SyntheticLinear { n, features, .. } => {
            format!(
                "synthetic.linear, {n} rows of {features} feature{}",
                if *features == 1 { "" } else { "s" }
            )
        }
        Source::SyntheticBlobs {
            n,
            classes,
            features,
            ..
        } => format!("synthetic.blobs, {n} rows of {features} features in {classes} classes"),
    };
    let input = match &data.input {
        Some(shape) => format!("input {shape}"),
        None => "input shape known when the data is read".to_string(),
    };
    let task = match &data.task {
        Task::Classification { classes: Some(c) } => format!("{} classes", c),
        Task::Classification { classes: None } => {
            "classes counted when the data is read".to_string()
        }
        Task::Regression => "regression".to_string(),
    };
    format!("{source}; {input}; {task}")
}

fn describe_optimizer(optimizer: &Optimizer) -> String {
    match optimizer {
        Optimizer::Sgd { lr, momentum } => format!("sgd(lr = {lr}, momentum = {momentum})"),
        Optimizer::Adam { lr, betas } => {
            format!("adam(lr = {lr}, betas = [{}, {}])", betas.0, betas.1)
        }
        Optimizer::RmsProp { lr, alpha } => format!("rmsprop(lr = {lr}, alpha = {alpha})"),
        Optimizer::LeastSquares { l2 } => format!("least_squares(l2 = {l2})"),
        Optimizer::Exhaustive { from, to, step } => {
            format!("exhaustive(from = {from}, to = {to}, step = {step})")
        }
    }
}

/// The run's memory estimate, when every size is known, without the data
/// (`dl check` reads none) and the program (which depends on the machine's
/// cores, not on the file): for a batch size, the whole of one step and of
/// an evaluation chunk; for the full batch, the fixed part and what each
/// training row adds.
fn describe_memory(graph: &crate::ir::Graph, run: &TrainRun) -> Option<String> {
    use crate::train::memory::{before_data, bytes};
    Some(match run.batch {
        Batch::Size(b) => {
            let e = before_data(graph, run, b.max(1) as u64)?;
            format!(
                "memory about {} plus the data and the program",
                bytes(e.total() - e.program)
            )
        }
        Batch::Full => {
            let e = before_data(graph, run, 1)?;
            format!(
                "memory about {} plus the data and the program, and {} per training row",
                bytes(e.total() - e.program - e.step),
                bytes(e.step)
            )
        }
    })
}

fn describe_train(run: &TrainRun, program: &Program) -> String {
    let mut parts = Vec::new();
    match &run.graph {
        Some(graph) => {
            parts.push(format!("input {}", graph.nodes[0].shape));
            parts.push(format!("output {}", graph.nodes[graph.output].shape));
            parts.push(format!("{} parameters", format_count(&graph.param_count())));
        }
        None => {
            let known = program
                .data
                .iter()
                .any(|d| d.name == run.data && d.input.is_some());
            if !known {
                parts.push("shapes bound when the data is read".to_string());
            }
        }
    }
    parts.push(format!("loss {}", loss_name(run.loss)));
    parts.push(describe_optimizer(&run.optimizer));
    if !matches!(
        run.optimizer,
        Optimizer::LeastSquares { .. } | Optimizer::Exhaustive { .. }
    ) {
        parts.push(format!(
            "{} epoch{}",
            run.epochs,
            if run.epochs == 1 { "" } else { "s" }
        ));
        parts.push(match run.batch {
            Batch::Size(b) => format!("batch {b}"),
            Batch::Full => "full batch".to_string(),
        });
        if let Some(memory) = run.graph.as_ref().and_then(|g| describe_memory(g, run)) {
            parts.push(memory);
        }
    }
    if let Some(clip) = run.clip {
        parts.push(format!("clip {clip}"));
    }
    if !run.metrics.is_empty() {
        let names: Vec<&str> = run.metrics.iter().map(|m| metric_label(*m)).collect();
        parts.push(format!("metrics {}", names.join(", ")));
    }
    if let Some(save) = &run.save {
        parts.push(match run.save_every {
            Some(k) => format!(
                "saves \"{save}\" every {k} epoch{}",
                if k == 1 { "" } else { "s" }
            ),
            None => format!("saves \"{save}\""),
        });
    }
    parts.join(", ")
}

fn count_json(count: &Dim) -> Value {
    match count.as_known() {
        Some(n) => json!(n),
        None => json!(count.to_string()),
    }
}

/// A diagnostic as JSON: severity, code, message, the 1-based line and
/// column of its primary label, every label, notes and help.
pub fn diagnostic_json(d: &Diagnostic, source: &str) -> Value {
    let (line, column) = crate::span::line_column(source, d.span().start as usize);
    json!({
        "severity": d.severity,
        "code": d.code,
        "message": d.message,
        "line": line,
        "column": column,
        "labels": d.labels.iter().map(|l| {
            let (line, column) = crate::span::line_column(source, l.span.start as usize);
            json!({"line": line, "column": column, "start": l.span.start, "end": l.span.end, "message": l.message, "primary": l.primary})
        }).collect::<Vec<_>>(),
        "notes": d.notes,
        "help": d.help,
    })
}

/// The JSON form of `dl check`'s output, diagnostics included.
pub fn render_json(
    program: Option<&Program>,
    diagnostics: &[Diagnostic],
    source: &str,
    expand: bool,
) -> Value {
    let diagnostics: Vec<Value> = diagnostics
        .iter()
        .map(|d| diagnostic_json(d, source))
        .collect();
    let Some(program) = program else {
        return json!({"models": [], "data": [], "trains": [], "diagnostics": diagnostics});
    };
    let models: Vec<Value> = program
        .models
        .iter()
        .map(|m| {
            let layers: Vec<Value> = rows(&m.graph, expand)
                .iter()
                .map(|r| json!({"path": r.path, "op": r.op, "output": r.shape, "params": count_json(&r.params), "depth": r.depth}))
                .collect();
            json!({
                "name": m.name,
                "kind": if m.is_cell { "cell" } else { "model" },
                "input": m.graph.nodes.first().map(|n| n.shape.to_string()),
                "output": m.graph.nodes.get(m.graph.output).map(|n| n.shape.to_string()),
                "layers": layers,
                "total_params": count_json(&m.graph.param_count()),
            })
        })
        .collect();
    let data: Vec<Value> = program.data.iter().map(|d| json!({"name": d.name, "description": describe_data(d), "input": d.input.as_ref().map(|s| s.to_string())})).collect();
    let trains: Vec<Value> = program
        .trains
        .iter()
        .enumerate()
        .map(|(i, t)| {
            json!({
                "run": i + 1,
                "model": t.model,
                "data": t.data,
                "loss": t.loss,
                "optimizer": describe_optimizer(&t.optimizer),
                "input": t.graph.as_ref().map(|g| g.nodes[0].shape.to_string()),
                "output": t.graph.as_ref().map(|g| g.nodes[g.output].shape.to_string()),
                "total_params": t.graph.as_ref().map(|g| count_json(&g.param_count())),
            })
        })
        .collect();
    json!({"models": models, "data": data, "trains": trains, "diagnostics": diagnostics})
}
