//! Recovery codes: single-use codes that stand in for the second factor when the user has lost
//! their authenticator.
//!
//! A set is [`COUNT`] codes of 10 characters from a 32-symbol alphabet (digits 2–9 and the
//! lower-case letters without `l` and `o`, so never 0/O, 1/l/I), 5 bits each: 50 bits of
//! entropy per code, drawn without bias from the OS's random generator. They are shown once,
//! as `xxxxx-xxxxx`. Only a keyed hash (HMAC-SHA256 under a purpose sub-key, [`hash`]) is
//! stored: a code is found by the hash of what the user typed, after [`normalize`], so the
//! comparison is the database's equality on a keyed hash, and a leaked table reveals no code.
//! With 50 bits per code and a keyed hash, a fast hash is enough (the same reasoning as for
//! session ids); guessing online is left to rate limiting.

use crate::crypto::{SubKey, random_bytes};
use crate::error::{DomainError, DomainResult};

/// Codes in a set.
pub const COUNT: usize = 10;

/// Characters in a code (without the dash).
const LEN: usize = 10;
/// Characters before the dash when shown.
const GROUP: usize = 5;
/// 32 symbols, none of them 0, 1, o or l (nor I, as codes are lower-case). A power of two, so
/// five random bits pick a symbol without bias.
const ALPHABET: &[u8; 32] = b"23456789abcdefghijkmnpqrstuvwxyz";

/// Ten new codes, each 10 characters from an unambiguous alphabet, formatted `xxxxx-xxxxx`,
/// 50 bits of entropy each, all distinct.
pub fn generate() -> DomainResult<Vec<String>> {
    let mut codes: Vec<String> = Vec::with_capacity(COUNT);
    // A repeat has a chance of about 2^-44 per set; the bound only keeps this loop finite.
    for _ in 0..COUNT * 4 {
        if codes.len() == COUNT {
            break;
        }
        let code = new_code()?;
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    if codes.len() != COUNT {
        return Err(DomainError::internal(
            "the random generator repeats itself: cannot draw distinct recovery codes",
        ));
    }
    Ok(codes)
}

/// Normalise what a user typed: trim, drop white space and dashes (including the Unicode
/// dashes a phone keyboard may substitute), lower-case. `None` if the rest cannot be a code:
/// not exactly 10 characters of the alphabet.
pub fn normalize(input: &str) -> Option<String> {
    // A bound on the work done for a silly input; a real code with separators is far shorter.
    if input.len() > 64 {
        return None;
    }
    let code: String = input
        .chars()
        .filter(|&c| !c.is_whitespace() && !is_dash(c))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (code.len() == LEN && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

/// The keyed hash stored for a code (`key.hash_hex(normalized)`): lookups are by hash, and
/// comparison is the database's equality on a keyed hash. `normalized` is [`normalize`]'s
/// output, so the code as shown (with its dash) and as typed hash alike.
pub fn hash(key: &SubKey, normalized: &str) -> String {
    key.hash_hex(normalized.as_bytes())
}

/// One code, formatted `xxxxx-xxxxx`.
fn new_code() -> DomainResult<String> {
    let bytes = random_bytes(LEN)?;
    let mut code = String::with_capacity(LEN + 1);
    for (i, b) in bytes.iter().enumerate() {
        if i == GROUP {
            code.push('-');
        }
        code.push(char::from(ALPHABET[usize::from(b & 0x1f)]));
    }
    Ok(code)
}

/// ASCII hyphen-minus and the Unicode hyphens, dashes and minus sign.
fn is_dash(c: char) -> bool {
    matches!(
        c,
        '-' | '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE63}' | '\u{FF0D}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MasterKey;

    fn key(byte: &str) -> SubKey {
        // 32 bytes of 7 (or of 8), base64.
        let b64 = match byte {
            "7" => "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=",
            _ => "CAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAg=",
        };
        MasterKey::from_base64(b64).unwrap().derive("mfa-recovery")
    }

    #[test]
    fn alphabet_is_unambiguous_and_unique() {
        for banned in b"01oOlLiI" {
            // Lower-case `i` stays: with it the alphabet has 32 symbols (50 bits per code).
            if *banned != b'i' {
                assert!(!ALPHABET.contains(banned), "{}", char::from(*banned));
            }
        }
        let mut sorted = ALPHABET.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 32);
        assert!(
            ALPHABET
                .iter()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
        );
    }

    #[test]
    fn ten_distinct_well_formed_codes() {
        let codes = generate().unwrap();
        assert_eq!(codes.len(), COUNT);
        for code in &codes {
            assert_eq!(code.len(), 11, "{code}");
            let (a, b) = code.split_once('-').unwrap();
            assert_eq!((a.len(), b.len()), (5, 5), "{code}");
            assert!(
                a.bytes().chain(b.bytes()).all(|c| ALPHABET.contains(&c)),
                "{code}"
            );
        }
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), COUNT);
        // A second set shares nothing with the first.
        let again = generate().unwrap();
        assert!(again.iter().all(|c| !codes.contains(c)));
    }

    #[test]
    fn every_symbol_turns_up() {
        // 40 sets × 100 symbols: a symbol missing from all has a chance of about 32·e^-125.
        let mut seen = [false; 32];
        for _ in 0..40 {
            for code in generate().unwrap() {
                for b in code.bytes().filter(|&b| b != b'-') {
                    let i = ALPHABET.iter().position(|&a| a == b).unwrap();
                    seen[i] = true;
                }
            }
        }
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn normalize_round_trips() {
        for code in generate().unwrap() {
            let plain = code.replace('-', "");
            assert_eq!(normalize(&code).as_deref(), Some(plain.as_str()));
            assert_eq!(
                normalize(&code.to_uppercase()).as_deref(),
                Some(plain.as_str())
            );
            let typed = format!("  {} {} - {}\t", &plain[..3], &plain[3..5], &plain[5..]);
            assert_eq!(normalize(&typed).as_deref(), Some(plain.as_str()));
        }
        assert_eq!(normalize("ABCDE-FGHJK").as_deref(), Some("abcdefghjk"));
        assert_eq!(
            normalize("abcde\u{2013}fghjk").as_deref(),
            Some("abcdefghjk")
        );
        assert_eq!(
            normalize("a-b-c-d-e-f-g-h-j-k").as_deref(),
            Some("abcdefghjk")
        );
        assert_eq!(normalize("23456 789ab").as_deref(), Some("23456789ab"));
    }

    #[test]
    fn normalize_rejects_what_cannot_be_a_code() {
        for bad in [
            "",
            "   ",
            "-----",
            "abcde-fghj",            // 9
            "abcde-fghjkm",          // 11
            "abcde-fghj0",           // 0
            "abcde-fghj1",           // 1
            "abcde-fghjl",           // l
            "abcde-fghjo",           // o
            "abcde-fghjO",           // O
            "abcde-fghjL",           // L
            "abcde_fghjk",           // underscore
            "abcde.fghjk",           // dot
            "abcdé-fghjk",           // non-ASCII letter
            "ａｂｃｄｅ-ｆｇｈｊｋ", // full-width
            "abcde-fghjk\u{0}",
        ] {
            assert_eq!(normalize(bad), None, "{bad:?}");
        }
        assert_eq!(normalize(&format!("abcde-fghjk{}", " ".repeat(100))), None);
    }

    #[test]
    fn hash_is_keyed_and_deterministic() {
        let k7 = key("7");
        let k8 = key("8");
        let code = normalize("abcde-fghjk").unwrap();
        let h = hash(&k7, &code);
        assert_eq!(h.len(), 64);
        assert!(h.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(h, hash(&k7, &code));
        assert_eq!(h, hash(&k7, &normalize("ABCDE FGHJK").unwrap()));
        assert_eq!(h, k7.hash_hex(b"abcdefghjk"));
        assert_ne!(h, hash(&k8, &code));
        assert_ne!(h, hash(&k7, "abcdefghjm"));
    }
}
