//! Checkpoints in the safetensors format: every tensor of a [`ParamStore`]
//! (parameters and state such as batchnorm running statistics) under its
//! path name relative to the model (`conv2d_0.weight` for the store's
//! `LeNet5.conv2d_0.weight`, as a PyTorch `state_dict` names it, so that
//! renaming a model keeps its checkpoints), as little-endian f32, and in
//! the file's metadata (under
//! [`INPUT_KEY`], as JSON) what new inputs must look like and the
//! `standardize` statistics of the training data, for `dl predict`.

use crate::autodiff::Tensor;
use crate::data::InputSpec;
use crate::interp::ParamStore;
use ndarray::IxDyn;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why a checkpoint could not be written or read.
#[derive(Debug)]
pub enum CheckpointError {
    /// The file or its folder could not be written or read.
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        error: std::io::Error,
    },
    /// The file is not a valid safetensors file.
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The file's tensors do not match the model's.
    Mismatch {
        /// The file.
        path: PathBuf,
        /// Tensors the model has and the file lacks.
        missing: Vec<String>,
        /// Tensors the file has and the model lacks.
        unexpected: Vec<String>,
        /// `name: file shape vs model shape`.
        misshaped: Vec<String>,
    },
}

impl std::fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckpointError::Io { path, error } => write!(f, "{}: {error}", path.display()),
            CheckpointError::Format { path, message } => write!(
                f,
                "{}: not a valid safetensors file: {message}",
                path.display()
            ),
            CheckpointError::Mismatch {
                path,
                missing,
                unexpected,
                misshaped,
            } => {
                write!(f, "{} does not fit the model", path.display())?;
                let list = |names: &[String]| {
                    names.iter().take(8).cloned().collect::<Vec<_>>().join(", ")
                        + if names.len() > 8 { ", ..." } else { "" }
                };
                if !missing.is_empty() {
                    write!(f, "\n  missing from the file: {}", list(missing))?;
                }
                if !unexpected.is_empty() {
                    write!(f, "\n  not in the model: {}", list(unexpected))?;
                }
                if !misshaped.is_empty() {
                    write!(f, "\n  wrong shape: {}", list(misshaped))?;
                }
                Ok(())
            }
        }
    }
}

/// The metadata key of the model's input spec.
pub const INPUT_KEY: &str = "dl.input";

/// Writes every tensor of `store` to `path` atomically: into a temporary file
/// in the same folder, flushed to disk, then renamed over `path`. Creates the
/// folder if needed. A reader never sees a half-written checkpoint. `input`,
/// when given, goes into the metadata.
pub fn save(
    store: &ParamStore,
    input: Option<&InputSpec>,
    path: &Path,
) -> Result<(), CheckpointError> {
    let io = |error| CheckpointError::Io {
        path: path.to_path_buf(),
        error,
    };
    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = store
        .order
        .iter()
        .map(|(name, _)| {
            let t = store.get(name);
            let data: Vec<u8> = t.iter().flat_map(|x| x.to_le_bytes()).collect();
            (relative(name).to_string(), data, t.shape().to_vec())
        })
        .collect();
    let views: Vec<(String, TensorView)> = bytes
        .iter()
        .map(|(name, data, shape)| {
            (
                name.clone(),
                TensorView::new(Dtype::F32, shape.clone(), data)
                    .expect("f32 data matches its shape"),
            )
        })
        .collect();
    let metadata = input.map(|spec| {
        let json = serde_json::to_string(spec).expect("an input spec is plain data");
        std::collections::HashMap::from([(INPUT_KEY.to_string(), json)])
    });
    let serialized =
        safetensors::tensor::serialize(views, metadata).map_err(|e| CheckpointError::Format {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    write_atomically(path, &serialized).map_err(io)
}

/// Writes `bytes` to `path` atomically: into a temporary file in the same
/// folder, flushed to disk, then renamed over `path`, so that a reader never
/// sees a half-written file and a failure leaves none.
///
/// The temporary files that earlier writers to `path` left behind (killed
/// before their rename) are removed first, those whose process is no longer
/// running.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    remove_stale_temporaries(path, &file_name);
    let temporary = path.with_file_name(format!(".{file_name}.tmp-{}", std::process::id()));
    let written = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// Removes `.NAME.tmp-PID` files next to `path` whose writer `PID` is no
/// longer running. Whether a process runs is known from `/proc` on Linux;
/// elsewhere nothing is removed. A failure to remove one is not an error:
/// the write itself does not depend on it.
fn remove_stale_temporaries(path: &Path, file_name: &str) {
    let prefix = format!(".{file_name}.tmp-");
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(&prefix)
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !is_running(pid) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Whether process `pid` is running (Linux: it has a `/proc` entry);
/// elsewhere every process is taken to be running, so nothing is removed.
fn is_running(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

/// Replaces every tensor of `store` with the one of the same name in `path`.
/// Nothing changes unless the file holds exactly the model's tensors with
/// their shapes.
pub fn load(store: &mut ParamStore, path: &Path) -> Result<(), CheckpointError> {
    let bytes = read(path)?;
    let format = |message: String| format_error(path, message);
    let file = SafeTensors::deserialize(&bytes).map_err(|e| format(e.to_string()))?;
    let names: Vec<String> = file.names().into_iter().map(str::to_string).collect();
    // The file's name for each of the store's tensors: relative, or (in a
    // checkpoint written before names were relative) the full path.
    let in_file = |name: &str| {
        [relative(name), name]
            .into_iter()
            .find(|n| names.iter().any(|f| f == n))
            .map(str::to_string)
    };
    let missing: Vec<String> = store
        .order
        .iter()
        .filter(|(n, _)| in_file(n).is_none())
        .map(|(n, _)| relative(n).to_string())
        .collect();
    let used: Vec<String> = store.order.iter().filter_map(|(n, _)| in_file(n)).collect();
    let unexpected: Vec<String> = names
        .iter()
        .filter(|n| !used.contains(n))
        .cloned()
        .collect();
    let mut misshaped = Vec::new();
    let mut loaded = Vec::new();
    for (name, _) in &store.order {
        let Some(view) = in_file(name).and_then(|n| file.tensor(&n).ok()) else {
            continue;
        };
        if view.dtype() != Dtype::F32 {
            return Err(format(format!(
                "tensor `{name}` is {:?}, not F32",
                view.dtype()
            )));
        }
        if view.shape() != store.get(name).shape() {
            misshaped.push(format!(
                "{}: {:?} in the file, {:?} in the model",
                relative(name),
                view.shape(),
                store.get(name).shape()
            ));
            continue;
        }
        let data: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        loaded.push((
            name.clone(),
            Tensor::from_shape_vec(IxDyn(view.shape()), data).expect("shape checked"),
        ));
    }
    if !missing.is_empty() || !unexpected.is_empty() || !misshaped.is_empty() {
        return Err(CheckpointError::Mismatch {
            path: path.to_path_buf(),
            missing,
            unexpected,
            misshaped,
        });
    }
    for (name, value) in loaded {
        store.values.insert(name, value);
    }
    Ok(())
}

/// The bytes of the checkpoint at `path`.
fn read(path: &Path) -> Result<Vec<u8>, CheckpointError> {
    std::fs::read(path).map_err(|error| CheckpointError::Io {
        path: path.to_path_buf(),
        error,
    })
}

/// The error for a checkpoint at `path` that is not what it should be.
fn format_error(path: &Path, message: String) -> CheckpointError {
    CheckpointError::Format {
        path: path.to_path_buf(),
        message,
    }
}

/// A tensor's name relative to its model: the store's path without the
/// model's name in front (`LeNet5.conv2d_0.weight` is `conv2d_0.weight`).
pub fn relative(name: &str) -> &str {
    name.split_once('.').map_or(name, |(_, rest)| rest)
}

/// The input spec saved in the checkpoint at `path`, if it has one
/// (checkpoints written before `dl predict` existed have none).
pub fn input_spec(path: &Path) -> Result<Option<InputSpec>, CheckpointError> {
    let bytes = read(path)?;
    let format = |message: String| format_error(path, message);
    let (_, metadata) = SafeTensors::read_metadata(&bytes).map_err(|e| format(e.to_string()))?;
    match metadata.metadata().as_ref().and_then(|m| m.get(INPUT_KEY)) {
        Some(json) => serde_json::from_str(json)
            .map(Some)
            .map_err(|e| format(format!("its `{INPUT_KEY}` metadata cannot be read: {e}"))),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> ParamStore {
        let mut s = ParamStore::default();
        s.values.insert(
            "M.dense_0.weight".into(),
            Tensor::from_shape_vec(IxDyn(&[2, 3]), vec![1.0, -2.0, 3.5, 0.0, 1e-7, f32::MAX])
                .unwrap(),
        );
        s.values.insert(
            "M.batchnorm_0.running_mean".into(),
            Tensor::from_shape_vec(IxDyn(&[2]), vec![0.25, -0.5]).unwrap(),
        );
        s.order = vec![
            ("M.dense_0.weight".into(), true),
            ("M.batchnorm_0.running_mean".into(), false),
        ];
        s
    }

    #[test]
    fn round_trip_is_exact_and_leaves_no_temporary_file() {
        let dir = std::env::temp_dir().join(format!("dl-ckpt-{}", std::process::id()));
        let path = dir.join("nested/model.safetensors");
        let original = store();
        save(&original, None, &path).unwrap();
        let mut restored = store();
        restored.values.values_mut().for_each(|t| t.fill(9.0));
        load(&mut restored, &path).unwrap();
        assert_eq!(restored.values, original.values);
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            leftovers,
            vec![std::ffi::OsString::from("model.safetensors")]
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn mismatches_are_named() {
        let dir = std::env::temp_dir().join(format!("dl-ckpt-mismatch-{}", std::process::id()));
        let path = dir.join("m.safetensors");
        save(&store(), None, &path).unwrap();
        let mut other = ParamStore::default();
        other
            .values
            .insert("M.dense_0.weight".into(), Tensor::zeros(IxDyn(&[3, 2])));
        other
            .values
            .insert("M.dense_0.bias".into(), Tensor::zeros(IxDyn(&[2])));
        other.order = vec![
            ("M.dense_0.weight".into(), true),
            ("M.dense_0.bias".into(), true),
        ];
        let message = load(&mut other, &path).unwrap_err().to_string();
        assert!(
            message.contains("missing from the file: dense_0.bias"),
            "{message}"
        );
        assert!(
            message.contains("not in the model: batchnorm_0.running_mean"),
            "{message}"
        );
        assert!(
            message.contains("dense_0.weight: [2, 3] in the file, [3, 2] in the model"),
            "{message}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// `store()` with its tensors under the model name `model`.
    fn renamed(model: &str) -> ParamStore {
        let original = store();
        let name = |n: &str| format!("{model}.{}", relative(n));
        ParamStore {
            values: original
                .values
                .iter()
                .map(|(n, t)| (name(n), t.clone()))
                .collect(),
            order: original.order.iter().map(|(n, t)| (name(n), *t)).collect(),
        }
    }

    #[test]
    fn names_are_relative_to_the_model_so_a_renamed_model_loads_them() {
        let dir = std::env::temp_dir().join(format!("dl-ckpt-relative-{}", std::process::id()));
        let path = dir.join("m.safetensors");
        save(&store(), None, &path).unwrap();
        let file = std::fs::read(&path).unwrap();
        let tensors = SafeTensors::deserialize(&file).unwrap();
        let mut names = tensors.names();
        names.sort();
        assert_eq!(names, ["batchnorm_0.running_mean", "dense_0.weight"]);
        let mut other = renamed("Renamed");
        other.values.values_mut().for_each(|t| t.fill(0.0));
        load(&mut other, &path).unwrap();
        assert_eq!(other.values, renamed("Renamed").values);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn checkpoints_with_the_full_names_of_before_still_load() {
        let dir = std::env::temp_dir().join(format!("dl-ckpt-full-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("old.safetensors");
        // Written as `dl` wrote checkpoints before: the store's own names.
        let original = store();
        let data: Vec<(String, Vec<u8>, Vec<usize>)> = original
            .order
            .iter()
            .map(|(n, _)| {
                let t = &original.values[n];
                let bytes = t.iter().flat_map(|x| x.to_le_bytes()).collect();
                (n.clone(), bytes, t.shape().to_vec())
            })
            .collect();
        let views = data.iter().map(|(n, bytes, shape)| {
            (
                n.clone(),
                TensorView::new(Dtype::F32, shape.clone(), bytes).unwrap(),
            )
        });
        std::fs::write(&path, safetensors::tensor::serialize(views, None).unwrap()).unwrap();
        let mut loaded = store();
        loaded.values.values_mut().for_each(|t| t.fill(0.0));
        load(&mut loaded, &path).unwrap();
        assert_eq!(loaded.values, original.values);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn unwritable_path_is_an_error_not_a_panic() {
        let err = save(
            &store(),
            None,
            Path::new("/proc/dl-cannot-write-here/model.safetensors"),
        )
        .unwrap_err();
        assert!(matches!(err, CheckpointError::Io { .. }));
    }

    #[test]
    fn garbage_is_a_format_error() {
        let path =
            std::env::temp_dir().join(format!("dl-garbage-{}.safetensors", std::process::id()));
        std::fs::write(&path, b"not a checkpoint").unwrap();
        let err = load(&mut store(), &path).unwrap_err();
        assert!(matches!(err, CheckpointError::Format { .. }), "{err}");
        std::fs::remove_file(path).unwrap();
    }
}
