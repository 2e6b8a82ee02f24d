//! The demo tenant seeded on first start with an empty database: a small CRM (companies,
//! contacts, deals) with related records, so GraphiQL has something to show at once.

use std::sync::Arc;

use entity::models::tenant;
use entity::runtime::audit::Actor;
use entity::runtime::definitions::{Definitions, EntityInput};
use entity::runtime::meta::TenantMeta;
use entity::runtime::store::{Caller, Store};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

use crate::auth::service::{self, SignupInput};
use crate::error::ApiError;
use crate::state::AppState;

/// The demo login printed at start.
#[derive(Debug, Clone)]
pub struct DemoLogin {
    pub tenant: String,
    pub email: String,
    pub password: String,
}

pub const DEMO_TENANT: &str = "demo";
pub const DEMO_EMAIL: &str = "demo@alphery.local";
pub const DEMO_PASSWORD: &str = "alphery-demo";

fn entities() -> Vec<Value> {
    vec![
        json!({"nameSingular": "company", "namePlural": "companies", "labelSingular": "Company",
               "labelPlural": "Companies", "icon": "building", "fields": [
            {"key": "name", "label": "Name", "type": "TEXT", "required": true, "unique": true},
            {"key": "website", "label": "Website", "type": "URL"},
            {"key": "industry", "label": "Industry", "type": "SELECT",
             "options": ["Software", "Healthcare", "Manufacturing", "Retail"]},
            {"key": "employees", "label": "Employees", "type": "NUMBER", "validation": {"min": 0, "integer": true}}]}),
        json!({"nameSingular": "contact", "namePlural": "contacts", "labelSingular": "Contact",
               "labelPlural": "Contacts", "icon": "user", "recordNumberPrefix": "CON", "fields": [
            {"key": "full_name", "label": "Full name", "type": "TEXT", "required": true,
             "labels": {"es": "Nombre completo", "hi": "पूरा नाम"}},
            {"key": "email", "label": "Email", "type": "EMAIL", "unique": true},
            {"key": "phone", "label": "Phone", "type": "PHONE"},
            {"key": "company", "label": "Company", "type": "RELATION", "relatedEntity": "company"}]}),
        json!({"nameSingular": "deal", "namePlural": "deals", "labelSingular": "Deal",
               "labelPlural": "Deals", "icon": "handshake", "recordNumberPrefix": "DEAL", "fields": [
            {"key": "title", "label": "Title", "type": "TEXT", "required": true},
            {"key": "amount", "label": "Amount", "type": "CURRENCY"},
            {"key": "stage", "label": "Stage", "type": "SELECT", "required": true, "default": "Lead",
             "options": ["Lead", "Qualified", "Proposal", "Won", "Lost"]},
            {"key": "close_date", "label": "Close date", "type": "DATE"},
            {"key": "contact", "label": "Contact", "type": "RELATION", "relatedEntity": "contact"}]}),
    ]
}

/// Seeds the demo tenant when the database has no tenant at all.
pub async fn seed_demo_if_empty(state: &AppState) -> Result<Option<DemoLogin>, ApiError> {
    if tenant::Entity::find().count(&state.db.conn).await? > 0 {
        return Ok(None);
    }
    let auth = service::signup(
        state,
        SignupInput {
            tenant_name: "Demo Company".into(),
            tenant_slug: DEMO_TENANT.into(),
            email: DEMO_EMAIL.into(),
            password: DEMO_PASSWORD.into(),
            template: None,
        },
    )
    .await?;
    let tenant_id = auth.tenant.id.clone();
    let defs = Definitions::new(&state.db, &tenant_id).by(Actor::user(&auth.user.id, None));
    for e in entities() {
        let input: EntityInput =
            serde_json::from_value(e).map_err(|e| ApiError::Internal(format!("seed: {e}")))?;
        defs.define_entity(&input).await?;
    }
    let meta = Arc::new(TenantMeta::load_for(&state.db, &tenant_id).await?);
    let store = Store::new(&state.db, &tenant_id);
    let actor = Actor::user(&auth.user.id, None);
    let entity = |name: &str| {
        meta.entity_by_name(name).cloned().ok_or_else(|| ApiError::Internal(format!("seed: no {name}")))
    };
    let (company, contact, deal) = (entity("company")?, entity("contact")?, entity("deal")?);
    let obj = |v: Value| v.as_object().cloned().unwrap_or_default();
    let mut companies = Vec::new();
    for (name, site, industry, n) in [
        ("Acme Robotics", "https://acme.example", "Manufacturing", 420),
        ("Globex Health", "https://globex.example", "Healthcare", 1200),
        ("Initech", "https://initech.example", "Software", 85),
    ] {
        let input = obj(json!({"name": name, "website": site, "industry": industry, "employees": n}));
        companies.push(store.create(&meta, &company, &input, None, Caller::unrestricted(&actor)).await?.id);
    }
    let mut contacts = Vec::new();
    for (i, (name, email)) in [
        ("Ada Lovelace", "ada@acme.example"),
        ("Grace Hopper", "grace@globex.example"),
        ("Alan Turing", "alan@initech.example"),
        ("Katherine Johnson", "katherine@acme.example"),
        ("Edsger Dijkstra", "edsger@globex.example"),
    ]
    .into_iter()
    .enumerate()
    {
        let input = obj(json!({"fullName": name, "email": email, "phone": "+1 555 010 0000",
                               "company": companies[i % companies.len()]}));
        contacts.push(store.create(&meta, &contact, &input, None, Caller::unrestricted(&actor)).await?.id);
    }
    for (i, (title, amount, stage, date)) in [
        ("Robot arms for line 3", "48000.00", "Proposal", "2026-12-15"),
        ("Clinic scheduling suite", "125000.00", "Qualified", "2027-01-30"),
        ("Support renewal", "9900.50", "Won", "2026-10-01"),
        ("Warehouse sensors", "23500.00", "Lead", "2027-02-28"),
        ("Analytics add-on", "15000.00", "Lost", "2026-09-12"),
        ("Second site rollout", "87000.00", "Proposal", "2027-03-31"),
    ]
    .into_iter()
    .enumerate()
    {
        let input = obj(json!({"title": title, "amount": amount, "stage": stage, "closeDate": date,
                               "contact": contacts[i % contacts.len()]}));
        store.create(&meta, &deal, &input, None, Caller::unrestricted(&actor)).await?;
    }
    state.dispatcher.wake();
    Ok(Some(DemoLogin {
        tenant: DEMO_TENANT.into(),
        email: DEMO_EMAIL.into(),
        password: DEMO_PASSWORD.into(),
    }))
}
