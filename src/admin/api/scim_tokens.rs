//! `/api/v1/tenants/{tenant}/scim-tokens`: the bearer tokens of the tenant's SCIM endpoint
//! (create: the token is shown once; list; revoke), as `plinto scim-token` does.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use entity::scim_token;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::idempotency;
use super::problem::Problem;
use super::{ApiResult, auth, json, json_body};
use crate::admin::access::Caller;
use crate::audit::RequestMeta;
use crate::http::routes;
use crate::scim::tokens;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct ScimTokenView {
    pub id: Uuid,
    /// Who uses it: the actor of its audit events is `scim:<name>`.
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ScimTokenView {
    fn of(t: &scim_token::Model) -> Self {
        Self {
            id: t.id,
            name: t.name.clone(),
            created_at: t.created_at,
            revoked_at: t.revoked_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ScimTokenList {
    /// Oldest first, revoked ones too.
    pub items: Vec<ScimTokenView>,
}

/// A new token: `token` is shown here only (only its keyed hash is stored).
#[derive(Serialize, ToSchema)]
pub struct ScimTokenCreated {
    pub id: Uuid,
    pub name: String,
    pub token: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScimTokenCreate {
    /// Who uses the token (default `scim`).
    #[serde(default)]
    pub name: Option<String>,
}

#[utoipa::path(get, operation_id = "list_scim_tokens", path = routes::ADMIN_SCIM_TOKENS, tag = "scim-tokens",
    summary = "List the tenant's SCIM tokens (no secrets)",
    params(("tenant" = String, Path, description = "The tenant's slug")),
    responses((status = 200, description = "The tokens", body = ScimTokenList)))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult {
    let (caller, _) = auth::caller(&state, &req).await?;
    let t = auth::tenant(&state, &caller, &path).await?;
    let items = tokens::list(&state.db, t.id)
        .await?
        .iter()
        .map(ScimTokenView::of)
        .collect();
    Ok(json(&ScimTokenList { items }))
}

#[utoipa::path(post, operation_id = "create_scim_token", path = routes::ADMIN_SCIM_TOKENS, tag = "scim-tokens",
    summary = "Create a SCIM token (shown once)",
    params(("tenant" = String, Path, description = "The tenant's slug")),
    request_body(content = ScimTokenCreate, content_type = "application/json"),
    responses((status = 201, description = "The token, shown only here", body = ScimTokenCreated)))]
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
        create_token(&req, &state, &caller, &meta, &path, &body),
    )
    .await
}

async fn create_token(
    req: &HttpRequest,
    state: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    slug: &str,
    body: &[u8],
) -> ApiResult {
    let t = auth::tenant(state, caller, slug).await?;
    let input: ScimTokenCreate = json_body(req, body, false)?;
    let (model, token) = tokens::create(
        &state.db,
        state.now(),
        &state.keys.scim_tokens,
        t.id,
        input.name.as_deref().unwrap_or("scim"),
        &caller.actor,
        meta,
    )
    .await?;
    Ok(HttpResponse::build(StatusCode::CREATED)
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(ScimTokenCreated {
            id: model.id,
            name: model.name,
            token,
        }))
}

#[utoipa::path(delete, operation_id = "revoke_scim_token", path = routes::ADMIN_SCIM_TOKEN, tag = "scim-tokens",
    summary = "Revoke a SCIM token",
    params(("tenant" = String, Path, description = "The tenant's slug"),
        ("token" = Uuid, Path, description = "The token's id")),
    responses((status = 204, description = "Revoked")))]
pub async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult {
    let (caller, meta) = auth::caller(&state, &req).await?;
    auth::writes(&caller)?;
    let t = auth::tenant(&state, &caller, &path.0).await?;
    let id = Uuid::parse_str(&path.1).map_err(|_| Problem::not_found("live SCIM token"))?;
    tokens::revoke(
        &state.db,
        state.now(),
        t.id,
        &id.to_string(),
        &caller.actor,
        &meta,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
