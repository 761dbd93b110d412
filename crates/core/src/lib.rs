//! Vigil's domain: the exam policy, the facts a system check gathers, the findings and verdicts it
//! derives from them, and the versioned check report. Pure logic, no I/O beyond parsing given text,
//! so that every rule can be tested with fabricated facts.

pub mod apps;
pub mod check;
pub mod facts;
pub mod lockdown;
pub mod policy;
pub mod protocol;
pub mod seal;
pub mod spool;
pub mod time;
pub mod verdict;

pub use check::{evaluate, Finding, Report, REPORT_SCHEMA};

/// An error and all its sources, `outer: inner: innermost`, for one-line messages.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}
pub use policy::{ExamPolicy, PolicyError};
pub use verdict::Verdict;
