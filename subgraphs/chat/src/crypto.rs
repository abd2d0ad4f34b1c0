//! Message bodies at rest: AES-256-GCM under `MESSAGE_ENCRYPTION_MASTER_KEY`
//! (32 bytes, base64). Each body gets a fresh random 96-bit nonce, and the
//! conversation and message ids are the associated data, so a ciphertext copied
//! onto another row does not decrypt. Postgres only ever sees ciphertext.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use nova_core::config::{required, ConfigError};
use uuid::Uuid;

/// The version stored with each ciphertext; a key rotation adds a version and
/// keeps the old key to read old rows.
pub const KEY_VERSION: i16 = 1;

/// The version of an erased body: its sender deleted their account, and the
/// row keeps no ciphertext (a tombstone; docs/deletion.md). It opens as "".
pub const ERASED: i16 = 0;

const NONCE_BYTES: usize = 12;

/// A body as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedBody {
    pub ciphertext: Vec<u8>,
    pub nonce: Vec<u8>,
    pub key_version: i16,
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("message body was sealed with key version {0}, which this process does not hold")]
    UnknownKeyVersion(i16),
    #[error("message body does not decrypt under this key (wrong key or tampered row)")]
    Tampered,
}

#[derive(Clone)]
pub struct MessageCipher {
    cipher: Aes256Gcm,
}

impl MessageCipher {
    pub fn from_env() -> Result<Self, ConfigError> {
        let name = "MESSAGE_ENCRYPTION_MASTER_KEY";
        let value = required(
            name,
            "the key chat encrypts message bodies with: 32 random bytes, base64 (openssl rand -base64 32)",
        )?;
        Self::from_base64(&value).map_err(|reason| ConfigError::Malformed {
            name: name.into(),
            value: "<hidden>".into(),
            reason,
        })
    }

    pub fn from_base64(value: &str) -> Result<Self, String> {
        let bytes = STANDARD
            .decode(value.trim())
            .map_err(|e| format!("not base64: {e}"))?;
        if bytes.len() != 32 {
            return Err(format!("must decode to 32 bytes, got {}", bytes.len()));
        }
        Ok(Self {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes)),
        })
    }

    pub fn seal(&self, conversation_id: Uuid, message_id: Uuid, body: &str) -> SealedBody {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let aad = associated_data(conversation_id, message_id);
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: body.as_bytes(),
                    aad: &aad,
                },
            )
            .expect("AES-GCM encryption of a bounded body cannot fail");
        SealedBody {
            ciphertext,
            nonce: nonce.to_vec(),
            key_version: KEY_VERSION,
        }
    }

    pub fn open(
        &self,
        conversation_id: Uuid,
        message_id: Uuid,
        sealed: &SealedBody,
    ) -> Result<String, OpenError> {
        if sealed.key_version == ERASED {
            return Ok(String::new());
        }
        if sealed.key_version != KEY_VERSION {
            return Err(OpenError::UnknownKeyVersion(sealed.key_version));
        }
        if sealed.nonce.len() != NONCE_BYTES {
            return Err(OpenError::Tampered);
        }
        let aad = associated_data(conversation_id, message_id);
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(&sealed.nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| OpenError::Tampered)?;
        String::from_utf8(plain).map_err(|_| OpenError::Tampered)
    }
}

fn associated_data(conversation_id: Uuid, message_id: Uuid) -> [u8; 32] {
    let mut aad = [0u8; 32];
    aad[..16].copy_from_slice(conversation_id.as_bytes());
    aad[16..].copy_from_slice(message_id.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> MessageCipher {
        MessageCipher::from_base64(&STANDARD.encode([7u8; 32])).unwrap()
    }

    #[test]
    fn a_body_round_trips_and_is_not_stored_in_the_clear() {
        let (conversation, message) = (Uuid::now_v7(), Uuid::now_v7());
        let sealed = cipher().seal(conversation, message, "meet at noon");
        assert!(!sealed
            .ciphertext
            .windows(4)
            .any(|w| w == b"meet" || w == b"noon"));
        assert_eq!(
            cipher().open(conversation, message, &sealed).unwrap(),
            "meet at noon"
        );
    }

    #[test]
    fn a_body_moved_to_another_message_or_tampered_does_not_open() {
        let (conversation, message) = (Uuid::now_v7(), Uuid::now_v7());
        let mut sealed = cipher().seal(conversation, message, "hello");
        assert!(cipher()
            .open(conversation, Uuid::now_v7(), &sealed)
            .is_err());
        sealed.ciphertext[0] ^= 1;
        assert!(cipher().open(conversation, message, &sealed).is_err());
    }

    #[test]
    fn the_key_must_be_32_bytes_of_base64() {
        assert!(MessageCipher::from_base64("not base64!").is_err());
        assert!(MessageCipher::from_base64(&STANDARD.encode([1u8; 16])).is_err());
    }
}
