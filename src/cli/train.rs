//! `dl train`: load the data, check the program against it, train, report.

use super::{Exit, Session};
use dl::check::metric_label;
use dl::diagnostic::{Code, Diagnostic};
use dl::interp::ParamStore;
use dl::ir;
use dl::report::format_count;
use dl::run::Prepared;
use dl::train::metrics::Reported;
use dl::train::{Evaluation, Event, TrainError};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Options of `dl train` and `dl eval`.
pub struct TrainOptions {
    /// Start from (or, for `dl eval`, use) these weights instead of fresh ones.
    pub weights: Option<std::path::PathBuf>,
    /// Evaluate on the test part only, without training.
    pub eval_only: bool,
    /// Only this run (1-based).
    pub run: Option<usize>,
    /// Override every run's epoch count.
    pub epochs: Option<i64>,
    /// One JSON object per line instead of text and bars.
    pub json: bool,
}

/// Runs `dl train`.
pub fn run(session: &Session, options: &TrainOptions) -> Result<(), Exit> {
    session.json_errors.set(options.json);
    super::allocator::report_as_json(options.json);
    stop_on_signals();
    let checked = session.check()?;
    let program = &checked.program;
    if program.trains.is_empty() {
        session.fail(&format!("{} has no `train` block", session.file.display()));
        return Err(Exit::Program);
    }
    let selected: Vec<usize> = match options.run {
        Some(k) => vec![session.run_index(program, k)?],
        None => (0..program.trains.len()).collect(),
    };
    let base_dir = session.base_dir();
    for index in selected {
        let Prepared {
            run,
            graph,
            data: loaded,
            mut store,
        } = session.prepare(&checked, index)?;
        if let Some(weights) = &options.weights {
            dl::train::checkpoint::load(&mut store, weights).map_err(|e| {
                session.fail(&format!("cannot use the weights: {e}"));
                Exit::Program
            })?;
        }
        if options.eval_only {
            evaluate_one(session, index + 1, &run, &graph, &loaded, &store, options)?;
            continue;
        }
        train_one(
            session,
            index + 1,
            &run,
            &graph,
            &loaded,
            &mut store,
            options,
        )?;
        if let Some(save) = &run.save {
            let path = base_dir.join(save);
            dl::train::checkpoint::save(&store, Some(&loaded.input_spec()), &path).map_err(
                |e| {
                    session.fail(&format!("cannot save the checkpoint: {e}"));
                    Exit::Program
                },
            )?;
            if !options.json {
                println!("saved {} tensors to {}", store.order.len(), path.display());
            }
        }
    }
    Ok(())
}

fn evaluate_one(
    session: &Session,
    number: usize,
    run: &ir::TrainRun,
    graph: &ir::Graph,
    data: &dl::data::Loaded,
    store: &ParamStore,
    options: &TrainOptions,
) -> Result<(), Exit> {
    let (part, name) = match (&data.test, &data.val) {
        (Some(test), _) => (test, "test"),
        (None, Some(val)) => (val, "val"),
        (None, None) => (&data.train, "train"),
    };
    let evaluation = dl::train::evaluate(graph, store, part, data, run).map_err(|e| {
        session.fail(&e.to_string());
        Exit::Program
    })?;
    if options.json {
        let mut line = json!({"event": "eval", "run": number, "part": name, "loss": evaluation.loss, "metrics": metrics_json(&evaluation)});
        add_baseline(&mut line, "baseline", Some(&evaluation));
        println!("{line}");
    } else {
        println!(
            "run #{number} {} on {}.{name}: loss {:.4}{}",
            run.model,
            run.data,
            evaluation.loss,
            metrics_text(&evaluation)
        );
        print_notes(&evaluation);
        if let Some(confusion) = &evaluation.confusion {
            print!("{}", confusion_text(&confusion.counts));
        }
    }
    Ok(())
}

fn print_notes(evaluation: &Evaluation) {
    for (metric, reported) in &evaluation.metrics {
        if let Some(note) = &reported.note {
            println!("  {}: {note}", metric_label(*metric));
        }
    }
}

fn train_one(
    session: &Session,
    number: usize,
    run: &ir::TrainRun,
    graph: &ir::Graph,
    data: &dl::data::Loaded,
    store: &mut ParamStore,
    options: &TrainOptions,
) -> Result<(), Exit> {
    let epochs = options.epochs.unwrap_or(run.epochs);
    let started = Instant::now();
    let estimate = dl::run::run_memory(run, graph, data);
    if !options.json {
        let part = |p: &Option<dl::data::Part>, what: &str| {
            p.as_ref()
                .map(|p| {
                    format!(
                        ", {} {what}",
                        format_count(&dl::ir::dim::Dim::known(p.rows() as i64))
                    )
                })
                .unwrap_or_default()
        };
        let memory = estimate
            .map(|e| format!("; memory about {}", dl::train::memory::bytes(e.total())))
            .unwrap_or_default();
        println!(
            "train #{number}: {} on {} ({} parameters; {} training{}{} samples{memory})",
            run.model,
            run.data,
            format_count(&dl::ir::dim::Dim::known(store.count() as i64)),
            format_count(&dl::ir::dim::Dim::known(data.train.rows() as i64)),
            part(&data.val, "validation"),
            part(&data.test, "test"),
        );
        println!(
            "{}",
            dl::report::render_graph("model", &run.model, graph, false)
        );
    } else {
        let rows = |p: &Option<dl::data::Part>| p.as_ref().map(|p| p.rows());
        let line = json!({"event": "start", "run": number, "model": run.model, "data": run.data, "parameters": store.count(), "rows": {"train": data.train.rows(), "val": rows(&data.val), "test": rows(&data.test)}, "memory_estimate": estimate.map(|e| e.total())});
        println!("{line}");
    }
    let mut bar: Option<ProgressBar> = None;
    let json = options.json;
    let mut on_event = |event: Event| match event {
        Event::EpochStart { epoch, batches } if !json => {
            let b = ProgressBar::new(batches as u64);
            b.set_style(
                ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg}")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            b.set_prefix(format!("{epoch}/{epochs}"));
            bar = Some(b);
        }
        Event::Batch {
            running_loss,
            samples,
            seconds,
        } => {
            if let Some(b) = &bar {
                b.inc(1);
                b.set_message(format!(
                    "loss {running_loss:.4}  {:.0} samples/s",
                    samples as f64 / seconds.max(1e-9)
                ));
            }
        }
        Event::EpochEnd(summary) => {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
            if json {
                let mut line = json!({"event": "epoch", "run": number, "epoch": summary.epoch, "train_loss": summary.train_loss});
                line["val_loss"] = summary.val.as_ref().map_or(Value::Null, |v| json!(v.loss));
                line["val"] = summary.val.as_ref().map_or(Value::Null, metrics_json);
                add_baseline(&mut line, "val_baseline", summary.val.as_ref());
                println!("{line}");
            } else {
                let val = summary
                    .val
                    .as_ref()
                    .map(|v| format!(", val loss {:.4}{}", v.loss, metrics_text(v)))
                    .unwrap_or_default();
                println!(
                    "epoch {}/{epochs}: train loss {:.4}{val}",
                    summary.epoch, summary.train_loss
                );
            }
        }
        Event::EpochStart { .. } => {}
        Event::Solved {
            rows,
            params,
            condition,
        } => {
            if json {
                println!(
                    "{}",
                    json!({"event": "solved", "run": number, "rows": rows, "params": params, "condition": condition})
                );
            } else {
                println!(
                    "least squares: {} samples, {} parameters, condition number {condition:.1} \
                     (columns scaled to unit length)",
                    format_count(&dl::ir::dim::Dim::known(rows as i64)),
                    format_count(&dl::ir::dim::Dim::known(params as i64)),
                );
            }
        }
        Event::GridStart { points } if !json => {
            let b = ProgressBar::new(points);
            b.set_style(
                ProgressStyle::with_template(
                    "exhaustive [{bar:30}] {human_pos}/{human_len} points  {eta} left",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar = Some(b);
        }
        Event::GridStart { .. } => {}
        Event::GridProgress { done } => {
            if let Some(b) = &bar {
                b.set_position(done);
            }
        }
        Event::GridDone { points, best_loss } => {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
            if json {
                println!(
                    "{}",
                    json!({"event": "grid", "run": number, "points": points, "best_loss": best_loss})
                );
            } else {
                println!(
                    "exhaustive: best of {} grid points has training loss {best_loss:.6}",
                    format_count(&dl::ir::dim::Dim::known(points as i64))
                );
            }
        }
        Event::Fitted { train, val } => {
            if json {
                let mut line = json!({"event": "fit", "run": number, "train_loss": train.loss, "train": metrics_json(&train)});
                line["val_loss"] = val.as_ref().map_or(Value::Null, |v| json!(v.loss));
                line["val"] = val.as_ref().map_or(Value::Null, metrics_json);
                println!("{line}");
            } else {
                println!("train: loss {:.4}{}", train.loss, metrics_text(&train));
                if let Some(val) = &val {
                    println!("val: loss {:.4}{}", val.loss, metrics_text(val));
                }
            }
        }
    };
    // `save_every = K`: the checkpoint after every K-th epoch, at the
    // `save` path (the final one replaces it).
    let save_path = run.save.as_ref().map(|s| session.base_dir().join(s));
    let mut after_epoch = |epoch: i64, store: &ParamStore| -> Result<(), String> {
        let (Some(every), Some(path)) = (run.save_every, &save_path) else {
            return Ok(());
        };
        if epoch % every != 0 || epoch == epochs {
            return Ok(());
        }
        dl::train::checkpoint::save(store, Some(&data.input_spec()), path)
            .map_err(|e| format!("cannot save the checkpoint of epoch {epoch}: {e}"))
    };
    let test = match dl::train::train(
        run,
        graph,
        data,
        epochs,
        store,
        &mut on_event,
        &mut after_epoch,
    ) {
        Err(TrainError::Interrupted { epoch, step }) => {
            return Err(interrupted(session, run, data, store, (epoch, step), json));
        }
        result => result.map_err(|e| {
            report_train_error(session, &e, run.optimizer_span);
            Exit::Program
        })?,
    };
    let seconds = started.elapsed().as_secs_f64();
    let small = (1..=MAX_PRINTED_PARAMS).contains(&store.count());
    if json {
        let mut line = json!({"event": "end", "run": number, "test": test.as_ref().map_or(Value::Null, metrics_json), "test_loss": test.as_ref().map(|t| t.loss), "seconds": seconds});
        if small {
            line["params"] = params_json(store);
        }
        add_baseline(&mut line, "test_baseline", test.as_ref());
        println!("{line}");
    } else {
        if let Some(test) = &test {
            println!("test: loss {:.4}{}", test.loss, metrics_text(test));
            print_notes(test);
            if let Some(confusion) = &test.confusion {
                print!("{}", confusion_text(&confusion.counts));
            }
        }
        if small {
            print!("{}", params_text(store));
        }
        println!("finished in {seconds:.1} s");
    }
    Ok(())
}

/// Models with at most this many learnable scalars have them printed after
/// training, so that fits can be compared by eye.
const MAX_PRINTED_PARAMS: usize = 20;

/// `name [shape] = [v, v, ...]` for each learnable tensor.
fn params_text(store: &ParamStore) -> String {
    let mut out = String::from("parameters:\n");
    for name in store.trainable() {
        let value = store.get(name);
        let shape: Vec<String> = value.shape().iter().map(usize::to_string).collect();
        let values: Vec<String> = value.iter().map(|v| significant(*v)).collect();
        out.push_str(&format!(
            "  {name} [{}] = [{}]\n",
            shape.join(", "),
            values.join(", ")
        ));
    }
    out
}

/// A number with six significant digits, without trailing zeros.
fn significant(value: f32) -> String {
    let value = f64::from(value);
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    let magnitude = value.abs().log10().floor() as i32;
    if !(-4..6).contains(&magnitude) {
        return format!("{value:.5e}");
    }
    let decimals = (5 - magnitude).max(0) as usize;
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// The learnable tensors as nested JSON arrays, by name.
fn params_json(store: &ParamStore) -> Value {
    let mut map = Map::new();
    for name in store.trainable() {
        let value = store.get(name);
        map.insert(name.to_string(), nested(value.view()));
    }
    Value::Object(map)
}

fn nested(value: ndarray::ArrayViewD<'_, f32>) -> Value {
    if value.ndim() == 0 {
        return shortest(value.iter().next().copied().unwrap_or(0.0));
    }
    Value::Array(value.outer_iter().map(nested).collect())
}

/// A float32 as the shortest decimal that reads back to it (0.23, not
/// 0.23000000417232513).
fn shortest(value: f32) -> Value {
    format!("{value}")
        .parse::<f64>()
        .map_or(Value::Null, |v| json!(v))
}

/// Makes Ctrl-C and SIGTERM ask the training loop to stop after its
/// current step; a second one ends the program at once.
fn stop_on_signals() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let handler = || {
            if dl::train::interrupt::requested() {
                std::process::exit(130);
            }
            dl::train::interrupt::request();
        };
        // Without a handler (none can be installed) a signal ends the
        // program as it would any other: nothing to report.
        let _ = ctrlc::set_handler(handler);
    });
}

/// Where the weights of an interrupted run go: beside its `save` path,
/// `runs/model.safetensors` giving `runs/model.interrupted.safetensors`.
pub fn interrupted_path(save: &Path) -> PathBuf {
    let stem = save.file_stem().unwrap_or_default().to_string_lossy();
    let name = match save.extension() {
        Some(ext) => format!("{stem}.interrupted.{}", ext.to_string_lossy()),
        None => format!("{stem}.interrupted"),
    };
    save.with_file_name(name)
}

/// Saves the weights of the last whole step of an interrupted run next to
/// its `save` path (when it has one), says so, and gives exit code 130.
fn interrupted(
    session: &Session,
    run: &ir::TrainRun,
    data: &dl::data::Loaded,
    store: &ParamStore,
    (epoch, step): (i64, usize),
    json: bool,
) -> Exit {
    let saved = run.save.as_ref().map(|save| {
        let path = interrupted_path(&session.base_dir().join(save));
        dl::train::checkpoint::save(store, Some(&data.input_spec()), &path).map(|()| path)
    });
    let at = format!("interrupted during epoch {epoch}, after step {step}");
    match &saved {
        Some(Ok(path)) => {
            if json {
                println!(
                    "{}",
                    json!({"event": "interrupted", "epoch": epoch, "step": step, "saved": path.display().to_string()})
                );
            }
            eprintln!(
                "{at}: the weights are saved to {} (start from them with `--weights {}`)",
                path.display(),
                path.display()
            );
        }
        Some(Err(e)) => {
            session.fail(&format!("{at}, and the weights could not be saved: {e}"));
        }
        None => {
            if json {
                println!(
                    "{}",
                    json!({"event": "interrupted", "epoch": epoch, "step": step, "saved": null})
                );
            }
            eprintln!("{at}: nothing is saved (the train block has no `save =`)");
        }
    }
    Exit::Interrupted
}

fn report_train_error(session: &Session, error: &TrainError, run_optimizer_span: dl::span::Span) {
    match error {
        TrainError::NonFinite { path, span, what, epoch, step } => session.report(&[Diagnostic::error(
            Code::E0801,
            format!("training diverged: the {what} of `{path}` is NaN or infinite"),
            *span,
            format!("first non-finite {what} here, at epoch {epoch}, step {step}"),
        )
        .with_note("layers run in order; this is the first whose values stopped being finite numbers")
        .with_help("lower the learning rate, add `clip = 1.0` to the train block, or check the data for extreme values")]),
        TrainError::RankDeficient(deficient) => {
            let mut d = Diagnostic::error(
                Code::E0803,
                format!("least squares has no unique solution: {deficient}"),
                run_optimizer_span,
                "fitted by least squares here",
            );
            for group in &deficient.groups {
                let names: Vec<String> = group.iter().map(|c| c.describe()).collect();
                d = d.with_note(if names.len() == 1 {
                    format!("{} has no effect on the output: its column is zero", names[0])
                } else {
                    format!("these columns are linearly dependent: {}", join_and(&names))
                });
            }
            if deficient.rows < deficient.params {
                d = d.with_note(format!(
                    "the training part has only {} samples for {} parameters",
                    deficient.rows, deficient.params
                ));
            }
            let only_intercepts = deficient
                .groups
                .iter()
                .all(|g| g.iter().all(|c| c.intercept));
            session.report(&[d.with_help(if only_intercepts {
                "`l2` does not penalise constant columns (intercepts), so it cannot separate them: \
                 remove one of the constant terms (a second bias, or a feature that is constant in the training data)"
            } else {
                "add a ridge penalty, e.g. `optimizer = least_squares(l2 = 0.1)`, or remove one of the dependent columns"
            })]);
        }
        other => session.fail(&format!("training stopped: {other}")),
    }
}

/// `a`, `a and b`, `a, b and c`.
fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

fn metric_value(reported: &Reported) -> Value {
    reported.value.map_or(Value::Null, |v| json!(v))
}

fn metrics_json(evaluation: &Evaluation) -> Value {
    let mut map = Map::new();
    for (metric, reported) in &evaluation.metrics {
        map.insert(metric_label(*metric).to_string(), metric_value(reported));
    }
    Value::Object(map)
}

/// Adds `key: {"name", "measure", "value"}` to the JSON object `line` when
/// the evaluation has a baseline.
fn add_baseline(line: &mut Value, key: &str, evaluation: Option<&Evaluation>) {
    if let Some(b) = evaluation.and_then(|e| e.baseline.as_ref()) {
        line[key] = json!({"name": b.name, "measure": b.measure, "value": b.value});
    }
}

/// The metrics, then the baseline to compare them with, as text.
fn metrics_text(evaluation: &Evaluation) -> String {
    let baseline = evaluation
        .baseline
        .as_ref()
        .map(|b| format!("; {} {} {:.4}", b.name, b.measure, b.value))
        .unwrap_or_default();
    format!("{}{baseline}", metric_list(evaluation))
}

fn metric_list(evaluation: &Evaluation) -> String {
    let multi = evaluation
        .confusion
        .as_ref()
        .is_some_and(|c| c.counts.len() > 2);
    evaluation
        .metrics
        .iter()
        .map(|(metric, reported)| {
            let value = reported
                .value
                .map_or("undefined".to_string(), |v| format!("{v:.4}"));
            let macro_note = if multi && !matches!(metric, ir::Metric::Accuracy) {
                " (macro)"
            } else {
                ""
            };
            format!(", {} {value}{macro_note}", metric_label(*metric))
        })
        .collect()
}

fn confusion_text(counts: &[Vec<u64>]) -> String {
    let width = counts
        .iter()
        .flatten()
        .map(|c| c.to_string().len())
        .max()
        .unwrap_or(1)
        .max(3);
    let mut out =
        String::from("confusion matrix (rows: actual class, columns: predicted class):\n");
    out.push_str(&format!("  {:>5}", ""));
    for c in 0..counts.len() {
        out.push_str(&format!(" {c:>width$}"));
    }
    out.push('\n');
    for (actual, row) in counts.iter().enumerate() {
        out.push_str(&format!("  {actual:>5}"));
        for count in row {
            out.push_str(&format!(" {count:>width$}"));
        }
        out.push('\n');
    }
    out
}
