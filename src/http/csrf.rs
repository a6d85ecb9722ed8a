//! CSRF protection for every form: a signed double-submit token bound to the session. The
//! browser holds a random value in an HttpOnly cookie; each form carries
//! HMAC(csrf key, value | session), where `session` is the browser's session cookie for the
//! tenant (empty before sign-in), which an attacker can neither read nor compute. A token
//! fetched without a session (or with another one) does not work for a signed-in browser,
//! while the sign-in form itself, rendered and posted before there is a session, does.
//! Comparison is constant-time.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};

use crate::crypto::{self, SubKey};

pub const FIELD: &str = "csrf_token";

pub fn cookie_name(https: bool) -> &'static str {
    if https {
        "__Host-plinto-csrf"
    } else {
        "plinto-csrf"
    }
}

/// The form token for this browser, and the cookie to set when the browser has none yet.
pub fn issue(
    req: &HttpRequest,
    key: &SubKey,
    https: bool,
    session: &str,
) -> Result<(String, Option<Cookie<'static>>), crypto::KeyError> {
    if let Some(c) = req.cookie(cookie_name(https))
        && valid_value(c.value())
    {
        return Ok((token_for(key, c.value(), session), None));
    }
    let value = crypto::random_token(32)?;
    let token = token_for(key, &value, session);
    let cookie = Cookie::build(cookie_name(https), value)
        .path("/")
        .http_only(true)
        .secure(https)
        .same_site(SameSite::Lax)
        .finish();
    Ok((token, Some(cookie)))
}

/// Whether the submitted token matches this browser's cookie.
pub fn verify(
    req: &HttpRequest,
    key: &SubKey,
    https: bool,
    session: &str,
    submitted: Option<&str>,
) -> bool {
    let (Some(cookie), Some(submitted)) = (req.cookie(cookie_name(https)), submitted) else {
        return false;
    };
    if !valid_value(cookie.value()) {
        return false;
    }
    let expected = token_for(key, cookie.value(), session);
    crypto::ct_eq(expected.as_bytes(), submitted.as_bytes())
}

fn token_for(key: &SubKey, value: &str, session: &str) -> String {
    key.mac_b64(format!("csrf|{value}|{session}").as_bytes())
}

fn valid_value(v: &str) -> bool {
    (16..=128).contains(&v.len())
}
