//! `/api/v1/tenants/{tenant}/users`: create, get, list (cursor pages, search, status filter),
//! change (JSON Merge Patch), disable, enable, delete.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use entity::{tenant, user};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::idempotency;
use super::problem::{Kind, Problem};
use super::tenants::present;
use super::{ApiResult, IfMatch, auth, etag_of, json, json_body, resource};
use crate::accounts::users::{self, NewUser, UserChange, UserQuery};
use crate::admin::access::Caller;
use crate::admin::views::{UserStatus, UserView};
use crate::audit::{self, RequestMeta, actions};
use crate::http::routes;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct UserPage {
    /// In creation order (by id).
    pub items: Vec<UserView>,
    /// The next page, absent on the last one.
    pub next: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page size, 1 to 200 (default 50).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// From the `next` link of the previous page.
    pub cursor: Option<String>,
    /// Only the user with this address (compared case-insensitively).
    pub email: Option<String>,
    /// Only the user with this SCIM userName (compared case-insensitively).
    pub user_name: Option<String>,
    /// Only active or only disabled users.
    #[param(value_type = Option<UserStatus>)]
    pub status: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserCreate {
    pub email: String,
    /// Without one, the user signs in after a password reset (or by another method).
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email_verified: bool,
}

/// A JSON Merge Patch (RFC 7396) of a user: `name: null` removes the name.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, required = false)]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = bool, required = false)]
    pub email_verified: Option<Option<bool>>,
}

async fn target(
    state: &AppState,
    caller: &Caller,
    slug: &str,
    id: &str,
) -> Result<(tenant::Model, user::Model), Problem> {
    let t = auth::tenant(state, caller, slug).await?;
    let id = Uuid::parse_str(id).map_err(|_| Problem::not_found("user"))?;
    let u = users::find(&state.db, t.id, id)
        .await?
        .ok_or_else(|| Problem::not_found("user"))?;
    Ok((t, u))
}

/// The version to write on: the one read, when the caller sent `If-Match` (and it matched).
fn expected(if_match: &IfMatch, u: &user::Model) -> Result<Option<i64>, Problem> {
    if_match.check(&etag_of(&UserView::of(u)))?;
    Ok(if_match.present().then_some(u.version))
}

#[utoipa::path(get, operation_id = "list_users", path = routes::ADMIN_USERS, tag = "users",
    summary = "List users, a page at a time",
    description = "In creation order; a page boundary does not move when users are added meanwhile.",
    params(("tenant" = String, Path, description = "The tenant's slug"), ListQuery),
    responses((status = 200, description = "One page", body = UserPage)))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<ListQuery>,
) -> ApiResult {
    let (caller, _) = auth::caller(&state, &req).await?;
    let t = auth::tenant(&state, &caller, &path).await?;
    let q = query.into_inner();
    let limit = super::limit(q.limit.as_deref())?;
    let after = super::decode_cursor::<Uuid>(q.cursor.as_deref())?;
    let disabled = match q.status.as_deref() {
        None => None,
        Some("active") => Some(false),
        Some("disabled") => Some(true),
        Some(_) => {
            return Err(Problem::field(
                Kind::BadRequest,
                "status",
                "use active or disabled",
            ));
        }
    };
    let (rows, more) = users::list_page(
        &state.db,
        t.id,
        &UserQuery {
            email: q.email.clone(),
            user_name: q.user_name.clone(),
            disabled,
            after,
            limit,
        },
    )
    .await?;
    let next = super::next_page(
        &state,
        &super::fill(routes::ADMIN_USERS, &[("tenant", &t.slug)]),
        more,
        rows.last().map(|r| r.id.to_string()),
        limit,
        &[
            ("email", &q.email),
            ("user_name", &q.user_name),
            ("status", &q.status),
        ],
    );
    Ok(json(&UserPage {
        items: rows.iter().map(UserView::of).collect(),
        next,
    }))
}

#[utoipa::path(post, operation_id = "create_user", path = routes::ADMIN_USERS, tag = "users", summary = "Create a user",
    params(("tenant" = String, Path, description = "The tenant's slug")),
    request_body(content = UserCreate, content_type = "application/json"),
    responses(
        (status = 201, description = "The new user", body = UserView,
            headers(("ETag" = String), ("Location" = String))),
        (status = 409, description = "The address is taken", body = super::problem::ProblemBody,
            content_type = "application/problem+json")))]
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
        create_user(&req, &state, &caller, &meta, &path, &body),
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn create_user(
    req: &HttpRequest,
    state: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    path: &str,
    body: &[u8],
) -> ApiResult {
    let t = auth::tenant(state, caller, path).await?;
    let input: UserCreate = json_body(req, body, false)?;
    let u = users::create(
        &state.db,
        state.now(),
        &state.hasher,
        t.id,
        NewUser {
            email: input.email,
            password: input.password,
            name: input.name,
            email_verified: input.email_verified,
            is_admin: false,
            must_change_password: false,
        },
        actions::USER_CREATE,
        Some(&caller.actor),
        meta,
    )
    .await?;
    let path = super::fill(
        routes::ADMIN_USER,
        &[("tenant", &t.slug), ("user", &u.id.to_string())],
    );
    Ok(super::created(state, &path, &UserView::of(&u)))
}

#[utoipa::path(get, operation_id = "get_user", path = routes::ADMIN_USER, tag = "users", summary = "Get a user",
    params(("tenant" = String, Path, description = "The tenant's slug"),
        ("user" = Uuid, Path, description = "The user's id")),
    responses((status = 200, description = "The user", body = UserView, headers(("ETag" = String)))))]
pub async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult {
    let (caller, _) = auth::caller(&state, &req).await?;
    let (_, u) = target(&state, &caller, &path.0, &path.1).await?;
    Ok(resource(StatusCode::OK, &UserView::of(&u)))
}

#[utoipa::path(patch, operation_id = "patch_user", path = routes::ADMIN_USER, tag = "users",
    summary = "Change a user (JSON Merge Patch)",
    params(("tenant" = String, Path, description = "The tenant's slug"),
        ("user" = Uuid, Path, description = "The user's id"),
        ("If-Match" = Option<String>, Header, description = "Change only if the ETag still is this one")),
    request_body(content = UserPatch, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The user as changed", body = UserView,
        headers(("ETag" = String)))))]
pub async fn patch(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> ApiResult {
    let (caller, meta) = auth::caller(&state, &req).await?;
    auth::writes(&caller)?;
    let (_, u) = target(&state, &caller, &path.0, &path.1).await?;
    let input: UserPatch = json_body(&req, &body, true)?;
    let email_verified = match input.email_verified {
        Some(None) => {
            return Err(Problem::field(
                Kind::Invalid,
                "email_verified",
                "this field cannot be removed; give true or false",
            ));
        }
        Some(Some(v)) => Some(v),
        None => None,
    };
    let expected = expected(&IfMatch::of(&req), &u)?;
    let u = users::update(
        &state.db,
        state.now(),
        u,
        UserChange {
            name: input.name,
            email_verified,
        },
        expected,
        &caller.actor,
        &meta,
    )
    .await?;
    Ok(resource(StatusCode::OK, &UserView::of(&u)))
}

async fn set_disabled(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    disabled: bool,
) -> ApiResult {
    let (caller, meta) = auth::caller(&state, &req).await?;
    auth::writes(&caller)?;
    let (_, u) = target(&state, &caller, &path.0, &path.1).await?;
    let expected = expected(&IfMatch::of(&req), &u)?;
    let u = users::set_disabled(
        &state.db,
        state.now(),
        &u,
        disabled,
        expected,
        &caller.actor,
        &meta,
    )
    .await?;
    Ok(resource(StatusCode::OK, &UserView::of(&u)))
}

#[utoipa::path(post, operation_id = "disable_user", path = routes::ADMIN_USER_DISABLE, tag = "users",
    summary = "Disable a user and end their sessions",
    params(("tenant" = String, Path, description = "The tenant's slug"),
        ("user" = Uuid, Path, description = "The user's id"),
        ("If-Match" = Option<String>, Header, description = "Only if the ETag still is this one")),
    responses((status = 200, description = "The user, disabled", body = UserView,
        headers(("ETag" = String)))))]
pub async fn disable(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult {
    set_disabled(req, state, path, true).await
}

#[utoipa::path(post, operation_id = "enable_user", path = routes::ADMIN_USER_ENABLE, tag = "users", summary = "Enable a user",
    params(("tenant" = String, Path, description = "The tenant's slug"),
        ("user" = Uuid, Path, description = "The user's id"),
        ("If-Match" = Option<String>, Header, description = "Only if the ETag still is this one")),
    responses((status = 200, description = "The user, active", body = UserView,
        headers(("ETag" = String)))))]
pub async fn enable(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult {
    set_disabled(req, state, path, false).await
}

#[utoipa::path(post, operation_id = "reset_user_mfa", path = routes::ADMIN_USER_RESET_MFA, tag = "users",
    summary = "Remove the user's second factors (authenticator app, passkeys, recovery codes)",
    description = "For a lost device; the user signs in with the password and may set up new ones.",
    params(("tenant" = String, Path, description = "The tenant's slug"),
        ("user" = Uuid, Path, description = "The user's id")),
    responses((status = 204, description = "Done")))]
pub async fn reset_mfa(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult {
    let (caller, meta) = auth::caller(&state, &req).await?;
    auth::writes(&caller)?;
    let (_, u) = target(&state, &caller, &path.0, &path.1).await?;
    crate::mfa::reset_by_operator(&state.db, state.now(), &u, &caller.actor, &meta).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(delete, operation_id = "delete_user", path = routes::ADMIN_USER, tag = "users",
    summary = "Delete a user with their sessions and grants",
    params(("tenant" = String, Path, description = "The tenant's slug"),
        ("user" = Uuid, Path, description = "The user's id"),
        ("If-Match" = Option<String>, Header, description = "Delete only if the ETag still is this one")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult {
    let (caller, meta) = auth::caller(&state, &req).await?;
    auth::writes(&caller)?;
    let (t, u) = target(&state, &caller, &path.0, &path.1).await?;
    let expected = expected(&IfMatch::of(&req), &u)?;
    let event = audit_event(&caller, &meta, &t, &u);
    users::delete(&state.db, state.now(), &u, expected, event).await?;
    Ok(HttpResponse::NoContent().finish())
}

fn audit_event<'a>(
    caller: &Caller,
    meta: &'a RequestMeta,
    t: &tenant::Model,
    u: &user::Model,
) -> audit::Event<'a> {
    audit::Event::new(actions::USER_DELETE, caller.actor.clone(), meta)
        .tenant(t.id)
        .target(audit::user_actor(u.id))
        .details(serde_json::json!({ "email": u.email }))
}

/// A live browser session of a user.
#[derive(Serialize, ToSchema)]
pub struct SessionView {
    pub id: Uuid,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub last_seen_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    /// RFC 8176 methods of its sign-in, e.g. `["pwd", "otp"]`.
    pub amr: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SessionList {
    /// Newest first.
    pub items: Vec<SessionView>,
}

#[utoipa::path(get, operation_id = "list_user_sessions", path = routes::ADMIN_USER_SESSIONS, tag = "users",
    summary = "List a user's live sessions",
    params(("tenant" = String, Path, description = "The tenant's slug"),
        ("user" = Uuid, Path, description = "The user's id")),
    responses((status = 200, description = "The live sessions", body = SessionList)))]
pub async fn sessions(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult {
    let (caller, _) = auth::caller(&state, &req).await?;
    let (_, u) = target(&state, &caller, &path.0, &path.1).await?;
    let live = crate::accounts::sessions::list_live(&state.db, state.now(), state.timeouts(), u.id)
        .await?;
    Ok(json(&SessionList {
        items: live
            .iter()
            .map(|s| SessionView {
                id: s.id,
                ip: s.ip.clone(),
                user_agent: s.user_agent.clone(),
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
                expires_at: s.expires_at,
                amr: s
                    .amr
                    .split(' ')
                    .filter(|m| !m.is_empty())
                    .map(str::to_string)
                    .collect(),
            })
            .collect(),
    }))
}

#[utoipa::path(delete, operation_id = "revoke_user_session", path = routes::ADMIN_USER_SESSION, tag = "users",
    summary = "End one of a user's sessions",
    params(("tenant" = String, Path, description = "The tenant's slug"),
        ("user" = Uuid, Path, description = "The user's id"),
        ("session" = Uuid, Path, description = "The session's id")),
    responses((status = 204, description = "Ended")))]
pub async fn revoke_session(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
) -> ApiResult {
    let (caller, meta) = auth::caller(&state, &req).await?;
    auth::writes(&caller)?;
    let (_, u) = target(&state, &caller, &path.0, &path.1).await?;
    let sid = Uuid::parse_str(&path.2).map_err(|_| Problem::not_found("session"))?;
    crate::accounts::sessions::revoke_by(
        &state.db,
        state.now(),
        &u,
        sid,
        actions::SESSION_REVOKE,
        &caller.actor,
        &meta,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
