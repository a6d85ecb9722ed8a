//! Building the shared state and running the HTTP server.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Server, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers, from_fn};
use actix_web::{App, HttpRequest, HttpServer, web};
use migration::MigratorTrait;

use crate::accounts::password::Hasher;
use crate::bootstrap::{self, Bootstrapped};
use crate::cache::Cache;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::crypto::MasterKey;
use crate::http::{middleware, routes};
use crate::keys::KeyCache;
use crate::state::{AppState, Keys, Memos};
use crate::{db, oidc, ops, ui};

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The master key from the configuration, or from (or into) the data dir.
pub fn master_key(config: &Config) -> anyhow::Result<MasterKey> {
    match &config.master_key {
        Some(k) => Ok(MasterKey::from_base64(k.expose())?),
        None => {
            let (key, created) = MasterKey::load_or_create(&config.data_dir)?;
            if created {
                tracing::warn!(
                    path = %config.data_dir.join("master.key").display(),
                    "generated a new master key; back it up: without it, sessions and \
                     encrypted secrets cannot be read"
                );
            }
            Ok(key)
        }
    }
}

/// Connect to the database and the cache, derive keys. No migrations.
pub async fn build_state(config: Config, clock: SharedClock) -> anyhow::Result<AppState> {
    let master = master_key(&config)?;
    let db = db::connect(&config).await?;
    let cache = Cache::new(
        config.redis_url.as_ref().map(|s| s.expose()),
        &config.redis_prefix,
        clock.clone(),
    )?;
    let hasher = Hasher::new(
        config.argon2_m_cost,
        config.argon2_t_cost,
        config.argon2_p_cost,
    )?;
    let read_cache_ttl = chrono::Duration::seconds(config.read_cache_ttl_secs as i64);
    let keys = Keys::derive(&master);
    let mailer = crate::mail::Mailer::new(&config, keys.mail.clone())?;
    let limits = crate::ratelimit::Overrides::parse(&config.rate_limits)
        .map_err(|e| anyhow::anyhow!("rate_limits: {e}"))?;
    let limiter = crate::ratelimit::Limiter::new(cache.clone(), limits);
    Ok(AppState {
        db,
        cache,
        config: Arc::new(config),
        clock,
        keys,
        hasher,
        key_cache: KeyCache::new(read_cache_ttl),
        memo: Memos::new(read_cache_ttl),
        http: outgoing_http()?,
        mailer,
        limiter,
    })
}

/// The client for outgoing requests: short timeouts, no redirects, rustls with ring.
fn outgoing_http() -> anyhow::Result<reqwest::Client> {
    // One process-wide crypto provider; a second install (tests) is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Ok(reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .connect_timeout(std::time::Duration::from_secs(3))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("plinto/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

/// Refuse to work on a database whose schema is behind this binary.
pub async fn ensure_migrated(state: &AppState) -> anyhow::Result<()> {
    let pending = migration::Migrator::get_pending_migrations(&state.db).await?;
    if !pending.is_empty() {
        anyhow::bail!(
            "the database schema is not up to date ({} pending migrations): run `plinto migrate`",
            pending.len()
        );
    }
    Ok(())
}

/// Everything `plinto serve` does before listening: state, migrations (unless told not to),
/// and the bootstrap tenant and admin on an empty database.
pub async fn prepare(
    config: Config,
    clock: SharedClock,
    run_migrations: bool,
) -> anyhow::Result<(AppState, Option<Bootstrapped>)> {
    let state = build_state(config, clock).await?;
    if run_migrations {
        db::migrate(&state.db).await?;
    } else {
        ensure_migrated(&state).await?;
    }
    let boot = bootstrap::run(
        &state.db,
        state.now(),
        &state.config,
        &state.hasher,
        &state.keys.signing,
    )
    .await?;
    Ok((state, boot))
}

/// Start serving on `listener`. The returned server runs when awaited or spawned.
pub fn serve(state: AppState, listener: TcpListener) -> std::io::Result<Server> {
    // Before the workers start: libxml2 and xmlsec are not safe to initialise concurrently.
    crate::saml::init();
    let https = state.https();
    let workers = state.config.workers;
    let header_timeout = std::time::Duration::from_secs(state.config.request_header_timeout_secs);
    let data = web::Data::new(state);
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
            .wrap(from_fn(crate::http::limit::per_ip))
            .wrap(from_fn(middleware::body_deadline))
            .wrap(ErrorHandlers::new().default_handler(html_for_bare_errors))
            .wrap(middleware::security_headers(https))
            .wrap(from_fn(middleware::request_id))
            .route(routes::HEALTH, web::get().to(ops::health))
            .route(routes::READY, web::get().to(ops::ready))
            .route(routes::STYLESHEET, web::get().to(ops::stylesheet))
            .route(
                routes::WEBAUTHN_SCRIPT,
                web::get().to(crate::ui::passkeys::script),
            )
            .route(
                routes::OAUTH_METADATA_ROOT,
                web::get().to(oidc::discovery::get),
            )
            .configure(crate::admin::api::configure)
            .service(
                web::scope(routes::TENANT_SCOPE)
                    .configure(ui::configure)
                    .configure(oidc::configure)
                    .configure(crate::scim::http::configure)
                    .configure(crate::saml::configure)
                    .default_service(web::to(not_found)),
            )
            .default_service(web::to(not_found))
    })
    .client_request_timeout(header_timeout)
    .listen(listener)?
    .disable_signals();
    if workers > 0 {
        server = server.workers(workers);
    }
    Ok(server.run())
}

async fn not_found(_req: HttpRequest) -> ui::UiResult {
    Err(ui::UiError::NotFound(
        "There is nothing at this address.".into(),
    ))
}

/// Errors that the framework answers itself (payload too large, method not allowed, ...) come
/// without a page: give them the HTML error page. JSON and HTML bodies are left alone.
fn html_for_bare_errors<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let typed = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/html") || ct.contains("json"));
    if typed {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    if crate::admin::api::is_api_path(res.request().path()) {
        use crate::admin::api::problem::{Kind, Problem};
        let kind = Kind::of_status(status);
        let detail = status.canonical_reason().unwrap_or("error").to_lowercase();
        let (req, _) = res.into_parts();
        let answer = actix_web::ResponseError::error_response(&Problem::new(kind, detail));
        let res: ServiceResponse<EitherBody<B, BoxBody>> =
            ServiceResponse::new(req, answer).map_into_right_body();
        return Ok(ErrorHandlerResponse::Response(res));
    }
    let title = status.canonical_reason().unwrap_or("Error");
    let message = match status.as_u16() {
        404 => "There is nothing at this address.",
        405 => "This address does not accept that method.",
        413 => "The request is too large.",
        400..=499 => "The request could not be understood.",
        _ => "An unexpected error happened. Please try again later.",
    };
    let page = ui::error::error_page(status, title, message);
    let (req, _) = res.into_parts();
    let res: ServiceResponse<EitherBody<B, BoxBody>> =
        ServiceResponse::new(req, page).map_into_right_body();
    Ok(ErrorHandlerResponse::Response(res))
}
