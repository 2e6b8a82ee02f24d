//! Live administration news (administrators, as `auditLog` and `emails`): `auditAppended`,
//! each entry of the tenant's audit trail as it commits, and `emailChanged`, each change of an
//! email's status (queued, sending, retrying, sent, held, dead).

use async_graphql::dynamic::{FieldValue, InputValue, SubscriptionField, SubscriptionFieldFuture, TypeRef};
use entity::features::emails::{self, Email};
use entity::runtime::audit;
use entity::runtime::naming::{fields as f, types as t};
use jobs::BusEvent;

use crate::schema::{args, ctx, news};
use crate::services::Txn;

/// `auditAppended`: the tenant's audit entries as they are appended.
pub fn audit_appended() -> SubscriptionField {
    SubscriptionField::new(f::AUDIT_APPENDED, TypeRef::named_nn(t::AUDIT_ENTRY), |c| {
        SubscriptionFieldFuture::new(async move {
            ctx::require_admin(&c)?;
            news::stream(
                &c,
                |e| match e {
                    BusEvent::Audit(a) => Some(a.seq),
                    _ => None,
                },
                async |state, p, seq| {
                    let entry = state
                        .in_tenant(&p.tenant_id, Txn::Read, async |txn| {
                            audit::entry(txn, &state.sealer, &p.tenant_id, seq).await
                        })
                        .await?;
                    Ok(entry.map(FieldValue::owned_any))
                },
            )
        })
    })
    .description("Entries of the audit trail as they are appended (administrators).")
}

/// `emailChanged(status)`: the tenant's emails each time their status changes (to `status`
/// only, when given), as the change left them.
pub fn email_changed() -> SubscriptionField {
    SubscriptionField::new(f::EMAIL_CHANGED, TypeRef::named_nn(t::EMAIL), |c| {
        SubscriptionFieldFuture::new(async move {
            ctx::require_admin(&c)?;
            let only = args::opt_string(&c, "status")?;
            news::stream(
                &c,
                move |e| match e {
                    BusEvent::Email(m) if only.as_deref().is_none_or(|s| s == m.status) => Some(m.clone()),
                    _ => None,
                },
                async |state, p, m| {
                    let email = state
                        .in_tenant(&p.tenant_id, Txn::Read, async |txn| {
                            emails::get(txn, &p.tenant_id, &m.email_id).await
                        })
                        .await?;
                    // The status the change gave it, even if a later one has committed since.
                    let shown = email.map(|e| Email { status: m.status.clone(), ..e });
                    Ok(shown.map(FieldValue::owned_any))
                },
            )
        })
    })
    .argument(InputValue::new("status", TypeRef::named(TypeRef::STRING)))
    .description(
        "Emails each time their status changes (queued, sending, retrying, sent, held, dead); only to \
         `status` when given (administrators).",
    )
}
