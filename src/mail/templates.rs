//! The messages Plinto sends, each a plain text and an HTML template in `templates/mail/`,
//! with the tenant's name as the product name.

use askama::Template;

use crate::error::{DomainError, DomainResult};

/// A rendered message, ready for the outbox.
#[derive(Debug)]
pub struct Rendered {
    /// What the outbox records as the message's kind.
    pub kind: &'static str,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Links and names that every message shows.
pub struct Mail<'a> {
    pub product: &'a str,
    pub link: &'a str,
    /// How long the link works, in words ("30 minutes").
    pub valid_for: &'a str,
}

#[derive(Template)]
#[template(path = "mail/verify_email.txt")]
struct VerifyText<'a> {
    m: &'a Mail<'a>,
}

#[derive(Template)]
#[template(path = "mail/verify_email.html")]
struct VerifyHtml<'a> {
    m: &'a Mail<'a>,
}

#[derive(Template)]
#[template(path = "mail/password_reset.txt")]
struct ResetText<'a> {
    m: &'a Mail<'a>,
}

#[derive(Template)]
#[template(path = "mail/password_reset.html")]
struct ResetHtml<'a> {
    m: &'a Mail<'a>,
}

#[derive(Template)]
#[template(path = "mail/password_changed.txt")]
struct ChangedText<'a> {
    m: &'a Mail<'a>,
}

#[derive(Template)]
#[template(path = "mail/password_changed.html")]
struct ChangedHtml<'a> {
    m: &'a Mail<'a>,
}

fn render(t: impl Template) -> DomainResult<String> {
    t.render().map_err(DomainError::internal)
}

pub fn verify_email(m: &Mail<'_>) -> DomainResult<Rendered> {
    Ok(Rendered {
        kind: "verify_email",
        subject: format!("Verify your email address for {}", m.product),
        text: render(VerifyText { m })?,
        html: render(VerifyHtml { m })?,
    })
}

pub fn password_reset(m: &Mail<'_>) -> DomainResult<Rendered> {
    Ok(Rendered {
        kind: "password_reset",
        subject: format!("Reset your {} password", m.product),
        text: render(ResetText { m })?,
        html: render(ResetHtml { m })?,
    })
}

/// `link`: where to sign in.
pub fn password_changed(m: &Mail<'_>) -> DomainResult<Rendered> {
    Ok(Rendered {
        kind: "password_changed",
        subject: format!("Your {} password was changed", m.product),
        text: render(ChangedText { m })?,
        html: render(ChangedHtml { m })?,
    })
}

/// A security notice about the account (a factor added or removed, an address change, a
/// sign-up attempt with the address): a subject, paragraphs and perhaps a link.
pub struct Notice<'a> {
    pub kind: &'static str,
    pub subject: String,
    pub paragraphs: Vec<String>,
    pub link: Option<(String, &'a str)>,
}

#[derive(Template)]
#[template(path = "mail/account_notice.txt")]
struct NoticeText<'a> {
    m: &'a Mail<'a>,
    n: &'a Notice<'a>,
}

#[derive(Template)]
#[template(path = "mail/account_notice.html")]
struct NoticeHtml<'a> {
    m: &'a Mail<'a>,
    n: &'a Notice<'a>,
}

pub fn account_notice(m: &Mail<'_>, n: &Notice<'_>) -> DomainResult<Rendered> {
    Ok(Rendered {
        kind: n.kind,
        subject: n.subject.clone(),
        text: render(NoticeText { m, n })?,
        html: render(NoticeHtml { m, n })?,
    })
}

/// "30 minutes", "24 hours", "1 hour".
pub fn duration_words(secs: u64) -> String {
    let (n, unit) = if secs.is_multiple_of(3600) && secs >= 3600 {
        (secs / 3600, "hour")
    } else if secs >= 60 {
        (secs.div_ceil(60), "minute")
    } else {
        (secs, "second")
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}
