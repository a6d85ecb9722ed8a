//! `/api/v1/tenants/{tenant}/audit-events`: the tenant's audit trail, newest first, a page at
//! a time, by time range, actor and action.

use actix_web::{HttpRequest, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::problem::{Kind, Problem};
use super::{ApiResult, auth, json};
use crate::admin::views::AuditEventView;
use crate::http::routes;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    /// Newest first.
    pub items: Vec<AuditEventView>,
    /// The next (older) page, absent on the last one.
    pub next: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Page size, 1 to 200 (default 50).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// From the `next` link of the previous page.
    pub cursor: Option<String>,
    /// Events at or after this instant (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub from: Option<String>,
    /// Events before this instant (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub until: Option<String>,
    /// Only this actor, e.g. `client:<client_id>` or `user:<id>`.
    pub actor: Option<String>,
    /// Only this action, e.g. `user.create`.
    pub action: Option<String>,
}

fn instant(field: &'static str, raw: Option<&str>) -> Result<Option<DateTime<Utc>>, Problem> {
    raw.map(|s| {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                Problem::field(
                    Kind::BadRequest,
                    field,
                    "use an RFC 3339 date-time such as 2026-12-04T10:00:00Z",
                )
            })
    })
    .transpose()
}

#[utoipa::path(get, operation_id = "list_audit_events", path = routes::ADMIN_AUDIT_EVENTS, tag = "audit",
    summary = "Query the tenant's audit events, newest first",
    params(("tenant" = String, Path, description = "The tenant's slug"), AuditQuery),
    responses((status = 200, description = "One page", body = AuditPage)))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<AuditQuery>,
) -> ApiResult {
    let (caller, _) = auth::caller(&state, &req).await?;
    let t = auth::tenant(&state, &caller, &path).await?;
    let q = query.into_inner();
    let limit = super::limit(q.limit.as_deref())?;
    let before = super::decode_cursor::<i64>(q.cursor.as_deref())?;
    let (rows, more) = crate::audit::query(
        &state.db,
        &crate::audit::Query {
            tenant_id: Some(t.id),
            from: instant("from", q.from.as_deref())?,
            until: instant("until", q.until.as_deref())?,
            actor: q.actor.clone(),
            action: q.action.clone(),
            before,
            limit,
        },
    )
    .await?;
    let next = super::next_page(
        &state,
        &super::fill(routes::ADMIN_AUDIT_EVENTS, &[("tenant", &t.slug)]),
        more,
        rows.last().map(|r| r.id.to_string()),
        limit,
        &[
            ("from", &q.from),
            ("until", &q.until),
            ("actor", &q.actor),
            ("action", &q.action),
        ],
    );
    Ok(json(&AuditPage {
        items: rows.iter().map(AuditEventView::of).collect(),
        next,
    }))
}
