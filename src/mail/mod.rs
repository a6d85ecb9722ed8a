//! Outgoing email: messages rendered from `templates/mail/` (plain text and HTML parts),
//! queued in a durable outbox in the same transaction as what caused them, and sent by a
//! background sender (see [`outbox`]) over SMTP, or written as `.eml` files under
//! `{data_dir}/mail` when no SMTP server is configured (the embedded default).

pub mod outbox;
pub mod templates;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio::sync::Notify;

use crate::config::Config;
use crate::crypto::SubKey;

/// How a connection to the SMTP server is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpTls {
    /// `smtp://…?tls=starttls` (the default for `smtp://`): STARTTLS, refused without it.
    StartTls,
    /// `smtp://…?tls=opportunistic`: STARTTLS when offered, else plain.
    Opportunistic,
    /// `smtps://…` (or `?tls=implicit`): TLS from the first byte.
    Implicit,
    /// `smtp://…?tls=none`: plain text (a local relay, tests).
    None,
}

/// `PLINTO_SMTP_URL`, parsed.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("user", &self.credentials.as_ref().map(|(u, _)| u))
            .finish_non_exhaustive()
    }
}

impl SmtpSettings {
    /// `smtp[s]://[user:pass@]host[:port][?tls=starttls|opportunistic|implicit|none]`; user
    /// and password percent-decoded.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let url = url::Url::parse(raw).map_err(|e| format!("not a URL: {e}"))?;
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("no host")?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let tls_param = url
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.to_ascii_lowercase());
        let tls = match (url.scheme(), tls_param.as_deref()) {
            ("smtps", None | Some("implicit")) => SmtpTls::Implicit,
            ("smtp", None | Some("starttls" | "required")) => SmtpTls::StartTls,
            ("smtp", Some("opportunistic")) => SmtpTls::Opportunistic,
            ("smtp", Some("implicit")) => SmtpTls::Implicit,
            ("smtp", Some("none")) => SmtpTls::None,
            ("smtp" | "smtps", Some(other)) => {
                return Err(format!(
                    "tls={other} is not one of starttls, opportunistic, implicit, none"
                ));
            }
            (scheme, _) => return Err(format!("scheme {scheme}: use smtp:// or smtps://")),
        };
        let port = url.port().unwrap_or(match tls {
            SmtpTls::Implicit => 465,
            _ => 587,
        });
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| "user or password is not UTF-8 once decoded".to_string())
        };
        let credentials = match (url.username(), url.password()) {
            ("", None) => None,
            (user, Some(pass)) => Some((decode(user)?, decode(pass)?)),
            (_, None) => return Err("a user needs a password (user:pass@host)".into()),
        };
        Ok(Self {
            host,
            port,
            tls,
            credentials,
        })
    }

    /// Plain text to a host that is not this machine.
    pub fn plaintext_off_host(&self) -> bool {
        let loopback = self.host == "localhost"
            || self
                .host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        matches!(self.tls, SmtpTls::None | SmtpTls::Opportunistic) && !loopback
    }

    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
        let params =
            || TlsParameters::new(self.host.clone()).map_err(|e| format!("TLS parameters: {e}"));
        let tls = match self.tls {
            SmtpTls::StartTls => Tls::Required(params()?),
            SmtpTls::Opportunistic => Tls::Opportunistic(params()?),
            SmtpTls::Implicit => Tls::Wrapper(params()?),
            SmtpTls::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host)
            .port(self.port)
            .tls(tls)
            .timeout(Some(SEND_TIMEOUT));
        if let Some((user, pass)) = &self.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), pass.clone()));
        }
        Ok(builder.build())
    }
}

/// How long one delivery attempt may take; a claimed message is leased for longer.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    File(AsyncFileTransport<Tokio1Executor>, PathBuf),
}

/// Where mail goes, who it is from, and the key its queued copies are encrypted under.
#[derive(Clone)]
pub struct Mailer {
    transport: Transport,
    pub from: Mailbox,
    /// Host part of Message-IDs.
    pub domain: String,
    pub(crate) key: SubKey,
    wake: Arc<Notify>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let to = match &self.transport {
            Transport::Smtp(_) => "smtp".to_string(),
            Transport::File(_, dir) => format!("files in {}", dir.display()),
        };
        f.debug_struct("Mailer")
            .field("to", &to)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl Mailer {
    pub fn new(config: &Config, key: SubKey) -> anyhow::Result<Self> {
        let from: Mailbox = config
            .mail_from
            .parse()
            .map_err(|e| anyhow::anyhow!("mail_from: {e}"))?;
        let transport = match &config.smtp_url {
            Some(url) => Transport::Smtp(
                SmtpSettings::parse(url.expose())
                    .and_then(|s| s.transport())
                    .map_err(|e| anyhow::anyhow!("smtp_url: {e}"))?,
            ),
            None => {
                let dir = config.data_dir.join("mail");
                std::fs::create_dir_all(&dir)
                    .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
                Transport::File(AsyncFileTransport::new(&dir), dir)
            }
        };
        let domain = url::Url::parse(&config.public_url())
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| "localhost".into());
        Ok(Self {
            transport,
            from,
            domain,
            key,
            wake: Arc::new(Notify::new()),
        })
    }

    /// Tell the sender that a message is waiting (after the enqueuing transaction commits).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub(crate) async fn woken(&self) {
        self.wake.notified().await
    }

    /// Hand one formatted message to the transport.
    async fn send_raw(
        &self,
        envelope: &lettre::address::Envelope,
        message: &[u8],
    ) -> Result<(), String> {
        match &self.transport {
            Transport::Smtp(t) => t
                .send_raw(envelope, message)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Transport::File(t, dir) => {
                let id = t
                    .send_raw(envelope, message)
                    .await
                    .map_err(|e| e.to_string())?;
                tracing::info!(path = %dir.join(format!("{id}.eml")).display(), "mail written to a file (no SMTP server configured)");
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_parse() {
        let s = SmtpSettings::parse("smtp://user%40x:p%3Ass@mail.example.com:2525?tls=starttls")
            .unwrap();
        assert_eq!(s.host, "mail.example.com");
        assert_eq!(s.port, 2525);
        assert_eq!(s.tls, SmtpTls::StartTls);
        assert_eq!(
            s.credentials,
            Some(("user@x".to_string(), "p:ss".to_string()))
        );
        assert!(!format!("{s:?}").contains("p:ss"));
        let s = SmtpSettings::parse("smtps://mail.example.com").unwrap();
        assert_eq!((s.port, s.tls), (465, SmtpTls::Implicit));
        let s = SmtpSettings::parse("smtp://127.0.0.1:25?tls=none").unwrap();
        assert_eq!(s.tls, SmtpTls::None);
        assert!(!s.plaintext_off_host());
        assert!(
            SmtpSettings::parse("smtp://mail.example.com?tls=none")
                .unwrap()
                .plaintext_off_host()
        );
        for bad in [
            "http://mail.example.com",
            "smtp://mail.example.com?tls=maybe",
            "smtp://user@mail.example.com",
            "not a url",
        ] {
            assert!(SmtpSettings::parse(bad).is_err(), "{bad}");
        }
    }
}
