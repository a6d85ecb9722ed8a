//! User accounts: validation, argon2id passwords, users, sessions and sign-in.

pub mod email;
pub mod login;
pub mod notices;
pub mod password;
pub mod profile;
pub mod sessions;
pub mod users;
pub mod validation;
