//! `vigil policy ...`: validate a policy file, print the default one.

use anyhow::{Context, Result};
use clap::{Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use vigil_core::policy::Format;
use vigil_core::verdict::EXIT_USAGE;
use vigil_core::ExamPolicy;

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Check a policy file (JSON or TOML). Prints "valid" (exit 0) or which field is wrong (exit 3).
    Validate { file: PathBuf },
    /// Print the built-in default policy, as a starting point for your own.
    Default {
        #[arg(long, value_enum, default_value_t = OutFormat::Toml)]
        format: OutFormat,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum OutFormat {
    Toml,
    Json,
}

pub fn run(cmd: PolicyCommand) -> Result<i32> {
    match cmd {
        PolicyCommand::Validate { file } => match load(&file) {
            Ok(p) => {
                println!("valid: {} ({})", file.display(), p.name);
                Ok(0)
            }
            Err(e) => {
                eprintln!("invalid: {e:#}");
                Ok(EXIT_USAGE)
            }
        },
        PolicyCommand::Default { format } => {
            let p = ExamPolicy::default();
            match format {
                OutFormat::Toml => print!("{}", toml::to_string_pretty(&p).context("serialising the default policy")?),
                OutFormat::Json => println!("{}", serde_json::to_string_pretty(&p)?),
            }
            Ok(0)
        }
    }
}

/// Reads and validates a policy file; the error names the file and the field.
pub fn load(path: &Path) -> Result<ExamPolicy> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read policy file {}", path.display()))?;
    ExamPolicy::parse(&text, Format::detect(Some(path), &text))
        .with_context(|| format!("policy file {}", path.display()))
}
