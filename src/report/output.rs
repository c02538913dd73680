//! The atomic output folder of a run, and atomic single-file writes.
//!
//! A run writes everything into a hidden temporary sibling folder
//! `.<name>.tmp-<random>` and renames it to `<name>` only at the very end
//! ([`OutputDir::commit`]); the folder mechanics are [`crate::io::atomic_dir::AtomicDir`], with
//! `manifest.json` as the mark of an earlier output. If the run fails (an error is returned and
//! the [`OutputDir`] is dropped) the temporary folder is removed. If the process is killed
//! outright, only the hidden `.tmp-` folder remains; nothing that looks like a finished output
//! folder is ever left behind.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{ReportError, ReportResult};
use crate::io::atomic_dir::{AtomicDir, AtomicDirError, Marker};

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
    dir: AtomicDir,
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
        let out = OutputDir { dir: AtomicDir::create(final_dir, force, Marker::File(MANIFEST_FILE))? };
        // From here on, dropping `out` removes whatever was created.
        for dir in [out.tables(), out.figures()] {
            fs::create_dir(&dir).map_err(|e| ReportError::io(&dir, e))?;
        }
        Ok(out)
    }

    /// The folder to write into while the run is in progress (the temporary folder).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `<temporary folder>/tables`.
    pub fn tables(&self) -> PathBuf {
        self.path().join(TABLES_DIR)
    }

    /// `<temporary folder>/figures`.
    pub fn figures(&self) -> PathBuf {
        self.path().join(FIGURES_DIR)
    }

    /// The folder the output will have after [`OutputDir::commit`].
    pub fn final_path(&self) -> &Path {
        self.dir.final_path()
    }

    /// Move the finished folder into place and return its final path (see
    /// [`AtomicDir::commit`]: a previous output is replaced only after the new one is
    /// complete, and put back if the replacement fails). Call this only after everything
    /// has been written.
    pub fn commit(self) -> ReportResult<PathBuf> {
        Ok(self.dir.commit()?)
    }
}

impl From<AtomicDirError> for ReportError {
    fn from(e: AtomicDirError) -> Self {
        match e {
            AtomicDirError::BadPath { path, reason } => ReportError::BadOutputPath { path, reason },
            AtomicDirError::Exists { path } => ReportError::OutputExists { path },
            AtomicDirError::NotAFolder { path } => {
                ReportError::UnsafeReplace { path, reason: "it exists and is not a folder".to_string() }
            }
            AtomicDirError::Unmarked { path, .. } => ReportError::UnsafeReplace {
                path,
                reason: format!("it is not empty and has no {MANIFEST_FILE}, so it does not look like a hemosurv output folder"),
            },
            AtomicDirError::Io { path, source } => ReportError::Io { path, source },
        }
    }
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
