//! The atomic output folder of a run, and atomic single-file writes.
//!
//! A run writes everything into a hidden temporary sibling folder
//! `.<name>.tmp-<random>` (created exclusively by `tempfile`) and renames it to `<name>` only at the very end
//! ([`OutputDir::commit`]). If the run fails (an error is returned and the
//! [`OutputDir`] is dropped) the temporary folder is removed. If the process is
//! killed outright, only the hidden `.tmp-` folder remains; nothing that looks
//! like a finished output folder is ever left behind.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{ReportError, ReportResult};

/// Name of the file whose presence marks a folder as a hemosurv output folder.
pub const MANIFEST_FILE: &str = "manifest.json";
/// Subfolder holding the CSV tables.
pub const TABLES_DIR: &str = "tables";
/// Subfolder holding the SVG figures.
pub const FIGURES_DIR: &str = "figures";

/// An output folder under construction.
///
/// Write into [`OutputDir::path`] (and [`OutputDir::tables`] /
/// [`OutputDir::figures`]), then call [`OutputDir::commit`]. Dropping it
/// without committing deletes everything written so far.
#[derive(Debug)]
pub struct OutputDir {
    final_dir: PathBuf,
    temp_dir: PathBuf,
    force: bool,
    committed: bool,
}

impl OutputDir {
    /// Start a new output folder that will become `final_dir` on commit.
    ///
    /// Refuses if `final_dir` exists and `force` is false. With `force`, an
    /// existing `final_dir` is replaced at commit time, but only if it is a
    /// folder that is empty or holds a `manifest.json` (i.e. looks like an
    /// earlier hemosurv output); anything else is refused so that a mistyped
    /// `--out` cannot delete unrelated data. Missing parent folders are created.
    pub fn create(final_dir: &Path, force: bool) -> ReportResult<OutputDir> {
        let name = final_dir
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| !n.is_empty() && *n != "." && *n != "..")
            .ok_or_else(|| ReportError::BadOutputPath {
                path: final_dir.to_path_buf(),
                reason: "the last path component must be a plain UTF-8 folder name".to_string(),
            })?
            .to_string();
        check_replaceable(final_dir, force)?;

        let parent = match final_dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&parent).map_err(|e| ReportError::io(&parent, e))?;

        // Created exclusively under a random name (tempfile): never an existing folder or a symlink.
        let temp_dir = tempfile::Builder::new()
            .prefix(&format!(".{name}.tmp-"))
            .tempdir_in(&parent)
            .map_err(|e| ReportError::io(&parent, e))?
            .keep();
        let out = OutputDir { final_dir: final_dir.to_path_buf(), temp_dir, force, committed: false };
        // From here on, Drop cleans up whatever was created.
        for dir in [out.tables(), out.figures()] {
            fs::create_dir(&dir).map_err(|e| ReportError::io(&dir, e))?;
        }
        Ok(out)
    }

    /// The folder to write into while the run is in progress (the temporary folder).
    pub fn path(&self) -> &Path {
        &self.temp_dir
    }

    /// `<temporary folder>/tables`.
    pub fn tables(&self) -> PathBuf {
        self.temp_dir.join(TABLES_DIR)
    }

    /// `<temporary folder>/figures`.
    pub fn figures(&self) -> PathBuf {
        self.temp_dir.join(FIGURES_DIR)
    }

    /// The folder the output will have after [`OutputDir::commit`].
    pub fn final_path(&self) -> &Path {
        &self.final_dir
    }

    /// Move the finished folder into place and return its final path.
    ///
    /// If the final folder exists (and `force` was given and it is replaceable),
    /// it is first renamed aside, the new folder is renamed into place, and only
    /// then the old one is deleted; if the second rename fails the old folder is
    /// restored. Call this only after everything has been written.
    pub fn commit(mut self) -> ReportResult<PathBuf> {
        check_replaceable(&self.final_dir, self.force)?;
        let exists = fs::symlink_metadata(&self.final_dir).is_ok();
        if exists {
            let aside = self.sibling(&format!("old-{}", std::process::id()));
            if fs::symlink_metadata(&aside).is_ok() {
                remove_path(&aside)?;
            }
            fs::rename(&self.final_dir, &aside).map_err(|e| ReportError::io(&self.final_dir, e))?;
            if let Err(e) = fs::rename(&self.temp_dir, &self.final_dir) {
                // Put the previous output back; the temp folder is removed on drop.
                let _ = fs::rename(&aside, &self.final_dir);
                return Err(ReportError::io(&self.final_dir, e));
            }
            self.committed = true;
            remove_path(&aside)?;
        } else {
            fs::rename(&self.temp_dir, &self.final_dir).map_err(|e| ReportError::io(&self.final_dir, e))?;
            self.committed = true;
        }
        Ok(self.final_dir.clone())
    }

    /// A hidden sibling of the final folder: `.<name>.<suffix>`.
    fn sibling(&self, suffix: &str) -> PathBuf {
        let name = self.final_dir.file_name().and_then(|n| n.to_str()).unwrap_or("out");
        let parent = self.temp_dir.parent().unwrap_or(Path::new("."));
        parent.join(format!(".{name}.{suffix}"))
    }
}

impl Drop for OutputDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.temp_dir);
        }
    }
}

/// Check that `final_dir` may be (re)created: it must not exist, or `force`
/// must be set and it must be a folder that is empty or holds a manifest.
fn check_replaceable(final_dir: &Path, force: bool) -> ReportResult<()> {
    let meta = match fs::symlink_metadata(final_dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(ReportError::io(final_dir, e)),
    };
    if !force {
        return Err(ReportError::OutputExists { path: final_dir.to_path_buf() });
    }
    if !meta.is_dir() {
        return Err(ReportError::UnsafeReplace {
            path: final_dir.to_path_buf(),
            reason: "it exists and is not a folder".to_string(),
        });
    }
    if final_dir.join(MANIFEST_FILE).is_file() {
        return Ok(());
    }
    let mut entries = fs::read_dir(final_dir).map_err(|e| ReportError::io(final_dir, e))?;
    if entries.next().is_none() {
        return Ok(());
    }
    Err(ReportError::UnsafeReplace {
        path: final_dir.to_path_buf(),
        reason: format!("it is not empty and has no {MANIFEST_FILE}, so it does not look like a hemosurv output folder"),
    })
}

/// Remove a file, symlink or folder tree.
fn remove_path(path: &Path) -> ReportResult<()> {
    let meta = fs::symlink_metadata(path).map_err(|e| ReportError::io(path, e))?;
    let res = if meta.is_dir() { fs::remove_dir_all(path) } else { fs::remove_file(path) };
    res.map_err(|e| ReportError::io(path, e))
}

/// Write `bytes` to `path` atomically: write a temporary file in the same
/// folder (created exclusively by `tempfile`), flush it to disk, then rename it over `path`.
/// Readers see either the old content or the complete new content, never a partial file;
/// on failure the temporary file is removed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> ReportResult<()> {
    let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| ReportError::BadOutputPath {
        path: path.to_path_buf(),
        reason: "not a plain UTF-8 file name".to_string(),
    })?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let prefix = format!(".{name}.tmp-");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix);
    #[cfg(unix)]
    {
        // 0o666 minus the umask, as `File::create` (tempfile's default is owner-only).
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder.tempfile_in(&dir).map_err(|e| ReportError::io(path, e))?;
    tmp.write_all(bytes).and_then(|()| tmp.as_file().sync_all()).map_err(|e| ReportError::io(path, e))?;
    tmp.persist(path).map_err(|e| ReportError::io(path, e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_unusable_names() {
        for p in ["/", "..", "a/.."] {
            let err = OutputDir::create(Path::new(p), true).unwrap_err();
            assert!(matches!(err, ReportError::BadOutputPath { .. }), "{p}: {err}");
        }
    }

    #[test]
    fn write_atomic_overwrites_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a.txt")]);
    }

    #[test]
    fn write_atomic_error_names_path() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("missing-folder").join("a.txt");
        let err = write_atomic(&p, b"x").unwrap_err();
        assert!(err.to_string().contains("missing-folder"), "{err}");
    }
}
