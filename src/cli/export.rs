//! `dl export`: a model out of `dl`, as an ONNX file or a PyTorch folder.

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
    /// A folder with a PyTorch module (`model.py`) and its weights (`weights.safetensors`).
    Torch,
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
    /// The file to write (a folder for `--format torch`).
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
    let files = match options.format {
        ExportFormat::Onnx => {
            let bytes = dl::export::onnx::export(&chosen.graph, &chosen.store, &chosen.name)
                .map_err(|e| cannot(session, e))?;
            vec![(options.output.clone(), bytes)]
        }
        ExportFormat::Torch => torch_files(session, &checked, options, &chosen)?,
    };
    if options.format == ExportFormat::Torch {
        std::fs::create_dir_all(&options.output).map_err(|e| {
            eprintln!(
                "error: cannot create the folder {}: {e}",
                options.output.display()
            );
            Exit::Usage
        })?;
    }
    for (written, (path, bytes)) in files.iter().enumerate() {
        if let Err(e) = dl::train::checkpoint::write_atomically(path, bytes) {
            eprintln!("error: cannot write {}: {e}", path.display());
            // An export is whole or absent: the files it already wrote go.
            for (earlier, _) in &files[..written] {
                let _ = std::fs::remove_file(earlier);
            }
            return Err(Exit::Usage);
        }
    }
    let tensors = chosen.store.order.len();
    let weights = match &options.weights {
        Some(w) => format!("the weights of {}", w.display()),
        None => "its seeded initial weights".to_string(),
    };
    let what = match options.format {
        ExportFormat::Onnx => format!("ONNX opset {}", dl::export::onnx::OPSET),
        ExportFormat::Torch => "a PyTorch module".to_string(),
    };
    for (path, bytes) in &files {
        println!("wrote {} ({} bytes)", path.display(), bytes.len());
    }
    println!(
        "{} as {what}, with {weights} ({tensors} tensors)",
        chosen.title
    );
    Ok(())
}

/// The files of a PyTorch export: `model.py` and `weights.safetensors`,
/// and for a `train` block's model `train.py` and `data.safetensors`.
fn torch_files(
    session: &Session,
    checked: &dl::check::Checked,
    options: &ExportOptions,
    chosen: &super::model::Chosen,
) -> Result<Vec<(PathBuf, Vec<u8>)>, Exit> {
    let files = module_files(session, options, chosen).map_err(|e| cannot(session, e))?;
    let Some(index) = chosen.run else {
        return Ok(files);
    };
    let prepared = session.prepare(checked, index)?;
    let origin = origin(session);
    // The checker has matched every run with its data set.
    let Some(set) = checked
        .program
        .data
        .iter()
        .find(|d| d.name == prepared.run.data)
    else {
        return Ok(files);
    };
    let base_dir = session.base_dir();
    let info = dl::export::torch_train::RunInfo {
        run: &prepared.run,
        number: index + 1,
        origin: &origin,
        graph: &chosen.graph,
        spec: &chosen.spec,
        data: set,
        loaded: &prepared.data,
        base_dir: &base_dir,
    };
    let Some(script) = dl::export::torch_train::script(&info) else {
        println!(
            "note: no train.py: the optimizer of run {} is closed-form, which PyTorch has no counterpart for",
            index + 1
        );
        return Ok(files);
    };
    let data = dl::export::torch_train::data_bytes(set, &prepared.data).map_err(|e| {
        eprintln!("error: cannot write the data: {e}");
        Exit::Program
    })?;
    let dir = &options.output;
    let mut files = files;
    files.push((dir.join("train.py"), script.into_bytes()));
    files.push((dir.join("data.safetensors"), data));
    Ok(files)
}

/// The program's file name, for the exported files' docstrings.
fn origin(session: &Session) -> String {
    session.file.file_name().map_or_else(
        || session.file.display().to_string(),
        |f| f.to_string_lossy().into_owned(),
    )
}

/// `model.py` and `weights.safetensors`.
fn module_files(
    session: &Session,
    options: &ExportOptions,
    chosen: &super::model::Chosen,
) -> Result<Vec<(PathBuf, Vec<u8>)>, dl::export::onnx::ExportError> {
    let origin = origin(session);
    let model = dl::export::torch::export(&chosen.graph, &chosen.store, &chosen.name, &origin)?;
    let weights = dl::export::torch::state_bytes(&model.state).map_err(|e| {
        dl::export::onnx::ExportError {
            path: chosen.name.clone(),
            span: chosen.graph.nodes[chosen.graph.output].span,
            message: format!("internal error: {e}"),
        }
    })?;
    let dir = &options.output;
    Ok(vec![
        (dir.join("model.py"), model.source.into_bytes()),
        (dir.join("weights.safetensors"), weights),
    ])
}

/// Reports why a model cannot be exported (E0901).
fn cannot(session: &Session, e: dl::export::onnx::ExportError) -> Exit {
    let d = Diagnostic::error(
        Code::E0901,
        format!("`{}` cannot be exported: {}", e.path, e.message),
        e.span,
        "this cannot be exported",
    );
    session.report(&[d]);
    Exit::Program
}
