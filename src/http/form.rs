//! `application/x-www-form-urlencoded` bodies, parsed strictly: invalid UTF-8 is an error
//! (not silently replaced), and so are too many fields or oversize values.

use std::collections::HashMap;

use percent_encoding::percent_decode;

pub const MAX_FIELDS: usize = 32;
pub const MAX_VALUE_BYTES: usize = 8192;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("the form contains text that is not valid UTF-8")]
    Utf8,
    #[error("the form has too many fields")]
    TooManyFields,
    #[error("a form field is too long")]
    TooLong,
    #[error("the form contains a NUL character")]
    Nul,
}

#[derive(Debug, Default)]
pub struct Form {
    fields: HashMap<String, String>,
    /// The first field name that came more than once (the first value is kept).
    repeated: Option<String>,
}

impl Form {
    pub fn parse(body: &[u8]) -> Result<Self, FormError> {
        let mut map = HashMap::new();
        let mut repeated = None;
        for (n, pair) in body.split(|&b| b == b'&').enumerate() {
            if pair.is_empty() {
                continue;
            }
            if n >= MAX_FIELDS {
                return Err(FormError::TooManyFields);
            }
            let (k, v) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            let key = decode(k)?;
            let value = decode(v)?;
            if value.len() > MAX_VALUE_BYTES {
                return Err(FormError::TooLong);
            }
            match map.entry(key) {
                std::collections::hash_map::Entry::Occupied(e) => {
                    repeated.get_or_insert_with(|| e.key().clone());
                }
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(value);
                }
            }
        }
        Ok(Self {
            fields: map,
            repeated,
        })
    }

    /// A field name given more than once; OAuth requests must not repeat parameters
    /// (RFC 6749 §3.1, §3.2).
    pub fn repeated(&self) -> Option<&str> {
        self.repeated.as_deref()
    }

    /// Every field, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The field if present and not empty (OAuth treats empty parameters as absent).
    pub fn opt(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.is_empty())
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }

    /// The field, or "" when absent.
    pub fn text(&self, key: &str) -> &str {
        self.get(key).unwrap_or("")
    }
}

fn decode(raw: &[u8]) -> Result<String, FormError> {
    let plus_as_space: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    let bytes: Vec<u8> = percent_decode(&plus_as_space).collect();
    if bytes.contains(&0) {
        return Err(FormError::Nul);
    }
    String::from_utf8(bytes).map_err(|_| FormError::Utf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses_bad_utf8() {
        let f = Form::parse(b"email=a%40b.com&name=J+D&x&name=second").unwrap();
        assert_eq!(f.get("email"), Some("a@b.com"));
        assert_eq!(f.get("name"), Some("J D"));
        assert_eq!(f.get("x"), Some(""));
        assert_eq!(f.text("missing"), "");
        assert_eq!(Form::parse(b"name=%FF%FE").unwrap_err(), FormError::Utf8);
        assert_eq!(Form::parse(b"na\xffme=1").unwrap_err(), FormError::Utf8);
        let many: Vec<String> = (0..40).map(|i| format!("f{i}=1")).collect();
        assert_eq!(
            Form::parse(many.join("&").as_bytes()).unwrap_err(),
            FormError::TooManyFields
        );
    }
}
