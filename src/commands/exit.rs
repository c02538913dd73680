//! The one map from the subcommands' errors to the process exit code.
//!
//! 0 success; [`INVALID_INPUT`] (2) when the input data, a criteria set, a study file or an
//! argument is invalid (nothing is written); [`RUNTIME_FAILURE`] (1) for I/O and everything else.
//! A new error type of a subcommand gets its `impl ExitStatus` here, so the policy stays in one file.

use super::cohort_cmds::CohortCommandError;
use super::estimators::EstimatorError;
use super::review::ReviewError;
use crate::cohort::omop::OmopError;
use crate::study::StudyError;

/// Exit code for invalid input data, criteria, study file or arguments.
pub const INVALID_INPUT: u8 = 2;
/// Exit code for a failure while running (I/O, writing output, an internal defect).
pub const RUNTIME_FAILURE: u8 = 1;

/// The process exit code an error ends the command with.
pub trait ExitStatus {
    /// [`INVALID_INPUT`] or [`RUNTIME_FAILURE`].
    fn exit_code(&self) -> u8;
}

impl ExitStatus for CohortCommandError {
    fn exit_code(&self) -> u8 {
        match self {
            CohortCommandError::Cohort(_)
            | CohortCommandError::Criteria(_)
            | CohortCommandError::Truth(_)
            | CohortCommandError::UnknownCriteria(_) => INVALID_INPUT,
            CohortCommandError::Omop(e) => e.exit_code(),
            CohortCommandError::Study(e) => e.exit_code(),
            CohortCommandError::Simulate(_) | CohortCommandError::Report(_) | CohortCommandError::Io { .. } => RUNTIME_FAILURE,
        }
    }
}

impl ExitStatus for OmopError {
    fn exit_code(&self) -> u8 {
        match self {
            OmopError::Mapping { .. }
            | OmopError::Structure { .. }
            | OmopError::Unreadable { .. }
            | OmopError::MissingColumn { .. }
            | OmopError::BadValue { .. }
            | OmopError::OutputExists { .. } => INVALID_INPUT,
            OmopError::Write(_) | OmopError::Internal { .. } => RUNTIME_FAILURE,
        }
    }
}

impl ExitStatus for ReviewError {
    fn exit_code(&self) -> u8 {
        match self {
            ReviewError::Cohort(_)
            | ReviewError::DuplicateDefinition(_)
            | ReviewError::BadOut { .. }
            | ReviewError::Exists { .. } => INVALID_INPUT,
            ReviewError::Criteria(e) => e.exit_code(),
            _ => RUNTIME_FAILURE,
        }
    }
}

impl ExitStatus for EstimatorError {
    fn exit_code(&self) -> u8 {
        match self {
            EstimatorError::Table(_) | EstimatorError::Stats { .. } | EstimatorError::Argument(_) => INVALID_INPUT,
            EstimatorError::Write { .. } => RUNTIME_FAILURE,
        }
    }
}

impl ExitStatus for StudyError {
    fn exit_code(&self) -> u8 {
        match self {
            StudyError::Cohort(_) | StudyError::Config(_) | StudyError::Criteria { .. } | StudyError::Truth(_) => INVALID_INPUT,
            _ => RUNTIME_FAILURE,
        }
    }
}
