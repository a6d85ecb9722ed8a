//! A scripted browser: a cookie jar, no automatic redirects (each `Location` is followed by
//! hand, so that a redirect to the relying party is intercepted and never fetched), and the
//! hosted pages filled in as a person would: the login form and the consent form.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use reqwest::header::{CONTENT_TYPE, HeaderMap, LOCATION};
use url::Url;

use crate::html::{self, Form};
use crate::http::{Raw, encode_form, fragment_pairs, query_pairs, snippet};

/// Redirects followed in one navigation before giving up.
const MAX_STEPS: usize = 25;

/// A request the browser makes.
#[derive(Debug, Clone)]
pub enum Nav {
    Get(Url),
    Post(Url, Vec<(String, String)>),
}

impl Nav {
    fn url(&self) -> &Url {
        match self {
            Nav::Get(u) | Nav::Post(u, _) => u,
        }
    }
}

/// One response, not followed.
#[derive(Debug, Clone)]
pub struct Page {
    /// The URL that was requested.
    pub url: Url,
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    /// `Location`, resolved against the request URL.
    pub fn location(&self) -> Result<Option<Url>> {
        let Some(loc) = self.headers.get(LOCATION) else {
            return Ok(None);
        };
        let loc = loc.to_str().context("Location is not ASCII")?;
        Ok(Some(self.url.join(loc).with_context(|| {
            format!("Location {loc:?} is not a URL")
        })?))
    }

    pub fn is_redirect(&self) -> bool {
        (300..400).contains(&self.status)
    }

    pub fn is_html(&self) -> bool {
        self.headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().starts_with("text/html"))
    }

    pub fn forms(&self) -> Vec<Form> {
        html::forms(&self.body)
    }

    /// A one-line description for failure messages.
    pub fn describe(&self) -> String {
        let title = html::title(&self.body)
            .map(|t| format!(" \"{t}\""))
            .unwrap_or_default();
        format!(
            "HTTP {}{} from {} ({})",
            self.status,
            title,
            self.url,
            snippet(&strip_tags(&self.body))
        )
    }
}

/// How an authorization request ended.
#[derive(Debug, Clone)]
pub enum AuthEnd {
    /// A redirect to one of the watched URIs (the redirect URI); never fetched.
    Redirect {
        status: u16,
        location: Url,
        query: Vec<(String, String)>,
        fragment: Vec<(String, String)>,
    },
    /// A `response_mode=form_post` page: a form posting to a watched URI.
    FormPost {
        action: Url,
        /// The form's method, lower-cased.
        method: String,
        params: Vec<(String, String)>,
    },
    /// A page the browser does not know how to go on from (an error page, say).
    Stopped(Page),
    /// A login or consent page while the navigation was not allowed to interact.
    Interaction { what: &'static str, page: Page },
    /// A redirect to an origin other than the provider's, not a watched URI.
    Elsewhere(Url),
}

impl AuthEnd {
    pub fn describe(&self) -> String {
        match self {
            AuthEnd::Redirect {
                status, location, ..
            } => format!("HTTP {status} redirect to {location}"),
            AuthEnd::FormPost { action, .. } => format!("form_post page posting to {action}"),
            AuthEnd::Stopped(p) => p.describe(),
            AuthEnd::Interaction { what, page } => {
                format!("the {what} page was shown ({})", page.url)
            }
            AuthEnd::Elsewhere(u) => format!("redirect off the provider to {u}"),
        }
    }
}

/// How a visit to the end-session endpoint ended.
#[derive(Debug, Clone)]
pub enum LogoutEnd {
    /// A redirect to one of the watched URIs; never fetched.
    Redirect {
        status: u16,
        location: Url,
        query: Vec<(String, String)>,
    },
    /// A page (confirmation, signed out, error).
    Page(Page),
    /// A redirect off the provider to a URI not watched.
    Elsewhere(Url),
}

impl LogoutEnd {
    pub fn describe(&self) -> String {
        match self {
            LogoutEnd::Redirect {
                status, location, ..
            } => format!("HTTP {status} redirect to {location}"),
            LogoutEnd::Page(p) => p.describe(),
            LogoutEnd::Elsewhere(u) => format!("redirect off the provider to {u}"),
        }
    }
}

/// What happened along the way.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    /// Login forms submitted.
    pub logins: usize,
    /// Consent forms submitted.
    pub consents: usize,
    /// The `email` value the login form came with, for each login page.
    pub login_prefill: Vec<String>,
    /// Every URL requested, in order.
    pub visited: Vec<String>,
}

/// Whether the login and consent pages may be filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interact {
    Yes,
    No,
}

pub struct Browser {
    client: reqwest::Client,
    /// Origin of the provider: redirects there are followed.
    op_origin: url::Origin,
    email: String,
    password: String,
}

impl Browser {
    /// A fresh browser with an empty cookie jar.
    pub fn new(issuer: &Url, email: &str, password: &str) -> Result<Self> {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .user_agent("Mozilla/5.0 (plinto-conformance)")
            .build()
            .context("building the browser's HTTP client")?;
        Ok(Self {
            client,
            op_origin: issuer.origin(),
            email: email.to_string(),
            password: password.to_string(),
        })
    }

    /// One request; the response is not followed.
    pub async fn fetch(&self, nav: &Nav) -> Result<Page> {
        let req = match nav {
            Nav::Get(u) => self.client.get(u.clone()),
            Nav::Post(u, fields) => self
                .client
                .post(u.clone())
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(encode_form(fields)),
        };
        let resp = req
            .header("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
            .send()
            .await
            .with_context(|| format!("requesting {}", nav.url()))?;
        let raw = Raw::from(resp).await?;
        Ok(Page {
            url: nav.url().clone(),
            status: raw.status,
            headers: raw.headers.clone(),
            body: raw.text(),
        })
    }

    /// Whether a URL is on the provider's origin.
    pub fn on_op(&self, url: &Url) -> bool {
        url.origin() == self.op_origin
    }

    /// Run an authorization request: follow redirects on the provider, sign in and consent
    /// when asked (if `interact` allows), and stop at a redirect to one of `watch` (compared
    /// without query and fragment), a form_post page, or any other page.
    pub async fn authorize(
        &self,
        start: Nav,
        watch: &[Url],
        interact: Interact,
        trace: &mut Trace,
    ) -> Result<AuthEnd> {
        let mut nav = start;
        for _ in 0..MAX_STEPS {
            trace.visited.push(nav.url().to_string());
            let page = self.fetch(&nav).await?;
            if page.is_redirect() {
                let Some(loc) = page.location()? else {
                    bail!("HTTP {} without Location from {}", page.status, page.url);
                };
                if watch.iter().any(|w| same_endpoint(w, &loc)) {
                    return Ok(AuthEnd::Redirect {
                        status: page.status,
                        query: query_pairs(&loc),
                        fragment: fragment_pairs(&loc),
                        location: loc,
                    });
                }
                if !self.on_op(&loc) {
                    return Ok(AuthEnd::Elsewhere(loc));
                }
                nav = Nav::Get(loc);
                continue;
            }
            if page.status != 200 && page.status != 422 {
                return Ok(AuthEnd::Stopped(page));
            }
            let forms = page.forms();
            // form_post response: a form posting to the redirect URI
            for form in &forms {
                if let Ok(action) = page.url.join(&form.action)
                    && watch.iter().any(|w| same_endpoint(w, &action))
                {
                    return Ok(AuthEnd::FormPost {
                        action,
                        method: form.method.clone(),
                        params: form
                            .inputs
                            .iter()
                            .filter(|c| !c.name.is_empty())
                            .map(|c| (c.name.clone(), c.value.clone()))
                            .collect(),
                    });
                }
            }
            if let Some(form) = forms.iter().find(|f| is_login_form(f)) {
                if interact == Interact::No {
                    return Ok(AuthEnd::Interaction {
                        what: "login",
                        page,
                    });
                }
                if trace.logins > 0 && page.status == 422 {
                    bail!("the login was refused: {}", page.describe());
                }
                trace
                    .login_prefill
                    .push(form.input_value("email").unwrap_or_default().to_string());
                let action = page
                    .url
                    .join(&form.action)
                    .context("login form action is not a URL")?;
                let mut fields = form.hidden_fields();
                fields.push(("email".into(), self.email.clone()));
                fields.push(("password".into(), self.password.clone()));
                trace.logins += 1;
                if trace.logins > 3 {
                    bail!("asked to sign in more than three times in one authorization");
                }
                nav = Nav::Post(action, fields);
                continue;
            }
            if let Some(form) = forms.iter().find(|f| is_consent_form(f)) {
                if interact == Interact::No {
                    return Ok(AuthEnd::Interaction {
                        what: "consent",
                        page,
                    });
                }
                let action = page
                    .url
                    .join(&form.action)
                    .context("consent form action is not a URL")?;
                let mut fields = form.hidden_fields();
                fields.push(("decision".into(), "allow".into()));
                trace.consents += 1;
                if trace.consents > 3 {
                    bail!("asked for consent more than three times in one authorization");
                }
                nav = Nav::Post(action, fields);
                continue;
            }
            return Ok(AuthEnd::Stopped(page));
        }
        Err(anyhow!("more than {MAX_STEPS} redirects"))
    }

    /// Go to the end-session endpoint: follow redirects on the provider, submit a logout
    /// confirmation form when `confirm` (counting it in `confirmations`), stop at a redirect to
    /// one of `watch`, off the provider, or at a page with nothing more to do.
    pub async fn logout(
        &self,
        start: Nav,
        watch: &[Url],
        confirm: bool,
        confirmations: &mut usize,
    ) -> Result<LogoutEnd> {
        let mut nav = start;
        for _ in 0..MAX_STEPS {
            let page = self.fetch(&nav).await?;
            if page.is_redirect() {
                let Some(loc) = page.location()? else {
                    bail!("HTTP {} without Location from {}", page.status, page.url);
                };
                if watch.iter().any(|w| same_endpoint(w, &loc)) {
                    return Ok(LogoutEnd::Redirect {
                        status: page.status,
                        query: query_pairs(&loc),
                        location: loc,
                    });
                }
                if !self.on_op(&loc) {
                    return Ok(LogoutEnd::Elsewhere(loc));
                }
                nav = Nav::Get(loc);
                continue;
            }
            if page.status != 200 || !confirm {
                return Ok(LogoutEnd::Page(page));
            }
            let form = page.forms().into_iter().find(|f| {
                f.method == "post"
                    && !is_login_form(f)
                    && !is_consent_form(f)
                    && page.url.join(&f.action).is_ok_and(|a| self.on_op(&a))
            });
            let Some(form) = form else {
                return Ok(LogoutEnd::Page(page));
            };
            if *confirmations >= 2 {
                return Ok(LogoutEnd::Page(page));
            }
            *confirmations += 1;
            let action = page.url.join(&form.action)?;
            let mut fields = form.hidden_fields();
            if let Some(b) = form
                .buttons
                .iter()
                .find(|b| b.kind == "submit" && !b.name.is_empty())
            {
                fields.push((b.name.clone(), b.value.clone()));
            }
            nav = Nav::Post(action, fields);
        }
        Err(anyhow!("more than {MAX_STEPS} redirects"))
    }
}

/// A login form: it posts a password.
pub fn is_login_form(f: &Form) -> bool {
    f.method == "post" && f.inputs.iter().any(|c| c.name == "password")
}

/// A consent form: it carries a `decision` button.
pub fn is_consent_form(f: &Form) -> bool {
    f.method == "post" && f.buttons.iter().any(|c| c.name == "decision")
}

/// Same scheme, host, port and path.
pub fn same_endpoint(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
        && a.path() == b.path()
}

/// Text of an HTML page without its tags, for messages.
pub fn strip_tags(html: &str) -> String {
    let body = match html.to_ascii_lowercase().find("<body") {
        Some(i) => &html[i..],
        None => html,
    };
    let mut out = String::new();
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    let text = html::unescape(&out);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_compare_without_query() {
        let a = Url::parse("https://rp.example/cb").unwrap();
        assert!(same_endpoint(
            &a,
            &Url::parse("https://rp.example:443/cb?code=1#x").unwrap()
        ));
        assert!(!same_endpoint(
            &a,
            &Url::parse("https://rp.example/cb/x").unwrap()
        ));
        assert!(!same_endpoint(
            &a,
            &Url::parse("http://rp.example/cb").unwrap()
        ));
    }

    #[test]
    fn strips_tags() {
        assert_eq!(
            strip_tags("<html><body><h1>Oops</h1><p>bad &amp; worse</p></body></html>"),
            "Oops bad & worse"
        );
    }
}
