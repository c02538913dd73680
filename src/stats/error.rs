//! Errors raised by the statistical estimators.
//!
//! Every variant names the input column, term or group at fault, so that a
//! CLI user sees *what* is wrong, never a silent NaN in a table.

use thiserror::Error;

/// One error type for everything in [`crate::stats`].
#[derive(Debug, Error, Clone, PartialEq)]
pub enum StatsError {
    /// An input vector is malformed (negative/missing time, bad event code, length mismatch ...).
    #[error("invalid input in `{column}`: {message}")]
    InvalidInput {
        /// Column, argument or term that holds the bad value.
        column: String,
        /// What was expected and what was found (with the row index where known).
        message: String,
    },
    /// A group / stratum requested has no rows, or there is no data at all.
    #[error("no data: {0}")]
    Empty(String),
    /// A covariate has no variance (constant column) or the design matrix is singular.
    #[error("covariate `{term}` is constant or collinear: {message}")]
    Singular {
        /// Term of the design matrix.
        term: String,
        /// Detail.
        message: String,
    },
    /// An iterative fit did not converge.
    #[error("fit did not converge after {iterations} iterations: {message}")]
    NotConverged {
        /// Iterations used.
        iterations: usize,
        /// Detail (e.g. which coefficient diverged: monotone likelihood).
        message: String,
    },
}

/// Convenience alias.
pub type StatsResult<T> = Result<T, StatsError>;

/// Check that `values` has the same length as `expected_len`.
pub fn check_len(column: &str, values: usize, expected_len: usize) -> StatsResult<()> {
    if values != expected_len {
        return Err(StatsError::InvalidInput {
            column: column.to_string(),
            message: format!("has {values} values, expected {expected_len}"),
        });
    }
    Ok(())
}

/// Check survival times: finite and non-negative. Reports the first bad row (0-based index + 1).
pub fn check_times(column: &str, times: &[f64]) -> StatsResult<()> {
    for (i, &t) in times.iter().enumerate() {
        if !t.is_finite() || t < 0.0 {
            return Err(StatsError::InvalidInput {
                column: column.to_string(),
                message: format!("row {}: time must be a finite number >= 0, found {t}", i + 1),
            });
        }
    }
    Ok(())
}
