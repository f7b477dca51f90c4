//! `dl export`: a model out of `dl`, as an ONNX file.

use super::model::Choice;
use super::{Exit, Session};
use clap::{Args, ValueEnum};
use dl::diagnostic::{Code, Diagnostic};
use std::path::PathBuf;

/// The formats `dl export` writes.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// An ONNX model (opset 17), for ONNX Runtime, Netron and the rest.
    Onnx,
}

/// The options of `dl export`.
#[derive(Args)]
pub struct ExportOptions {
    /// The weights (a .safetensors checkpoint); without, the seeded initial weights.
    #[arg(long, value_name = "W")]
    pub weights: Option<PathBuf>,
    /// Export the K-th `train` block's model (default: the first), bound to its data's shapes.
    #[arg(long, value_name = "K", conflicts_with = "model")]
    pub run: Option<usize>,
    /// Export this model on its own (its declared input shape must be concrete).
    #[arg(long, value_name = "M")]
    pub model: Option<String>,
    /// What to write.
    #[arg(long, value_enum, default_value_t = ExportFormat::Onnx)]
    pub format: ExportFormat,
    /// The file to write.
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,
}

/// Runs `dl export`.
pub fn run(session: &Session, options: &ExportOptions) -> Result<(), Exit> {
    let checked = session.check()?;
    let choice = Choice {
        run: options.run,
        model: options.model.as_deref(),
        weights: options.weights.as_deref(),
    };
    let chosen = choice.select(session, &checked)?;
    let bytes = match options.format {
        ExportFormat::Onnx => dl::export::onnx::export(&chosen.graph, &chosen.store, &chosen.name)
            .map_err(|e| {
                let d = Diagnostic::error(
                    Code::E0901,
                    format!("`{}` cannot be exported: {}", e.path, e.message),
                    e.span,
                    "this cannot be exported",
                );
                session.report(&[d]);
                Exit::Program
            })?,
    };
    dl::train::checkpoint::write_atomically(&options.output, &bytes).map_err(|e| {
        eprintln!("error: cannot write {}: {e}", options.output.display());
        Exit::Usage
    })?;
    let tensors = chosen.store.order.len();
    let weights = match &options.weights {
        Some(w) => format!("the weights of {}", w.display()),
        None => "its seeded initial weights".to_string(),
    };
    println!(
        "wrote {} ({} bytes): {} as ONNX opset {}, with {weights} ({tensors} tensors)",
        options.output.display(),
        bytes.len(),
        chosen.title,
        dl::export::onnx::OPSET,
    );
    Ok(())
}
