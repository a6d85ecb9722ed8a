//! Randomness, keyed hashes and constant-time comparison. No primitives of our own: HMAC-SHA256
//! from RustCrypto, randomness from the OS.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("master key must be 32 bytes in base64 (got {0} bytes)")]
    Length(usize),
    #[error("master key is not valid base64")]
    Encoding,
    #[error("cannot read or write the master key file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("the operating system's random generator failed")]
    Random,
}

/// `n` random bytes from the OS.
pub fn random_bytes(n: usize) -> Result<Vec<u8>, KeyError> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|_| KeyError::Random)?;
    Ok(buf)
}

/// A random token of `n` bytes, base64url without padding.
pub fn random_token(n: usize) -> Result<String, KeyError> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes(n)?))
}

/// A random identifier of `n` bytes in lower-case hex: safe as a command-line argument (a
/// base64url one may begin with `-`, which a CLI reads as a flag) and in any URL.
pub fn random_id(n: usize) -> Result<String, KeyError> {
    Ok(hex::encode(random_bytes(n)?))
}

/// Constant-time equality of two byte strings.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// A key for one purpose, derived from the master key.
#[derive(Clone)]
pub struct SubKey([u8; 32]);

impl std::fmt::Debug for SubKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SubKey(<redacted>)")
    }
}

impl SubKey {
    /// The key itself, for a library that takes raw key bytes (JWE `dir` encryption).
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// HMAC-SHA256 of `data`, hex: how secrets (session ids, ...) are stored.
    pub fn hash_hex(&self, data: &[u8]) -> String {
        hex::encode(self.mac(data))
    }

    /// HMAC-SHA256 of `data`, base64url.
    pub fn mac_b64(&self, data: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(data))
    }

    fn mac(&self, data: &[u8]) -> [u8; 32] {
        // HMAC zero-pads a short key to the block size, so a 32-byte key padded to 64 bytes is
        // the same key, and this constructor cannot fail.
        let mut block = [0u8; 64];
        block[..32].copy_from_slice(&self.0);
        let mut mac = <HmacSha256 as hmac::digest::KeyInit>::new(&block.into());
        mac.update(data);
        mac.finalize().into_bytes().into()
    }
}

/// The master key: secrets at rest are hashed or encrypted under keys derived from it.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let bytes = STANDARD
            .decode(text)
            .or_else(|_| URL_SAFE_NO_PAD.decode(text))
            .map_err(|_| KeyError::Encoding)?;
        let arr: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::Length(bytes.len()))?;
        Ok(Self(arr))
    }

    /// Read `{dir}/master.key`, or create it (mode 0600) with a new random key.
    pub fn load_or_create(dir: &Path) -> Result<(Self, bool), KeyError> {
        let path = dir.join("master.key");
        let io = |source| KeyError::Io {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => return Ok((Self::from_base64(&text)?, false)),
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
            Err(_) => {}
        }
        std::fs::create_dir_all(dir).map_err(io)?;
        let key = random_bytes(32)?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(&path) {
            Ok(mut file) => {
                use std::io::Write;
                file.write_all(STANDARD.encode(&key).as_bytes())
                    .map_err(io)?;
                let arr: [u8; 32] = key
                    .as_slice()
                    .try_into()
                    .map_err(|_| KeyError::Length(key.len()))?;
                Ok((Self(arr), true))
            }
            // Another process created it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(&path).map_err(io)?;
                Ok((Self::from_base64(&text)?, false))
            }
            Err(e) => Err(io(e)),
        }
    }

    /// A key for one purpose: HMAC(master, "plinto/" + purpose).
    pub fn derive(&self, purpose: &str) -> SubKey {
        let sub = SubKey(self.0);
        let mut out = [0u8; 32];
        out.copy_from_slice(&sub.mac(format!("plinto/{purpose}").as_bytes()));
        SubKey(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_key_file_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let (a, created) = MasterKey::load_or_create(dir.path()).unwrap();
        assert!(created);
        let (b, created) = MasterKey::load_or_create(dir.path()).unwrap();
        assert!(!created);
        assert_eq!(a.derive("x").hash_hex(b"1"), b.derive("x").hash_hex(b"1"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("master.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn derived_keys_differ_by_purpose_and_bad_keys_are_refused() {
        let k = MasterKey::from_base64(&STANDARD.encode([7u8; 32])).unwrap();
        assert_ne!(
            k.derive("session").hash_hex(b"t"),
            k.derive("csrf").hash_hex(b"t")
        );
        assert!(matches!(
            MasterKey::from_base64(&STANDARD.encode([1u8; 16])),
            Err(KeyError::Length(16))
        ));
        assert!(matches!(
            MasterKey::from_base64("***"),
            Err(KeyError::Encoding)
        ));
        assert!(ct_eq(b"abc", b"abc") && !ct_eq(b"abc", b"abd") && !ct_eq(b"a", b"ab"));
    }
}
