//! The CRM operations, present in a tenant's schema when its entities play the CRM's parts
//! (`CrmRoles`: the corporate CRM's names unless set otherwise) and the caller's role may do
//! them: `moveDeal(id, stage, position)` (a pipeline record's stage and its place within the
//! stage; order a stage with `orderBy: [{field: POSITION}]`), returning the pipeline entity's
//! type, and `convertLead(id): LeadConversion!` (contact, account and pipeline record from a
//! lead, in one transaction, with the lead's activities linked to them). Beside them: the
//! roles themselves (`roles`), a record's timeline (`timeline`) and its 360° view (`record360`).

pub mod record360;
pub mod roles;
pub mod timeline;

use std::sync::Arc;

use async_graphql::dynamic::{Field, FieldFuture, FieldValue, InputValue, Object, TypeRef};
use entity::features::crm::{Conversion, Conversions, Pipeline, Rows};
use entity::runtime::meta::EntityDef;
use entity::runtime::naming::{fields as f, types as t};
use entity::runtime::policy::Action;
use entity::runtime::record::Record;

use crate::error::ApiError;
use crate::schema::access::{EntityAccess, SchemaAccess};
use crate::schema::args;
use crate::schema::ctx;
use crate::schema::feature::{Declared, Slot};
use crate::schema::resolvers::{Write, store};
use crate::schema::values::parent;

/// The role's view of the entity playing a CRM part (`None` when no entity plays it).
fn entity<'a>(access: &'a SchemaAccess, name: Option<&str>) -> Option<&'a Arc<EntityAccess>> {
    access.entities.iter().find(|a| Some(a.full.name_singular.as_str()) == name)
}

/// A tenant whose definitions lack what its (shared) schema was built with: the registry's
/// content key makes this unreachable, so it is the server's fault, not the caller's.
fn unshaped(what: &str) -> async_graphql::Error {
    ApiError::Internal(format!("the tenant's definitions have no {what}")).to_graphql()
}

fn type_name(a: &EntityAccess) -> String {
    a.names().type_name
}

/// `moveDeal`, when the tenant has a pipeline and the role may update its records.
pub fn move_deal(access: &SchemaAccess) -> Option<Field> {
    Pipeline::of(&access.meta)?;
    let deal = entity(access, Some(access.meta.crm.pipeline.as_str())).filter(|a| a.update)?;
    Some(
        Field::new(f::MOVE_DEAL, TypeRef::named_nn(type_name(deal)), move |c| {
            FieldFuture::new(async move {
                // The tenant's own pipeline: the schema is shared by tenants that read alike.
                let access = ctx::access(&c)?;
                let meta = &access.meta;
                let pipeline = Pipeline::of(meta).ok_or_else(|| unshaped("a pipeline"))?;
                let deal = entity(access, Some(meta.crm.pipeline.as_str())).ok_or_else(|| unshaped("a pipeline"))?;
                let id = args::record_id(&c)?;
                let stage = args::string(&c, "stage")?;
                let position =
                    args::opt_int(&c, "position")?.map(|p| usize::try_from(p.max(0)).unwrap_or_default());
                // A move is an update: within the update rule, which may be narrower than what
                // the caller sees (the stage's order is taken from what they see).
                let w = Write::on(&c, deal, Action::Update)?;
                let store = store(&c)?;
                match pipeline.move_deal(&store, meta, w.caller(), w.read_rule(), &id, &stage, position).await {
                    Ok(moved) => Ok(Some(FieldValue::owned_any(moved))),
                    Err(e) => Err(w.refused(&store, &id, e).await),
                }
            })
        })
        .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID)))
        .argument(InputValue::new("stage", TypeRef::named_nn(TypeRef::STRING)))
        .argument(InputValue::new("position", TypeRef::named(TypeRef::INT)))
        .description("Moves a pipeline record (a deal) to a stage, at `position` (0-based) among that stage's records you see; default: last."),
    )
}

/// The parts a conversion needs: the role may update leads and create contacts, accounts and
/// pipeline records (and read them, so the result type can show them).
fn conversion_parts(access: &SchemaAccess) -> Option<[&Arc<EntityAccess>; 4]> {
    let roles = &access.meta.crm;
    let lead = entity(access, roles.lead.as_deref()).filter(|a| a.update)?;
    let contact = entity(access, roles.contact.as_deref()).filter(|a| a.create)?;
    let account = entity(access, roles.account.as_deref()).filter(|a| a.create)?;
    let deal = entity(access, Some(roles.pipeline.as_str())).filter(|a| a.create)?;
    Conversions::of(&access.meta)?;
    Some([lead, contact, account, deal])
}

/// `LeadConversion`, with `convertLead`.
pub fn conversion_type(access: &SchemaAccess) -> Option<Object> {
    let [lead, contact, account, deal] = conversion_parts(access)?;
    let part = |name: &str, ty: TypeRef, pick: fn(&Conversion) -> Option<&Record>| {
        Field::new(name, ty, move |c| {
            FieldFuture::new(async move {
                Ok(pick(parent::<Conversion>(&c)?).cloned().map(FieldValue::owned_any))
            })
        })
    };
    Some(
        Object::new(t::LEAD_CONVERSION)
            .field(part("lead", TypeRef::named_nn(type_name(lead)), |x| Some(&x.lead)))
            .field(part("contact", TypeRef::named_nn(type_name(contact)), |x| Some(&x.contact)))
            .field(part("account", TypeRef::named(type_name(account)), |x| x.account.as_ref()))
            .field(part("deal", TypeRef::named_nn(type_name(deal)), |x| Some(&x.deal))),
    )
}

/// `convertLead`, when the tenant has the CRM entities and the role may convert.
pub fn convert_lead(access: &SchemaAccess) -> Option<Field> {
    conversion_parts(access)?;
    Some(
        Field::new(f::CONVERT_LEAD, TypeRef::named_nn(t::LEAD_CONVERSION), move |c| {
            FieldFuture::new(async move {
                let access = ctx::access(&c)?;
                let meta = &access.meta;
                let conversions = Conversions::of(meta).ok_or_else(|| unshaped("the CRM entities"))?;
                let lead = entity(access, meta.crm.lead.as_deref()).ok_or_else(|| unshaped("a lead entity"))?;
                let id = args::record_id(&c)?;
                // Each write within its action's rule, which may be narrower than what the
                // caller sees: the lead's update above all (a lead they only read is refused).
                let converting = Write::on(&c, lead, Action::Update)?;
                let p = ctx::principal(&c)?;
                let rule = |e: &EntityDef, action: Action| p.permissions.write_rule(e, p.subject(), action);
                let rows = Rows {
                    lead: converting.rule(),
                    contact: rule(&conversions.contact, Action::Create),
                    account: rule(&conversions.account, Action::Create),
                    account_read: ctx::row_filter(&c, &conversions.account)?,
                    deal: rule(&conversions.deal, Action::Create),
                    activity: conversions.activity.as_ref().and_then(|a| rule(a, Action::Update)),
                };
                let actor = ctx::actor(&c)?;
                let store = store(&c)?;
                match conversions.convert(&store, meta, &actor, &rows, &id).await {
                    Ok(done) => Ok(Some(FieldValue::owned_any(done))),
                    Err(e) => Err(converting.refused(&store, &id, e).await),
                }
            })
        })
        .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID)))
        .description("Converts a lead: a contact, an account (from its company) and a pipeline record (a deal), linked, with the lead's activities; the lead takes the converted status (`crmRoles`)."),
    )
}

/// `moveDeal` and `convertLead`, when the tenant has the CRM's entities and the role may use
/// them; `crmRoles` and `setCrmRoles` (administrators); `timeline` and `record360`.
pub static FEATURE: Declared = Declared {
    queries: &[
        (Slot::Member, |_| vec![roles::query()]),
        (Slot::Records, |_| vec![timeline::query(), record360::query()]),
    ],
    mutations: &[
        (Slot::Admin, |_| vec![roles::mutation()]),
        (Slot::Records, |a| move_deal(a).into_iter().chain(convert_lead(a)).collect()),
    ],
    types: |a| {
        let mut types: Vec<async_graphql::dynamic::Type> =
            conversion_type(a).into_iter().map(Into::into).collect();
        types.extend(roles::types(a));
        types.extend(timeline::types());
        types.extend(record360::types());
        types
    },
    ..Declared::EMPTY
};
