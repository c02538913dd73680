//! `hemosurv` command line: thin clap glue over the library.
//!
//! Exit codes: 0 success, 1 runtime failure (I/O), 2 invalid input data or arguments
//! (nothing written); the map from each error to its code is `hemosurv::commands::exit`.

use std::path::PathBuf;
use std::process::ExitCode;

/// mimalloc instead of the system allocator: measured on `km` over 10 M rows and
/// on the study run (docs/performance.md); the library leaves the choice to its users.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand, ValueEnum};

use hemosurv::cohort::Format as CohortFormat;
use hemosurv::commands::cohort_cmds::{self, ReportFormat};
use hemosurv::commands::estimators::{self, CifArgs, CoxArgs, KmArgs, LogRankArgs};
use hemosurv::commands::exit::{ExitStatus, INVALID_INPUT};
use hemosurv::commands::omop as omop_cmds;
use hemosurv::commands::review;
use hemosurv::simulate::SimFormat;
use hemosurv::stats::cox::Ties;
use hemosurv::stats::km::ConfType;
use hemosurv::study::{self, RunOptions};

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

#[derive(Clone, Copy, ValueEnum)]
enum CliFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum CliTableFormat {
    Csv,
    Parquet,
}

#[derive(Clone, Copy, ValueEnum)]
enum CliSimFormat {
    Csv,
    Parquet,
    Omop,
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Map an OMOP CDM v5.4 extract (CSV or Parquet tables) to a cohort folder, with an audit
    /// of every row in COHORT/omop_audit/ (docs/omop.md).
    Omop {
        /// Folder of OMOP tables (person, observation_period, condition_occurrence, concept, ...).
        cdm: PathBuf,
        /// Cohort folder to write.
        #[arg(long)]
        out: PathBuf,
        /// Mapping file (TOML) [default: the built-in mapping, see `hemosurv omop mapping show`].
        #[arg(long)]
        mapping: Option<PathBuf>,
        /// Format of the cohort tables.
        #[arg(long, value_enum, default_value = "csv")]
        format: CliTableFormat,
        /// Replace an existing output folder (only an earlier import or an empty folder).
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
enum OmopMappingCommand {
    /// Print the built-in OMOP mapping (TOML with sources), or check and print FILE.
    Show {
        /// A mapping file to check and print.
        file: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum OmopCommand {
    /// The mapping from OMOP concepts to the cohort contract.
    Mapping {
        #[command(subcommand)]
        command: OmopMappingCommand,
    },
}

#[derive(Subcommand)]
enum CriteriaCommand {
    /// Print a criteria set (built-in name or TOML file) as TOML.
    Show {
        /// hlh2004, hscore, ohi, hlh_aml, or a path to a TOML file.
        name: String,
    },
}

#[derive(Subcommand)]
enum Command {
    /// The main job: a whole HLH-in-AML study (incidence, survival, response, figures, report).
    Run {
        /// Cohort folder (patients, measurements, findings, treatments, responses).
        #[arg(required_unless_present = "omop", conflicts_with = "omop")]
        cohort: Option<PathBuf>,
        /// Run on an OMOP CDM extract instead: imported as by `hemosurv import omop` into
        /// OUT/omop_cohort/ (docs/omop.md).
        #[arg(long)]
        omop: Option<PathBuf>,
        /// Mapping file for --omop [default: the built-in mapping].
        #[arg(long, requires = "omop")]
        mapping: Option<PathBuf>,
        /// Study file (TOML); default study if omitted (docs/study.md).
        #[arg(long)]
        study: Option<PathBuf>,
        /// Output folder [default: out/<cohort folder name>].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Replace an existing output folder.
        #[arg(long)]
        force: bool,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
        /// Move rows with errors to rejects.csv instead of failing.
        #[arg(long)]
        quarantine: bool,
        /// Truth table (patient_id, episode, onset_date, ...) to validate every definition
        /// against [default: COHORT/truth.csv or truth.parquet if present].
        #[arg(long)]
        truth: Option<PathBuf>,
        /// Show patient identifiers in the report and figures (internal use). By default they
        /// show sequential study numbers; the key is in tables/patient_key.csv.
        #[arg(long)]
        identifiable: bool,
    },
    /// Check a cohort folder against the data contract (exit 2 on errors).
    Validate {
        /// Cohort folder.
        cohort: PathBuf,
        /// Report format.
        #[arg(long, value_enum, default_value = "text")]
        format: CliFormat,
        /// Report errors as quarantined rows (exit 0) and write them to --rejects (required
        /// with --quarantine: the input folder is never written to, and rejected rows are
        /// never dropped without a file that holds them).
        #[arg(long, requires = "rejects")]
        quarantine: bool,
        /// Where to write rejected rows with --quarantine.
        #[arg(long, requires = "quarantine")]
        rejects: Option<PathBuf>,
    },
    /// Detect HLH episodes; writes episodes and evidence tables.
    Detect {
        /// Cohort folder.
        cohort: PathBuf,
        /// Criteria sets: hlh2004, hscore, ohi, hlh_aml, or TOML files (repeatable).
        #[arg(long, default_values_t = vec!["hlh2004".to_string()])]
        criteria: Vec<String>,
        /// Output folder.
        #[arg(long, default_value = "out/detect")]
        out: PathBuf,
        /// Truth table (patient_id, episode, onset_date, ...): writes hlh_validation.csv
        /// [default: COHORT/truth.csv or truth.parquet if present].
        #[arg(long)]
        truth: Option<PathBuf>,
        /// Replace an existing output folder.
        #[arg(long)]
        force: bool,
        /// Move rows with errors to rejects.csv instead of failing.
        #[arg(long)]
        quarantine: bool,
        /// No progress bar (it is shown only when stderr is a terminal).
        #[arg(long)]
        quiet: bool,
    },
    /// Chart review: a blinded sheet of candidate HLH episodes (all definitions) and its key;
    /// with an `adjudications` table, each definition's PPV and the reviewers' kappa (docs/review.md).
    Review {
        /// Cohort folder.
        cohort: PathBuf,
        /// Criteria sets: built-in names or TOML files (repeatable) [default: every built-in set].
        #[arg(long)]
        criteria: Vec<String>,
        /// The review sheet; the key is written beside it as <stem>_key.csv.
        #[arg(long, default_value = "review.csv")]
        out: PathBuf,
        /// Replace existing output files.
        #[arg(long)]
        force: bool,
        /// Move rows with errors to <stem>_rejects.csv instead of failing.
        #[arg(long)]
        quarantine: bool,
        /// An episode matches an adjudication of the same patient within this many days of onset.
        #[arg(long, default_value_t = hemosurv::commands::review::DEFAULT_MATCH_DAYS)]
        match_days: i32,
    },
    /// Criteria sets.
    Criteria {
        #[command(subcommand)]
        command: CriteriaCommand,
    },
    /// Import data from other formats into a cohort folder.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// OMOP CDM import settings.
    Omop {
        #[command(subcommand)]
        command: OmopCommand,
    },
    /// Generate a synthetic AML registry with planted HLH episodes and a truth table.
    Simulate {
        /// Number of patients.
        #[arg(long)]
        patients: usize,
        /// Random seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Table format (omop: an OMOP CDM v5.4 extract, docs/omop.md).
        #[arg(long, value_enum, default_value = "parquet")]
        format: CliSimFormat,
        /// The clean model without HLH mimics (patients without HLH stay below every HLH
        /// rule; for validating estimators). Default: mimics of intensive AML therapy.
        #[arg(long)]
        clean: bool,
        /// Model parameters from a JSON or TOML file (any subset of the `params` object of
        /// truth_params.json; missing fields keep their defaults).
        #[arg(long)]
        params: Option<PathBuf>,
        /// No progress bar (it is shown only when stderr is a terminal).
        #[arg(long)]
        quiet: bool,
    },
    /// Kaplan–Meier survival (with Nelson–Aalen), medians and RMST, as R survfit.
    Km {
        /// Input table (.csv or .parquet).
        file: PathBuf,
        /// Time column.
        #[arg(long)]
        time: String,
        /// Event column: 0 = censored, 1 = event (or R's coding 1 = censored, 2 = event when the column holds only 1 and 2, as `Surv()`; the output says so).
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
        /// Also test the groups with the log-rank test on the same read of the
        /// file (writes PREFIX.logrank.json, as `hemosurv logrank` would).
        #[arg(long, requires = "group")]
        logrank: bool,
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

/// mimalloc returns freed memory to the system only after a delay (see
/// `purge_freed_memory_at_once`); `cox` on 1 M rows freed its input arrays and then
/// allocated the next phase's within that window, so ~20-30 MB of freed memory counted in
/// its peak.
#[cfg(feature = "mimalloc")]
fn release_freed_memory() {
    extern "C" {
        /// mimalloc's public API (`mimalloc.h`): purge freed memory now when `force`.
        fn mi_collect(force: bool);
    }
    // SAFETY: `mi_collect` is part of the mimalloc C library that libmimalloc-sys links as
    // this binary's global allocator; it takes no pointers and only returns freed memory.
    unsafe { mi_collect(true) }
}

/// mimalloc (v3, the version linked) hands freed memory back to the system 1 s after it is
/// freed (its `purge_delay`). In the study run's analyses one fit frees its buffers and the
/// next allocates its own within that time, so both counted in the resident peak; purging at
/// once costs system time, so the run asks for it only after detection
/// (`hemosurv::PURGE_FREED_MEMORY_AT_ONCE`; docs/performance.md, stop 17). A
/// `MIMALLOC_PURGE_DELAY` set in the environment is left as it is.
#[cfg(feature = "mimalloc")]
fn purge_freed_memory_at_once() {
    /// `mi_option_purge_delay` in `mimalloc.h` (the 16th option, in v2 and v3 alike).
    const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;
    extern "C" {
        /// mimalloc's public API (`mimalloc.h`): set an option.
        fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
    }
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: `mi_option_set` is part of the mimalloc C library that libmimalloc-sys links
        // as this binary's global allocator; it takes no pointers, and the option is valid.
        unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, 0) }
    }
}

fn main() -> ExitCode {
    #[cfg(feature = "mimalloc")]
    {
        let _ = hemosurv::RELEASE_FREED_MEMORY.set(release_freed_memory);
        let _ = hemosurv::PURGE_FREED_MEMORY_AT_ONCE.set(purge_freed_memory_at_once);
    }
    let cli = Cli::parse();
    let result: Result<(), (u8, String)> = match cli.command {
        Command::Run { cohort, omop, mapping, study, out, force, quiet, quarantine, truth, identifiable } => {
            let input = cohort.clone().or_else(|| omop.clone()).unwrap_or_default();
            let out = out.unwrap_or_else(|| PathBuf::from("out").join(input.file_name().unwrap_or_default()));
            let quiet = quiet || !std::io::IsTerminal::is_terminal(&std::io::stderr());
            let opts = RunOptions {
                cohort_dir: input,
                study,
                out,
                force,
                quiet,
                quarantine,
                truth,
                identifiable,
                command: std::env::args().collect(),
                part_rows: study::DEFAULT_PART_ROWS,
            };
            let result = match &omop {
                Some(cdm) => omop_cmds::run_omop(cdm, mapping.as_deref(), &opts).map_err(failure),
                None => study::run(&opts).map_err(failure),
            };
            result.map(|s| {
                println!(
                    "wrote {}: {} patients, {} tables, {} figures, report.html, manifest.json ({:.1} s)",
                    s.out.display(),
                    s.patients,
                    s.tables,
                    s.figures,
                    s.wall_time_s
                );
            })
        }
        Command::Validate { cohort, format, quarantine, rejects } => {
            let format = match format {
                CliFormat::Text => ReportFormat::Text,
                CliFormat::Json => ReportFormat::Json,
            };
            match cohort_cmds::validate(&cohort, format, quarantine, rejects.as_deref()) {
                Ok((text, has_errors)) => {
                    println!("{text}");
                    if has_errors {
                        Err((INVALID_INPUT, format!("{}: the cohort has errors (see above)", cohort.display())))
                    } else {
                        Ok(())
                    }
                }
                Err(e) => Err(failure(e)),
            }
        }
        Command::Detect { cohort, criteria, out, force, quarantine, truth, quiet } => {
            cohort_cmds::detect_cmd(&cohort, &criteria, &out, force, quarantine, truth.as_deref(), quiet)
                .map(|s| {
                    print!("{s}");
                    println!("wrote {}", out.display());
                })
                .map_err(failure)
        }
        Command::Review { cohort, criteria, out, force, quarantine, match_days } => {
            let args = review::ReviewArgs { cohort, criteria, out, force, quarantine, match_days };
            review::review_cmd(&args)
                .map(|s| {
                    println!("{} definitions, {} episodes, {} candidate episodes", s.definitions, s.episodes, s.candidates);
                    for line in &s.agreement_text {
                        println!("{line}");
                    }
                    report(s.written);
                })
                .map_err(failure)
        }
        Command::Criteria { command: CriteriaCommand::Show { name } } => {
            cohort_cmds::criteria_show(&name).map(|t| print!("{t}")).map_err(failure)
        }
        Command::Import { command: ImportCommand::Omop { cdm, out, mapping, format, force } } => {
            let format = match format {
                CliTableFormat::Csv => CohortFormat::Csv,
                CliTableFormat::Parquet => CohortFormat::Parquet,
            };
            omop_cmds::import_cmd(&cdm, &out, mapping.as_deref(), format, force)
                .map(|s| {
                    print!("{s}");
                    println!("wrote {}", out.display());
                })
                .map_err(failure)
        }
        Command::Omop { command: OmopCommand::Mapping { command: OmopMappingCommand::Show { file } } } => {
            omop_cmds::mapping_show(file.as_deref()).map(|t| print!("{t}")).map_err(failure)
        }
        Command::Simulate { patients, seed, out, format, clean, params, quiet } => {
            let format = match format {
                CliSimFormat::Csv => SimFormat::Csv,
                CliSimFormat::Parquet => SimFormat::Parquet,
                CliSimFormat::Omop => SimFormat::Omop,
            };
            cohort_cmds::simulate_cmd(patients, seed, &out, format, clean, params.as_deref(), quiet)
                .map(|s| {
                    println!(
                        "wrote {}: {} patients, {} measurements, {} planted HLH episodes in {} patients",
                        out.display(),
                        s.patients,
                        s.measurements,
                        s.episodes,
                        s.patients_with_hlh
                    )
                })
                .map_err(failure)
        }
        Command::Km { file, time, event, group, conf_type, conf_level, rmst_tau, logrank, out } => {
            let conf_type = match conf_type {
                CliConfType::Log => ConfType::Log,
                CliConfType::LogLog => ConfType::LogLog,
                CliConfType::Plain => ConfType::Plain,
            };
            estimators::km(&KmArgs { file, time, event, group, conf_type, conf_level, rmst_tau, logrank, out })
                .map(report)
                .map_err(failure)
        }
        Command::Logrank { file, time, event, group, strata, rho, out } => {
            estimators::logrank(&LogRankArgs { file, time, event, group, strata, rho, out }).map(report).map_err(failure)
        }
        Command::Cox { file, time, event, start, covariates, ties, strata, cluster, conf_level, out } => {
            let ties = match ties {
                CliTies::Efron => Ties::Efron,
                CliTies::Breslow => Ties::Breslow,
            };
            estimators::cox(&CoxArgs { file, time, event, start, covariates, ties, strata, cluster, conf_level, out })
                .map(report)
                .map_err(failure)
        }
        Command::Cif { file, time, event, group, out } => {
            estimators::cif(&CifArgs { file, time, event, group, out }).map(report).map_err(failure)
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

/// The exit code and message of a failed command (the codes come from `commands::exit`).
fn failure<E: ExitStatus + std::fmt::Display>(e: E) -> (u8, String) {
    (e.exit_code(), e.to_string())
}
