//! Just enough HTML for the hosted pages: the `<form>` elements, their `<input>` and
//! `<button>` controls, and entity unescaping. Plinto renders its pages with askama, which
//! escapes attribute values (`&amp; &quot; &#x27; &lt; &gt; &#39;`); nothing else is needed.

/// One `<form>` of a page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    /// The `method` attribute, lower-cased (`get` when absent).
    pub method: String,
    /// The `action` attribute, unescaped, unresolved (empty when absent).
    pub action: String,
    /// `<input>` controls in document order.
    pub inputs: Vec<Control>,
    /// `<button>` controls in document order.
    pub buttons: Vec<Control>,
}

/// An `<input>` or `<button>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Control {
    /// The `type` attribute, lower-cased (`text` for inputs and `submit` for buttons when absent).
    pub kind: String,
    pub name: String,
    pub value: String,
}

impl Form {
    /// The hidden inputs as (name, value) pairs, in document order.
    pub fn hidden_fields(&self) -> Vec<(String, String)> {
        self.inputs
            .iter()
            .filter(|c| c.kind == "hidden" && !c.name.is_empty())
            .map(|c| (c.name.clone(), c.value.clone()))
            .collect()
    }

    /// Whether the form has an input or button with this name.
    #[cfg(test)]
    pub fn has_field(&self, name: &str) -> bool {
        self.inputs.iter().any(|c| c.name == name) || self.buttons.iter().any(|c| c.name == name)
    }

    /// The value of the first hidden input with this name.
    #[cfg(test)]
    pub fn hidden(&self, name: &str) -> Option<&str> {
        self.inputs
            .iter()
            .find(|c| c.kind == "hidden" && c.name == name)
            .map(|c| c.value.as_str())
    }

    /// The value of the first input (any type) with this name.
    pub fn input_value(&self, name: &str) -> Option<&str> {
        self.inputs
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.value.as_str())
    }
}

/// Every `<form>` of the page, in document order.
pub fn forms(html: &str) -> Vec<Form> {
    let lower = html.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(start) = find_tag(&lower, "form", pos) {
        let Some(tag_end) = tag_end(html, start) else {
            break;
        };
        let attrs = attributes(&html[start + 5..tag_end]);
        let body_end = lower[tag_end..]
            .find("</form")
            .map_or(html.len(), |i| tag_end + i);
        let body = &html[tag_end..body_end];
        let body_lower = &lower[tag_end..body_end];
        let mut form = Form {
            method: attr(&attrs, "method")
                .map_or_else(|| "get".to_string(), |m| m.to_ascii_lowercase()),
            action: attr(&attrs, "action").unwrap_or_default(),
            inputs: controls(body, body_lower, "input", "text"),
            buttons: controls(body, body_lower, "button", "submit"),
        };
        form.method = form.method.trim().to_string();
        out.push(form);
        pos = body_end.max(tag_end);
    }
    out
}

/// The text of the `<title>` element, unescaped and trimmed, if any.
pub fn title(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let start = find_tag(&lower, "title", 0)?;
    let open_end = tag_end(html, start)?;
    let close = lower[open_end..].find("</title")? + open_end;
    Some(unescape(html[open_end..close].trim()))
}

fn controls(body: &str, body_lower: &str, tag: &str, default_kind: &str) -> Vec<Control> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(start) = find_tag(body_lower, tag, pos) {
        let Some(end) = tag_end(body, start) else {
            break;
        };
        let attrs = attributes(&body[start + 1 + tag.len()..end]);
        out.push(Control {
            kind: attr(&attrs, "type").map_or_else(
                || default_kind.to_string(),
                |t| t.trim().to_ascii_lowercase(),
            ),
            name: attr(&attrs, "name").unwrap_or_default(),
            value: attr(&attrs, "value").unwrap_or_default(),
        });
        pos = end;
    }
    out
}

/// Index of the next `<tag` (followed by whitespace, `>` or `/`) at or after `from`.
fn find_tag(lower: &str, tag: &str, from: usize) -> Option<usize> {
    let needle = format!("<{tag}");
    let mut pos = from;
    while let Some(i) = lower.get(pos..)?.find(&needle) {
        let at = pos + i;
        let next = lower[at + needle.len()..].chars().next();
        if matches!(next, Some(c) if c.is_ascii_whitespace() || c == '>' || c == '/') {
            return Some(at);
        }
        pos = at + needle.len();
    }
    None
}

/// Index just past the `>` closing the tag opened at `start`, honouring quoted values.
fn tag_end(html: &str, start: usize) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (i, c) in html[start..].char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '>' => return Some(start + i + 1),
            None => {}
        }
    }
    None
}

/// The attributes of a tag (the text between the tag name and `>`), names lower-cased,
/// values unescaped. Boolean attributes get an empty value.
fn attributes(s: &str) -> Vec<(String, String)> {
    let s = s.strip_suffix('>').unwrap_or(s);
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        while i < chars.len() && (chars[i].is_whitespace() || chars[i] == '/') {
            i += 1;
        }
        let name_start = i;
        while i < chars.len() && !chars[i].is_whitespace() && chars[i] != '=' && chars[i] != '/' {
            i += 1;
        }
        if i == name_start {
            i += 1;
            continue;
        }
        let name: String = chars[name_start..i]
            .iter()
            .collect::<String>()
            .to_lowercase();
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if i < chars.len() && chars[i] == '=' {
            i += 1;
            while i < chars.len() && chars[i].is_whitespace() {
                i += 1;
            }
            let value = if i < chars.len() && (chars[i] == '"' || chars[i] == '\'') {
                let q = chars[i];
                i += 1;
                let v_start = i;
                while i < chars.len() && chars[i] != q {
                    i += 1;
                }
                let v: String = chars[v_start..i].iter().collect();
                i += 1;
                v
            } else {
                let v_start = i;
                while i < chars.len() && !chars[i].is_whitespace() {
                    i += 1;
                }
                chars[v_start..i].iter().collect()
            };
            out.push((name, unescape(&value)));
        } else {
            out.push((name, String::new()));
        }
    }
    out
}

fn attr(attrs: &[(String, String)], name: &str) -> Option<String> {
    attrs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
}

/// Unescape the character references askama (and most templates) emit: the named ones for
/// `& " ' < >`, and numeric ones in decimal or hex.
pub fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(semi) = rest[..rest.len().min(12)].find(';') else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "nbsp" => Some('\u{a0}'),
            _ => {
                if let Some(hex) = entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                {
                    u32::from_str_radix(hex, 16).ok().and_then(char::from_u32)
                } else if let Some(dec) = entity.strip_prefix('#') {
                    dec.parse::<u32>().ok().and_then(char::from_u32)
                } else {
                    None
                }
            }
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOGIN: &str = r#"<!doctype html><html><head><title>Sign in &amp; more</title></head><body>
<form method="post" action="/t/default/login" novalidate>
  <input type="hidden" name="csrf_token" value="a&#x2b;b&#x2F;c=">
  <input type="hidden" name="return_to" value="/t/default/oauth2/authorize?client_id=x&amp;state=a&#x27;b&quot;">
  <label for="email">Email</label>
  <input id="email" name="email" type="email" autocomplete="username" required maxlength="254" value="alice@example.com" autofocus>
  <input id="password" name="password" type="password" autocomplete="current-password" required>
  <button type="submit">Sign in</button>
</form></body></html>"#;

    #[test]
    fn parses_login_form() {
        let forms = forms(LOGIN);
        assert_eq!(forms.len(), 1);
        let f = &forms[0];
        assert_eq!(f.method, "post");
        assert_eq!(f.action, "/t/default/login");
        assert_eq!(f.hidden("csrf_token"), Some("a+b/c="));
        assert_eq!(
            f.hidden("return_to"),
            Some("/t/default/oauth2/authorize?client_id=x&state=a'b\"")
        );
        assert_eq!(f.input_value("email"), Some("alice@example.com"));
        assert!(f.has_field("password"));
        assert_eq!(f.hidden_fields().len(), 2);
        assert_eq!(f.buttons.len(), 1);
        assert_eq!(title(LOGIN).as_deref(), Some("Sign in & more"));
    }

    #[test]
    fn parses_consent_buttons_and_several_forms() {
        let html = r#"<form method=POST action='/t/x/oauth2/consent'><input type=hidden name=request value="r1">
<button name="decision" value="allow">Allow</button><button name="decision" value="deny">Deny</button></form>
<form action="/other"><input name="q"></form>"#;
        let forms = forms(html);
        assert_eq!(forms.len(), 2);
        assert_eq!(forms[0].method, "post");
        assert_eq!(forms[0].action, "/t/x/oauth2/consent");
        assert_eq!(forms[0].hidden("request"), Some("r1"));
        assert_eq!(forms[0].buttons[1].value, "deny");
        assert_eq!(forms[1].method, "get");
        assert_eq!(forms[1].inputs[0].kind, "text");
    }

    #[test]
    fn unescapes() {
        assert_eq!(
            unescape("a&amp;b&lt;c&gt;d&#39;e&#x27;f&quot;"),
            "a&b<c>d'e'f\""
        );
        assert_eq!(unescape("x & y &unknown; z&"), "x & y &unknown; z&");
    }

    #[test]
    fn ignores_lookalike_tags() {
        assert!(forms("<formula>1</formula>").is_empty());
    }
}
