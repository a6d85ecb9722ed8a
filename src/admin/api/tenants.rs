//! `/api/v1/tenants`: list, get, create, change settings (JSON Merge Patch), delete.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::idempotency;
use super::problem::{Kind, Problem};
use super::{ApiResult, IfMatch, auth, etag_of, json, json_body, resource};
use crate::admin::access::Caller;
use crate::admin::views::{MfaPolicy, TenantView};
use crate::audit::RequestMeta;
use crate::http::routes;
use crate::state::AppState;
use crate::tenants::{self, NewTenant, TenantUpdate};

#[derive(Serialize, ToSchema)]
pub struct TenantList {
    pub items: Vec<TenantView>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantCreate {
    /// 1 to 63 lowercase letters, digits and hyphens, not starting or ending with a hyphen.
    #[schema(pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")]
    pub slug: String,
    /// Display name (default: the slug).
    #[serde(default)]
    pub name: Option<String>,
    /// Let people create their own accounts at `/t/{slug}/signup` (default false).
    #[serde(default)]
    pub allow_signup: bool,
    /// Refuse password sign-in until the address is verified (default: on exactly when
    /// sign-up is open).
    #[serde(default)]
    pub require_email_verification: Option<bool>,
    /// Rate limits over the configured ones, e.g. `login=5/min,token=off`.
    #[serde(default)]
    pub rate_limits: Option<String>,
    /// The sign-in field also takes an account's SCIM userName (default false).
    #[serde(default)]
    pub sign_in_with_username: bool,
}

/// Present (even as `null`) or absent: what JSON Merge Patch tells apart.
pub fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A JSON Merge Patch (RFC 7396) of a tenant's settings: members left out stay as they are;
/// `rate_limits: null` removes the tenant's own limits.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantPatch {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = bool, required = false)]
    pub allow_signup: Option<Option<bool>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = bool, required = false)]
    pub require_email_verification: Option<Option<bool>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, required = false)]
    pub rate_limits: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = MfaPolicy, required = false)]
    pub mfa_policy: Option<Option<MfaPolicy>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = bool, required = false)]
    pub sign_in_with_username: Option<Option<bool>>,
}

fn required<T>(field: &'static str, v: Option<Option<T>>) -> Result<Option<T>, Problem> {
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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteQuery {
    /// The tenant's slug again, to confirm.
    pub confirm: Option<String>,
}

#[utoipa::path(get, operation_id = "list_tenants", path = routes::ADMIN_TENANTS, tag = "tenants",
    summary = "List the tenants the caller reaches",
    description = "A platform token sees every tenant; a tenant's token sees its own.",
    responses((status = 200, description = "The tenants, by slug", body = TenantList)))]
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> ApiResult {
    let (caller, _) = auth::caller(&state, &req).await?;
    let items = tenants::list(&state.db)
        .await?
        .iter()
        .filter(|t| caller.reaches(t))
        .map(|t| TenantView::of(&state.config, t))
        .collect();
    Ok(json(&TenantList { items }))
}

#[utoipa::path(get, operation_id = "get_tenant", path = routes::ADMIN_TENANT, tag = "tenants", summary = "Get a tenant",
    params(("tenant" = String, Path, description = "The tenant's slug")),
    responses((status = 200, description = "The tenant", body = TenantView,
        headers(("ETag" = String, description = "The representation's version")))))]
pub async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult {
    let (caller, _) = auth::caller(&state, &req).await?;
    let t = auth::tenant(&state, &caller, &path).await?;
    Ok(resource(StatusCode::OK, &TenantView::of(&state.config, &t)))
}

#[utoipa::path(post, operation_id = "create_tenant", path = routes::ADMIN_TENANTS, tag = "tenants",
    summary = "Create a tenant (platform callers only)",
    request_body(content = TenantCreate, content_type = "application/json"),
    responses(
        (status = 201, description = "The new tenant", body = TenantView,
            headers(("ETag" = String), ("Location" = String))),
        (status = 409, description = "The slug is taken", body = super::problem::ProblemBody,
            content_type = "application/problem+json")))]
pub async fn create(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> ApiResult {
    let (caller, meta) = auth::caller(&state, &req).await?;
    auth::writes(&caller)?;
    idempotency::once(
        &state,
        &req,
        &caller,
        &body,
        create_tenant(&req, &state, &caller, &meta, &body),
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn create_tenant(
    req: &HttpRequest,
    state: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    body: &[u8],
) -> ApiResult {
    if !caller.platform {
        return Err(Problem::new(
            Kind::Forbidden,
            "only a platform token (of the bootstrap tenant) creates tenants",
        ));
    }
    let input: TenantCreate = json_body(req, body, false)?;
    let t = tenants::create(
        &state.db,
        state.now(),
        &state.keys.signing,
        NewTenant {
            slug: input.slug,
            name: input.name,
            allow_signup: input.allow_signup,
            require_email_verification: input.require_email_verification,
            rate_limits: input.rate_limits,
            sign_in_with_username: input.sign_in_with_username,
        },
        &caller.actor,
        meta,
    )
    .await?;
    let path = super::fill(routes::ADMIN_TENANT, &[("tenant", &t.slug)]);
    Ok(super::created(
        state,
        &path,
        &TenantView::of(&state.config, &t),
    ))
}

#[utoipa::path(patch, operation_id = "patch_tenant", path = routes::ADMIN_TENANT, tag = "tenants",
    summary = "Change a tenant's settings (JSON Merge Patch)",
    params(("tenant" = String, Path, description = "The tenant's slug"),
        ("If-Match" = Option<String>, Header, description = "Change only if the ETag still is this one")),
    request_body(content = TenantPatch, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The tenant as changed", body = TenantView,
        headers(("ETag" = String)))))]
pub async fn patch(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> ApiResult {
    let (caller, meta) = auth::caller(&state, &req).await?;
    auth::writes(&caller)?;
    let t = auth::tenant(&state, &caller, &path).await?;
    let input: TenantPatch = json_body(&req, &body, true)?;
    let change = TenantUpdate {
        allow_signup: required("allow_signup", input.allow_signup)?,
        require_email_verification: required(
            "require_email_verification",
            input.require_email_verification,
        )?,
        rate_limits: input.rate_limits.map(Option::unwrap_or_default),
        mfa_policy: required("mfa_policy", input.mfa_policy)?.map(|p| p.as_str().to_string()),
        sign_in_with_username: required("sign_in_with_username", input.sign_in_with_username)?,
    };
    let if_match = IfMatch::of(&req);
    let config = state.config.clone();
    let expect =
        move |t: &entity::tenant::Model| if_match.matches(&etag_of(&TenantView::of(&config, t)));
    let t = tenants::update(
        &state.db,
        state.now(),
        &t.slug,
        change,
        Some(&expect),
        &caller.actor,
        &meta,
    )
    .await?;
    state.memo.tenants.forget(&t.slug);
    Ok(resource(StatusCode::OK, &TenantView::of(&state.config, &t)))
}

#[utoipa::path(delete, operation_id = "delete_tenant", path = routes::ADMIN_TENANT, tag = "tenants",
    summary = "Delete a tenant and everything in it",
    description = "Needs `?confirm=<slug>`. The bootstrap tenant cannot be deleted. Its audit events stay.",
    params(("tenant" = String, Path, description = "The tenant's slug"), DeleteQuery,
        ("If-Match" = Option<String>, Header, description = "Delete only if the ETag still is this one")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<DeleteQuery>,
) -> ApiResult {
    let (caller, meta) = auth::caller(&state, &req).await?;
    auth::writes(&caller)?;
    let t = auth::tenant(&state, &caller, &path).await?;
    if !caller.platform {
        return Err(Problem::new(
            Kind::Forbidden,
            "only a platform token (of the bootstrap tenant) deletes tenants",
        ));
    }
    if query.confirm.as_deref() != Some(t.slug.as_str()) {
        return Err(Problem::field(
            Kind::BadRequest,
            "confirm",
            "repeat the tenant's slug as ?confirm=<slug> to delete it",
        ));
    }
    let if_match = IfMatch::of(&req);
    let config = state.config.clone();
    let expect =
        move |t: &entity::tenant::Model| if_match.matches(&etag_of(&TenantView::of(&config, t)));
    tenants::delete(
        &state.db,
        state.now(),
        &t.slug,
        Some(&expect),
        &caller.actor,
        &meta,
    )
    .await?;
    state.memo.tenants.forget(&t.slug);
    state.memo.discovery.forget(&t.slug);
    Ok(HttpResponse::NoContent().finish())
}
