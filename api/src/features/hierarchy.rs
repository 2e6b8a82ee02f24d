//! Hierarchy scopes in the GraphQL layer (issue 16.1): `setUserAttributes` (administrators)
//! and `User.attributes`, the values row rules read as `$user.<key>`; `hierarchy` on field
//! definitions (the links `within` rules walk). The data layer is
//! `entity::features::users::attributes`.

use async_graphql::Value;
use async_graphql::dynamic::{
    Field, FieldFuture, FieldValue, InputObject, InputValue, ResolverContext, Type, TypeRef,
};
use entity::features::users::{UserView, accounts, attributes};
use entity::runtime::aggregate;
use entity::runtime::meta::EntityDef;
use entity::runtime::naming::hierarchy as names;
use entity::runtime::naming::types as t;
use entity::runtime::policy::Action;

use crate::admin::admin;
use crate::error::ApiError;
use crate::schema::args::{self, arg_json};
use crate::schema::ctx;
use crate::schema::definition_views::FieldDefView;
use crate::schema::feature::{Declared, Slot};
use crate::schema::loader::{Loaders, load_error, loaded_error};
use crate::schema::values::{json, sync_field};
use crate::services::Txn;

/// `User.attributes`: the caller's own come with their credential (no statement); other
/// users' are read from `user_attributes` through the request's loader, one statement for all
/// the users of a response (`users { attributes }`).
pub fn user_attributes_field() -> Field {
    Field::new(names::USER_ATTRIBUTES, TypeRef::named_nn(t::JSON), |c| {
        FieldFuture::new(async move {
            let u = c.parent_value.try_downcast_ref::<UserView>()?;
            if let Some(p) = c.data_opt::<crate::auth::principal::Principal>()
                && p.user_id == u.id
                && p.tenant_id == u.tenant_id
            {
                return Ok(json(&serde_json::Value::Object((*p.attributes).clone())));
            }
            let found = match c.data_opt::<Loaders>() {
                Some(loaders) if ctx::principal(&c)?.tenant_id == u.tenant_id => loaders
                    .attributes
                    .try_load(u.id.clone())
                    .await
                    .map_err(load_error)?
                    .map_err(loaded_error)?,
                // A user shown outside a tenant's request (an auth payload) is read alone.
                _ => {
                    let state = ctx::state(&c)?;
                    state
                        .in_tenant(&u.tenant_id, Txn::Read, async |txn| {
                            attributes::of_user(txn, &u.tenant_id, &u.id).await
                        })
                        .await?
                }
            };
            Ok(json(&serde_json::Value::Object(found)))
        })
    })
    .description(
        "Attributes an administrator set (company, plant, region…): row rules read them as `$user.<key>`.",
    )
}

/// What a hierarchy link is, for `FieldDefinition.hierarchy` and the field inputs.
const LINK_DOC: &str = "A RELATION linking each record to its parent in the tenant's hierarchy \
     (plant.company, department.plant): row rules may then use `within` (`{\"plant\": {\"within\": \"$user.company\"}}`: \
     the plant or any record below it). An entity has at most one link; marking or unmarking one rebuilds the hierarchy.";

/// `FieldDefinition.hierarchy`.
pub fn definition_field() -> Field {
    sync_field::<FieldDefView>(names::HIERARCHY, TypeRef::named_nn(TypeRef::BOOLEAN), |x| {
        Some(Value::from(x.def.hierarchy))
    })
    .description(LINK_DOC)
}

/// `hierarchy` on `FieldInput` and `UpdateFieldInput`.
pub fn link_input() -> InputValue {
    InputValue::new(names::HIERARCHY, TypeRef::named(TypeRef::BOOLEAN)).description(LINK_DOC)
}

/// `setUserAttributes(userId, attributes)`.
fn set_user_attributes() -> Field {
    Field::new(names::SET_USER_ATTRIBUTES, TypeRef::named_nn(t::USER), |c| {
        FieldFuture::new(async move {
            ctx::require_admin(&c)?;
            let (state, p, actor) = (ctx::state(&c)?, ctx::principal(&c)?, ctx::actor(&c)?);
            let user_id = args::string(&c, "userId")?;
            let given = arg_json(&c, "attributes")?.unwrap_or_default();
            let checked = attributes::check(&given).map_err(ApiError::from)?;
            let user = state
                .in_tenant(&p.tenant_id, Txn::Write, async |txn| {
                    let admin = admin(p, &actor);
                    attributes::set(txn, state.db.dialect, &admin, &user_id, checked).await?;
                    let found = accounts::by_id(txn, &p.tenant_id, std::slice::from_ref(&user_id)).await?;
                    found.into_iter().next().ok_or_else(|| entity::Error::NotFound("user".into()))
                })
                .await?;
            Ok(Some(FieldValue::owned_any(user)))
        })
    })
    .argument(InputValue::new("userId", TypeRef::named_nn(TypeRef::ID)))
    .argument(InputValue::new("attributes", TypeRef::named_nn(t::JSON)).description(
        "The user's attributes, replacing all earlier ones: `{\"plant\": \"<plant id>\", \"region\": \"west\"}` — \
         identifier keys (not `id`), each a string, number, boolean or a list of them; `{}` clears them.",
    ))
    .description(
        "Replaces a user's attributes (an object of identifier keys, each a string, number, boolean or a list of them). \
         Row rules read them as `$user.<key>`; a rule naming an attribute the user lacks matches no record.",
    )
}

/// `AncestorGroup`, the input of `groupByAncestor`.
fn ancestor_group() -> Type {
    InputObject::new(names::ANCESTOR_GROUP)
        .description("Groups an aggregate by the ancestor of a relation: `{field: \"plant\", entity: \"company\"}` counts each record under the company its plant belongs to (the group key is the entity's name).")
        .field(InputValue::new("field", TypeRef::named_nn(TypeRef::STRING)).description("A relation field of the aggregated entity."))
        .field(InputValue::new("entity", TypeRef::named_nn(TypeRef::STRING)).description("The ancestor's entity (its `nameSingular`)."))
        .into()
}

/// The `groupByAncestor` argument of an aggregate (`aggregate::AncestorGroup`), checked: the
/// caller must read the ancestor entity, whose ids become the group keys.
pub fn group_by_ancestor(
    c: &ResolverContext<'_>,
    view: &EntityDef,
) -> async_graphql::Result<Option<aggregate::AncestorGroup>> {
    let Some(g) = arg_json(c, names::GROUP_BY_ANCESTOR)? else { return Ok(None) };
    let text = |k: &str| g.get(k).and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
    let (field, up) = (text("field"), text("entity"));
    let (meta, p) = (&ctx::access(c)?.meta, ctx::principal(c)?);
    if !meta.entity_by_name(&up).is_some_and(|e| p.permissions.can(e, Action::Read)) {
        return Err(ApiError::BadRequest(format!("no entity named `{up}` to group by")).into());
    }
    Ok(Some(aggregate::AncestorGroup::of(view, meta, &field, &up).map_err(ApiError::from)?))
}

/// The `groupByAncestor` argument itself.
pub fn group_by_ancestor_arg() -> InputValue {
    InputValue::new(names::GROUP_BY_ANCESTOR, TypeRef::named(names::ANCESTOR_GROUP))
}

/// `setUserAttributes`, for administrators; `AncestorGroup`.
pub static FEATURE: Declared = Declared {
    mutations: &[(Slot::Admin, |_| vec![set_user_attributes()])],
    types: |_| vec![ancestor_group()],
    ..Declared::EMPTY
};
