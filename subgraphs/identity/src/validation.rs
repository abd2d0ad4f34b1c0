//! What identity accepts for an account: email, username and password rules,
//! each refused with `BAD_USER_INPUT` naming the field.

use async_graphql::Result;
use nova_core::errors::bad_input;

pub const PASSWORD_MIN_CHARS: usize = 10;
pub const PASSWORD_MAX_CHARS: usize = 128;
pub const USERNAME_MIN_CHARS: usize = 3;
pub const USERNAME_MAX_CHARS: usize = 30;
pub const EMAIL_MAX_CHARS: usize = 254;

/// Check registration input; the first problem found is reported.
pub fn validate_registration(email: &str, username: &str, password: &str) -> Result<()> {
    let email_ok = email.len() <= EMAIL_MAX_CHARS
        && !email.chars().any(char::is_whitespace)
        && match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            }
            None => false,
        };
    if !email_ok {
        return Err(bad_input("email", "email is not a valid address"));
    }
    let username_len = username.chars().count();
    if !(USERNAME_MIN_CHARS..=USERNAME_MAX_CHARS).contains(&username_len)
        || !username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(bad_input(
            "username",
            format!(
                "username must be {USERNAME_MIN_CHARS} to {USERNAME_MAX_CHARS} characters of letters, digits and _"
            ),
        ));
    }
    validate_password("password", password)
}

/// A new password's length rules, `BAD_USER_INPUT` on `field` otherwise.
pub fn validate_password(field: &str, password: &str) -> Result<()> {
    let password_len = password.chars().count();
    if password_len < PASSWORD_MIN_CHARS {
        return Err(bad_input(
            field,
            format!("{field} must be at least {PASSWORD_MIN_CHARS} characters"),
        ));
    }
    if password_len > PASSWORD_MAX_CHARS {
        return Err(bad_input(
            field,
            format!("{field} must be at most {PASSWORD_MAX_CHARS} characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(result: Result<()>) -> (String, String) {
        let error = result.unwrap_err();
        let ext = error.extensions.unwrap();
        let code = ext.get("code").unwrap().to_string();
        let field = ext.get("field").unwrap().to_string();
        (code, field)
    }

    #[test]
    fn registration_input_is_checked_field_by_field() {
        assert!(validate_registration("ann@example.com", "ann_1", "correct horse").is_ok());
        for (email, username, password, field) in [
            ("ann", "ann_1", "correct horse", "email"),
            ("ann@example", "ann_1", "correct horse", "email"),
            ("a nn@example.com", "ann_1", "correct horse", "email"),
            ("ann@example.com", "an", "correct horse", "username"),
            ("ann@example.com", "ann-1", "correct horse", "username"),
            ("ann@example.com", "ann_1", "short", "password"),
        ] {
            let (code, got_field) = code(validate_registration(email, username, password));
            assert_eq!(code, "\"BAD_USER_INPUT\"");
            assert_eq!(
                got_field,
                format!("\"{field}\""),
                "{email} {username} {password}"
            );
        }
    }

    #[test]
    fn new_password_errors_name_their_field() {
        let (code, field) = code(validate_password("newPassword", "short"));
        assert_eq!(code, "\"BAD_USER_INPUT\"");
        assert_eq!(field, "\"newPassword\"");
        assert!(validate_password("newPassword", "long enough now").is_ok());
    }
}
