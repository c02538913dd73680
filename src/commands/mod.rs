//! The subcommands of the `hemosurv` binary, as library functions (the binary
//! only parses arguments). Each returns a typed error; the binary prints it
//! and exits non-zero.

pub mod cohort_cmds;
pub mod estimators;
pub mod exit;
pub mod omop;
pub mod review;
