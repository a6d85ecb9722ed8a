//! Time-based one-time passwords (TOTP, RFC 6238, over HOTP, RFC 4226) for authenticator apps:
//! HMAC-SHA1, 6 digits, 30-second steps, ±1 step of clock skew.
//!
//! - Secrets are 160 random bits (RFC 4226 §4 recommends 160), shown to the user in base32
//!   (RFC 4648 §6, without padding).
//! - Enrolment hands the secret over as an `otpauth://totp/...` URI in the Google Authenticator
//!   Key Uri Format, and as an inline SVG QR code of that URI rendered on the server, so the
//!   secret never reaches a third-party QR service. Both carry the secret: a page that shows
//!   them must not be cached (`Cache-Control: no-store`).
//! - [`verify`] refuses replays (RFC 6238 §5.2: a code is accepted once): it only considers
//!   steps after the last one accepted, and returns the step it matched for the caller to store.
//!
//! The HOTP arithmetic is `totp-rs`'s; this module fixes the parameters and adds the window,
//! the replay rule and the enrolment formats.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};
use totp_rs::{Algorithm, Builder, Secret, Totp};

use crate::crypto::random_bytes;
use crate::error::{DomainError, DomainResult};

/// Digits of a code.
pub const DIGITS: usize = 6;
/// Seconds in a time step.
pub const STEP: u64 = 30;
/// Steps of clock skew accepted either side of the current one (RFC 6238 §5.2 recommends
/// at most one).
pub const SKEW_STEPS: u8 = 1;

/// Bytes in a new secret: 160 bits, the HMAC-SHA1 output size (RFC 4226 §4).
const SECRET_LEN: usize = 20;

/// Everything but RFC 3986's unreserved characters is percent-encoded in the label and in the
/// `issuer` parameter: a space becomes `%20` (never `+`, which some apps show literally), and
/// `:`, `&`, `=`, `#`, `?`, `/`, `@` and `%` cannot be taken for URI syntax.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Smallest width and height of the QR code, in CSS pixels.
const QR_MIN_PIXELS: u32 = 200;

/// A new random 20-byte (160-bit) secret.
pub fn new_secret() -> DomainResult<Vec<u8>> {
    Ok(random_bytes(SECRET_LEN)?)
}

/// Base32 (RFC 4648, no padding) of a secret, as authenticator apps show it.
pub fn secret_base32(secret: &[u8]) -> String {
    Secret::from(secret).to_base32()
}

/// `otpauth://totp/{issuer}:{account}?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30`
/// (Google Authenticator Key Uri Format), label and `issuer` percent-encoded.
///
/// The format forbids a colon inside the issuer or the account name (the first colon of the
/// label, literal or `%3A`, separates them), so a colon in either is replaced by a space and
/// runs of white space are collapsed: "Acme: Prod" is shown as "Acme Prod". The `issuer`
/// parameter carries the same text as the label's prefix, as the format requires. An issuer or
/// account that is empty after this is refused.
pub fn otpauth_uri(secret: &[u8], issuer: &str, account: &str) -> DomainResult<String> {
    totp(secret)?;
    let issuer = label_part(issuer);
    if issuer.is_empty() {
        return Err(DomainError::invalid("issuer", "must not be empty"));
    }
    let account = label_part(account);
    if account.is_empty() {
        return Err(DomainError::invalid("account", "must not be empty"));
    }
    let issuer = utf8_percent_encode(&issuer, COMPONENT).to_string();
    let account = utf8_percent_encode(&account, COMPONENT);
    Ok(format!(
        "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}\
         &algorithm=SHA1&digits={DIGITS}&period={STEP}",
        secret = secret_base32(secret),
    ))
}

/// An inline `<svg>` QR code of `text` (no XML declaration, no external references, no
/// scripts), safe to embed in HTML; at least 200×200 px, with the standard quiet zone, black on
/// white, error correction level M.
pub fn qr_svg(text: &str) -> DomainResult<String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(DomainError::internal)?;
    let mut svg = code
        .render::<svg::Color>()
        .quiet_zone(true)
        .min_dimensions(QR_MIN_PIXELS, QR_MIN_PIXELS)
        .build();
    // The renderer starts with an XML declaration, which has no place inside HTML.
    let start = svg
        .find("<svg")
        .ok_or_else(|| DomainError::internal("the QR code renderer produced no <svg> element"))?;
    Ok(svg.split_off(start))
}

/// The TOTP time step a code matches at `unix_time` within ±[`SKEW_STEPS`], checking only
/// steps after `last_used_step`: a code, or any code of an earlier or the same step, is
/// accepted once (RFC 6238 §5.2). The caller stores the returned step as the new
/// `last_used_step`, atomically with accepting the code.
///
/// White space in `code` is ignored; anything else that is not exactly [`DIGITS`] ASCII digits
/// matches nothing. Each candidate step is compared in constant time, and every candidate is
/// compared (no early exit). Should one code match two steps of the window (a one-in-a-million
/// coincidence), the later step is returned, so that the code cannot be replayed at that step.
pub fn verify(
    secret: &[u8],
    code: &str,
    unix_time: u64,
    last_used_step: Option<u64>,
) -> Option<u64> {
    let code = normalize_code(code)?;
    let totp = totp(secret).ok()?;
    let now = unix_time / STEP;
    let skew = u64::from(SKEW_STEPS);
    let mut matched = None;
    for step in now.saturating_sub(skew)..=now.saturating_add(skew) {
        if last_used_step.is_some_and(|last| step <= last) {
            continue;
        }
        let Some(time) = step.checked_mul(STEP) else {
            continue;
        };
        // The instance has no skew, so this checks `step` alone; totp-rs compares the two
        // codes in constant time.
        if totp.check(&code, time).is_some() {
            matched = Some(step);
        }
    }
    matched
}

/// The code for the step that contains `unix_time`. (Integration tests compute codes
/// independently, with totp-rs directly, not with this.)
pub fn code_at(secret: &[u8], unix_time: u64) -> DomainResult<String> {
    Ok(totp(secret)?.generate(unix_time).to_string())
}

/// A TOTP instance with our parameters and no skew of its own ([`verify`] walks the window).
/// Refuses a secret shorter than 128 bits (RFC 4226 §4).
fn totp(secret: &[u8]) -> DomainResult<Totp> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        // DIGITS is 6: the cast cannot truncate.
        .with_digits(DIGITS as u8)
        .with_step_duration(STEP)
        .with_skew(0)
        .with_secret(secret)
        .build()
        .map_err(|e| DomainError::internal(format!("TOTP parameters: {e}")))
}

/// `code` without white space, if it is then exactly [`DIGITS`] ASCII digits.
fn normalize_code(code: &str) -> Option<String> {
    // A bound on the work done for a silly input; a real code with spaces is far shorter.
    if code.len() > 64 {
        return None;
    }
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    (code.len() == DIGITS && code.bytes().all(|b| b.is_ascii_digit())).then_some(code)
}

/// An issuer or account name fit for the label: colons replaced by spaces, white space
/// collapsed and trimmed.
fn label_part(text: &str) -> String {
    text.replace(':', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B: the SHA-1 seed, ASCII "12345678901234567890".
    const RFC_SECRET: &[u8] = b"12345678901234567890";
    /// RFC 6238 Appendix B, SHA-1 column: (time, 8-digit TOTP).
    const RFC_VECTORS: [(u64, &str); 6] = [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ];

    fn secret() -> Vec<u8> {
        (1..=20).collect()
    }

    #[test]
    fn rfc6238_appendix_b_sha1_vectors() {
        let eight = Builder::new()
            .with_digits(8)
            .with_secret(RFC_SECRET)
            .build()
            .unwrap();
        for (time, expected) in RFC_VECTORS {
            assert_eq!(eight.generate(time).to_string(), expected, "t={time}");
            // Dynamic truncation mod 10^6 is the last six digits of mod 10^8.
            let six = &expected[2..];
            assert_eq!(code_at(RFC_SECRET, time).unwrap(), six, "t={time}");
            assert_eq!(
                verify(RFC_SECRET, six, time, None),
                Some(time / STEP),
                "t={time}"
            );
        }
    }

    #[test]
    fn new_secrets_are_random_160_bits() {
        let a = new_secret().unwrap();
        let b = new_secret().unwrap();
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
    }

    #[test]
    fn base32_is_rfc4648_without_padding() {
        // RFC 4648 §10 test vectors; padding dropped.
        assert_eq!(secret_base32(b"f"), "MY");
        assert_eq!(secret_base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(
            secret_base32(RFC_SECRET),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
        assert_eq!(secret_base32(&secret()).len(), 32);
    }

    #[test]
    fn window_is_one_step_either_side() {
        let s = secret();
        let t = 1_700_000_000;
        let now = t / STEP;
        for offset in [-1i64, 0, 1] {
            let step = now.checked_add_signed(offset).unwrap();
            let code = code_at(&s, step * STEP).unwrap();
            assert_eq!(verify(&s, &code, t, None), Some(step), "offset {offset}");
        }
        for offset in [-3i64, -2, 2, 3] {
            let step = now.checked_add_signed(offset).unwrap();
            let code = code_at(&s, step * STEP).unwrap();
            // Unless it collides with a code inside the window (checked, so no flake).
            let inside = (now - 1..=now + 1).any(|w| code_at(&s, w * STEP).unwrap() == code);
            if !inside {
                assert_eq!(verify(&s, &code, t, None), None, "offset {offset}");
            }
        }
    }

    #[test]
    fn window_edges_of_a_step() {
        let s = secret();
        let step = 1_700_000_000 / STEP;
        let code = code_at(&s, step * STEP).unwrap();
        // First and last second of the step, and of the steps either side.
        for t in [
            (step - 1) * STEP,
            step * STEP,
            step * STEP + STEP - 1,
            (step + 2) * STEP - 1,
        ] {
            assert_eq!(verify(&s, &code, t, None), Some(step), "t={t}");
        }
    }

    #[test]
    fn near_epoch_does_not_underflow() {
        let s = secret();
        let code = code_at(&s, 0).unwrap();
        assert_eq!(verify(&s, &code, 0, None), Some(0));
        assert_eq!(verify(&s, &code, 0, Some(0)), None);
        assert_eq!(verify(&s, "123456", u64::MAX, None), None);
    }

    #[test]
    fn replay_is_refused() {
        let s = secret();
        let t = 1_700_000_000;
        let now = t / STEP;
        let code = code_at(&s, t).unwrap();
        let used = verify(&s, &code, t, None).unwrap();
        assert_eq!(used, now);
        // The same code again, within its window.
        assert_eq!(verify(&s, &code, t, Some(used)), None);
        assert_eq!(verify(&s, &code, t + STEP, Some(used)), None);
        // An earlier step's code, though still inside the window.
        let earlier = code_at(&s, (now - 1) * STEP).unwrap();
        assert_ne!(earlier, code);
        assert_eq!(verify(&s, &earlier, t, Some(used)), None);
        // A later step's code is accepted, and then that one is used up.
        let later = code_at(&s, (now + 1) * STEP).unwrap();
        assert_ne!(later, code);
        assert_eq!(verify(&s, &later, t, Some(used)), Some(now + 1));
        assert_eq!(verify(&s, &later, t + STEP, Some(now + 1)), None);
        // Last used far in the past changes nothing.
        assert_eq!(verify(&s, &code, t, Some(0)), Some(now));
    }

    #[test]
    fn spaces_are_ignored_and_malformed_input_matches_nothing() {
        let s = secret();
        let t = 1_700_000_000;
        let code = code_at(&s, t).unwrap();
        let spaced = format!(" {} {} ", &code[..3], &code[3..]);
        assert_eq!(verify(&s, &spaced, t, None), Some(t / STEP));
        let fullwidth: String = code
            .chars()
            .map(|c| char::from_u32(u32::from(c) - u32::from('0') + 0xFF10).unwrap())
            .collect();
        for bad in [
            "",
            "      ",
            &code[..5],
            &format!("{code}0"),
            &format!("0{code}"),
            "abcdef",
            "12345a",
            "+12345",
            "-12345",
            "12.345",
            "１２３４５６",
            &fullwidth,
            "١٢٣٤٥٦",
            &format!("{code}{}", " ".repeat(100)),
        ] {
            assert_eq!(verify(&s, bad, t, None), None, "{bad:?}");
        }
    }

    #[test]
    fn short_secret_is_refused() {
        assert!(code_at(&[7u8; 15], 0).is_err());
        assert!(otpauth_uri(&[7u8; 15], "Plinto", "alice").is_err());
        assert_eq!(verify(&[7u8; 15], "123456", 0, None), None);
        assert!(code_at(&[7u8; 16], 0).is_ok());
    }

    #[test]
    fn otpauth_uri_format() {
        let s = secret();
        let uri = otpauth_uri(&s, "Plinto", "alice@example.com").unwrap();
        assert_eq!(
            uri,
            format!(
                "otpauth://totp/Plinto:alice%40example.com?secret={}&issuer=Plinto\
                 &algorithm=SHA1&digits=6&period=30",
                secret_base32(&s)
            )
        );
    }

    #[test]
    fn otpauth_uri_encodes_special_characters() {
        let s = secret();
        let uri = otpauth_uri(&s, " Acme & Sons: Prod ", "bob smith:admin@x.org&y=1").unwrap();
        assert_eq!(
            uri,
            format!(
                "otpauth://totp/Acme%20%26%20Sons%20Prod:bob%20smith%20admin%40x.org%26y%3D1\
                 ?secret={}&issuer=Acme%20%26%20Sons%20Prod&algorithm=SHA1&digits=6&period=30",
                secret_base32(&s)
            )
        );
        // Exactly one colon in the label, and the only `&`s separate parameters.
        let (label, query) = uri["otpauth://totp/".len()..].split_once('?').unwrap();
        assert_eq!(label.matches(':').count(), 1);
        assert_eq!(query.split('&').count(), 5);
        assert!(!uri.contains('+') && !uri.contains(' '));

        // totp-rs's own (strict) parser reads it back as meant.
        let parsed = Totp::from_url(&uri).unwrap();
        assert_eq!(parsed.issuer(), Some("Acme & Sons Prod"));
        assert_eq!(parsed.account_name(), "bob smith admin@x.org&y=1");
        assert_eq!(parsed.secret().as_bytes(), s.as_slice());
        assert_eq!(parsed.digits(), 6);
        assert_eq!(parsed.step(), 30);
        assert_eq!(parsed.algorithm(), Algorithm::SHA1);
        assert_eq!(
            parsed.generate(1_700_000_000).to_string(),
            code_at(&s, 1_700_000_000).unwrap()
        );

        // Non-ASCII is UTF-8 percent-encoded.
        let uri = otpauth_uri(&s, "Zürich", "名前").unwrap();
        assert!(uri.starts_with("otpauth://totp/Z%C3%BCrich:%E5%90%8D%E5%89%8D?"));
        let parsed = Totp::from_url(&uri).unwrap();
        assert_eq!(parsed.issuer(), Some("Zürich"));
        assert_eq!(parsed.account_name(), "名前");
    }

    #[test]
    fn otpauth_uri_refuses_empty_names() {
        let s = secret();
        assert!(otpauth_uri(&s, "", "alice").is_err());
        assert!(otpauth_uri(&s, " : ", "alice").is_err());
        assert!(otpauth_uri(&s, "Plinto", "  ").is_err());
    }

    #[test]
    fn qr_svg_is_inline_and_inert() {
        let uri = otpauth_uri(&secret(), "Plinto", "alice@example.com").unwrap();
        let svg = qr_svg(&uri).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
        assert!(svg.ends_with("</svg>"));
        let lower = svg.to_ascii_lowercase();
        for banned in [
            "<?xml",
            "<script",
            "href",
            "<image",
            "<foreignobject",
            "url(",
            "on",
        ] {
            if banned == "on" {
                // No event handler attributes (` onload=`, ...).
                assert!(!lower.contains(" on"), "event handler in {svg}");
            } else {
                assert!(!lower.contains(banned), "{banned} in {svg}");
            }
        }
        // The secret is drawn, never written as text.
        assert!(!svg.contains(&secret_base32(&secret())));
        let width: u32 = svg
            .split_once(r#"width=""#)
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(w, _)| w.parse().unwrap())
            .unwrap();
        assert!(width >= 200, "width {width}");
    }

    #[test]
    fn qr_svg_refuses_oversized_text() {
        assert!(qr_svg(&"x".repeat(5000)).is_err());
    }
}
