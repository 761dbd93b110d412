//! The three verdicts a finding can have, and the exit codes they map to.

use serde::{Deserialize, Serialize};

/// How serious a finding is, as the policy decides. Ordered: `Ok < Warn < Fail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    Warn,
    Fail,
}

impl Verdict {
    /// The process exit code for a report whose worst verdict is `self`: 0 ok, 1 warn, 2 fail.
    /// (3 is reserved for usage and configuration errors.)
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Ok => 0,
            Verdict::Warn => 1,
            Verdict::Fail => 2,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Warn => "warn",
            Verdict::Fail => "fail",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Exit code for usage and configuration errors (bad flags, broken policy file).
pub const EXIT_USAGE: i32 = 3;
