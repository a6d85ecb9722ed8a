//! Rules for what users type. Every error message here is safe to show on a form.

use crate::error::{DomainError, DomainResult};

pub const MAX_EMAIL_LEN: usize = 254;
pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_BYTES: usize = 1024;
pub const MAX_NAME_CHARS: usize = 200;

/// An email address as typed (trimmed) and its normalized form (lower case), the one that is
/// unique per tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email {
    pub display: String,
    pub normalized: String,
}

/// The WHATWG "valid email address" rule (what `<input type=email>` accepts), ASCII only.
pub fn parse_email(input: &str) -> DomainResult<Email> {
    let email = input.trim();
    let invalid = || {
        DomainError::invalid(
            "email",
            "enter a valid email address, like name@example.com",
        )
    };
    if email.is_empty() {
        return Err(DomainError::invalid("email", "enter your email address"));
    }
    if email.len() > MAX_EMAIL_LEN {
        return Err(DomainError::invalid(
            "email",
            format!("an email address has at most {MAX_EMAIL_LEN} characters"),
        ));
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    let local_ok = !local.is_empty()
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~.-".contains(&b));
    let domain_ok = !domain.is_empty()
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if !local_ok || !domain_ok {
        return Err(invalid());
    }
    Ok(Email {
        display: email.to_string(),
        normalized: email.to_ascii_lowercase(),
    })
}

/// The most common passwords of at least [`MIN_PASSWORD_CHARS`] characters (shorter ones are
/// refused by length anyway): the 11,611 such entries of the 30,000 most common passwords in
/// zxcvbn 4.4.2 (`frequency_lists.passwords`, Dropbox, MIT licence; from Mark Burnett's list
/// via xato.net), lower case, most common first, one per line.
const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

fn common_passwords() -> &'static std::collections::HashSet<&'static str> {
    static SET: std::sync::OnceLock<std::collections::HashSet<&'static str>> =
        std::sync::OnceLock::new();
    SET.get_or_init(|| COMMON_PASSWORDS.lines().filter(|l| !l.is_empty()).collect())
}

/// Whether the password is one of [`COMMON_PASSWORDS`] (whatever its case).
pub fn is_common_password(password: &str) -> bool {
    common_passwords().contains(password.to_lowercase().as_str())
}

/// NIST SP 800-63B §3.1.1.2: 8 characters to 1024 bytes, not one of the most common passwords,
/// and not the email address (nor its part before the `@`).
pub fn check_password(password: &str, email: &Email) -> DomainResult<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(DomainError::invalid(
            "password",
            format!("use at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(DomainError::invalid(
            "password",
            format!("use at most {MAX_PASSWORD_BYTES} bytes"),
        ));
    }
    let local = email.display.split('@').next().unwrap_or_default();
    if password.eq_ignore_ascii_case(&email.display) || password.eq_ignore_ascii_case(local) {
        return Err(DomainError::invalid(
            "password",
            "your password must not be your email address",
        ));
    }
    if is_common_password(password) {
        return Err(DomainError::invalid("password", COMMON_PASSWORD));
    }
    Ok(())
}

/// The message for a password of [`COMMON_PASSWORDS`].
pub const COMMON_PASSWORD: &str =
    "this password is one of the most common ones and easy to guess: choose another";

/// A password must not be the account's user name either (for accounts whose SCIM userName
/// is not their address).
pub fn check_password_user_name(password: &str, user_name: &str) -> DomainResult<()> {
    if password.trim().eq_ignore_ascii_case(user_name.trim()) {
        return Err(DomainError::invalid(
            "password",
            "your password must not be your user name",
        ));
    }
    Ok(())
}

/// [`check_password`] for an account that may have no address, and
/// [`check_password_user_name`]: the password is neither its address nor its userName.
pub fn check_account_password(
    password: &str,
    email: Option<&Email>,
    user_name: &str,
) -> DomainResult<()> {
    let none = Email {
        display: String::new(),
        normalized: String::new(),
    };
    check_password(password, email.unwrap_or(&none))?;
    check_password_user_name(password, user_name)
}

/// An optional display name: trimmed, at most 200 characters, no control characters.
pub fn parse_name(input: Option<&str>) -> DomainResult<Option<String>> {
    let Some(name) = input.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(DomainError::invalid(
            "name",
            format!("a name has at most {MAX_NAME_CHARS} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            "name",
            "a name cannot contain control characters",
        ));
    }
    Ok(Some(name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        let e = parse_email("  Alice.Smith+x@Example.COM ").unwrap();
        assert_eq!(e.display, "Alice.Smith+x@Example.COM");
        assert_eq!(e.normalized, "alice.smith+x@example.com");
        assert!(parse_email("admin@localhost").is_ok());
        for bad in [
            "", "a", "a@", "@b", "a@@b", "a b@c", "a@-b.com", "a@b..com", "é@b.com",
        ] {
            assert!(parse_email(bad).is_err(), "{bad:?}");
        }
        assert!(parse_email(&format!("{}@b.com", "a".repeat(260))).is_err());
    }

    #[test]
    fn passwords() {
        let e = parse_email("someone@example.com").unwrap();
        assert!(check_password("short", &e).is_err());
        assert!(check_password("SOMEONE@example.com", &e).is_err());
        assert!(check_password(&"x".repeat(1025), &e).is_err());
        assert!(check_password(&"x".repeat(1024), &e).is_ok());
        assert!(check_password("correct horse", &e).is_ok());
        assert!(check_password("Someone", &e).is_err(), "the local part");
        for common in ["password", "12345678", "Password", "iloveyou", "qwertyuiop"] {
            assert!(check_password(common, &e).is_err(), "{common}");
        }
        assert!(is_common_password("Sunshine"));
        assert!(!is_common_password("correct horse battery staple"));
        assert!(check_password_user_name("Employee-42", "employee-42").is_err());
        assert!(check_password_user_name("correct horse", "employee-42").is_ok());
    }

    #[test]
    fn names() {
        assert_eq!(parse_name(Some("  ")).unwrap(), None);
        assert_eq!(parse_name(Some(" Ann ")).unwrap().as_deref(), Some("Ann"));
        assert!(parse_name(Some("a\u{0}b")).is_err());
        assert!(parse_name(Some(&"n".repeat(201))).is_err());
    }
}
