//! Security notices to the account's owner, by email: a sign-in method added or removed, new
//! recovery codes, an address change (to the old address, with a link to undo it), someone
//! signing up or moving an account to an address that is taken. Each is queued in the caller's
//! transaction; call `mailer.wake()` after it commits.

use entity::{tenant, user};
use sea_orm::ConnectionTrait;

use super::email::Ctx;
use crate::error::DomainResult;
use crate::mail::outbox;
use crate::mail::templates::{self, Mail, Notice};

/// A change to how the account signs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FactorChange {
    TotpAdded,
    TotpRemoved,
    PasskeyAdded,
    PasskeyRemoved,
    RecoveryCodesRenewed,
}

impl FactorChange {
    fn sentence(self) -> &'static str {
        match self {
            FactorChange::TotpAdded => "An authenticator app was set up for two-step verification",
            FactorChange::TotpRemoved => "The authenticator app was removed",
            FactorChange::PasskeyAdded => "A passkey was added",
            FactorChange::PasskeyRemoved => "A passkey was removed",
            FactorChange::RecoveryCodesRenewed => {
                "New recovery codes were made (the old ones no longer work)"
            }
        }
    }
}

/// Mail a notice to `to`; an account without an address (a SCIM userName only) gets none.
async fn send(
    db: &impl ConnectionTrait,
    ctx: &Ctx<'_>,
    tenant: &tenant::Model,
    to: Option<&str>,
    notice: Notice<'_>,
) -> DomainResult<()> {
    let Some(to) = to else {
        return Ok(());
    };
    let mail = templates::account_notice(
        &Mail {
            product: &tenant.name,
            link: "",
            valid_for: "",
        },
        &notice,
    )?;
    outbox::enqueue(db, ctx.now, ctx.mailer, Some(tenant.id), to, mail).await?;
    Ok(())
}

fn forgot(ctx: &Ctx<'_>) -> String {
    format!("{}{}", ctx.issuer, crate::http::routes::PASSWORD_FORGOT)
}

/// A notice to the account's owner whose text depends only on the tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnerNotice {
    /// A sign-in method changed.
    FactorChanged(FactorChange),
    /// A password reset removed sign-in methods set up before the address was proven.
    FactorsRemoved,
    /// Someone tried to sign up with an address that already has an account.
    SignupWithTakenAddress,
    /// Someone asked to move another account to an address that already has an account.
    EmailChangeToTakenAddress,
}

impl OwnerNotice {
    fn notice(self, ctx: &Ctx<'_>, tenant: &tenant::Model) -> Notice<'static> {
        let name = &tenant.name;
        match self {
            OwnerNotice::FactorChanged(change) => Notice {
                kind: "factor_changed",
                subject: format!("A sign-in method of your {name} account changed"),
                paragraphs: vec![
                    format!("{} on your {name} account.", change.sentence()),
                    "If you did this, there is nothing else to do. If you did not, reset your \
                     password at once: that signs every session out."
                        .into(),
                ],
                link: Some((forgot(ctx), "Reset your password")),
            },
            OwnerNotice::FactorsRemoved => Notice {
                kind: "factors_removed",
                subject: format!("Sign-in methods were removed from your {name} account"),
                paragraphs: vec![
                    "Your password was reset through a link sent to this address. The account's \
                     address had not been verified before, so its passkeys, authenticator app \
                     and recovery codes were removed: whoever set them up had not shown that \
                     they own this address."
                        .into(),
                    "Set up two-step verification again on your account page.".into(),
                ],
                link: None,
            },
            OwnerNotice::SignupWithTakenAddress => Notice {
                kind: "signup_taken",
                subject: format!("Someone tried to sign up to {name} with your address"),
                paragraphs: vec![
                    format!(
                        "Someone tried to create a {name} account with this address, which \
                         already has one. No new account was made."
                    ),
                    "If it was you, sign in with your account, or choose a new password if you \
                     forgot it. If it was not you, you can ignore this message."
                        .into(),
                ],
                link: Some((forgot(ctx), "Choose a new password")),
            },
            OwnerNotice::EmailChangeToTakenAddress => Notice {
                kind: "email_change_taken",
                subject: format!("Your address was given for another {name} account"),
                paragraphs: vec![
                    format!(
                        "Someone asked to change the address of a {name} account to this \
                         address, which already belongs to your account. Nothing was changed."
                    ),
                    "If it was not you, you can ignore this message.".into(),
                ],
                link: None,
            },
        }
    }
}

/// Mail `notice` to the owner of the account (none if it has no address).
pub async fn to_owner(
    db: &impl ConnectionTrait,
    ctx: &Ctx<'_>,
    tenant: &tenant::Model,
    owner: &user::Model,
    notice: OwnerNotice,
) -> DomainResult<()> {
    let notice = notice.notice(ctx, tenant);
    send(db, ctx, tenant, owner.email.as_deref(), notice).await
}

/// Tell the old address that the account moved to a new one, with a link to undo it.
pub async fn email_changed(
    db: &impl ConnectionTrait,
    ctx: &Ctx<'_>,
    tenant: &tenant::Model,
    old: &str,
    new: &str,
    undo_link: &str,
    valid_for: &str,
) -> DomainResult<()> {
    send(
        db,
        ctx,
        tenant,
        Some(old),
        Notice {
            kind: "email_changed",
            subject: format!("The address of your {} account was changed", tenant.name),
            paragraphs: vec![
                format!(
                    "The address of your {} account was changed from {old} to {new}.",
                    tenant.name
                ),
                format!(
                    "If you did not do this, undo it with the link below (it works once, for \
                     {valid_for}): the account gets this address back and every session is \
                     signed out. Then choose a new password."
                ),
            ],
            link: Some((undo_link.to_string(), "Undo the change")),
        },
    )
    .await
}
