//! GraphQL for GDPR (`entity::features::gdpr`). Administrators: `exportPersonalData(subject)`
//! (one JSON document: the subject's records, the records linking to them, the audit entries
//! about them decrypted; audited) and `erasePersonalData(subject)` (personal fields cleared,
//! subject keys destroyed: old audit values become unreadable while the chain still verifies;
//! one transaction, audited without the values). The owner: `exportTenant` (the whole tenant
//! as one JSON document, without secrets), `deleteTenant` (scheduled after the grace period
//! `TENANT_DELETION_GRACE`, the tenant read-only meanwhile), `cancelTenantDeletion`; and
//! `tenantDeletion` shows what is scheduled. The read-only state is the schema extension's
//! (`tenant::ALLOWED_WHILE_DELETING`).

use async_graphql::Value;
use async_graphql::dynamic::{
    Field, FieldFuture, FieldValue, InputObject, InputValue, Object, Type, TypeRef,
};
use entity::features::gdpr::tenant::{self, Deletion};
use entity::features::gdpr::{self, Erasure, Subject, SubjectInput};
use entity::runtime::naming::{fields as f, types as t};

use crate::error::ApiError;
use crate::schema::args::arg_json;
use crate::schema::ctx;
use crate::schema::feature::{Declared, Slot, admin_types};
use crate::schema::values::{s, sync_field, ts};
use crate::services::Txn;

fn types() -> Vec<Type> {
    let int = || TypeRef::named_nn(TypeRef::INT);
    vec![
        InputObject::new(t::PERSONAL_DATA_SUBJECT)
            .description(
                "A data subject: an email address or a phone number (every record whose personal EMAIL or \
                 PHONE field holds it), or one record (`entity` and `id`). Give exactly one.",
            )
            .field(InputValue::new("email", TypeRef::named(TypeRef::STRING)))
            .field(InputValue::new("phone", TypeRef::named(TypeRef::STRING)))
            .field(InputValue::new("entity", TypeRef::named(TypeRef::STRING)).description("nameSingular"))
            .field(InputValue::new("id", TypeRef::named(TypeRef::ID)))
            .into(),
        Object::new(t::PERSONAL_DATA_ERASURE)
            .description("What `erasePersonalData` did.")
            .field(
                sync_field::<Erasure>("records", int(), |e| Some(Value::from(e.records)))
                    .description("Subject records whose personal fields were erased."),
            )
            .field(
                sync_field::<Erasure>("fields", int(), |e| Some(Value::from(e.fields)))
                    .description("Values erased."),
            )
            .field(
                sync_field::<Erasure>("keysDestroyed", int(), |e| Some(Value::from(e.keys_destroyed)))
                    .description(
                        "Subject keys destroyed: the audit values sealed under them are unreadable.",
                    ),
            )
            .into(),
        Object::new(t::TENANT_DELETION)
            .description(
                "The tenant's scheduled deletion; the tenant is read-only until it runs or is cancelled.",
            )
            .field(sync_field::<Deletion>("scheduled", TypeRef::named_nn(TypeRef::BOOLEAN), |d| {
                Some(Value::from(d.due_at.is_some()))
            }))
            .field(sync_field::<Deletion>("requestedAt", TypeRef::named(t::DATE_TIME), |d| {
                d.requested_at.as_ref().and_then(ts)
            }))
            .field(
                sync_field::<Deletion>("dueAt", TypeRef::named(t::DATE_TIME), |d| {
                    d.due_at.as_ref().and_then(ts)
                })
                .description("When every row of the tenant is deleted."),
            )
            .field(sync_field::<Deletion>("requestedBy", TypeRef::named(TypeRef::ID), |d| {
                d.requested_by.as_deref().and_then(s)
            }))
            .into(),
    ]
}

/// The `subject` argument.
fn subject(c: &async_graphql::dynamic::ResolverContext<'_>) -> async_graphql::Result<Subject> {
    let raw = arg_json(c, "subject")?.unwrap_or_default();
    let input: SubjectInput =
        serde_json::from_value(raw).map_err(|e| ApiError::BadRequest(format!("subject: {e}")))?;
    Subject::parse(input).map_err(|e| ApiError::from(e).into())
}

/// Refused unless the caller is the tenant's owner.
pub(crate) fn require_owner(c: &async_graphql::dynamic::ResolverContext<'_>) -> async_graphql::Result<()> {
    if ctx::principal(c)?.role == tenant::OWNER {
        Ok(())
    } else {
        Err(ApiError::Forbidden("only the tenant's owner may do this".into()).to_graphql())
    }
}

fn json(v: serde_json::Value) -> async_graphql::Result<Option<FieldValue<'static>>> {
    let v = Value::from_json(v).map_err(|e| ApiError::Internal(format!("export: {e}")))?;
    Ok(Some(FieldValue::value(v)))
}

fn queries() -> Vec<Field> {
    vec![
        Field::new(f::TENANT_DELETION, TypeRef::named_nn(t::TENANT_DELETION), |c| {
            FieldFuture::new(async move {
                ctx::require_admin(&c)?;
                let (state, p) = (ctx::state(&c)?, ctx::principal(&c)?);
                let d = state
                    .in_tenant(&p.tenant_id, Txn::Read, async |txn| tenant::status(txn, &p.tenant_id).await);
                Ok(Some(FieldValue::owned_any(d.await?)))
            })
        })
        .description("The tenant's scheduled deletion (`scheduled: false` when there is none)."),
    ]
}

fn mutations() -> Vec<Field> {
    let subject_arg = || InputValue::new("subject", TypeRef::named_nn(t::PERSONAL_DATA_SUBJECT));
    vec![
        Field::new(f::EXPORT_PERSONAL_DATA, TypeRef::named_nn(t::JSON), |c| {
            FieldFuture::new(async move {
                ctx::require_admin(&c)?;
                let (state, p, who) = (ctx::state(&c)?, ctx::principal(&c)?, subject(&c)?);
                let doc = gdpr::export(&state.db, &p.tenant_id, &ctx::actor(&c)?, &who).await;
                json(doc.map_err(ApiError::from)?)
            })
        })
        .argument(subject_arg())
        .description(
            "Everything the tenant holds about a data subject, as one JSON document: `records` (theirs), \
             `linkedRecords` (records whose relations point at theirs), `auditEntries` (about both, personal \
             values decrypted). The export is audited (ids and counts, no values).",
        ),
        Field::new(f::ERASE_PERSONAL_DATA, TypeRef::named_nn(t::PERSONAL_DATA_ERASURE), |c| {
            FieldFuture::new(async move {
                ctx::require_admin(&c)?;
                let (state, p, who) = (ctx::state(&c)?, ctx::principal(&c)?, subject(&c)?);
                let done = gdpr::erase(&state.db, &p.tenant_id, &ctx::actor(&c)?, &who).await;
                Ok(Some(FieldValue::owned_any(done.map_err(ApiError::from)?)))
            })
        })
        .argument(subject_arg())
        .description(
            "Erases a data subject in one transaction: the personal fields of their records are cleared (a \
             required one gets a pseudonym) and their keys destroyed, so the audit trail's old values for them \
             read `{\"erased\": true}` while `verifyAuditChain` stays ok. Audited without the values.",
        ),
        Field::new(f::EXPORT_TENANT, TypeRef::named_nn(t::JSON), |c| {
            FieldFuture::new(async move {
                require_owner(&c)?;
                let (state, p) = (ctx::state(&c)?, ctx::principal(&c)?);
                let doc = tenant::export(&state.db, &p.tenant_id, &ctx::actor(&c)?).await;
                json(doc.map_err(ApiError::from)?)
            })
        })
        .description(
            "The whole tenant as one JSON document (owner): definitions, every record, roles and users \
             (no password, invitation or second-factor secret). Audited.",
        ),
        Field::new(f::DELETE_TENANT, TypeRef::named_nn(t::TENANT_DELETION), |c| {
            FieldFuture::new(async move {
                require_owner(&c)?;
                let (state, p, actor) = (ctx::state(&c)?, ctx::principal(&c)?, ctx::actor(&c)?);
                let secs = i64::try_from(state.config.tenant_deletion_grace_secs).unwrap_or(i64::MAX);
                let grace = chrono::Duration::try_seconds(secs).unwrap_or(chrono::Duration::MAX);
                let d = state.db.dialect;
                let done = state
                    .in_tenant(&p.tenant_id, Txn::Write, async |txn| {
                        tenant::schedule(txn, d, &p.tenant_id, &actor, grace).await
                    })
                    .await?;
                Ok(Some(FieldValue::owned_any(done)))
            })
        })
        .description(
            "Schedules the tenant's deletion after the grace period (TENANT_DELETION_GRACE, 30 days by default; \
             owner). The tenant is read-only meanwhile; then every row of it is deleted.",
        ),
        Field::new(f::CANCEL_TENANT_DELETION, TypeRef::named_nn(t::TENANT_DELETION), |c| {
            FieldFuture::new(async move {
                require_owner(&c)?;
                let (state, p, actor) = (ctx::state(&c)?, ctx::principal(&c)?, ctx::actor(&c)?);
                let d = state.db.dialect;
                let done = state
                    .in_tenant(&p.tenant_id, Txn::Write, async |txn| tenant::cancel(txn, d, &p.tenant_id, &actor).await)
                    .await?;
                Ok(Some(FieldValue::owned_any(done)))
            })
        })
        .description("Cancels the tenant's scheduled deletion (owner): it is writable again."),
    ]
}

/// GDPR: data-subject requests (administrators) and the tenant's export and deletion (owner).
pub static FEATURE: Declared = Declared {
    queries: &[(Slot::Admin, |_| queries())],
    mutations: &[(Slot::Admin, |_| mutations())],
    types: |a| admin_types(a, types),
    ..Declared::EMPTY
};
