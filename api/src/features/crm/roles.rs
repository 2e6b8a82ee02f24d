//! `crmRoles` (every role: which entities and fields play the CRM's parts, so a client knows
//! which entity is the pipeline) and `setCrmRoles(input)` (administrators: checked against the
//! definitions, stored, and the metadata version bumped, so `moveDeal`/`convertLead` follow
//! on every instance). A template may declare them too (`crmRoles` in its file).

use async_graphql::Value;
use async_graphql::dynamic::{
    Field, FieldFuture, FieldValue, InputObject, InputValue, Object, Type, TypeRef,
};
use entity::runtime::audit;
use entity::runtime::crm_roles::CrmRoles;
use entity::runtime::meta::TenantMeta;
use entity::runtime::naming::crm::{fields as f, types as t};

use crate::error::{ApiError, gql};
use crate::schema::args::arg_json;
use crate::schema::ctx;
use crate::schema::feature::admin_only;
use crate::schema::values::parent;

/// The parts, as (GraphQL name, required, list, what it is): the type's and the input's fields.
const PARTS: &[(&str, bool, bool, &str)] = &[
    ("pipeline", true, false, "The pipeline entity (deals, opportunities)."),
    ("stageField", false, false, "The pipeline's SELECT field holding the stage (default `stage`)."),
    ("positionField", false, false, "The pipeline's NUMBER field ordering a stage (default `position`)."),
    ("wonValue", false, false, "The stage meaning won."),
    ("lostValue", false, false, "The stage meaning lost."),
    ("lead", false, false, "The lead entity `convertLead` converts."),
    ("leadStatusField", false, false, "The lead's SELECT status field (default `status`)."),
    ("convertedValue", false, false, "The status of a converted lead (default `Converted`)."),
    ("account", false, false, "The account (company) entity."),
    ("contact", false, false, "The contact (person) entity."),
    ("activity", false, false, "The activity entity: its records are a timeline's notes."),
    (
        "timelineEntities",
        false,
        true,
        "The related entities a timeline shows records of (every one when null).",
    ),
];

/// The fields a stored role always has (filled by defaults).
const ALWAYS: &[&str] = &["pipeline", "stageField", "positionField", "leadStatusField", "convertedValue"];

fn type_ref(required: bool, list: bool) -> TypeRef {
    match (required, list) {
        (_, true) => TypeRef::named_nn_list(TypeRef::STRING),
        (true, false) => TypeRef::named_nn(TypeRef::STRING),
        (false, false) => TypeRef::named(TypeRef::STRING),
    }
}

/// `CrmRoles` and, for administrators, `CrmRolesInput`.
pub fn types(access: &crate::schema::access::SchemaAccess) -> Vec<Type> {
    let out = PARTS.iter().fold(
        Object::new(t::CRM_ROLES).description(
            "Which entities and fields play the CRM's parts (entity `nameSingular`s, field keys).",
        ),
        |o, &(name, _, list, doc)| {
            let ty = type_ref(ALWAYS.contains(&name), list);
            o.field(
                Field::new(name, ty, move |c| {
                    FieldFuture::new(async move {
                        match parent::<serde_json::Value>(&c)?.get(name) {
                            None | Some(serde_json::Value::Null) => Ok(None),
                            Some(v) => Ok(Some(FieldValue::value(Value::from_json(v.clone())?))),
                        }
                    })
                })
                .description(doc),
            )
        },
    );
    let mut types = vec![Type::from(out)];
    types.extend(admin_only(access, || {
        let input =
            PARTS.iter().fold(InputObject::new(t::CRM_ROLES_INPUT), |i, &(name, required, list, doc)| {
                i.field(InputValue::new(name, type_ref(required, list)).description(doc))
            });
        vec![Type::from(input)]
    }));
    types
}

fn shown(roles: &CrmRoles) -> Result<FieldValue<'static>, ApiError> {
    let v = serde_json::to_value(roles).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(FieldValue::owned_any(v))
}

/// `crmRoles`: the tenant's roles (the corporate CRM's names when none were set).
pub fn query() -> Field {
    Field::new(f::CRM_ROLES, TypeRef::named_nn(t::CRM_ROLES), |c| {
        FieldFuture::new(async move {
            let meta = &ctx::access(&c)?.meta;
            Ok(Some(shown(&meta.crm)?))
        })
    })
    .description("Which entities and fields play the CRM's parts (`moveDeal`, `convertLead`, `timeline`).")
}

/// `setCrmRoles(input)`: administrators only.
pub fn mutation() -> Field {
    Field::new(f::SET_CRM_ROLES, TypeRef::named_nn(t::CRM_ROLES), |c| {
        FieldFuture::new(async move {
            ctx::require_admin(&c)?;
            let (state, p) = (ctx::state(&c)?, ctx::principal(&c)?);
            let mut input = arg_json(&c, "input")?.unwrap_or_default();
            // A part given as null takes its default, as one left out does.
            if let serde_json::Value::Object(m) = &mut input {
                m.retain(|_, v| !v.is_null());
            }
            let roles: CrmRoles =
                serde_json::from_value(input).map_err(|e| ApiError::BadRequest(format!("input: {e}")))?;
            let txn = state.db.begin_tenant_write(&p.tenant_id).await.map_err(gql)?;
            // Checked against the definitions as they are in this transaction.
            let meta = TenantMeta::load(&txn, &p.tenant_id).await.map_err(gql)?;
            entity::features::crm::roles::save(&roles, &txn, state.db.dialect, &meta).await.map_err(gql)?;
            let entry = audit::Entry {
                action: "crm.roles",
                object_type: "tenant",
                object_id: Some(&p.tenant_id),
                changes: serde_json::to_value(&roles).map_err(|e| ApiError::Internal(e.to_string()))?,
            };
            audit::append(&txn, state.db.dialect, &p.tenant_id, &ctx::actor(&c)?, &entry).await.map_err(gql)?;
            txn.commit().await.map_err(ApiError::from)?;
            Ok(Some(shown(&roles)?))
        })
    })
    .argument(InputValue::new("input", TypeRef::named_nn(t::CRM_ROLES_INPUT)))
    .description(
        "Sets which entities and fields play the CRM's parts (administrators): `moveDeal`, `convertLead` and `timeline` follow.",
    )
}
