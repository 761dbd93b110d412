//! Encryption at rest: finished segments are age-encrypted (X25519) to the exam's recipient from
//! the signed policy. The client cannot read its own recordings back; the backend, which holds
//! the exam's identity, decrypts them for review.

use std::io::Read;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("`{0}` is not an age X25519 recipient (age1...)")]
    BadRecipient(String),
    #[error("not an age X25519 identity (AGE-SECRET-KEY-1...)")]
    BadIdentity,
    #[error("encryption failed: {0}")]
    Encrypt(String),
    #[error("decryption failed: {0}")]
    Decrypt(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl SealError {
    /// A stable machine code: `seal.bad_recipient`, `seal.bad_identity`, `seal.encrypt`, `seal.decrypt`, `seal.io`.
    pub fn code(&self) -> &'static str {
        match self {
            SealError::BadRecipient(_) => "seal.bad_recipient",
            SealError::BadIdentity => "seal.bad_identity",
            SealError::Encrypt(_) => "seal.encrypt",
            SealError::Decrypt(_) => "seal.decrypt",
            SealError::Io(_) => "seal.io",
        }
    }
}

/// A new identity (secret) and its recipient (public), as strings.
pub fn generate() -> (String, String) {
    use age::secrecy::ExposeSecret;
    let id = age::x25519::Identity::generate();
    (id.to_string().expose_secret().to_owned(), id.to_public().to_string())
}

pub fn parse_recipient(recipient: &str) -> Result<age::x25519::Recipient, SealError> {
    vigil_core::compiled::parse_recipient(recipient).map_err(|_| SealError::BadRecipient(recipient.to_owned()))
}

/// Encrypts `plain` to `recipient` into `sealed` (fsync'd).
pub fn seal_file(plain: &Path, sealed: &Path, recipient: &age::x25519::Recipient) -> Result<(), SealError> {
    let encryptor = age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient))
        .map_err(|e| SealError::Encrypt(e.to_string()))?;
    let mut input = std::fs::File::open(plain)?;
    let out = std::fs::File::create(sealed)?;
    let mut writer = encryptor.wrap_output(std::io::BufWriter::new(out))?;
    std::io::copy(&mut input, &mut writer)?;
    let out = writer.finish()?.into_inner().map_err(|e| e.into_error())?;
    out.sync_all()?;
    Ok(())
}

/// Encrypts bytes to `recipient`.
pub fn seal_bytes(plain: &[u8], recipient: &age::x25519::Recipient) -> Result<Vec<u8>, SealError> {
    let encryptor = age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient))
        .map_err(|e| SealError::Encrypt(e.to_string()))?;
    let mut out = Vec::with_capacity(plain.len() + 256);
    let mut writer = encryptor.wrap_output(&mut out)?;
    std::io::Write::write_all(&mut writer, plain)?;
    writer.finish()?;
    Ok(out)
}

/// Decrypts an age file's bytes with `identity` (an `AGE-SECRET-KEY-1...` string).
pub fn open_bytes(sealed: &[u8], identity: &str) -> Result<Vec<u8>, SealError> {
    let identity: age::x25519::Identity = identity.trim().parse().map_err(|_| SealError::BadIdentity)?;
    let decryptor = age::Decryptor::new(sealed).map_err(|e| SealError::Decrypt(e.to_string()))?;
    let mut reader = decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .map_err(|e| SealError::Decrypt(e.to_string()))?;
    let mut out = Vec::new();
    reader.read_to_end(&mut out)?;
    Ok(out)
}

/// Whether bytes start like an age file.
pub fn is_sealed(bytes: &[u8]) -> bool {
    bytes.starts_with(b"age-encryption.org/v1\n")
}

/// Whether a file starts like an age file (reads only its first bytes; false if unreadable).
pub fn file_is_sealed(path: &Path) -> bool {
    let mut head = Vec::with_capacity(32);
    let _ = std::fs::File::open(path).and_then(|f| f.take(32).read_to_end(&mut head));
    is_sealed(&head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_wrong_identity() {
        let dir = tempfile::tempdir().unwrap();
        let (identity, recipient) = generate();
        let plain = dir.path().join("p");
        let data: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        std::fs::write(&plain, &data).unwrap();
        let sealed = dir.path().join("s");
        seal_file(&plain, &sealed, &parse_recipient(&recipient).unwrap()).unwrap();
        let bytes = std::fs::read(&sealed).unwrap();
        assert!(is_sealed(&bytes));
        assert!(!bytes.windows(64).any(|w| w == &data[1000..1064]), "plaintext visible in the sealed file");
        assert_eq!(open_bytes(&bytes, &identity).unwrap(), data);
        let (other, _) = generate();
        assert!(open_bytes(&bytes, &other).is_err());
        assert!(parse_recipient("age1nope").is_err());
    }
}
