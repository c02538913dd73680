//! `hemosurv` command line: thin clap glue over the library.
//!
//! Exit codes: 0 success, 1 runtime failure (I/O, an estimator rejecting its
//! input), 2 invalid input data or arguments (nothing written).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use hemosurv::commands::estimators::{self, CifArgs, CoxArgs, KmArgs, LogRankArgs};
use hemosurv::stats::cox::Ties;
use hemosurv::stats::km::ConfType;

/// Registry cohort analytics and survival statistics for hematology (AML / HLH).
#[derive(Parser)]
#[command(name = "hemosurv", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum CliConfType {
    Log,
    #[value(name = "log-log")]
    LogLog,
    Plain,
}

#[derive(Clone, Copy, ValueEnum)]
enum CliTies {
    Efron,
    Breslow,
}

#[derive(Subcommand)]
enum Command {
    /// Kaplan–Meier survival (with Nelson–Aalen), medians and RMST, as R survfit.
    Km {
        /// Input table (.csv or .parquet).
        file: PathBuf,
        /// Time column.
        #[arg(long)]
        time: String,
        /// Event column (0 = censored, 1 = event).
        #[arg(long)]
        event: String,
        /// Group column.
        #[arg(long)]
        group: Option<String>,
        /// Confidence-interval type (R default: log).
        #[arg(long, value_enum, default_value = "log")]
        conf_type: CliConfType,
        /// Confidence level.
        #[arg(long, default_value_t = 0.95)]
        conf_level: f64,
        /// Restricted mean survival time horizon.
        #[arg(long)]
        rmst_tau: Option<f64>,
        /// Output prefix (writes PREFIX.km.csv, PREFIX.summary.csv).
        #[arg(long, default_value = "km")]
        out: PathBuf,
    },
    /// G-rho family of tests (log-rank, Peto–Peto), as R survdiff.
    Logrank {
        /// Input table.
        file: PathBuf,
        /// Time column.
        #[arg(long)]
        time: String,
        /// Event column.
        #[arg(long)]
        event: String,
        /// Group column.
        #[arg(long)]
        group: String,
        /// Strata column.
        #[arg(long)]
        strata: Option<String>,
        /// rho: 0 = log-rank, 1 = Peto–Peto.
        #[arg(long, default_value_t = 0.0)]
        rho: f64,
        /// Output prefix (writes PREFIX.logrank.json).
        #[arg(long, default_value = "logrank")]
        out: PathBuf,
    },
    /// Cox proportional hazards, as R coxph (Efron or Breslow ties, (start, stop] data, strata).
    Cox {
        /// Input table.
        file: PathBuf,
        /// Time (stop) column.
        #[arg(long)]
        time: String,
        /// Event column.
        #[arg(long)]
        event: String,
        /// Start column for counting-process (start, stop] data.
        #[arg(long)]
        start: Option<String>,
        /// Covariates, comma-separated; text columns become treatment contrasts (first level = reference).
        #[arg(long, value_delimiter = ',', required = true)]
        covariates: Vec<String>,
        /// Ties method.
        #[arg(long, value_enum, default_value = "efron")]
        ties: CliTies,
        /// Strata column.
        #[arg(long)]
        strata: Option<String>,
        /// Cluster column (robust sandwich variance).
        #[arg(long)]
        cluster: Option<String>,
        /// Confidence level.
        #[arg(long, default_value_t = 0.95)]
        conf_level: f64,
        /// Output prefix (writes PREFIX.cox.csv, PREFIX.cox.json).
        #[arg(long, default_value = "cox")]
        out: PathBuf,
    },
    /// Cumulative incidence with competing risks and Gray's test, as cmprsk::cuminc.
    Cif {
        /// Input table.
        file: PathBuf,
        /// Time column.
        #[arg(long)]
        time: String,
        /// Event column: 0 = censored, 1..k = causes.
        #[arg(long)]
        event: String,
        /// Group column.
        #[arg(long)]
        group: Option<String>,
        /// Output prefix (writes PREFIX.cif.csv, PREFIX.cif.json).
        #[arg(long, default_value = "cif")]
        out: PathBuf,
    },
}

fn report(paths: Vec<PathBuf>) {
    for p in paths {
        println!("wrote {}", p.display());
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: Result<(), (u8, String)> = match cli.command {
        Command::Km { file, time, event, group, conf_type, conf_level, rmst_tau, out } => {
            let conf_type = match conf_type {
                CliConfType::Log => ConfType::Log,
                CliConfType::LogLog => ConfType::LogLog,
                CliConfType::Plain => ConfType::Plain,
            };
            estimators::km(&KmArgs { file, time, event, group, conf_type, conf_level, rmst_tau, out }).map(report).map_err(estimator_exit)
        }
        Command::Logrank { file, time, event, group, strata, rho, out } => {
            estimators::logrank(&LogRankArgs { file, time, event, group, strata, rho, out }).map(report).map_err(estimator_exit)
        }
        Command::Cox { file, time, event, start, covariates, ties, strata, cluster, conf_level, out } => {
            let ties = match ties {
                CliTies::Efron => Ties::Efron,
                CliTies::Breslow => Ties::Breslow,
            };
            estimators::cox(&CoxArgs { file, time, event, start, covariates, ties, strata, cluster, conf_level, out })
                .map(report)
                .map_err(estimator_exit)
        }
        Command::Cif { file, time, event, group, out } => {
            estimators::cif(&CifArgs { file, time, event, group, out }).map(report).map_err(estimator_exit)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(code)
        }
    }
}

fn estimator_exit(e: estimators::EstimatorError) -> (u8, String) {
    let code = match e {
        estimators::EstimatorError::Write { .. } => 1,
        _ => 2,
    };
    (code, e.to_string())
}
