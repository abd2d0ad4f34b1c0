//! Registry tokens. Configured as SHA-256 hashes only
//! (`NOVA_REGISTRY_TOKENS=name:role:sha256hex,...`), so neither the registry's
//! environment nor its database holds a usable token. `nova token hash` prints
//! the hash of a token.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Reads: the current supergraph, history, checks.
    Read,
    /// Reads, publish and rollback.
    Operator,
    /// Usage reports only (routers' `HIVE_ACCESS_TOKEN`): a router's token reads
    /// nothing and changes nothing.
    Report,
}

impl Role {
    /// Whether a token of this role may do what needs `needed`.
    pub fn allows(self, needed: Role) -> bool {
        match needed {
            Role::Read => matches!(self, Role::Read | Role::Operator),
            Role::Operator => self == Role::Operator,
            Role::Report => self == Role::Report,
        }
    }
}

#[derive(Clone, Debug)]
pub struct TokenEntry {
    pub name: String,
    pub role: Role,
    hash: [u8; 32],
}

/// Who called, as their token says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
    pub role: Role,
}

/// What `NOVA_REGISTRY_TOKENS` holds for a token.
pub fn hash_token(token: &str) -> String {
    sha256_hex(token)
}

/// SHA-256 of `text`, lowercase hex (token hashes, supergraph ETags).
pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn parse_hex(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Parse `name:role:sha256hex` entries separated by commas.
pub fn parse_tokens(text: &str) -> Result<Vec<TokenEntry>, String> {
    let mut entries = Vec::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let parts: Vec<&str> = entry.split(':').collect();
        let [name, role, hex] = parts.as_slice() else {
            return Err(format!("{entry:?} is not name:role:sha256hex"));
        };
        let role = match *role {
            "operator" => Role::Operator,
            "read" => Role::Read,
            "report" => Role::Report,
            other => return Err(format!("role {other:?} is not operator, read or report")),
        };
        let hash =
            parse_hex(hex).ok_or_else(|| format!("the hash of {name} is not 64 hex digits"))?;
        entries.push(TokenEntry {
            name: name.to_string(),
            role,
            hash,
        });
    }
    if !entries.iter().any(|e| e.role == Role::Operator) {
        return Err("no operator token is configured".into());
    }
    Ok(entries)
}

/// The principal of a presented token, comparing hashes in constant time.
pub fn authenticate(entries: &[TokenEntry], token: &str) -> Option<Principal> {
    let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let mut found = None;
    for entry in entries {
        if bool::from(entry.hash.ct_eq(&presented)) {
            found = Some(Principal {
                name: entry.name.clone(),
                role: entry.role,
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_known_by_its_hash_only() {
        let config = format!(
            "ops:operator:{},ci:read:{}",
            hash_token("operator-secret"),
            hash_token("read-secret")
        );
        let entries = parse_tokens(&config).unwrap();
        assert_eq!(
            authenticate(&entries, "operator-secret").map(|p| p.role),
            Some(Role::Operator)
        );
        assert_eq!(authenticate(&entries, "read-secret").unwrap().name, "ci");
        assert_eq!(authenticate(&entries, "wrong"), None);
        assert!(parse_tokens("ops:admin:00").is_err());
        assert!(Role::Operator.allows(Role::Read));
        assert!(!Role::Report.allows(Role::Read));
        assert!(!Role::Operator.allows(Role::Report));
        assert!(parse_tokens(&format!("ci:read:{}", hash_token("x"))).is_err());
    }
}
