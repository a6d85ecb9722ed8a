//! `/api/v1/tenants/{tenant}/keys`: the tenant's published signing keys, and their rotation,
//! as `plinto keys` does.

use actix_web::{HttpRequest, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiResult, auth, json};
use crate::admin::views::KeyView;
use crate::http::routes;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct KeyList {
    /// Newest first: the active keys and the retired ones still published.
    pub items: Vec<KeyView>,
}

#[derive(Serialize, ToSchema)]
pub struct KeyRotation {
    /// The new keys: every node publishes them within the read-cache TTL and they sign from
    /// then on.
    pub active: Vec<KeyView>,
    /// The keys they replace: published for the retention period, signing until then.
    pub retired: Vec<KeyView>,
}

#[utoipa::path(get, operation_id = "list_keys", path = routes::ADMIN_KEYS, tag = "keys",
    summary = "List the tenant's published signing keys",
    params(("tenant" = String, Path, description = "The tenant's slug")),
    responses((status = 200, description = "The keys", body = KeyList)))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult {
    let (caller, _) = auth::caller(&state, &req).await?;
    let t = auth::tenant(&state, &caller, &path).await?;
    let retention = chrono::Duration::seconds(state.config.signing_key_retention_secs as i64);
    let keys = crate::keys::published(&state.db, state.now(), t.id, retention).await?;
    Ok(json(&KeyList {
        items: keys.iter().map(KeyView::of).collect(),
    }))
}

#[utoipa::path(post, operation_id = "rotate_keys", path = routes::ADMIN_KEYS_ROTATE, tag = "keys",
    summary = "Retire the tenant's signing keys and make new ones",
    params(("tenant" = String, Path, description = "The tenant's slug")),
    responses((status = 200, description = "The new and the retired keys", body = KeyRotation)))]
pub async fn rotate(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult {
    let (caller, meta) = auth::caller(&state, &req).await?;
    auth::writes(&caller)?;
    let t = auth::tenant(&state, &caller, &path).await?;
    let (new, retired) = crate::keys::rotate_by_operator(
        &state.db,
        state.now(),
        &state.keys.signing,
        &t,
        &caller.actor,
        &meta,
    )
    .await?;
    Ok(json(&KeyRotation {
        active: new.iter().map(KeyView::of).collect(),
        retired: retired.iter().map(KeyView::of).collect(),
    }))
}
