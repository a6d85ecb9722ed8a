//! The operator CLI. Every create command prints exactly one JSON object on stdout; list
//! commands print one JSON array; messages go to stderr; errors exit non-zero.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};
use tracing_subscriber::EnvFilter;

use crate::accounts::users::{self, NewUser};
use crate::audit::{RequestMeta, actions};
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, LogFormat, Overrides};
use crate::server;
use crate::state::AppState;
use crate::tenants::{self, NewTenant};

pub(crate) const CLI_ACTOR: &str = "cli";

#[derive(Debug, Parser)]
#[command(
    name = "plinto",
    version,
    about = "Plinto: an OpenID Connect, SAML 2.0 and SCIM 2.0 identity provider",
    long_about = "Plinto: an OpenID Connect, SAML 2.0 and SCIM 2.0 identity provider.\n\n\
        Settings are read from defaults, then plinto.toml (or --config), then PLINTO_* \
        environment variables (PLINTO_*_FILE for secrets), then flags."
)]
pub struct Cli {
    /// Configuration file (default: ./plinto.toml when present)
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Database URL (sqlite://... or postgres://...); overrides PLINTO_DATABASE_URL
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Data directory (SQLite file, master key); overrides PLINTO_DATA_DIR
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (migrates the database and bootstraps an empty one first)
    Serve(ServeArgs),
    /// Apply pending database migrations
    Migrate,
    /// Manage tenants
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage users of a tenant
    #[command(subcommand)]
    User(UserCommand),
    /// Manage a tenant's JWT signing keys
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage OAuth 2.0 / OpenID Connect clients of a tenant
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage the bearer tokens of a tenant's SCIM 2.0 endpoint ({issuer}/scim/v2)
    #[command(subcommand, name = "scim-token")]
    ScimToken(ScimTokenCommand),
    /// Manage the SAML 2.0 service providers of a tenant
    #[command(subcommand, name = "saml-sp")]
    SamlSp(crate::saml::cli::SamlSpCommand),
    /// Manage a tenant's SAML signing certificate
    #[command(subcommand, name = "saml-cert")]
    SamlCert(crate::saml::cli::SamlCertCommand),
    /// Manage machine clients of the admin REST API ({public_url}/api/v1)
    #[command(subcommand, name = "admin-client")]
    AdminClient(AdminClientCommand),
}

#[derive(Debug, Subcommand)]
pub enum AdminClientCommand {
    /// Create a client_credentials client allowed the admin scope (admin:read with
    /// --read-only); prints {"client_id","client_secret","tenant","scopes"}. The secret is
    /// shown only here. A client of the bootstrap tenant `default` manages every tenant; a
    /// client of another tenant manages that tenant only. Get a token from
    /// {public_url}/t/{tenant}/oauth2/token with grant_type=client_credentials.
    Create {
        /// The tenant whose administrators the client acts as (default: `default`, every
        /// tenant)
        #[arg(long, value_name = "SLUG", default_value = crate::tenants::DEFAULT_TENANT)]
        tenant: String,
        /// Only the admin:read scope: reads, no changes
        #[arg(long)]
        read_only: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ScimTokenCommand {
    /// Create a token for a provisioning client; prints {"id","name","token"}. The token is
    /// shown only here (only its keyed hash is stored).
    Create {
        #[arg(long, value_name = "SLUG")]
        tenant: String,
        /// Who uses the token (the actor of its audit events); default "scim"
        #[arg(long)]
        name: Option<String>,
    },
    /// List the tenant's tokens as a JSON array (no secrets)
    List {
        #[arg(long, value_name = "SLUG")]
        tenant: String,
    },
    /// Revoke a token by id or name; prints {"revoked":[ids]}
    Revoke {
        #[arg(long, value_name = "SLUG")]
        tenant: String,
        /// The token's id, or its name (revokes every live token of that name)
        token: String,
    },
}

#[derive(Debug, Args)]
pub struct ClientCreateArgs {
    #[arg(long, value_name = "SLUG")]
    pub tenant: String,
    #[arg(long)]
    pub name: String,
    /// A redirect URI, compared exactly (repeat for several)
    #[arg(long = "redirect-uri", value_name = "URI")]
    pub redirect_uris: Vec<String>,
    /// A post-logout redirect URI (repeat for several)
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    pub post_logout_redirect_uris: Vec<String>,
    /// authorization_code, refresh_token or client_credentials (repeat; default:
    /// authorization_code and refresh_token)
    #[arg(long = "grant-type", value_name = "TYPE")]
    pub grant_types: Vec<String>,
    /// client_secret_basic, client_secret_post, private_key_jwt or none (public client: PKCE
    /// required). Given: the client must use that method. Not given: a confidential client
    /// with a secret that accepts both client_secret_basic and client_secret_post
    #[arg(long, value_name = "METHOD")]
    pub auth_method: Option<String>,
    /// A scope the client may ask for (repeat; default: openid profile email address
    /// phone offline_access)
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// A browser origin allowed to call the token, userinfo and JWKS endpoints (repeat)
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    pub cors_origins: Vec<String>,
    /// The client's public keys for private_key_jwt, as a JWK Set in JSON
    #[arg(long, value_name = "JSON")]
    pub jwks: Option<String>,
    /// Where to fetch the client's JWK Set for private_key_jwt
    #[arg(long, value_name = "URL")]
    pub jwks_uri: Option<String>,
    /// RS256 (default), ES256 or EdDSA
    #[arg(long, value_name = "ALG")]
    pub id_token_signed_response_alg: Option<String>,
    /// First-party client: users are not asked for consent
    #[arg(long)]
    pub skip_consent: bool,
    /// private_key_jwt: the longest lifetime (exp ahead of now) of a client assertion, in
    /// seconds, at most and by default 3600
    #[arg(long = "max-assertion-lifetime", value_name = "SECS")]
    pub max_assertion_lifetime_secs: Option<i32>,
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client; prints {"client_id","client_secret"} (no secret for auth method
    /// none or private_key_jwt). The secret is shown only here.
    Create(Box<ClientCreateArgs>),
    /// List the tenant's clients as a JSON array (no secrets)
    List {
        #[arg(long, value_name = "SLUG")]
        tenant: String,
    },
    /// Delete a client; prints {"client_id","deleted":true}
    Delete {
        #[arg(long, value_name = "SLUG")]
        tenant: String,
        client_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Retire the tenant's signing keys and make new ones; the retired keys stay in the JWKS
    /// for signing_key_retention_secs and go on signing for read_cache_ttl_secs, until every
    /// node publishes the new ones. Prints {"tenant","active":[…],"retired":[…]}
    Rotate {
        #[arg(long, value_name = "SLUG")]
        tenant: String,
    },
    /// List the tenant's published keys as a JSON array
    List {
        #[arg(long, value_name = "SLUG")]
        tenant: String,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; overrides PLINTO_LISTEN
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Public base URL; overrides PLINTO_PUBLIC_URL
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Do not run migrations (fail if the schema is behind)
    #[arg(long)]
    pub no_migrate: bool,
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant; prints {"id","slug","issuer"}
    Create {
        /// URL-safe identifier: lowercase letters, digits and hyphens
        slug: String,
        /// Display name (default: the slug)
        #[arg(long)]
        name: Option<String>,
        /// Let people create their own accounts at /t/{slug}/signup
        #[arg(long)]
        allow_signup: bool,
        /// Refuse password sign-in until the user has verified their email address
        /// (default: true with --allow-signup, else false)
        #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
        require_email_verification: Option<bool>,
        /// Rate limits of this tenant over the configured ones, e.g. "login=5/min,token=off"
        #[arg(long, value_name = "SPEC")]
        rate_limits: Option<String>,
    },
    /// Change a tenant's settings; prints the tenant as in `tenant list`
    Update {
        slug: String,
        #[arg(long, value_name = "BOOL")]
        allow_signup: Option<bool>,
        #[arg(long, value_name = "BOOL")]
        require_email_verification: Option<bool>,
        /// Rate limits over the configured ones ("" to clear), e.g. "login=5/min,token=off"
        #[arg(long, value_name = "SPEC")]
        rate_limits: Option<String>,
        /// Two-step verification: optional, required (everyone) or admins (required for
        /// administrators)
        #[arg(long, value_name = "POLICY")]
        mfa_policy: Option<String>,
        /// Let the sign-in field accept a userName as well as an email address (for accounts
        /// provisioned over SCIM with a userName and no address)
        #[arg(long, value_name = "BOOL")]
        sign_in_with_username: Option<bool>,
    },
    /// List tenants as a JSON array
    List,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; prints {"id","sub","email"}
    Create {
        #[arg(long, value_name = "SLUG")]
        tenant: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: String,
        #[arg(long)]
        name: Option<String>,
        /// Mark the email address as verified
        #[arg(long)]
        email_verified: bool,
    },
    /// List the users of a tenant as a JSON array
    List {
        #[arg(long, value_name = "SLUG")]
        tenant: String,
    },
    /// Disable a user and end their sessions; prints {"id","sub","email","disabled"}
    Disable {
        #[arg(long, value_name = "SLUG")]
        tenant: String,
        email: String,
    },
    /// Remove a user's second factors (authenticator app, recovery codes) after a lost
    /// device; prints {"id","email","mfa_reset":true}
    #[command(name = "reset-mfa")]
    ResetMfa {
        #[arg(long, value_name = "SLUG")]
        tenant: String,
        email: String,
    },
}

/// Run the CLI; the process exit code.
pub async fn main() -> i32 {
    let cli = Cli::parse();
    let env: Vec<(String, String)> = std::env::vars().collect();
    let mut overrides = Overrides {
        database_url: cli.database_url.clone(),
        data_dir: cli.data_dir.clone(),
        ..Overrides::default()
    };
    if let Command::Serve(args) = &cli.command {
        overrides.listen = args.listen.clone();
        overrides.public_url = args.public_url.clone();
    }
    let loaded = match Config::load(cli.config.as_deref(), &env, &overrides) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let serving = matches!(cli.command, Command::Serve(_));
    // Commands other than `serve` are quiet unless PLINTO_LOG asks otherwise.
    let filter = if serving || env.iter().any(|(k, _)| k == "PLINTO_LOG") {
        loaded.config.log.clone()
    } else {
        "warn".to_string()
    };
    init_logging(&filter, loaded.config.log_format);
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    match run(cli.command, loaded.config).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

fn init_logging(filter: &str, format: LogFormat) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

pub(crate) fn print(value: Value) {
    println!("{value}");
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    match command {
        Command::Serve(args) => serve(config, clock, !args.no_migrate).await,
        Command::Migrate => {
            let db = crate::db::connect(&config).await?;
            crate::db::migrate(&db).await?;
            eprintln!("database is up to date");
            Ok(())
        }
        Command::Tenant(cmd) => tenant(cmd, &ready_state(config, clock).await?).await,
        Command::User(cmd) => user(cmd, &ready_state(config, clock).await?).await,
        Command::Keys(cmd) => keys(cmd, &ready_state(config, clock).await?).await,
        Command::Client(cmd) => client(cmd, &ready_state(config, clock).await?).await,
        Command::ScimToken(cmd) => scim_token(cmd, &ready_state(config, clock).await?).await,
        Command::SamlSp(cmd) => crate::saml::cli::sp(cmd, &ready_state(config, clock).await?).await,
        Command::SamlCert(cmd) => {
            crate::saml::cli::cert(cmd, &ready_state(config, clock).await?).await
        }
        Command::AdminClient(cmd) => admin_client(cmd, &ready_state(config, clock).await?).await,
    }
}

/// The state for an operator command, on a database whose schema is up to date.
async fn ready_state(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<AppState> {
    let state = server::build_state(config, clock).await?;
    server::ensure_migrated(&state).await?;
    Ok(state)
}

async fn serve(config: Config, clock: Arc<dyn Clock>, migrate: bool) -> anyhow::Result<()> {
    let listener = TcpListener::bind(&config.listen)
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    let (state, boot) = server::prepare(config, clock, migrate).await?;
    if let Some(boot) = boot {
        match &boot.one_time_password {
            Some(pw) => eprintln!(
                "\nPlinto bootstrap: created tenant `default` and admin {} with one-time \
                 password:\n\n    {pw}\n\nSign in at {}/login and choose a new password. This \
                 password is not shown again.\n",
                boot.email,
                state.config.issuer(crate::tenants::DEFAULT_TENANT),
            ),
            None => eprintln!(
                "Plinto bootstrap: created tenant `default` and admin {} with the password \
                 from PLINTO_BOOTSTRAP_ADMIN_PASSWORD",
                boot.email
            ),
        }
    }
    let public = state.config.public_url();
    let addr = listener.local_addr()?;
    let sender = crate::mail::outbox::spawn_sender(state.clone());
    let server = server::serve(state, listener)?;
    let handle = server.handle();
    tracing::info!(%addr, %public, "Plinto is listening");
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        handle.stop(true).await;
    });
    let result = server.await;
    sender.abort();
    result?;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn tenant(cmd: TenantCommand, state: &AppState) -> anyhow::Result<()> {
    match cmd {
        TenantCommand::Create {
            slug,
            name,
            allow_signup,
            require_email_verification,
            rate_limits,
        } => {
            let t = tenants::create(
                &state.db,
                state.now(),
                &state.keys.signing,
                NewTenant {
                    slug,
                    name,
                    allow_signup,
                    require_email_verification,
                    rate_limits,
                    ..NewTenant::default()
                },
                CLI_ACTOR,
                &RequestMeta::cli(),
            )
            .await?;
            print(json!({
                "id": t.id,
                "slug": t.slug,
                "issuer": state.config.issuer(&t.slug),
                "allow_signup": t.allow_signup,
                "require_email_verification": t.require_email_verification,
            }));
        }
        TenantCommand::Update {
            slug,
            allow_signup,
            require_email_verification,
            rate_limits,
            mfa_policy,
            sign_in_with_username,
        } => {
            let t = tenants::update(
                &state.db,
                state.now(),
                &slug,
                tenants::TenantUpdate {
                    allow_signup,
                    require_email_verification,
                    rate_limits,
                    mfa_policy,
                    sign_in_with_username,
                },
                None,
                CLI_ACTOR,
                &RequestMeta::cli(),
            )
            .await?;
            print(tenant_json(state, &t));
        }
        TenantCommand::List => {
            let list: Vec<Value> = tenants::list(&state.db)
                .await?
                .iter()
                .map(|t| tenant_json(state, t))
                .collect();
            print(Value::Array(list));
        }
    }
    Ok(())
}

fn tenant_json(state: &AppState, t: &entity::tenant::Model) -> Value {
    serde_json::to_value(crate::admin::views::TenantView::of(&state.config, t))
        .unwrap_or(Value::Null)
}

async fn admin_client(cmd: AdminClientCommand, state: &AppState) -> anyhow::Result<()> {
    match cmd {
        AdminClientCommand::Create { tenant, read_only } => {
            let t = find_tenant(state, &tenant).await?;
            let created = crate::admin::access::create_machine_client(
                &state.db,
                state.now(),
                &state.keys.client_secret,
                &t,
                read_only,
                CLI_ACTOR,
                &RequestMeta::cli(),
            )
            .await?;
            print(json!({
                "client_id": created.client.client_id,
                "client_secret": created.secret,
                "tenant": t.slug,
                "scopes": crate::admin::access::machine_scopes(read_only),
            }));
        }
    }
    Ok(())
}

pub(crate) async fn find_tenant(
    state: &AppState,
    slug: &str,
) -> anyhow::Result<entity::tenant::Model> {
    tenants::find_by_slug(&state.db, slug)
        .await?
        .ok_or_else(|| anyhow::anyhow!("tenant {slug} does not exist"))
}

async fn user(cmd: UserCommand, state: &AppState) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Create {
            tenant,
            email,
            password,
            name,
            email_verified,
        } => {
            let t = find_tenant(state, &tenant).await?;
            let u = users::create(
                &state.db,
                state.now(),
                &state.hasher,
                t.id,
                NewUser {
                    email,
                    password: Some(password),
                    name,
                    email_verified,
                    is_admin: false,
                    must_change_password: false,
                },
                actions::USER_CREATE,
                Some(CLI_ACTOR),
                &RequestMeta::cli(),
            )
            .await?;
            print(json!({ "id": u.id, "sub": u.sub, "email": u.email }));
        }
        UserCommand::List { tenant } => {
            let t = find_tenant(state, &tenant).await?;
            let list: Vec<Value> = users::list(&state.db, t.id)
                .await?
                .into_iter()
                .map(|u| {
                    json!({
                        "id": u.id,
                        "sub": u.sub,
                        "email": u.email,
                        "user_name": u.user_name,
                        "name": u.name,
                        "email_verified": u.email_verified,
                        "disabled": u.disabled,
                        "created_at": u.created_at,
                    })
                })
                .collect();
            print(Value::Array(list));
        }
        UserCommand::Disable { tenant, email } => {
            let t = find_tenant(state, &tenant).await?;
            let u = users::disable(
                &state.db,
                state.now(),
                t.id,
                &email,
                CLI_ACTOR,
                &RequestMeta::cli(),
            )
            .await?;
            print(json!({ "id": u.id, "sub": u.sub, "email": u.email, "disabled": u.disabled }));
        }
        UserCommand::ResetMfa { tenant, email } => {
            let t = find_tenant(state, &tenant).await?;
            let parsed = crate::accounts::validation::parse_email(&email)?;
            let u = users::find_by_email(&state.db, t.id, &parsed)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no user {email} in tenant {tenant}"))?;
            crate::mfa::reset_by_operator(
                &state.db,
                state.now(),
                &u,
                CLI_ACTOR,
                &RequestMeta::cli(),
            )
            .await?;
            print(json!({ "id": u.id, "email": u.email, "mfa_reset": true }));
        }
    }
    Ok(())
}

fn key_json(k: &entity::signing_key::Model) -> Value {
    serde_json::to_value(crate::admin::views::KeyView::of(k)).unwrap_or(Value::Null)
}

async fn keys(cmd: KeysCommand, state: &AppState) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::Rotate { tenant } => {
            let t = find_tenant(state, &tenant).await?;
            let (new, retired) = crate::keys::rotate_by_operator(
                &state.db,
                state.now(),
                &state.keys.signing,
                &t,
                CLI_ACTOR,
                &RequestMeta::cli(),
            )
            .await?;
            print(json!({
                "tenant": t.slug,
                "active": new.iter().map(key_json).collect::<Vec<_>>(),
                "retired": retired.iter().map(key_json).collect::<Vec<_>>(),
            }));
        }
        KeysCommand::List { tenant } => {
            let t = find_tenant(state, &tenant).await?;
            let retention =
                chrono::Duration::seconds(state.config.signing_key_retention_secs as i64);
            let list = crate::keys::published(&state.db, state.now(), t.id, retention).await?;
            print(Value::Array(list.iter().map(key_json).collect()));
        }
    }
    Ok(())
}

async fn scim_token(cmd: ScimTokenCommand, state: &AppState) -> anyhow::Result<()> {
    use crate::scim::tokens;
    let meta = RequestMeta::cli();
    match cmd {
        ScimTokenCommand::Create { tenant, name } => {
            let t = find_tenant(state, &tenant).await?;
            let (model, token) = tokens::create(
                &state.db,
                state.now(),
                &state.keys.scim_tokens,
                t.id,
                name.as_deref().unwrap_or("scim"),
                CLI_ACTOR,
                &meta,
            )
            .await?;
            print(json!({ "id": model.id, "name": model.name, "token": token }));
        }
        ScimTokenCommand::List { tenant } => {
            let t = find_tenant(state, &tenant).await?;
            let list = tokens::list(&state.db, t.id).await?;
            print(Value::Array(
                list.iter()
                    .map(|m| {
                        json!({
                            "id": m.id,
                            "name": m.name,
                            "created_at": m.created_at,
                            "revoked_at": m.revoked_at,
                        })
                    })
                    .collect(),
            ));
        }
        ScimTokenCommand::Revoke { tenant, token } => {
            let t = find_tenant(state, &tenant).await?;
            let revoked =
                tokens::revoke(&state.db, state.now(), t.id, &token, CLI_ACTOR, &meta).await?;
            print(json!({ "revoked": revoked.iter().map(|m| m.id).collect::<Vec<_>>() }));
        }
    }
    Ok(())
}

async fn client(cmd: ClientCommand, state: &AppState) -> anyhow::Result<()> {
    use crate::clients::{self, NewClient};
    match cmd {
        ClientCommand::Create(args) => {
            let ClientCreateArgs {
                tenant,
                name,
                redirect_uris,
                post_logout_redirect_uris,
                grant_types,
                auth_method,
                scopes,
                cors_origins,
                jwks,
                jwks_uri,
                id_token_signed_response_alg,
                skip_consent,
                max_assertion_lifetime_secs,
            } = *args;
            let t = find_tenant(state, &tenant).await?;
            let created = clients::create(
                &state.db,
                state.now(),
                &state.keys.client_secret,
                t.id,
                NewClient {
                    name,
                    redirect_uris,
                    post_logout_redirect_uris,
                    grant_types,
                    auth_method,
                    scopes,
                    cors_origins,
                    jwks,
                    jwks_uri,
                    id_token_signed_response_alg,
                    skip_consent,
                    max_assertion_lifetime_secs,
                },
                CLI_ACTOR,
                &RequestMeta::cli(),
            )
            .await?;
            let mut out = json!({
                "client_id": created.client.client_id,
                "auth_methods": clients::auth_methods(&created.client),
            });
            if let Some(secret) = created.secret {
                out["client_secret"] = Value::String(secret);
            }
            print(out);
        }
        ClientCommand::List { tenant } => {
            let t = find_tenant(state, &tenant).await?;
            let list: Vec<Value> = clients::list_for_tenant(&state.db, t.id)
                .await?
                .iter()
                .map(|c| {
                    serde_json::to_value(crate::admin::views::ClientView::of(c))
                        .unwrap_or(Value::Null)
                })
                .collect();
            print(Value::Array(list));
        }
        ClientCommand::Delete { tenant, client_id } => {
            let t = find_tenant(state, &tenant).await?;
            state
                .delete_client(t.id, &client_id, None, CLI_ACTOR, &RequestMeta::cli())
                .await?;
            print(json!({ "client_id": client_id, "deleted": true }));
        }
    }
    Ok(())
}
