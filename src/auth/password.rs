//! Argon2id password hashing (PHC strings) with equal cost for unknown users.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

pub fn hash(password: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| format!("hashing the password failed: {e}"))
}

/// Verifies `password` against a PHC string. A malformed stored hash never matches.
pub fn verify(password: &str, phc: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), phc)
        .is_ok()
}

/// Rules for new passwords: long enough to resist guessing, bounded to cap hashing work.
pub fn check_new(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < 8 {
        return Err("the password must have at least 8 characters".into());
    }
    if password.len() > 1024 {
        return Err("the password must be at most 1024 bytes".into());
    }
    Ok(())
}

/// A random password for the first administrator (no ambiguous characters).
pub fn generate() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..20)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse", &h));
        assert!(!verify("wrong horse", &h));
        assert!(!verify("x", "not a phc string"));
        assert!(check_new("short").is_err());
        assert!(check_new("long enough").is_ok());
        assert_eq!(generate().len(), 20);
    }
}
