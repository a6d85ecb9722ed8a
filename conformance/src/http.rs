//! The HTTP client handed to `openidconnect` (its `AsyncHttpClient` over `reqwest`, never
//! following redirects, no cookies), plus raw requests for the checks `openidconnect` does not
//! expose (status codes, headers, error bodies).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openidconnect::{AsyncHttpClient, HttpClientError, HttpRequest, HttpResponse};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap};
use url::Url;
use url::form_urlencoded;

/// What the last response seen by [`OidcHttp`] looked like.
#[derive(Debug, Clone)]
pub struct Seen {
    pub status: u16,
    pub headers: HeaderMap,
}

/// The client given to `openidconnect`. It remembers the status and headers of the last
/// response so that checks can look at them after an `openidconnect` call (modules run one at
/// a time).
#[derive(Clone)]
pub struct OidcHttp {
    client: reqwest::Client,
    last: Arc<Mutex<Option<Seen>>>,
}

impl OidcHttp {
    pub fn new() -> Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .user_agent("plinto-conformance")
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            client,
            last: Arc::new(Mutex::new(None)),
        })
    }

    /// The status and headers of the last response received through `openidconnect`.
    pub fn last(&self) -> Option<Seen> {
        self.last.lock().ok().and_then(|g| g.clone())
    }

    fn remember(&self, seen: Seen) {
        if let Ok(mut g) = self.last.lock() {
            *g = Some(seen);
        }
    }

    /// A raw GET.
    pub async fn get(&self, url: &str, bearer: Option<&str>) -> Result<Raw> {
        let mut req = self.client.get(url);
        if let Some(token) = bearer {
            req = req.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        Raw::from(req.send().await.with_context(|| format!("GET {url}"))?).await
    }

    /// A raw POST of a form, with optional extra headers.
    pub async fn post_form(
        &self,
        url: &str,
        fields: &[(String, String)],
        headers: &[(&str, String)],
    ) -> Result<Raw> {
        let body = encode_form(fields);
        let mut req = self
            .client
            .post(url)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body);
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        Raw::from(req.send().await.with_context(|| format!("POST {url}"))?).await
    }
}

impl<'c> AsyncHttpClient<'c> for OidcHttp {
    type Error = HttpClientError<reqwest::Error>;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Self::Error>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request).map_err(Box::new)?;
            let response = self.client.execute(request).await.map_err(Box::new)?;
            let status = response.status();
            let headers = response.headers().clone();
            let mut builder = openidconnect::http::Response::builder().status(status.as_u16());
            for (name, value) in response.headers() {
                builder = builder.header(name.as_str(), value.as_bytes());
            }
            let body = response.bytes().await.map_err(Box::new)?.to_vec();
            self.remember(Seen {
                status: status.as_u16(),
                headers,
            });
            builder.body(body).map_err(HttpClientError::Http)
        })
    }
}

/// A response read whole.
#[derive(Debug, Clone)]
pub struct Raw {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Raw {
    pub async fn from(resp: reqwest::Response) -> Result<Self> {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp
            .bytes()
            .await
            .context("reading a response body")?
            .to_vec();
        Ok(Self {
            status,
            headers,
            body,
        })
    }

    pub fn header(&self, name: &str) -> Option<String> {
        header(&self.headers, name)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The media type of `Content-Type`, lower-cased, without parameters.
    pub fn media_type(&self) -> String {
        media_type(&self.headers)
    }

    /// The body as JSON.
    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_slice(&self.body).with_context(|| {
            format!(
                "HTTP {} body is not JSON: {}",
                self.status,
                snippet(&self.text())
            )
        })
    }
}

pub fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

pub fn media_type(headers: &HeaderMap) -> String {
    header(headers, "content-type")
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// `application/x-www-form-urlencoded` encoding of the pairs.
pub fn encode_form(fields: &[(String, String)]) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        ser.append_pair(k, v);
    }
    ser.finish()
}

/// `Authorization: Basic` for a client, encoding id and secret as RFC 6749 §2.3.1 requires.
pub fn basic_auth(client_id: &str, client_secret: &str) -> String {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let raw = format!("{}:{}", enc(client_id), enc(client_secret));
    format!("Basic {}", STANDARD.encode(raw))
}

/// The first 200 characters of a text, on one line, for messages.
pub fn snippet(s: &str) -> String {
    let one_line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let trimmed = one_line.trim();
    if trimmed.chars().count() > 200 {
        format!("{}…", trimmed.chars().take(200).collect::<String>())
    } else {
        trimmed.to_string()
    }
}

/// Query parameters of a URL as pairs, in order (duplicates kept).
pub fn query_pairs(url: &Url) -> Vec<(String, String)> {
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Fragment parameters of a URL as pairs.
pub fn fragment_pairs(url: &Url) -> Vec<(String, String)> {
    url.fragment()
        .map(|f| {
            form_urlencoded::parse(f.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_form_encodes_first() {
        // "a b:c" → "a+b:c%3A" before base64 (RFC 6749 §2.3.1)
        let h = basic_auth("a b", "c:");
        let decoded = STANDARD.decode(h.trim_start_matches("Basic ")).unwrap();
        assert_eq!(String::from_utf8(decoded).unwrap(), "a+b:c%3A");
    }

    #[test]
    fn fragment_params() {
        let u = Url::parse("https://rp.example/cb#code=x&state=a%20b").unwrap();
        assert_eq!(
            fragment_pairs(&u),
            vec![
                ("code".to_string(), "x".to_string()),
                ("state".to_string(), "a b".to_string())
            ]
        );
    }
}
