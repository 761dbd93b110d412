//! Vigil's domain: the exam policy, the typed timeline of events, the protocol's types, the facts a
//! system check gathers, the findings and verdicts it derives from them, and the versioned check
//! report. Pure logic, no I/O beyond parsing given text (and reading the clock), so that every rule
//! can be tested with fabricated facts. The spool, sealing and hashing live in `vigil-spool`.

pub mod apps;
pub mod check;
pub mod compiled;
pub mod event;
pub mod facts;
pub mod lockdown;
pub mod policy;
pub mod protocol;
pub mod quit_password;
pub mod stop;
pub mod time;
pub mod url_rules;
pub mod verdict;
pub mod xcap_lock;

pub use check::{evaluate, Finding, Report, REPORT_SCHEMA};

/// Whether `url` names this machine (`localhost`, 127.0.0.0/8, ::1).
pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

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
/// What a thread that panicked said (its `&str` or `String` payload).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

pub use compiled::CompiledPolicy;
pub use policy::{ExamPolicy, PolicyError};
pub use stop::StopToken;
pub use verdict::Verdict;
