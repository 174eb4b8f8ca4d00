//! Encryption of stored secrets: ChaCha20-Poly1305 with a random 96-bit nonce per write, bound to
//! the secret's name (the name is the associated data, so a ciphertext copied to another name does
//! not decrypt).
//!
//! Stored form: `v1:` + base64 (standard, padded) of `nonce (12 bytes) ‖ ciphertext ‖ tag (16)`.
//!
//! The key is 32 bytes: from configuration (`secret_key`, base64), else from the key file
//! `<data-dir>/secret.key` (base64, created with mode 0600 at first start, in a directory created
//! 0700 if missing). Servers that share a
//! PostgreSQL database must share the key.
//!
//! The coordinator reads the secrets a run needs with [`SecretBox::read`] (or
//! [`SecretBox::read_all`]); the API only ever writes them. The coordinator also seals the values
//! of a run's `secret`-typed inputs (under the name `run RUN_ID inputs`) before the run is stored,
//! and opens them when it starts, recovers, reruns or resumes it.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce};
use co_store::Store;

/// Length of the key in bytes.
pub const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const PREFIX: &str = "v1:";
const AAD_PREFIX: &[u8] = b"containerops secret ";

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The configured key is not base64 of 32 bytes.
    #[error("the secrets key {0}")]
    BadKey(String),
    /// The key file could not be read or created.
    #[error("secrets key file {path}: {reason}")]
    KeyFile { path: String, reason: String },
    /// A stored value does not decrypt with this key (another key, or tampered with).
    #[error(
        "secret {0:?} cannot be decrypted with this server's key (servers that share a database \
         must share secret_key)"
    )]
    Decrypt(String),
    #[error("cannot get random bytes from the operating system: {0}")]
    Random(String),
    #[error(transparent)]
    Store(#[from] co_store::StoreError),
}

/// Encrypts and decrypts secret values with the server's key. Cheap to clone.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Arc<ChaCha20Poly1305>,
}

impl fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    pub fn new(key: &[u8; KEY_LEN]) -> SecretBox {
        SecretBox {
            cipher: Arc::new(ChaCha20Poly1305::new(key.into())),
        }
    }

    /// From the base64 text of a 32-byte key (standard or URL-safe alphabet, padding optional).
    pub fn from_base64(text: &str) -> Result<SecretBox, CryptoError> {
        let key = decode_key(text)?;
        Ok(SecretBox::new(&key))
    }

    /// A new random key, as base64 (what `secret_key` expects).
    pub fn generate_key() -> Result<String, CryptoError> {
        let mut key = [0u8; KEY_LEN];
        getrandom::fill(&mut key).map_err(|e| CryptoError::Random(e.to_string()))?;
        Ok(B64.encode(key))
    }

    /// The key in the file at `path`; a new random key is written there first (mode 0600, its
    /// directory created) if the file does not exist. Several processes starting at once agree on
    /// one key (the file appears atomically). Returns whether the file was created.
    pub fn load_or_create(path: &Path) -> Result<(SecretBox, bool), CryptoError> {
        let file_error = |reason: String| CryptoError::KeyFile {
            path: path.display().to_string(),
            reason,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                return SecretBox::from_base64(text.trim())
                    .map(|b| (b, false))
                    .map_err(|e| file_error(e.to_string()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(file_error(e.to_string())),
        }
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        co_store::create_private_dir_all(&dir)
            .map_err(|e| file_error(format!("cannot create {}: {e}", dir.display())))?;
        let key = SecretBox::generate_key()?;
        // Write a private temp file, then link it into place: readers never see a partial key,
        // and of several processes starting at once exactly one link succeeds.
        let tmp = dir.join(format!(
            ".secret.key.{}.{}",
            std::process::id(),
            ulid::Ulid::new()
        ));
        let written = (|| -> std::io::Result<()> {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(co_store::PRIVATE_FILE_MODE);
            }
            let mut file = options.open(&tmp)?;
            file.write_all(key.as_bytes())?;
            file.write_all(b"\n")?;
            file.sync_all()
        })();
        let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => SecretBox::from_base64(&key).map(|b| (b, true)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
                SecretBox::from_base64(text.trim())
                    .map(|b| (b, false))
                    .map_err(|e| file_error(e.to_string()))
            }
            Err(e) => Err(file_error(format!("cannot write it: {e}"))),
        }
    }

    /// Encrypt the value of secret `name` (a fresh random nonce every call).
    pub fn encrypt(&self, name: &str, value: &str) -> Result<String, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| CryptoError::Random(e.to_string()))?;
        let aad = aad(name);
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: value.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| CryptoError::Decrypt(name.to_string()))?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}", B64.encode(out)))
    }

    /// Decrypt a stored value of secret `name`.
    pub fn decrypt(&self, name: &str, stored: &str) -> Result<String, CryptoError> {
        let fail = || CryptoError::Decrypt(name.to_string());
        let raw = stored
            .strip_prefix(PREFIX)
            .and_then(|b| B64.decode(b).ok())
            .ok_or_else(fail)?;
        if raw.len() < NONCE_LEN {
            return Err(fail());
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let aad = aad(name);
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| fail())?;
        String::from_utf8(plain).map_err(|_| fail())
    }

    /// Encrypt `value` and store it as secret `name` (insert or replace).
    pub async fn write(&self, store: &Store, name: &str, value: &str) -> Result<(), CryptoError> {
        let sealed = self.encrypt(name, value)?;
        store.put_secret(name, &sealed).await?;
        Ok(())
    }

    /// The value of secret `name`, or `None` if it is not set.
    pub async fn read(&self, store: &Store, name: &str) -> Result<Option<String>, CryptoError> {
        match store.get_secret(name).await? {
            Some(sealed) => self.decrypt(name, &sealed).map(Some),
            None => Ok(None),
        }
    }

    /// Every stored secret, by name.
    pub async fn read_all(&self, store: &Store) -> Result<BTreeMap<String, String>, CryptoError> {
        let mut out = BTreeMap::new();
        for name in store.list_secret_names().await? {
            if let Some(value) = self.read(store, &name).await? {
                out.insert(name, value);
            }
        }
        Ok(out)
    }
}

/// What the coordinator uses to read the secrets of the runs it starts, and to keep their secret
/// inputs.
impl crate::coordinator::SecretCipher for SecretBox {
    fn encrypt(&self, name: &str, value: &str) -> Result<String, String> {
        SecretBox::encrypt(self, name, value).map_err(|e| e.to_string())
    }

    fn decrypt(&self, name: &str, ciphertext: &str) -> Result<String, String> {
        SecretBox::decrypt(self, name, ciphertext).map_err(|e| e.to_string())
    }
}

fn aad(name: &str) -> Vec<u8> {
    let mut aad = AAD_PREFIX.to_vec();
    aad.extend_from_slice(name.as_bytes());
    aad
}

fn decode_key(text: &str) -> Result<[u8; KEY_LEN], CryptoError> {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let text = text.trim();
    let bytes = [&B64, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
        .ok_or_else(|| {
            CryptoError::BadKey(
                "is not valid base64 (make one with: head -c32 /dev/urandom | base64)".into(),
            )
        })?;
    <[u8; KEY_LEN]>::try_from(bytes.as_slice()).map_err(|_| {
        CryptoError::BadKey(format!(
            "must be {KEY_LEN} bytes, not {} (make one with: head -c32 /dev/urandom | base64)",
            bytes.len()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sbox() -> SecretBox {
        SecretBox::from_base64(&SecretBox::generate_key().unwrap()).unwrap()
    }

    #[test]
    fn round_trips_with_a_fresh_nonce_every_time() {
        let b = sbox();
        let one = b.encrypt("TOKEN", "hunter2 ✓").unwrap();
        let two = b.encrypt("TOKEN", "hunter2 ✓").unwrap();
        assert_ne!(one, two);
        assert!(one.starts_with("v1:"));
        assert!(!one.contains("hunter2"));
        assert_eq!(b.decrypt("TOKEN", &one).unwrap(), "hunter2 ✓");
        assert_eq!(b.decrypt("TOKEN", &two).unwrap(), "hunter2 ✓");
        assert_eq!(b.decrypt("E", &b.encrypt("E", "").unwrap()).unwrap(), "");
    }

    #[test]
    fn another_key_another_name_or_tampering_fails() {
        let b = sbox();
        let sealed = b.encrypt("A", "value").unwrap();
        assert!(matches!(
            sbox().decrypt("A", &sealed),
            Err(CryptoError::Decrypt(_))
        ));
        assert!(matches!(
            b.decrypt("B", &sealed),
            Err(CryptoError::Decrypt(_))
        ));
        let mut raw = B64.decode(&sealed[3..]).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let tampered = format!("v1:{}", B64.encode(raw));
        assert!(b.decrypt("A", &tampered).is_err());
        assert!(b.decrypt("A", "v1:").is_err());
        assert!(b.decrypt("A", "plain").is_err());
    }

    #[test]
    fn keys_must_be_base64_of_32_bytes() {
        assert!(SecretBox::from_base64("not base64!").is_err());
        let short = B64.encode([1u8; 16]);
        let err = SecretBox::from_base64(&short).unwrap_err().to_string();
        assert!(err.contains("32 bytes, not 16"), "{err}");
        let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([0xfbu8; 32]);
        assert!(SecretBox::from_base64(&url_safe).is_ok());
    }

    #[test]
    fn the_key_file_is_created_private_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/secret.key");
        let (first, created) = SecretBox::load_or_create(&path).unwrap();
        assert!(created);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            let mode = std::fs::metadata(path.parent().unwrap())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        let (again, created) = SecretBox::load_or_create(&path).unwrap();
        assert!(!created);
        let sealed = first.encrypt("X", "v").unwrap();
        assert_eq!(again.decrypt("X", &sealed).unwrap(), "v");
        // No temp files are left behind.
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("secret.key")]);

        std::fs::write(&path, "garbage").unwrap();
        let err = SecretBox::load_or_create(&path).unwrap_err().to_string();
        assert!(err.contains("secret.key"), "{err}");
    }

    #[test]
    fn debug_shows_no_key() {
        assert_eq!(format!("{:?}", sbox()), "SecretBox(..)");
    }
}
