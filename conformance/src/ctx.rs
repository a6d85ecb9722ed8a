//! What every module shares: the command line, the provider's metadata (discovered through
//! `openidconnect`, which also fetches the JWKS and checks that the issuer matches), and the two
//! relying parties.

use anyhow::{Context, Result, anyhow};
use clap::Parser;
use openidconnect::core::{CoreClient, CoreJsonWebKeySet};
use openidconnect::{
    AuthType, ClientId, ClientSecret, EndpointNotSet, EndpointSet, IssuerUrl,
    ProviderMetadataWithLogout, RedirectUrl,
};
use url::Url;

use crate::browser::Browser;
use crate::http::OidcHttp;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "plinto-conformance",
    version,
    about = "Replays the checks of the OpenID Foundation conformance suite (Basic, Config, Form Post \
             and RP-Initiated Logout OP plans) against a running Plinto"
)]
pub struct Args {
    /// The issuer, e.g. http://127.0.0.1:8080/t/default
    #[arg(long)]
    pub issuer: String,
    /// The client authenticating with client_secret_basic
    #[arg(long)]
    pub client_id: String,
    #[arg(long)]
    pub client_secret: String,
    /// The client authenticating with client_secret_post
    #[arg(long)]
    pub post_client_id: String,
    #[arg(long)]
    pub post_client_secret: String,
    /// The redirect URI registered for both clients (never fetched)
    #[arg(long)]
    pub redirect_uri: String,
    /// The post-logout redirect URI registered for both clients (never fetched)
    #[arg(long)]
    pub post_logout_redirect_uri: String,
    /// The test user's email address
    #[arg(long)]
    pub username: String,
    #[arg(long)]
    pub password: String,
    /// How long oidcc-codereuse-30seconds waits before reusing the code
    #[arg(long, default_value_t = 30)]
    pub code_reuse_wait_secs: u64,
    /// Run only the modules whose name contains this text
    #[arg(long)]
    pub only: Option<String>,
}

/// A relying party with everything set up from discovery.
pub type Oidc = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
    EndpointSet,
>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    Basic,
    Post,
}

#[derive(Clone)]
pub struct Rp {
    pub client: Oidc,
    pub id: String,
    pub secret: String,
    pub auth: ClientAuth,
}

pub struct Ctx {
    pub args: Args,
    pub issuer: Url,
    pub redirect_uri: Url,
    pub post_logout_redirect_uri: Url,
    pub http: OidcHttp,
    pub meta: ProviderMetadataWithLogout,
    /// The discovery document as JSON, for the fields `openidconnect` does not model.
    pub raw_meta: serde_json::Value,
    pub jwks: CoreJsonWebKeySet,
    pub basic: Rp,
    pub post: Rp,
}

impl Ctx {
    pub async fn setup(args: Args, http: OidcHttp) -> Result<Self> {
        let issuer = Url::parse(&args.issuer).context("--issuer is not a URL")?;
        let redirect_uri = Url::parse(&args.redirect_uri).context("--redirect-uri")?;
        let post_logout_redirect_uri =
            Url::parse(&args.post_logout_redirect_uri).context("--post-logout-redirect-uri")?;
        let meta = ProviderMetadataWithLogout::discover_async(
            IssuerUrl::new(args.issuer.clone()).context("--issuer")?,
            &http,
        )
        .await
        .map_err(|e| anyhow!("discovery failed: {}", error_chain(&e)))?;
        let raw_meta = http.get(&discovery_url(&args.issuer), None).await?.json()?;
        let jwks = meta.jwks().clone();
        let basic = Self::rp(
            &meta,
            &args.client_id,
            &args.client_secret,
            &redirect_uri,
            ClientAuth::Basic,
        )?;
        let post = Self::rp(
            &meta,
            &args.post_client_id,
            &args.post_client_secret,
            &redirect_uri,
            ClientAuth::Post,
        )?;
        Ok(Self {
            args,
            issuer,
            redirect_uri,
            post_logout_redirect_uri,
            http,
            meta,
            raw_meta,
            jwks,
            basic,
            post,
        })
    }

    fn rp(
        meta: &ProviderMetadataWithLogout,
        id: &str,
        secret: &str,
        redirect_uri: &Url,
        auth: ClientAuth,
    ) -> Result<Rp> {
        let token = meta
            .token_endpoint()
            .cloned()
            .ok_or_else(|| anyhow!("discovery has no token_endpoint"))?;
        let userinfo = meta
            .userinfo_endpoint()
            .cloned()
            .ok_or_else(|| anyhow!("discovery has no userinfo_endpoint"))?;
        let client = CoreClient::from_provider_metadata(
            meta.clone(),
            ClientId::new(id.to_string()),
            Some(ClientSecret::new(secret.to_string())),
        )
        .set_token_uri(token)
        .set_user_info_url(userinfo)
        .set_redirect_uri(RedirectUrl::from_url(redirect_uri.clone()))
        .set_auth_type(match auth {
            ClientAuth::Basic => AuthType::BasicAuth,
            ClientAuth::Post => AuthType::RequestBody,
        })
        // set_auth_type turns the automatic `openid` scope off (openidconnect 4.1)
        .enable_openid_scope();
        Ok(Rp {
            client,
            id: id.to_string(),
            secret: secret.to_string(),
            auth,
        })
    }

    /// A fresh browser (empty cookie jar) for the test user.
    pub fn browser(&self) -> Result<Browser> {
        Browser::new(&self.issuer, &self.args.username, &self.args.password)
    }

    pub fn token_endpoint(&self) -> Result<String> {
        self.meta
            .token_endpoint()
            .map(|u| u.to_string())
            .ok_or_else(|| anyhow!("discovery has no token_endpoint"))
    }

    pub fn userinfo_endpoint(&self) -> Result<String> {
        self.meta
            .userinfo_endpoint()
            .map(|u| u.to_string())
            .ok_or_else(|| anyhow!("discovery has no userinfo_endpoint"))
    }

    /// A boolean member of the discovery document.
    pub fn meta_bool(&self, name: &str) -> Option<bool> {
        self.raw_meta.get(name).and_then(serde_json::Value::as_bool)
    }

    /// Whether `scopes_supported` lists the scope (true when the list is absent).
    pub fn scope_supported(&self, scope: &str) -> bool {
        match self
            .raw_meta
            .get("scopes_supported")
            .and_then(|v| v.as_array())
        {
            Some(list) => list.iter().any(|s| s.as_str() == Some(scope)),
            None => true,
        }
    }
}

pub fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// An error and its sources on one line.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        let t = inner.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = inner.source();
    }
    s
}
