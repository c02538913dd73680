//! `hemosurv` command line: thin clap glue over the library.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Registry cohort analytics and survival statistics for hematology (AML / HLH).
#[derive(Parser)]
#[command(name = "hemosurv", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the version and exit.
    Version,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Version => {
            println!("hemosurv {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
    }
}
