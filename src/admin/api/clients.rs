//! `/api/v1/tenants/{tenant}/clients`: register (the secret is shown once), get, list,
//! delete, rotate the secret.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use entity::{client, tenant};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::idempotency;
use super::problem::{Kind, Problem};
use super::tenants::present;
use super::{ApiResult, IfMatch, auth, etag_of, json, json_body, resource};
use crate::admin::access::Caller;
use crate::admin::views::ClientView;
use crate::audit::RequestMeta;
use crate::clients::{self, ClientChange, NewClient};
use crate::http::routes;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct ClientList {
    /// In registration order.
    pub items: Vec<ClientView>,
}

/// A client as registered, with its secret: shown here only (only a keyed hash is stored).
#[derive(Serialize, ToSchema)]
pub struct ClientCreated {
    pub client: ClientView,
    /// Absent for auth method `none` and `private_key_jwt`.
    pub client_secret: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ClientSecret {
    pub client_id: String,
    /// Shown here only; the previous secret no longer works.
    pub client_secret: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientCreate {
    pub name: String,
    /// Compared exactly.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// authorization_code, refresh_token, client_credentials (default: the first two).
    #[serde(default)]
    pub grant_types: Vec<String>,
    /// client_secret_basic, client_secret_post, private_key_jwt or none. Absent: a secret
    /// accepted both ways.
    #[serde(default)]
    pub auth_method: Option<String>,
    /// Default: openid profile email address phone offline_access.
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub cors_origins: Vec<String>,
    /// The client's public keys for private_key_jwt, a JWK Set.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<serde_json::Value>,
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// RS256 (default), ES256 or EdDSA.
    #[serde(default)]
    pub id_token_signed_response_alg: Option<String>,
    #[serde(default)]
    pub skip_consent: bool,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3600)]
    pub max_assertion_lifetime_secs: Option<i32>,
}

/// A JSON Merge Patch (RFC 7396) of a client's registration: members left out stay; `null`
/// empties a list and removes `jwks`, `jwks_uri` and `max_assertion_lifetime_secs`. The
/// auth method is fixed at registration; the secret changes by rotation.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientPatch {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, required = false)]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>, required = false)]
    pub redirect_uris: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>, required = false)]
    pub post_logout_redirect_uris: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>, required = false)]
    pub grant_types: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>, required = false)]
    pub scopes: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>, required = false)]
    pub cors_origins: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>, required = false)]
    pub jwks: Option<Option<serde_json::Value>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, required = false)]
    pub jwks_uri: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, required = false)]
    pub id_token_signed_response_alg: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = bool, required = false)]
    pub skip_consent: Option<Option<bool>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i32>, minimum = 1, maximum = 3600, required = false)]
    pub max_assertion_lifetime_secs: Option<Option<i32>>,
}

fn kept<T>(field: &'static str, v: Option<Option<T>>) -> Result<Option<T>, Problem> {
    match v {
        Some(None) => Err(Problem::field(
            Kind::Invalid,
            field,
            "this setting cannot be removed; give a value",
        )),
        Some(Some(v)) => Ok(Some(v)),
        None => Ok(None),
    }
}

fn emptied(v: Option<Option<Vec<String>>>) -> Option<Vec<String>> {
    v.map(Option::unwrap_or_default)
}

async fn target(
    state: &AppState,
    caller: &Caller,
    slug: &str,
    client_id: &str,
) -> Result<(tenant::Model, client::Model), Problem> {
    let t = auth::tenant(state, caller, slug).await?;
    let c = clients::find(&state.db, t.id, client_id)
        .await?
        .ok_or_else(|| Problem::not_found("client"))?;
    Ok((t, c))
}

fn expectation(req: &HttpRequest) -> impl Fn(&client::Model) -> bool + Send + Sync + use<> {
    let if_match = IfMatch::of(req);
    move |c: &client::Model| if_match.matches(&etag_of(&ClientView::of(c)))
}

#[utoipa::path(get, operation_id = "list_clients", path = routes::ADMIN_CLIENTS, tag = "clients", summary = "List clients",
    params(("tenant" = String, Path, description = "The tenant's slug")),
    responses((status = 200, description = "The tenant's clients (no secrets)", body = ClientList)))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult {
    let (caller, _) = auth::caller(&state, &req).await?;
    let t = auth::tenant(&state, &caller, &path).await?;
    let items = clients::list_for_tenant(&state.db, t.id)
        .await?
        .iter()
        .map(ClientView::of)
        .collect();
    Ok(json(&ClientList { items }))
}

#[utoipa::path(post, operation_id = "create_client", path = routes::ADMIN_CLIENTS, tag = "clients", summary = "Register a client",
    params(("tenant" = String, Path, description = "The tenant's slug")),
    request_body(content = ClientCreate, content_type = "application/json"),
    responses((status = 201, description = "The client and its secret (shown once)", body = ClientCreated)))]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> ApiResult {
    let (caller, meta) = auth::caller(&state, &req).await?;
    auth::writes(&caller)?;
    idempotency::once(
        &state,
        &req,
        &caller,
        &body,
        create_client(&req, &state, &caller, &meta, &path, &body),
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn create_client(
    req: &HttpRequest,
    state: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    path: &str,
    body: &[u8],
) -> ApiResult {
    let t = auth::tenant(state, caller, path).await?;
    let input: ClientCreate = json_body(req, body, false)?;
    let created = clients::create(
        &state.db,
        state.now(),
        &state.keys.client_secret,
        t.id,
        NewClient {
            name: input.name,
            redirect_uris: input.redirect_uris,
            post_logout_redirect_uris: input.post_logout_redirect_uris,
            grant_types: input.grant_types,
            auth_method: input.auth_method,
            scopes: input.scopes,
            cors_origins: input.cors_origins,
            jwks: input.jwks.map(|j| j.to_string()),
            jwks_uri: input.jwks_uri,
            id_token_signed_response_alg: input.id_token_signed_response_alg,
            skip_consent: input.skip_consent,
            max_assertion_lifetime_secs: input.max_assertion_lifetime_secs,
        },
        &caller.actor,
        meta,
    )
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            actix_web::http::header::ETAG,
            etag_of(&ClientView::of(&created.client)),
        ))
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(ClientCreated {
            client: ClientView::of(&created.client),
            client_secret: created.secret,
        }))
}

#[utoipa::path(get, operation_id = "get_client", path = routes::ADMIN_CLIENT, tag = "clients", summary = "Get a client",
    params(("tenant" = String, Path, description = "The tenant's slug"),
        ("client" = String, Path, description = "The client_id")),
    responses((status = 200, description = "The client (no secret)", body = ClientView,
        headers(("ETag" = String)))))]
pub async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult {
    let (caller, _) = auth::caller(&state, &req).await?;
    let (_, c) = target(&state, &caller, &path.0, &path.1).await?;
    Ok(resource(StatusCode::OK, &ClientView::of(&c)))
}

#[utoipa::path(patch, operation_id = "patch_client", path = routes::ADMIN_CLIENT, tag = "clients",
    summary = "Change a client's registration (JSON Merge Patch)",
    params(("tenant" = String, Path, description = "The tenant's slug"),
        ("client" = String, Path, description = "The client_id"),
        ("If-Match" = Option<String>, Header, description = "Change only if the ETag still is this one")),
    request_body(content = ClientPatch, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The client as changed", body = ClientView,
        headers(("ETag" = String)))))]
pub async fn patch(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> ApiResult {
    let (caller, meta) = auth::caller(&state, &req).await?;
    auth::writes(&caller)?;
    let (t, c) = target(&state, &caller, &path.0, &path.1).await?;
    let input: ClientPatch = json_body(&req, &body, true)?;
    let change = ClientChange {
        name: kept("name", input.name)?,
        redirect_uris: emptied(input.redirect_uris),
        post_logout_redirect_uris: emptied(input.post_logout_redirect_uris),
        grant_types: emptied(input.grant_types),
        scopes: emptied(input.scopes),
        cors_origins: emptied(input.cors_origins),
        jwks: input.jwks.map(|j| j.map(|j| j.to_string())),
        jwks_uri: input.jwks_uri,
        id_token_signed_response_alg: kept(
            "id_token_signed_response_alg",
            input.id_token_signed_response_alg,
        )?,
        skip_consent: kept("skip_consent", input.skip_consent)?,
        max_assertion_lifetime_secs: input.max_assertion_lifetime_secs,
    };
    let expect = expectation(&req);
    let c = clients::update(
        &state.db,
        state.now(),
        t.id,
        &c.client_id,
        change,
        Some(&expect),
        &caller.actor,
        &meta,
    )
    .await?;
    state.memo.clients.forget(&(t.id, c.client_id.clone()));
    Ok(resource(StatusCode::OK, &ClientView::of(&c)))
}

#[utoipa::path(delete, operation_id = "delete_client", path = routes::ADMIN_CLIENT, tag = "clients",
    summary = "Delete a client; its grants end at once",
    params(("tenant" = String, Path, description = "The tenant's slug"),
        ("client" = String, Path, description = "The client_id"),
        ("If-Match" = Option<String>, Header, description = "Delete only if the ETag still is this one")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult {
    let (caller, meta) = auth::caller(&state, &req).await?;
    auth::writes(&caller)?;
    let (t, c) = target(&state, &caller, &path.0, &path.1).await?;
    let expect = expectation(&req);
    state
        .delete_client(t.id, &c.client_id, Some(&expect), &caller.actor, &meta)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, operation_id = "rotate_client_secret", path = routes::ADMIN_CLIENT_SECRET, tag = "clients",
    summary = "Give a client a new secret (shown once)",
    params(("tenant" = String, Path, description = "The tenant's slug"),
        ("client" = String, Path, description = "The client_id"),
        ("If-Match" = Option<String>, Header, description = "Only if the ETag still is this one")),
    responses((status = 200, description = "The new secret", body = ClientSecret)))]
pub async fn rotate_secret(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> ApiResult {
    let (caller, meta) = auth::caller(&state, &req).await?;
    auth::writes(&caller)?;
    idempotency::once(
        &state,
        &req,
        &caller,
        &body,
        rotate(&req, &state, &caller, &meta, &path),
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn rotate(
    req: &HttpRequest,
    state: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    path: &(String, String),
) -> ApiResult {
    let (t, c) = target(state, caller, &path.0, &path.1).await?;
    if c.secret_hash.is_none() {
        return Err(Problem::field(
            Kind::Invalid,
            "client",
            "this client has no secret (auth method none or private_key_jwt)",
        ));
    }
    let expect = expectation(req);
    let (c, secret) = clients::rotate_secret(
        &state.db,
        state.now(),
        &state.keys.client_secret,
        t.id,
        &c.client_id,
        Some(&expect),
        &caller.actor,
        meta,
    )
    .await?;
    state.memo.clients.forget(&(t.id, c.client_id.clone()));
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(ClientSecret {
            client_id: c.client_id,
            client_secret: secret,
        }))
}
