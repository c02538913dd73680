//! Reading plain tables (CSV or Parquet) for the estimator subcommands (`km`, `logrank`,
//! `cox`, `cif`), the Parquet copies of result tables, the SHA-256 of a file (input
//! hashes of the validation report, output hashes of the manifest), and folders written under a
//! hidden temporary name and renamed into place ([`atomic_dir`]). Writing single files
//! atomically is `report::output`'s job.

pub mod atomic_dir;
pub mod csv_text;
pub mod plain_csv;
pub mod table;

use std::path::Path;

use sha2::{Digest, Sha256};

/// SHA-256 of a file's content as lowercase hex (the file is streamed, not read whole).
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    std::io::copy(&mut std::fs::File::open(path)?, &mut hasher)?;
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

pub use table::{Table, TableError};
