//! The proctor's quit password: an Argon2id hash with its own random salt in the policy
//! (`lockdown.quit_password`, a PHC string made by `vigil policy hash-password`), checked with a
//! delay that doubles after every wrong attempt.
//!
//! The policy travels to every candidate, so the hash must be slow to guess offline: with the
//! parameters below one check takes about 100 ms on a two-core machine (`vigil policy
//! hash-password` prints the figure for the machine it runs on), so a 10-character password from
//! a proctor's keyboard is out of reach, while a dictionary word still is not: choose a long one.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::time::{Duration, Instant};

/// Memory per check, in KiB (32 MiB).
pub const MEMORY_KIB: u32 = 32 * 1024;
/// Passes over the memory.
pub const ITERATIONS: u32 = 3;
/// The least a policy's hash may ask for; weaker hashes are refused.
pub const MIN_MEMORY_KIB: u32 = 19 * 1024;
pub const MIN_ITERATIONS: u32 = 2;

/// A quit password hash that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QuitPasswordError {
    #[error("not an Argon2 PHC string (`$argon2id$v=19$m=...,t=...,p=...$SALT$HASH`): {0}")]
    Malformed(String),
    #[error("the hash must be Argon2id, not {0}")]
    NotArgon2id(String),
    #[error("the hash is too cheap to guard a password that every candidate receives: at least m={MIN_MEMORY_KIB}, t={MIN_ITERATIONS}")]
    TooWeak,
    #[error("the hash has no salt of at least 16 bytes")]
    NoSalt,
}

fn hasher() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, 1, None).expect("constant Argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes `password` with a new random salt from the OS.
pub fn hash(password: &str) -> Result<String, getrandom::Error> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)?;
    let salt = SaltString::encode_b64(&salt).expect("16 bytes make a valid salt");
    Ok(hasher().hash_password(password.as_bytes(), &salt).expect("hashing with valid parameters").to_string())
}

/// Checks that `phc` is an Argon2id hash with a salt and at least the minimum cost.
pub fn validate(phc: &str) -> Result<(), QuitPasswordError> {
    let parsed = PasswordHash::new(phc.trim()).map_err(|e| QuitPasswordError::Malformed(e.to_string()))?;
    if parsed.algorithm.as_str() != "argon2id" {
        return Err(QuitPasswordError::NotArgon2id(parsed.algorithm.to_string()));
    }
    let params = Params::try_from(&parsed).map_err(|e| QuitPasswordError::Malformed(e.to_string()))?;
    if params.m_cost() < MIN_MEMORY_KIB || params.t_cost() < MIN_ITERATIONS {
        return Err(QuitPasswordError::TooWeak);
    }
    let mut salt = [0u8; 64];
    match parsed.salt.map(|s| s.decode_b64(&mut salt).map(<[u8]>::len)) {
        Some(Ok(n)) if n >= 16 => Ok(()),
        _ => Err(QuitPasswordError::NoSalt),
    }
}

/// Whether `password` matches `phc` (false for a hash that does not validate).
pub fn verify(phc: &str, password: &str) -> bool {
    validate(phc).is_ok()
        && PasswordHash::new(phc.trim())
            .is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// Wrong attempts and when the next one may be made: 2 s after the first, then 4, 8, 16, ... up
/// to 5 minutes.
#[derive(Debug, Default)]
pub struct QuitGate {
    failures: u32,
    next_try: Option<Instant>,
}

/// The longest wait between attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(300);

impl QuitGate {
    /// How long to wait before the next attempt may be checked, if at all.
    pub fn wait(&self, now: Instant) -> Option<Duration> {
        self.next_try.and_then(|t| t.checked_duration_since(now)).filter(|d| !d.is_zero())
    }

    /// Records a wrong attempt; returns the wait before the next one.
    pub fn failed(&mut self, now: Instant) -> Duration {
        self.failures += 1;
        let delay = Duration::from_secs(1u64 << self.failures.min(16)).min(MAX_DELAY);
        self.next_try = Some(now + delay);
        delay
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only_and_salts_differ() {
        let a = hash("correct horse battery").unwrap();
        let b = hash("correct horse battery").unwrap();
        assert_ne!(a, b, "every hash has its own salt");
        assert!(a.starts_with("$argon2id$v=19$m=32768,t=3,p=1$"), "{a}");
        assert!(verify(&a, "correct horse battery"));
        assert!(!verify(&a, "correct horse batterY"));
        assert_eq!(validate(&a), Ok(()));
    }

    #[test]
    fn weak_or_foreign_hashes_are_refused() {
        // The hash of 0.1's policies: an unsalted SHA-256.
        let sha = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8";
        assert!(matches!(validate(sha), Err(QuitPasswordError::Malformed(_))));
        let cheap = "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$1B5JHhxiBOkPRqj5xT1Ya/cyJqdGaIqtW8u2BqZYCeE";
        assert_eq!(validate(cheap), Err(QuitPasswordError::TooWeak));
        assert!(!verify(cheap, "password"), "a weak hash never opens the exam");
        let argon2i =
            "$argon2i$v=19$m=65536,t=3,p=1$c2FsdHNhbHRzYWx0c2FsdA$1B5JHhxiBOkPRqj5xT1Ya/cyJqdGaIqtW8u2BqZYCeE";
        assert!(matches!(validate(argon2i), Err(QuitPasswordError::NotArgon2id(_))));
    }

    #[test]
    fn each_wrong_attempt_doubles_the_wait() {
        let mut gate = QuitGate::default();
        let t0 = Instant::now();
        assert_eq!(gate.wait(t0), None);
        assert_eq!(gate.failed(t0), Duration::from_secs(2));
        assert!(gate.wait(t0 + Duration::from_secs(1)).is_some());
        assert_eq!(gate.wait(t0 + Duration::from_secs(2)), None);
        let t1 = t0 + Duration::from_secs(2);
        assert_eq!(gate.failed(t1), Duration::from_secs(4));
        assert_eq!(gate.failed(t1), Duration::from_secs(8));
        for _ in 0..20 {
            gate.failed(t1);
        }
        assert_eq!(gate.failed(t1), MAX_DELAY);
        assert_eq!(gate.failures(), 24);
    }
}
