//! Whether a run can write its output files, found before the first step:
//! a checkpoint path in a folder that cannot be written is a diagnostic at
//! the start, not an error after the last epoch.

use std::path::Path;

/// Whether a file can be written at `path` the way a checkpoint is (its
/// missing folders created, then a temporary file renamed over it); the
/// plain reason when not, e.g. "the folder `/data` cannot be written:
/// Read-only file system (os error 30)".
pub fn check_writable(path: &Path) -> Result<(), String> {
    if path.is_dir() {
        return Err(format!("`{}` is a folder, not a file", path.display()));
    }
    // The nearest folder that exists: the missing ones below it are made.
    let mut folder = path.parent();
    while let Some(f) = folder {
        if f.as_os_str().is_empty() {
            folder = Some(Path::new("."));
            break;
        }
        if f.exists() {
            break;
        }
        folder = f.parent();
    }
    let folder = folder.unwrap_or(Path::new("."));
    if !folder.is_dir() {
        return Err(format!(
            "`{}` is a file, so no folder can be made there",
            folder.display()
        ));
    }
    // NOTE: permissions bits do not tell (a read-only mount, an ACL, root):
    // trying is the only sure test.
    let probe = folder.join(format!(".dl-write-test-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(format!(
            "the folder `{}` cannot be written: {e}",
            folder.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("dl-output-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn missing_folders_are_made_but_a_file_in_the_way_is_not_a_folder() {
        let dir = scratch("paths");
        assert_eq!(check_writable(&dir.join("a/b/model.safetensors")), Ok(()));
        assert!(!dir.join("a").exists(), "checking makes nothing");
        std::fs::write(dir.join("file"), b"").unwrap();
        let e = check_writable(&dir.join("file/model.safetensors")).unwrap_err();
        assert!(
            e.ends_with("file` is a file, so no folder can be made there"),
            "{e}"
        );
        let e = check_writable(&dir).unwrap_err();
        assert!(e.ends_with("is a folder, not a file"), "{e}");
        assert_eq!(check_writable(Path::new("model.safetensors")), Ok(()));
    }

    /// `/proc` takes no new files, even from root (permission bits would
    /// not stop root).
    #[cfg(target_os = "linux")]
    #[test]
    fn a_folder_that_cannot_be_written_says_why() {
        let e = check_writable(Path::new("/proc/dl/model.safetensors")).unwrap_err();
        assert!(
            e.starts_with("the folder `/proc` cannot be written: "),
            "{e}"
        );
    }
}
