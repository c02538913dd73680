//! Folders that appear whole or not at all.
//!
//! A folder is written under a hidden temporary sibling name `.<name>.<tag>-<random>` (created
//! exclusively by `tempfile`, so never an existing folder or a symlink) and renamed into place
//! only when complete. Dropped before that, the temporary folder is removed; if the process is
//! killed outright, only the hidden folder remains, never something that looks finished.
//!
//! - [`StagingDir`]: the hidden temporary folder itself, moved to a destination that must not
//!   exist ([`StagingDir::move_to`]).
//! - [`AtomicDir`]: a staging folder with a final path; [`AtomicDir::commit`] replaces an existing
//!   final folder only with `force`, and only if it is empty or carries the caller's [`Marker`]
//!   (so a mistyped path cannot delete unrelated data).
//!
//! Used by the run's output folder (`report::output`), `import omop` (`cohort::omop::write`) and
//! `run --omop` (`commands::omop`), which turn [`AtomicDirError`] into their own messages.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use tempfile::TempDir;
use thiserror::Error;

/// Tag of an [`AtomicDir`]'s temporary folder: `.<name>.tmp-<random>`.
const TMP_TAG: &str = "tmp";
/// Tag of the folder holding the previous final folder while it is replaced.
const OLD_TAG: &str = "old";

/// Why a folder could not be staged or put into place. Every variant names the path.
#[derive(Debug, Error)]
pub enum AtomicDirError {
    /// The path cannot be used as a folder name (e.g. `/` or `..`).
    #[error("{}: not usable as a folder: {reason}", path.display())]
    BadPath {
        /// The path given.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The final path exists and `force` was not given.
    #[error("{} already exists", path.display())]
    Exists {
        /// The existing path.
        path: PathBuf,
    },
    /// `force` was given but the final path is not a folder (a file or a symlink).
    #[error("{}: exists and is not a folder", path.display())]
    NotAFolder {
        /// The existing path.
        path: PathBuf,
    },
    /// `force` was given but the final folder is neither empty nor carries the marker.
    #[error("{}: not empty and has no {marker}", path.display())]
    Unmarked {
        /// The existing folder.
        path: PathBuf,
        /// The marker it lacks.
        marker: Marker,
    },
    /// A file-system operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl AtomicDirError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        AtomicDirError::Io { path: path.to_path_buf(), source }
    }
}

/// The entry whose presence marks an existing folder as one the caller wrote earlier (and so
/// may replace with `force`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// A file of this name (e.g. a run's `manifest.json`).
    File(&'static str),
    /// A subfolder of this name (e.g. an import's `omop_audit`).
    Dir(&'static str),
}

impl Marker {
    /// Whether `dir` holds the marker (symlinks are followed, as for any file inside).
    fn is_in(self, dir: &Path) -> bool {
        match self {
            Marker::File(name) => dir.join(name).is_file(),
            Marker::Dir(name) => dir.join(name).is_dir(),
        }
    }
}

impl fmt::Display for Marker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Marker::File(name) => write!(f, "{name}"),
            Marker::Dir(name) => write!(f, "{name}/ folder"),
        }
    }
}

/// A hidden folder `.<name>.<tag>-<random>` beside a path, created exclusively; removed with
/// its content when dropped, unless moved with [`StagingDir::move_to`].
#[derive(Debug)]
pub struct StagingDir {
    dir: TempDir,
}

impl StagingDir {
    /// Create the staging folder beside `path` (named after its last component, which must be a
    /// plain UTF-8 name); missing parent folders are created.
    pub fn beside(path: &Path, tag: &str) -> Result<StagingDir, AtomicDirError> {
        let name = plain_name(path)?;
        let parent = parent_of(path);
        fs::create_dir_all(&parent).map_err(|e| AtomicDirError::io(&parent, e))?;
        let dir = tempfile::Builder::new()
            .prefix(&format!(".{name}.{tag}-"))
            .tempdir_in(&parent)
            .map_err(|e| AtomicDirError::io(&parent, e))?;
        Ok(StagingDir { dir })
    }

    /// The staging folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Rename the staging folder to `dest` (on the same file system), which must not exist.
    /// On failure the staging folder is removed.
    pub fn move_to(self, dest: &Path) -> Result<(), AtomicDirError> {
        if fs::symlink_metadata(dest).is_ok() {
            return Err(AtomicDirError::Exists { path: dest.to_path_buf() });
        }
        fs::rename(self.path(), dest).map_err(|e| AtomicDirError::io(dest, e))?;
        // Renamed away: nothing left to remove.
        let _ = self.dir.keep();
        Ok(())
    }

    /// Remove the staging folder and its content now, reporting a failure (drop ignores it).
    fn remove(self) -> Result<(), AtomicDirError> {
        let path = self.path().to_path_buf();
        self.dir.close().map_err(|e| AtomicDirError::io(&path, e))
    }
}

/// A folder under construction that becomes `final_dir` on [`AtomicDir::commit`].
///
/// Write into [`AtomicDir::path`]; dropping it without committing deletes everything written.
#[derive(Debug)]
pub struct AtomicDir {
    staging: StagingDir,
    final_dir: PathBuf,
    force: bool,
    marker: Marker,
}

impl AtomicDir {
    /// Start a folder that will become `final_dir`, in a hidden sibling `.<name>.tmp-<random>`.
    ///
    /// Refuses if `final_dir` exists and `force` is false. With `force`, an existing
    /// `final_dir` is replaced at commit, but only if it is a folder that is empty or holds
    /// `marker`. Missing parent folders are created.
    pub fn create(final_dir: &Path, force: bool, marker: Marker) -> Result<AtomicDir, AtomicDirError> {
        plain_name(final_dir)?;
        check_replaceable(final_dir, force, marker)?;
        let staging = StagingDir::beside(final_dir, TMP_TAG)?;
        Ok(AtomicDir { staging, final_dir: final_dir.to_path_buf(), force, marker })
    }

    /// The folder to write into (the temporary folder).
    pub fn path(&self) -> &Path {
        self.staging.path()
    }

    /// The folder this becomes after [`AtomicDir::commit`].
    pub fn final_path(&self) -> &Path {
        &self.final_dir
    }

    /// Move the finished folder into place and return its final path.
    ///
    /// The final path is checked again (something may have appeared meanwhile). An existing
    /// final folder is first moved into a hidden holder folder, the new one renamed into place,
    /// and only then the old one deleted; if the second rename fails the old folder is put
    /// back. On any error the temporary folder is removed.
    pub fn commit(self) -> Result<PathBuf, AtomicDirError> {
        check_replaceable(&self.final_dir, self.force, self.marker)?;
        if fs::symlink_metadata(&self.final_dir).is_err() {
            self.staging.move_to(&self.final_dir)?;
            return Ok(self.final_dir);
        }
        let holder = StagingDir::beside(&self.final_dir, OLD_TAG)?;
        let aside = holder.path().join("previous");
        fs::rename(&self.final_dir, &aside).map_err(|e| AtomicDirError::io(&self.final_dir, e))?;
        if let Err(e) = self.staging.move_to(&self.final_dir) {
            // Put the previous folder back; the holder is removed on drop.
            let _ = fs::rename(&aside, &self.final_dir);
            return Err(e);
        }
        holder.remove()?;
        Ok(self.final_dir)
    }
}

/// Check that `final_dir` may be (re)created: it must not exist, or `force` must be set and it
/// must be a folder (not a symlink) that is empty or holds `marker`.
fn check_replaceable(final_dir: &Path, force: bool, marker: Marker) -> Result<(), AtomicDirError> {
    let meta = match fs::symlink_metadata(final_dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(AtomicDirError::io(final_dir, e)),
    };
    if !force {
        return Err(AtomicDirError::Exists { path: final_dir.to_path_buf() });
    }
    if !meta.is_dir() {
        return Err(AtomicDirError::NotAFolder { path: final_dir.to_path_buf() });
    }
    if marker.is_in(final_dir) {
        return Ok(());
    }
    let mut entries = fs::read_dir(final_dir).map_err(|e| AtomicDirError::io(final_dir, e))?;
    if entries.next().is_none() {
        return Ok(());
    }
    Err(AtomicDirError::Unmarked { path: final_dir.to_path_buf(), marker })
}

/// The last component of `path` if it is a plain UTF-8 name (not empty, `.` or `..`).
fn plain_name(path: &Path) -> Result<&str, AtomicDirError> {
    path.file_name().and_then(|n| n.to_str()).filter(|n| !n.is_empty() && *n != "." && *n != "..").ok_or_else(|| {
        AtomicDirError::BadPath {
            path: path.to_path_buf(),
            reason: "the last path component must be a plain UTF-8 folder name".to_string(),
        }
    })
}

/// The folder holding `path` (`.` for a bare name).
fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARK: Marker = Marker::File("mark.txt");

    fn names_in(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> =
            fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }

    /// Stage a folder holding `new.txt` and commit it to `final_dir`.
    fn write_new(final_dir: &Path, force: bool, marker: Marker) -> Result<PathBuf, AtomicDirError> {
        let dir = AtomicDir::create(final_dir, force, marker)?;
        fs::write(dir.path().join("new.txt"), "new").unwrap();
        dir.commit()
    }

    #[test]
    fn creates_hidden_temp_then_renames_into_place() {
        let root = tempfile::tempdir().unwrap();
        let final_dir = root.path().join("a").join("out");
        let dir = AtomicDir::create(&final_dir, false, MARK).unwrap();
        let name = dir.path().file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with(".out.tmp-") && name.len() > ".out.tmp-".len(), "{name}");
        assert!(!final_dir.exists());
        fs::write(dir.path().join("new.txt"), "new").unwrap();
        assert_eq!(dir.commit().unwrap(), final_dir);
        assert_eq!(names_in(&root.path().join("a")), vec!["out"]);
        assert_eq!(names_in(&final_dir), vec!["new.txt"]);
    }

    #[test]
    fn replaces_marked_or_empty_folder_with_force() {
        let root = tempfile::tempdir().unwrap();
        let marked = root.path().join("marked");
        fs::create_dir(&marked).unwrap();
        fs::write(marked.join("mark.txt"), "").unwrap();
        fs::write(marked.join("old.txt"), "old").unwrap();
        write_new(&marked, true, MARK).unwrap();
        assert_eq!(names_in(&marked), vec!["new.txt"]);

        let with_subfolder = root.path().join("sub");
        fs::create_dir_all(with_subfolder.join("audit")).unwrap();
        write_new(&with_subfolder, true, Marker::Dir("audit")).unwrap();
        assert_eq!(names_in(&with_subfolder), vec!["new.txt"]);

        let empty = root.path().join("empty");
        fs::create_dir(&empty).unwrap();
        write_new(&empty, true, MARK).unwrap();
        assert_eq!(names_in(&empty), vec!["new.txt"]);
        assert_eq!(names_in(root.path()), vec!["empty", "marked", "sub"], "no temporary or old folder left");
    }

    #[test]
    fn refuses_unmarked_folder_even_with_force() {
        let root = tempfile::tempdir().unwrap();
        let precious = root.path().join("thesis");
        fs::create_dir(&precious).unwrap();
        fs::write(precious.join("chapter1.tex"), "important").unwrap();
        // A marker of the wrong kind does not count.
        fs::create_dir(precious.join("mark.txt")).unwrap();
        let err = write_new(&precious, true, MARK).unwrap_err();
        assert!(matches!(err, AtomicDirError::Unmarked { .. }), "{err}");
        assert!(err.to_string().contains("thesis") && err.to_string().contains("mark.txt"), "{err}");
        assert_eq!(fs::read_to_string(precious.join("chapter1.tex")).unwrap(), "important");
        assert_eq!(names_in(root.path()), vec!["thesis"]);
    }

    #[test]
    fn refuses_existing_folder_without_force() {
        let root = tempfile::tempdir().unwrap();
        let marked = root.path().join("run");
        fs::create_dir(&marked).unwrap();
        fs::write(marked.join("mark.txt"), "old").unwrap();
        let err = write_new(&marked, false, MARK).unwrap_err();
        assert!(matches!(err, AtomicDirError::Exists { .. }), "{err}");
        assert!(err.to_string().contains("run"), "{err}");
        assert_eq!(names_in(&marked), vec!["mark.txt"]);
        assert_eq!(names_in(root.path()), vec!["run"]);
    }

    #[test]
    fn existing_file_is_not_clobbered() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("out");
        fs::write(&file, "data").unwrap();
        assert!(matches!(write_new(&file, false, MARK).unwrap_err(), AtomicDirError::Exists { .. }));
        let err = write_new(&file, true, MARK).unwrap_err();
        assert!(matches!(err, AtomicDirError::NotAFolder { .. }), "{err}");

        // A file that appears while the folder is written is not replaced at commit either.
        let late = root.path().join("late");
        let dir = AtomicDir::create(&late, false, MARK).unwrap();
        fs::write(&late, "data").unwrap();
        assert!(matches!(dir.commit().unwrap_err(), AtomicDirError::Exists { .. }));
        assert_eq!(fs::read_to_string(&file).unwrap(), "data");
        assert_eq!(fs::read_to_string(&late).unwrap(), "data");
        assert_eq!(names_in(root.path()), vec!["late", "out"]);
    }

    #[test]
    fn nothing_left_behind_on_drop() {
        let root = tempfile::tempdir().unwrap();
        let final_dir = root.path().join("run");
        {
            let dir = AtomicDir::create(&final_dir, false, MARK).unwrap();
            fs::create_dir(dir.path().join("tables")).unwrap();
            fs::write(dir.path().join("tables/partial.csv"), "a\n").unwrap();
        }
        {
            let staged = StagingDir::beside(&final_dir, "stage").unwrap();
            assert!(staged.path().file_name().unwrap().to_string_lossy().starts_with(".run.stage-"));
            fs::write(staged.path().join("x"), "x").unwrap();
        }
        assert!(names_in(root.path()).is_empty());
    }

    #[test]
    fn staging_moves_only_to_a_free_destination() {
        let root = tempfile::tempdir().unwrap();
        let taken = root.path().join("taken");
        fs::create_dir(&taken).unwrap();
        let staged = StagingDir::beside(&taken, "stage").unwrap();
        fs::write(staged.path().join("x"), "x").unwrap();
        assert!(matches!(staged.move_to(&taken).unwrap_err(), AtomicDirError::Exists { .. }));
        assert_eq!(names_in(root.path()), vec!["taken"], "staging folder removed after a refused move");
        assert!(names_in(&taken).is_empty());

        let staged = StagingDir::beside(&taken, "stage").unwrap();
        fs::write(staged.path().join("x"), "x").unwrap();
        let dest = taken.join("inner");
        staged.move_to(&dest).unwrap();
        assert_eq!(names_in(&dest), vec!["x"]);
        assert_eq!(names_in(root.path()), vec!["taken"]);
    }

    #[test]
    fn rejects_unusable_names() {
        for p in ["/", "..", "a/.."] {
            let err = AtomicDir::create(Path::new(p), true, MARK).unwrap_err();
            assert!(matches!(err, AtomicDirError::BadPath { .. }), "{p}: {err}");
        }
    }
}
