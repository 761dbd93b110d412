//! `vigil policy ...`: validate a policy file, check a URL against its navigation rules, hash a
//! quit password, print the default policy.

use anyhow::{Context, Result};
use clap::{Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use vigil_core::policy::Format;
use vigil_core::url_rules::Decision;
use vigil_core::verdict::EXIT_USAGE;
use vigil_core::ExamPolicy;

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Check a policy file (JSON or TOML). Prints "valid" (exit 0) or which field is wrong (exit 3).
    Validate { file: PathBuf },
    /// Whether the exam window may open URL under a policy's navigation rules: prints `allowed`
    /// or `blocked` and the rule that decided (exit 0 allowed, 1 blocked, 3 error).
    CheckUrl {
        policy: PathBuf,
        url: String,
        /// The exam page, whose origin is allowed when the policy has no allow rule.
        #[arg(long, value_name = "URL")]
        exam_url: Option<String>,
    },
    /// Hash a quit password for `lockdown.quit_password`: reads the password from the first line
    /// of standard input and prints the Argon2id hash (with a new random salt) to paste into the
    /// policy; the time one check takes here goes to standard error.
    HashPassword,
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
        PolicyCommand::CheckUrl { policy, url, exam_url } => {
            let compiled = match load(&policy)
                .and_then(|p| Ok(vigil_core::url_rules::UrlRules::new(&p.lockdown.navigation, exam_url.as_deref())?))
            {
                Ok(rules) => rules,
                Err(e) => {
                    eprintln!("vigil: error: {e:#}");
                    return Ok(EXIT_USAGE);
                }
            };
            match compiled.decide(&url) {
                Decision::Allow(rule) => {
                    println!("allowed by {rule}");
                    Ok(0)
                }
                Decision::Block(rule) => {
                    println!("blocked by {rule}");
                    Ok(1)
                }
            }
        }
        PolicyCommand::HashPassword => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).context("reading the password from standard input")?;
            let password = line.trim_end_matches(['\n', '\r']);
            if password.chars().count() < 8 {
                eprintln!("vigil: error: the quit password must be at least 8 characters (a long phrase is best)");
                return Ok(EXIT_USAGE);
            }
            let phc =
                vigil_core::quit_password::hash(password).map_err(|e| anyhow::anyhow!("the OS random source: {e}"))?;
            let started = std::time::Instant::now();
            let ok = vigil_core::quit_password::verify(&phc, password);
            eprintln!("one check takes {} ms here", started.elapsed().as_millis());
            anyhow::ensure!(ok, "the new hash does not verify");
            println!("{phc}");
            Ok(0)
        }
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
