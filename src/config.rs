//! Layered configuration: defaults < `plinto.toml` (or `--config FILE`) < `PLINTO_*` environment
//! variables (with `PLINTO_*_FILE` for secrets) < command-line flags.
//!
//! The configuration is passed in everywhere; nothing reads it from a global.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Environment variable prefix of every setting.
pub const ENV_PREFIX: &str = "PLINTO_";
/// The configuration file read when present and no `--config` is given.
pub const DEFAULT_CONFIG_FILE: &str = "plinto.toml";

/// A secret setting: never printed by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Every setting of Plinto. Field `foo_bar` is `foo_bar` in `plinto.toml` and `PLINTO_FOO_BAR`
/// in the environment.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Database URL; default: SQLite file `plinto.db` in the data dir.
    pub database_url: Option<Secret>,
    /// Seconds a request waits for a database connection before it gets a 503.
    pub database_acquire_timeout_secs: u64,
    pub database_max_connections: u32,
    /// Directory for the SQLite database and the generated master key.
    pub data_dir: PathBuf,
    /// Address the HTTP server listens on.
    pub listen: String,
    /// Public base URL; default `http://{listen}`.
    pub public_url: Option<String>,
    /// Redis URL; without it, rate-limit counters live in-process (single node only).
    pub redis_url: Option<Secret>,
    /// Prefix of every Redis key Plinto writes.
    pub redis_prefix: String,
    /// tracing filter, e.g. `info` or `plinto=debug,info`.
    pub log: String,
    pub log_format: LogFormat,
    /// 32-byte key (base64) for keyed hashes and encryption of secrets at rest; default:
    /// generated once into `{data_dir}/master.key` with mode 0600.
    pub master_key: Option<Secret>,
    /// Email of the admin created on an empty database.
    pub bootstrap_admin_email: String,
    /// Password of that admin; default: a random one-time password printed once to stderr.
    pub bootstrap_admin_password: Option<Secret>,
    /// A session ends after this many seconds without a request.
    pub session_idle_timeout_secs: u64,
    /// A session ends this many seconds after sign-in, whatever happens.
    pub session_max_lifetime_secs: u64,
    /// Wrong passwords for one account from one IP address before that address waits (1 min,
    /// doubling with each further failure); other addresses are not affected.
    pub login_max_failures: u64,
    /// Failed sign-ins from one IP address within the window before it is throttled.
    pub login_ip_max_failures: u64,
    /// The window of the per-address counter; an (account, address) counter lasts this long
    /// plus `login_lockout_secs` from its first failure.
    pub login_failure_window_secs: u64,
    /// The longest delay of an (account, address).
    pub login_lockout_secs: u64,
    /// argon2id memory cost in KiB (OWASP: 19456).
    pub argon2_m_cost: u32,
    /// argon2id iterations (OWASP: 2).
    pub argon2_t_cost: u32,
    /// argon2id parallelism (OWASP: 1).
    pub argon2_p_cost: u32,
    /// Take the client address from `Forwarded` / `X-Forwarded-For` (only behind a proxy).
    pub trust_forwarded_headers: bool,
    /// HTTP worker threads; 0 = one per core.
    pub workers: usize,
    /// A client has this long to send a request's head (line and headers), else 408.
    pub request_header_timeout_secs: u64,
    /// A client has this long from the end of the head to send the whole body, else 408.
    pub request_body_timeout_secs: u64,
    /// How long a retired signing key stays in the JWKS (longer than any token it signed).
    pub signing_key_retention_secs: u64,
    /// Lifetime of access tokens (JWT, RFC 9068).
    pub access_token_ttl_secs: u64,
    /// Lifetime of ID tokens.
    pub id_token_ttl_secs: u64,
    /// Lifetime of authorization codes (single use).
    pub authorization_code_ttl_secs: u64,
    /// Lifetime of a refresh token; each rotation issues a fresh one.
    pub refresh_token_ttl_secs: u64,
    /// How long a node serves tenants, clients and signing keys from memory before reading
    /// them again; a rotated signing key starts signing only this long after rotation, once
    /// every node publishes it. 0 = read on every request.
    pub read_cache_ttl_secs: u64,
    /// Rate limits over the built-in defaults: `name=N/unit` pairs separated by commas
    /// (`login=20/min,token=off`), or `off` for all. Names: ip, login, signup,
    /// password_reset, password_reset_email, email_verification, token, userinfo.
    pub rate_limits: String,
    /// SMTP server, e.g. `smtp://user:pass@host:587?tls=starttls`, `smtps://host:465`,
    /// `smtp://host:25?tls=none`; without it, mail is written as `.eml` files under
    /// `{data_dir}/mail`.
    pub smtp_url: Option<Secret>,
    /// The From address of every message Plinto sends.
    pub mail_from: String,
    /// How often the mail sender looks for due messages (a new message wakes it at once).
    pub mail_poll_interval_ms: u64,
    /// Attempts before a message is given up (audited as `mail.failed`).
    pub mail_max_attempts: u32,
    /// How long an email verification link works.
    pub email_verification_ttl_secs: u64,
    /// How long a password reset link works.
    pub password_reset_ttl_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: None,
            database_acquire_timeout_secs: 5,
            database_max_connections: 10,
            data_dir: PathBuf::from("./data"),
            listen: "127.0.0.1:8080".into(),
            public_url: None,
            redis_url: None,
            redis_prefix: "plinto:".into(),
            log: "info".into(),
            log_format: LogFormat::Text,
            master_key: None,
            bootstrap_admin_email: "admin@localhost".into(),
            bootstrap_admin_password: None,
            session_idle_timeout_secs: 2 * 3600,
            session_max_lifetime_secs: 24 * 3600,
            login_max_failures: 5,
            login_ip_max_failures: 50,
            login_failure_window_secs: 15 * 60,
            login_lockout_secs: 15 * 60,
            argon2_m_cost: 19 * 1024,
            argon2_t_cost: 2,
            argon2_p_cost: 1,
            trust_forwarded_headers: false,
            workers: 0,
            request_header_timeout_secs: 5,
            request_body_timeout_secs: 30,
            signing_key_retention_secs: 24 * 3600,
            access_token_ttl_secs: 600,
            id_token_ttl_secs: 3600,
            authorization_code_ttl_secs: 60,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            read_cache_ttl_secs: 10,
            rate_limits: String::new(),
            smtp_url: None,
            mail_from: "Plinto <noreply@localhost>".into(),
            mail_poll_interval_ms: 1000,
            mail_max_attempts: 8,
            email_verification_ttl_secs: 24 * 3600,
            password_reset_ttl_secs: 30 * 60,
        }
    }
}

/// The settings that may also be given as `PLINTO_<NAME>_FILE` (the file's content, trimmed).
const SECRET_KEYS: &[&str] = &[
    "database_url",
    "redis_url",
    "master_key",
    "bootstrap_admin_password",
    "smtp_url",
];

/// Environment variables with the prefix that are not settings but are known to be used by
/// Plinto's own tooling (the test suite).
const NON_SETTING_ENV: &[&str] = &["test_database_url", "test_redis_url"];

/// Values given on the command line; they win over everything else.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
}

/// A loaded configuration and the warnings found while loading it (printed once logging is up).
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

fn setting_names() -> Vec<String> {
    match serde_json::to_value(Config::default()) {
        Ok(serde_json::Value::Object(map)) => map.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

impl Config {
    /// Load from the layers. `file`: an explicit `--config`; `env`: the process environment
    /// (passed in so that tests can give their own).
    pub fn load(
        file: Option<&Path>,
        env: &[(String, String)],
        overrides: &Overrides,
    ) -> Result<Loaded, ConfigError> {
        let mut warnings = Vec::new();
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) if !path.exists() => return Err(ConfigError::MissingFile(path.into())),
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None if Path::new(DEFAULT_CONFIG_FILE).exists() => {
                figment = figment.merge(Toml::file_exact(DEFAULT_CONFIG_FILE))
            }
            None => {}
        }

        let names = setting_names();
        let mut env_layer = figment::value::Dict::new();
        for (key, value) in env {
            let Some(rest) = key.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let name = rest.to_ascii_lowercase();
            if names.contains(&name) {
                // Parsed as figment's own Env provider does: numbers and booleans become typed,
                // and figment converts them back where a string is expected.
                let parsed = value
                    .parse::<figment::value::Value>()
                    .unwrap_or_else(|_| value.clone().into());
                env_layer.insert(name, parsed);
            } else if let Some(secret) = name.strip_suffix("_file")
                && SECRET_KEYS.contains(&secret)
            {
                let content =
                    std::fs::read_to_string(value).map_err(|source| ConfigError::Read {
                        path: value.into(),
                        source,
                    })?;
                env_layer.insert(secret.to_string(), content.trim().to_string().into());
            } else if !NON_SETTING_ENV.contains(&name.as_str()) {
                warnings.push(format!(
                    "unknown environment variable {key} ignored (misspelled setting?)"
                ));
            }
        }
        for secret in SECRET_KEYS {
            let direct = format!("{ENV_PREFIX}{}", secret.to_ascii_uppercase());
            let via_file = format!("{direct}_FILE");
            if env.iter().any(|(k, _)| k == &direct) && env.iter().any(|(k, _)| k == &via_file) {
                return Err(ConfigError::Invalid(format!(
                    "both {direct} and {via_file} are set"
                )));
            }
        }
        figment = figment
            .merge(Serialized::defaults(env_layer))
            .merge(Serialized::defaults(overrides));

        let config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        config.validate()?;
        warnings.extend(config.insecure_settings());
        Ok(Loaded { config, warnings })
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.listen.parse::<SocketAddr>().is_err() {
            return Err(ConfigError::Invalid(format!(
                "listen: {:?} is not an address like 127.0.0.1:8080",
                self.listen
            )));
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ConfigError::Invalid(format!(
                "public_url: {url:?} must start with http:// or https://"
            )));
        }
        if self.session_idle_timeout_secs == 0 || self.session_max_lifetime_secs == 0 {
            return Err(ConfigError::Invalid(
                "session timeouts must be greater than 0".into(),
            ));
        }
        if self.request_header_timeout_secs == 0 || self.request_body_timeout_secs == 0 {
            return Err(ConfigError::Invalid(
                "request timeouts must be greater than 0".into(),
            ));
        }
        if self.login_max_failures == 0 || self.login_ip_max_failures == 0 {
            return Err(ConfigError::Invalid(
                "login failure limits must be greater than 0".into(),
            ));
        }
        if [
            self.access_token_ttl_secs,
            self.id_token_ttl_secs,
            self.authorization_code_ttl_secs,
            self.refresh_token_ttl_secs,
        ]
        .contains(&0)
        {
            return Err(ConfigError::Invalid(
                "token lifetimes must be greater than 0".into(),
            ));
        }
        if self.signing_key_retention_secs
            < self.access_token_ttl_secs.max(self.id_token_ttl_secs) + self.read_cache_ttl_secs
        {
            return Err(ConfigError::Invalid(
                "signing_key_retention_secs must be at least the access and ID token lifetimes \
                 plus read_cache_ttl_secs"
                    .into(),
            ));
        }
        crate::ratelimit::Overrides::parse(&self.rate_limits)
            .map_err(|e| ConfigError::Invalid(format!("rate_limits: {e}")))?;
        if let Some(url) = &self.smtp_url {
            crate::mail::SmtpSettings::parse(url.expose())
                .map_err(|e| ConfigError::Invalid(format!("smtp_url: {e}")))?;
        }
        self.mail_from
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| ConfigError::Invalid(format!("mail_from: {e}")))?;
        if self.mail_poll_interval_ms == 0
            || self.mail_max_attempts == 0
            || self.email_verification_ttl_secs == 0
            || self.password_reset_ttl_secs == 0
        {
            return Err(ConfigError::Invalid(
                "mail intervals, attempts and link lifetimes must be greater than 0".into(),
            ));
        }
        argon2::Params::new(
            self.argon2_m_cost,
            self.argon2_t_cost,
            self.argon2_p_cost,
            None,
        )
        .map_err(|e| ConfigError::Invalid(format!("argon2 parameters: {e}")))?;
        Ok(())
    }

    /// Settings that work but weaken security; each gets a warning at start-up.
    pub fn insecure_settings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        let public = self.public_url();
        let loopback = self
            .listen
            .parse::<SocketAddr>()
            .map(|a| a.ip().is_loopback())
            .unwrap_or(false);
        if public.starts_with("http://") && !loopback {
            warnings.push(format!(
                "public_url {public} is plain http on a non-loopback listener: cookies are not \
                 Secure and credentials travel in clear; put Plinto behind TLS"
            ));
        }
        if self.argon2_m_cost < 19 * 1024 || self.argon2_t_cost < 2 {
            warnings.push(
                "argon2 parameters are below the OWASP minimum (m=19456 KiB, t=2, p=1)".into(),
            );
        }
        if let Some(url) = &self.smtp_url
            && let Ok(smtp) = crate::mail::SmtpSettings::parse(url.expose())
            && smtp.plaintext_off_host()
        {
            warnings.push(
                "smtp_url has tls=none to a host that is not loopback: mail and SMTP \
                 credentials travel in clear"
                    .into(),
            );
        }
        if self.redis_url.is_none() && self.trust_forwarded_headers {
            warnings.push(
                "trust_forwarded_headers is on without Redis: login throttling is per node".into(),
            );
        }
        warnings
    }

    /// The public base URL without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("http://{}", self.listen),
        }
    }

    pub fn is_https(&self) -> bool {
        self.public_url().starts_with("https://")
    }

    /// The database URL, defaulting to the SQLite file in the data dir.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.expose().to_string(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("plinto.db").display()
            ),
        }
    }

    /// The issuer of a tenant: `{public_url}/t/{slug}`.
    pub fn issuer(&self, slug: &str) -> String {
        format!("{}/t/{slug}", self.public_url())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plinto.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:9000\"\nlog = \"debug\"\n").unwrap();
        let loaded = Config::load(
            Some(&file),
            &env(&[("PLINTO_LOG", "warn"), ("PLINTO_LOGIN_MAX_FAILURES", "7")]),
            &Overrides {
                public_url: Some("https://id.example.com/".into()),
                ..Default::default()
            },
        )
        .unwrap();
        let c = loaded.config;
        assert_eq!(c.listen, "127.0.0.1:9000");
        assert_eq!(c.log, "warn");
        assert_eq!(c.login_max_failures, 7);
        assert_eq!(c.public_url(), "https://id.example.com");
        assert_eq!(c.issuer("acme"), "https://id.example.com/t/acme");
    }

    #[test]
    fn unknown_file_keys_are_rejected_and_unknown_env_warns() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plinto.toml");
        std::fs::write(&file, "lisen = \"127.0.0.1:9000\"\n").unwrap();
        let err = Config::load(Some(&file), &[], &Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("lisen"), "{err}");

        let loaded =
            Config::load(None, &env(&[("PLINTO_LISEN", "x")]), &Overrides::default()).unwrap();
        assert!(loaded.warnings.iter().any(|w| w.contains("PLINTO_LISEN")));
    }

    #[test]
    fn secrets_come_from_files_and_are_redacted() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "s3cret-password\n").unwrap();
        let loaded = Config::load(
            None,
            &env(&[(
                "PLINTO_BOOTSTRAP_ADMIN_PASSWORD_FILE",
                file.to_str().unwrap(),
            )]),
            &Overrides::default(),
        )
        .unwrap();
        let c = loaded.config;
        assert_eq!(
            c.bootstrap_admin_password.as_ref().map(Secret::expose),
            Some("s3cret-password")
        );
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn bad_values_are_clear_errors() {
        let err = Config::load(
            None,
            &env(&[("PLINTO_LISTEN", "not-an-address")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("listen"), "{err}");
        let err = Config::load(
            None,
            &env(&[("PLINTO_LOGIN_MAX_FAILURES", "many")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("login_max_failures"), "{err}");
    }

    #[test]
    fn insecure_settings_warn() {
        let c = Config {
            listen: "0.0.0.0:8080".into(),
            argon2_m_cost: 1024,
            ..Config::default()
        };
        let w = c.insecure_settings();
        assert_eq!(w.len(), 2, "{w:?}");
    }
}
