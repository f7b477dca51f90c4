//! `:backward`: the loss of one sample against its label, and the gradient
//! norm of every layer's output and every parameter.

use super::cursor::{Cursor, Label, NO_INPUT, run_error};
use super::render;
use crate::autodiff::Tape;
use crate::check::loss_name;
use crate::data::Targets;
use crate::interp::{Mode, Stepper};
use crate::ir::Loss;
use crate::train::loss;
use ndarray::Array2;

/// The loss `:backward` uses: the train block's, else cross-entropy for a
/// class label and mean squared error for values.
fn loss_for(cursor: &Cursor, label: &Label) -> Loss {
    cursor.loss.unwrap_or(match label {
        Label::Class(_) | Label::Sequence(_) => Loss::CrossEntropy,
        Label::Values(_) => Loss::Mse,
    })
}

/// `:backward` on `cursor`'s input: a recorded forward pass in evaluation
/// mode, the loss against the input's label, and the gradient norm of every
/// layer's output and every parameter.
pub fn backward(cursor: &Cursor) -> Result<String, String> {
    let input = cursor.input.as_ref().ok_or(NO_INPUT)?;
    let label = input
        .label
        .as_ref()
        .ok_or("the input has no label: `:backward` needs one, so use `:input DATA.PART K`")?;
    let kind = loss_for(cursor, label);
    let targets = match label {
        Label::Class(c) => Targets::Classes(vec![*c]),
        Label::Sequence(ids) => Targets::Sequences(
            Array2::from_shape_vec((1, ids.len()), ids.clone()).expect("one row"),
        ),
        Label::Values(v) => {
            Targets::Values(Array2::from_shape_vec((1, v.len()), v.clone()).expect("one row"))
        }
    };
    if matches!(
        (kind, label),
        (Loss::CrossEntropy | Loss::Bce, Label::Values(_))
    ) {
        return Err(format!(
            "the loss is {} but the label is not a class",
            loss_name(kind)
        ));
    }
    let mut tape = Tape::new();
    let mut stepper = Stepper::new(
        &cursor.graph,
        &cursor.store,
        input.tensor.clone(),
        &mut tape,
        Mode::Eval,
        0,
    );
    stepper.allow_non_finite();
    let output = stepper
        .run(&mut tape)
        .map_err(|e| run_error(&e).trim_end().to_string())?;
    fits(kind, label, tape.value(output).shape())?;
    let loss_var = loss::record(&mut tape, &cursor.graph, &stepper, output, kind, &targets);
    let loss_value = tape.scalar(loss_var);
    let grads = tape.backward(loss_var);
    let source = if cursor.loss.is_some() {
        "the train block's loss"
    } else {
        "no train block uses the model"
    };
    let mut out = format!(
        "loss {} = {} against label {label} ({source})\ngradient norms of the layers' outputs:\n",
        loss_name(kind),
        render::number(loss_value as f64)
    );
    let mut skipped = false;
    let mut rows = Vec::new();
    for (id, node) in cursor.graph.nodes.iter().enumerate() {
        if !cursor.is_layer(id) {
            continue;
        }
        let norm = stepper
            .value_of(id)
            .and_then(|v| grads.get(v))
            .map(|g| render::number(render::norm(g)));
        skipped |= norm.is_none() && id != 0;
        rows.push((
            format!("#{id} {}", node.path),
            norm.unwrap_or_else(|| "-".to_string()),
        ));
    }
    out.push_str(&render::aligned(&rows));
    if skipped {
        out.push_str("  (-: no gradient flows there, e.g. a final softmax fused into the loss)\n");
    }
    out.push_str("gradient norms of the parameters:\n");
    let rows: Vec<(String, String)> = cursor
        .store
        .trainable()
        .map(|name| {
            let norm = grads
                .get(stepper.param_vars()[name])
                .map(|g| render::number(render::norm(g)));
            (name.to_string(), norm.unwrap_or_else(|| "-".to_string()))
        })
        .collect();
    out.push_str(&render::aligned(&rows));
    Ok(out)
}

/// Whether `label` can be scored against an output of `shape` (`[1, ..]`)
/// with `kind`: class ids below the output's width, one target per output
/// otherwise. Says what does not fit.
fn fits(kind: Loss, label: &Label, shape: &[usize]) -> Result<(), String> {
    let width = shape.last().copied().unwrap_or(1);
    let outputs: usize = shape.iter().product();
    let too_large = |c: u32| {
        format!(
            "label {c} is not a class of this model: its output has {width} value{} per sample \
             (classes 0..{}); the model does not fit the data's labels",
            if width == 1 { "" } else { "s" },
            width.saturating_sub(1)
        )
    };
    match (kind, label) {
        (Loss::CrossEntropy, Label::Class(c)) if *c as usize >= width => Err(too_large(*c)),
        (Loss::CrossEntropy, Label::Sequence(ids)) => {
            match ids.iter().find(|&&c| c as usize >= width) {
                Some(&c) => Err(too_large(c)),
                None if outputs != ids.len() * width => Err(format!(
                    "the label has {} positions but the model gives {outputs} values ({width} per position)",
                    ids.len()
                )),
                None => Ok(()),
            }
        }
        (Loss::Bce, Label::Class(c)) if *c > 1 || outputs != 1 => Err(format!(
            "binary cross-entropy needs one output and a label 0 or 1; the model gives {outputs} and the label is {c}"
        )),
        (_, Label::Values(v)) if v.len() != outputs => Err(format!(
            "the label has {} value{} but the model gives {outputs}",
            v.len(),
            if v.len() == 1 { "" } else { "s" }
        )),
        _ => Ok(()),
    }
}
