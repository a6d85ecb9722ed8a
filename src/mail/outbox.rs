//! The durable outbox. A message is written in the same transaction as what caused it (a
//! sign-up, a reset request), so it is neither lost nor sent for something that rolled back;
//! the request never waits for SMTP.
//!
//! Every node runs a sender. To send a message, a node first claims it with one conditional
//! UPDATE (pending, due, and not leased by another node): exactly one node wins the claim, so a
//! message is sent once however many nodes run. A failed attempt is retried with exponential
//! backoff (30 s, 1 min, 2 min, … at most 1 h) until `mail_max_attempts`, then given up; each
//! failure is in the audit trail. The one case that can send twice is a node dying after the
//! SMTP server took the message and before the row says so: its lease runs out and another
//! node sends again, with the same Message-ID, so that mail systems can drop the copy.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use entity::mail_outbox;
use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use super::Mailer;
use super::templates::Rendered;
use crate::audit::{self, RequestMeta, actions};
use crate::error::{DomainError, DomainResult};
use crate::state::AppState;

pub const PENDING: &str = "pending";
pub const SENT: &str = "sent";
pub const FAILED: &str = "failed";

/// How long a claim keeps other nodes off a message (longer than one SMTP attempt).
const LEASE: Duration = Duration::seconds(120);
/// Messages claimed per round.
const BATCH: u64 = 20;

/// Queue a message to `to`. Call [`Mailer::wake`] once the transaction has committed.
pub async fn enqueue(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    mailer: &Mailer,
    tenant_id: Option<Uuid>,
    to: &str,
    mail: Rendered,
) -> DomainResult<Uuid> {
    let to: Mailbox = to
        .parse()
        .map_err(|_| DomainError::invalid("email", "this address cannot receive mail"))?;
    let id = Uuid::now_v7();
    let message = Message::builder()
        .from(mailer.from.clone())
        .to(to.clone())
        .subject(mail.subject)
        .date(now.into())
        .message_id(Some(format!("<{id}@{}>", mailer.domain)))
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(mail.text),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(mail.html),
                ),
        )
        .map_err(DomainError::internal)?;
    let sealed = crate::keys::encrypt(&mailer.key, &message.formatted())?;
    mail_outbox::ActiveModel {
        id: Set(id),
        tenant_id: Set(tenant_id),
        kind: Set(mail.kind.to_string()),
        recipient: Set(to.email.to_string()),
        sender: Set(mailer.from.email.to_string()),
        message: Set(sealed),
        status: Set(PENDING.into()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        locked_until: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        sent_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(id)
}

/// The wait before attempt `n + 1` after `n` failed ones.
pub fn backoff(failed: i32) -> Duration {
    let exp = failed.clamp(1, 8) as u32 - 1;
    Duration::seconds((30i64 << exp).min(3600))
}

/// Send what is due now; the number of messages handed over.
pub async fn deliver_due(state: &AppState) -> DomainResult<usize> {
    let now = state.now();
    let due = mail_outbox::Entity::find()
        .select_only()
        .column(mail_outbox::Column::Id)
        .filter(mail_outbox::Column::Status.eq(PENDING))
        .filter(mail_outbox::Column::NextAttemptAt.lte(now))
        .filter(
            Condition::any()
                .add(mail_outbox::Column::LockedUntil.is_null())
                .add(mail_outbox::Column::LockedUntil.lt(now)),
        )
        .order_by_asc(mail_outbox::Column::NextAttemptAt)
        .limit(BATCH)
        .into_tuple::<Uuid>()
        .all(&state.db)
        .await?;
    let mut sent = 0;
    for id in due {
        if let Some(message) = claim(state, id, now).await?
            && deliver(state, message).await?
        {
            sent += 1;
        }
    }
    Ok(sent)
}

/// Take the message for this node, unless another node has it.
async fn claim(
    state: &AppState,
    id: Uuid,
    now: DateTime<Utc>,
) -> DomainResult<Option<mail_outbox::Model>> {
    let claimed = mail_outbox::Entity::update_many()
        .col_expr(mail_outbox::Column::LockedUntil, Expr::value(now + LEASE))
        .filter(mail_outbox::Column::Id.eq(id))
        .filter(mail_outbox::Column::Status.eq(PENDING))
        .filter(
            Condition::any()
                .add(mail_outbox::Column::LockedUntil.is_null())
                .add(mail_outbox::Column::LockedUntil.lt(now)),
        )
        .exec(&state.db)
        .await?;
    if claimed.rows_affected != 1 {
        return Ok(None);
    }
    Ok(mail_outbox::Entity::find_by_id(id).one(&state.db).await?)
}

async fn deliver(state: &AppState, message: mail_outbox::Model) -> DomainResult<bool> {
    let mailer = &state.mailer;
    let result = match open(mailer, &message) {
        Ok((envelope, bytes)) => mailer.send_raw(&envelope, &bytes).await,
        Err(e) => Err(e),
    };
    let now = state.now();
    let attempts = message.attempts + 1;
    let (tenant_id, id, kind) = (message.tenant_id, message.id, message.kind.clone());
    let mut active: mail_outbox::ActiveModel = message.into();
    active.attempts = Set(attempts);
    active.locked_until = Set(None);
    let meta = RequestMeta::default();
    let event = |action| {
        let mut e = audit::Event::new(action, "system".into(), &meta)
            .target(format!("mail:{id}"))
            .details(serde_json::json!({ "kind": kind, "attempts": attempts }));
        if let Some(t) = tenant_id {
            e = e.tenant(t);
        }
        e
    };
    match result {
        Ok(()) => {
            active.status = Set(SENT.into());
            active.sent_at = Set(Some(now));
            active.message = Set(String::new());
            active.last_error = Set(None);
            active.update(&state.db).await?;
            audit::record(&state.db, now, event(actions::MAIL_SENT)).await?;
            Ok(true)
        }
        Err(error) => {
            let error: String = error.chars().take(500).collect();
            tracing::warn!(%id, attempts, %error, "mail delivery failed");
            let given_up = attempts >= state.config.mail_max_attempts as i32;
            if given_up {
                active.status = Set(FAILED.into());
                active.message = Set(String::new());
            } else {
                active.next_attempt_at = Set(now + backoff(attempts));
            }
            active.last_error = Set(Some(error.clone()));
            active.update(&state.db).await?;
            let action = if given_up {
                actions::MAIL_FAILED
            } else {
                actions::MAIL_ATTEMPT_FAILED
            };
            let e = event(action).failed().details(serde_json::json!({
                "kind": kind, "attempts": attempts, "error": error,
            }));
            audit::record(&state.db, now, e).await?;
            Ok(false)
        }
    }
}

fn open(
    mailer: &Mailer,
    m: &mail_outbox::Model,
) -> Result<(lettre::address::Envelope, Vec<u8>), String> {
    let bytes = crate::keys::decrypt(&mailer.key, &m.message)
        .map_err(|_| "the queued message cannot be decrypted (master key changed?)".to_string())?;
    let from = m.sender.parse().map_err(|e| format!("sender: {e}"))?;
    let to = m.recipient.parse().map_err(|e| format!("recipient: {e}"))?;
    let envelope =
        lettre::address::Envelope::new(Some(from), vec![to]).map_err(|e| e.to_string())?;
    Ok((envelope, bytes))
}

/// Run the sender until the task is aborted: on every wake-up and every poll interval.
pub fn spawn_sender(state: AppState) -> tokio::task::AbortHandle {
    let interval = StdDuration::from_millis(state.config.mail_poll_interval_ms);
    tokio::spawn(async move {
        loop {
            match deliver_due(&state).await {
                // More may be waiting behind a full batch.
                Ok(n) if n as u64 >= BATCH => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "mail sender: cannot read the outbox"),
            }
            tokio::select! {
                _ = state.mailer.woken() => {}
                _ = tokio::time::sleep(interval) => {}
            }
        }
    })
    .abort_handle()
}
