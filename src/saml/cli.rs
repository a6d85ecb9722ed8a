//! `plinto saml-sp …` and `plinto saml-cert …`.

use clap::Subcommand;
use serde_json::{Value, json};

use super::sps::{self, Acs, NewSp};
use super::{BINDING_POST, NameIdFormat, certs};
use crate::audit::{self, RequestMeta, actions};
use crate::cli::{CLI_ACTOR, find_tenant, print};
use crate::state::AppState;

#[derive(Debug, Subcommand)]
pub enum SamlSpCommand {
    /// Register a service provider, from its metadata or from explicit values; prints
    /// {"entity_id"}
    Create {
        #[arg(long, value_name = "SLUG")]
        tenant: String,
        /// The SP's SAML metadata (an EntityDescriptor with an SPSSODescriptor)
        #[arg(long, value_name = "FILE", conflicts_with_all = ["entity_id", "acs_url", "slo_url"])]
        metadata: Option<std::path::PathBuf>,
        /// The SP's entityID
        #[arg(long, required_unless_present = "metadata", requires = "acs_url")]
        entity_id: Option<String>,
        /// The AssertionConsumerService URL (HTTP-POST), compared exactly
        #[arg(long, requires = "entity_id")]
        acs_url: Option<String>,
        /// The SingleLogoutService URL (HTTP-Redirect)
        #[arg(long)]
        slo_url: Option<String>,
        /// The SP's certificate (PEM file): verifies its signed requests and encrypts
        /// assertions to it
        #[arg(long, value_name = "PEM_FILE")]
        cert: Option<std::path::PathBuf>,
        /// emailAddress, persistent, transient or unspecified (or the full URN); default:
        /// from the metadata, else unspecified (the email address)
        #[arg(long, value_name = "FORMAT")]
        nameid_format: Option<String>,
        /// Sign the assertion (default true)
        #[arg(long, value_name = "BOOL")]
        sign_assertion: Option<bool>,
        /// Sign the Response (default false)
        #[arg(long, value_name = "BOOL")]
        sign_response: Option<bool>,
        /// Encrypt the assertion to the SP's certificate (default false)
        #[arg(long, value_name = "BOOL")]
        encrypt_assertion: Option<bool>,
        /// The content encryption of assertions: aes256-gcm (default) or aes256-cbc (for SPs
        /// without GCM; also chosen when the metadata lists only CBC)
        #[arg(long, value_name = "ALG")]
        encryption_method: Option<String>,
        /// Refuse AuthnRequests that are not signed (also set by AuthnRequestsSigned in the
        /// metadata)
        #[arg(long)]
        want_authn_requests_signed: bool,
        /// Accept the SP's requests signed with RSA-SHA1 (legacy SPs, e.g. pysaml2 in its
        /// defaults); refused by default. Each accepted one is audited as saml.sha1_accepted
        #[arg(long)]
        allow_sha1: bool,
        /// Send a value under another attribute name (`source=name`; an empty name leaves
        /// it out). Sources: email, name, user_name, given_name, family_name, nickname,
        /// phone_number, locale, zoneinfo, picture, address (formatted), groups. Repeatable.
        #[arg(long, value_name = "SOURCE=NAME")]
        attribute: Vec<String>,
    },
    /// Change a registered service provider; prints it as in `list`
    Update {
        #[arg(long, value_name = "SLUG")]
        tenant: String,
        /// The SP's entityID
        entity_id: String,
        /// Accept (true) or refuse (false) the SP's requests signed with RSA-SHA1
        #[arg(long, value_name = "BOOL")]
        allow_sha1: Option<bool>,
    },
    /// List the tenant's service providers as a JSON array
    List {
        #[arg(long, value_name = "SLUG")]
        tenant: String,
    },
    /// Remove a service provider; prints {"deleted":"<entityID>"}
    Delete {
        #[arg(long, value_name = "SLUG")]
        tenant: String,
        /// The SP's entityID
        entity_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum SamlCertCommand {
    /// Make a new signing certificate; the old one stays in the metadata for the overlap
    /// (signing_key_retention_secs). Prints {"tenant","active","retired"}
    Rotate {
        #[arg(long, value_name = "SLUG")]
        tenant: String,
    },
    /// The certificates in the metadata, newest first
    List {
        #[arg(long, value_name = "SLUG")]
        tenant: String,
    },
}

fn read(path: &std::path::Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))
}

pub async fn sp(cmd: SamlSpCommand, state: &AppState) -> anyhow::Result<()> {
    let meta = RequestMeta::cli();
    match cmd {
        SamlSpCommand::Create {
            tenant,
            metadata,
            entity_id,
            acs_url,
            slo_url,
            cert,
            nameid_format,
            sign_assertion,
            sign_response,
            encrypt_assertion,
            encryption_method,
            want_authn_requests_signed,
            allow_sha1,
            attribute,
        } => {
            let t = find_tenant(state, &tenant).await?;
            let mut input = match metadata {
                Some(path) => sps::from_metadata(&read(&path)?)?,
                None => NewSp {
                    entity_id: entity_id.unwrap_or_default(),
                    acs: vec![Acs {
                        url: acs_url.unwrap_or_default(),
                        binding: BINDING_POST.into(),
                        index: 0,
                        is_default: true,
                    }],
                    slo_url,
                    ..NewSp::default()
                },
            };
            if let Some(path) = cert {
                let pem = sps::check_pem(&read(&path)?)?;
                input.signing_certs = vec![pem.clone()];
                input.encryption_cert = Some(pem);
            }
            if let Some(f) = nameid_format {
                input.name_id_format = Some(NameIdFormat::parse(&f).ok_or_else(|| {
                    anyhow::anyhow!(
                        "unknown NameID format {f}; use emailAddress, persistent, transient or \
                         unspecified"
                    )
                })?);
            }
            input.sign_assertion = sign_assertion.or(input.sign_assertion);
            input.sign_response = sign_response;
            input.encrypt_assertion = encrypt_assertion;
            if let Some(m) = encryption_method {
                input.encryption_method = Some(match m.as_str() {
                    "aes256-gcm" => sps::ENC_AES256_GCM.to_string(),
                    "aes256-cbc" => sps::ENC_AES256_CBC.to_string(),
                    other => other.to_string(),
                });
            }
            input.want_authn_requests_signed |= want_authn_requests_signed;
            input.allow_sha1 = allow_sha1;
            for a in attribute {
                let (source, name) = a
                    .split_once('=')
                    .ok_or_else(|| anyhow::anyhow!("--attribute takes source=name"))?;
                input
                    .attribute_overrides
                    .push((source.trim().to_string(), name.trim().to_string()));
            }
            let model = sps::create(&state.db, state.now(), t.id, input, CLI_ACTOR, &meta).await?;
            print(json!({ "entity_id": model.entity_id }));
        }
        SamlSpCommand::Update {
            tenant,
            entity_id,
            allow_sha1,
        } => {
            let t = find_tenant(state, &tenant).await?;
            let change = sps::SpUpdate { allow_sha1 };
            let model = sps::update(
                &state.db,
                state.now(),
                t.id,
                &entity_id,
                change,
                CLI_ACTOR,
                &meta,
            )
            .await?;
            print(sps::to_json(&model));
        }
        SamlSpCommand::List { tenant } => {
            let t = find_tenant(state, &tenant).await?;
            let list = sps::list(&state.db, t.id).await?;
            print(Value::Array(list.iter().map(sps::to_json).collect()));
        }
        SamlSpCommand::Delete { tenant, entity_id } => {
            let t = find_tenant(state, &tenant).await?;
            sps::delete(&state.db, state.now(), t.id, &entity_id, CLI_ACTOR, &meta).await?;
            print(json!({ "deleted": entity_id }));
        }
    }
    Ok(())
}

fn cert_json(c: &entity::saml_cert::Model) -> Value {
    let fingerprint = openssl::x509::X509::from_pem(c.cert_pem.as_bytes())
        .and_then(|x| x.digest(openssl::hash::MessageDigest::sha256()))
        .map(hex::encode)
        .unwrap_or_default();
    json!({
        "id": c.id,
        "sha256_fingerprint": fingerprint,
        "created_at": c.created_at.to_rfc3339(),
        "not_after": c.not_after.to_rfc3339(),
        "retired_at": c.retired_at.map(|t| t.to_rfc3339()),
    })
}

pub async fn cert(cmd: SamlCertCommand, state: &AppState) -> anyhow::Result<()> {
    match cmd {
        SamlCertCommand::Rotate { tenant } => {
            let t = find_tenant(state, &tenant).await?;
            let now = state.now();
            // Tenants older than SAML get their first certificate first.
            certs::active(&state.db, now, &state.keys.signing, t.id, &t.slug).await?;
            let (new, retired) =
                certs::rotate(&state.db, now, &state.keys.signing, t.id, &t.slug).await?;
            audit::record(
                &state.db,
                now,
                audit::Event::new(
                    actions::SAML_CERT_ROTATE,
                    CLI_ACTOR.into(),
                    &RequestMeta::cli(),
                )
                .tenant(t.id)
                .target(format!("tenant:{}", t.slug)),
            )
            .await?;
            print(json!({
                "tenant": t.slug,
                "active": cert_json(&new),
                "retired": retired.iter().map(cert_json).collect::<Vec<_>>(),
            }));
        }
        SamlCertCommand::List { tenant } => {
            let t = find_tenant(state, &tenant).await?;
            let now = state.now();
            certs::active(&state.db, now, &state.keys.signing, t.id, &t.slug).await?;
            let list = certs::published(&state.db, now, t.id, state.key_retention()).await?;
            print(Value::Array(list.iter().map(cert_json).collect()));
        }
    }
    Ok(())
}
