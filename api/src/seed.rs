//! The demo tenant seeded on first start with an empty database: the corporate-CRM template
//! with a realistic data set — about four hundred accounts, contacts, leads, deals, products
//! and activities, related to each other and created over the past six months, so lists,
//! filters, the pipeline and the dashboards' charts have something to show at once. The data
//! is generated from a fixed seed: every demo looks the same.

use std::sync::Arc;

use chrono::Duration;
use entity::models::tenant;
use entity::runtime::audit::Actor;
use entity::runtime::meta::{EntityDef, TenantMeta};
use entity::runtime::sql::SqlBuf;
use entity::runtime::store::{Caller, Store};
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait};
use serde_json::{Map, Value, json};

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

/// Days back the demo's records are spread over.
const HISTORY_DAYS: i64 = 180;

/// A small deterministic generator (64-bit LCG): the same demo every time, no dependency.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const FIRST: &[&str] = &[
    "Aarav", "Priya", "Liam", "Sofia", "Noah", "Mei", "Omar", "Elena", "Kenji", "Ana", "Ravi", "Chloe",
    "Diego", "Fatima", "Lucas", "Ingrid", "Kwame", "Yuki", "Mateo", "Zara",
];
const LAST: &[&str] = &[
    "Sharma", "Nguyen", "Smith", "Rossi", "Okafor", "Tanaka", "Garcia", "Müller", "Khan", "Silva", "Patel",
    "Johnson", "Kowalski", "Haddad", "Larsen",
];
const COMPANY: &[&str] = &[
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Tyrell",
    "Cyberdyne",
    "Wonka",
    "Aperture",
    "Massive",
    "Oscorp",
];
const SUFFIX: &[&str] = &["Industries", "Labs", "Health", "Logistics", "Retail", "Systems"];
const CITY: &[&str] =
    &["Mumbai", "Berlin", "Austin", "São Paulo", "Nairobi", "Singapore", "Toronto", "Madrid"];
const PRODUCT: &[&str] = &[
    "Starter plan",
    "Growth plan",
    "Enterprise plan",
    "Onboarding",
    "Premium support",
    "Data migration",
    "Analytics add-on",
    "API access",
    "Training day",
    "Hardware kit",
    "Sensor pack",
    "Custom integration",
];

/// The options of a SELECT field (empty when the field is missing).
fn options(e: &EntityDef, key: &str) -> Vec<String> {
    e.field_by_key(key).map(|f| f.options.clone()).unwrap_or_default()
}

fn money(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// The demo login while the demo user still has its seeded password: every start says how to
/// sign in, until someone changes it.
pub async fn demo_login_if_unchanged(state: &AppState) -> Result<Option<DemoLogin>, ApiError> {
    let (_, user) = service::find_login(state, DEMO_TENANT, DEMO_EMAIL).await?;
    let Some(user) = user.filter(|u| u.is_active) else { return Ok(None) };
    // A hash that does not parse is not the seeded one: start, without a hint.
    let unchanged = crate::auth::password::verify(DEMO_PASSWORD, Some(&user.password_hash)).await;
    Ok(matches!(unchanged, Ok(true)).then(demo_login))
}

fn demo_login() -> DemoLogin {
    DemoLogin { tenant: DEMO_TENANT.into(), email: DEMO_EMAIL.into(), password: DEMO_PASSWORD.into() }
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
            template: Some("corporate-crm".into()),
        },
    )
    .await?;
    let tenant_id = auth.tenant.id.clone();
    let meta = Arc::new(TenantMeta::load_for(&state.db, &tenant_id).await?);
    let actor = Actor::user(&auth.user.id, None);
    let mut demo =
        Demo { store: Store::new(&state.db, &tenant_id), meta: &meta, actor: &actor, created: Vec::new() };
    demo.generate().await?;
    backdate(state, &tenant_id, &demo.created).await?;
    state.dispatcher.wake();
    Ok(Some(demo_login()))
}

struct Demo<'a> {
    store: Store<'a>,
    meta: &'a TenantMeta,
    actor: &'a Actor,
    /// Every record made, with how many days ago it should look created.
    created: Vec<(String, i64)>,
}

impl Demo<'_> {
    fn entity(&self, name: &str) -> Result<Arc<EntityDef>, ApiError> {
        self.meta
            .entity_by_name(name)
            .cloned()
            .ok_or_else(|| ApiError::Internal(format!("demo: no entity {name}")))
    }

    async fn make(&mut self, e: &EntityDef, values: Value, days_ago: i64) -> Result<String, ApiError> {
        let input: Map<String, Value> = values.as_object().cloned().unwrap_or_default();
        let record = self.store.create(self.meta, e, &input, None, Caller::unrestricted(self.actor)).await?;
        self.created.push((record.id.clone(), days_ago));
        Ok(record.id)
    }

    async fn generate(&mut self) -> Result<(), ApiError> {
        let mut dice = Dice(0x00a1_7e47);
        let (product, account, contact) =
            (self.entity("product")?, self.entity("account")?, self.entity("contact")?);
        let (lead, deal, activity) = (self.entity("lead")?, self.entity("deal")?, self.entity("activity")?);
        let today = chrono::Utc::now().date_naive();
        for name in PRODUCT {
            let days = dice.below(HISTORY_DAYS as usize) as i64;
            let price = money(10_000 + dice.below(500) as u64 * 1_000);
            let category = dice.pick(&options(&product, "category")).clone();
            self.make(&product, json!({"name": name, "category": category, "unitPrice": price}), days)
                .await?;
        }
        let mut accounts = Vec::new();
        for i in 0..30 {
            let name = format!("{} {}", COMPANY[i % COMPANY.len()], SUFFIX[i % SUFFIX.len()]);
            let industry = dice.pick(&options(&account, "industry")).clone();
            let kind = dice.pick(&options(&account, "account_type")).clone();
            let days = dice.below(HISTORY_DAYS as usize) as i64;
            let v = json!({"name": name, "industry": industry, "accountType": kind, "city": dice.pick(CITY)});
            accounts.push((self.make(&account, v, days).await?, days));
        }
        let mut contacts = Vec::new();
        for i in 0..70 {
            let (acc, acc_days) = accounts[dice.below(accounts.len())].clone();
            let name = format!("{} {}", dice.pick(FIRST), dice.pick(LAST));
            let email =
                format!("contact{i}@{}.example", name.split(' ').next().unwrap_or("x").to_lowercase());
            let days = dice.below(acc_days as usize + 1) as i64;
            let v = json!({"fullName": name, "email": email, "jobTitle": "Buyer", "account": acc});
            contacts.push((self.make(&contact, v, days).await?, acc));
        }
        let (statuses, sources) = (options(&lead, "status"), options(&lead, "source"));
        for i in 0..90 {
            let name = format!("{} {}", dice.pick(FIRST), dice.pick(LAST));
            let v = json!({"fullName": name, "email": format!("lead{i}@prospect.example"),
                "company": format!("{} {}", dice.pick(COMPANY), dice.pick(SUFFIX)),
                "status": dice.pick(&statuses), "source": dice.pick(&sources),
                "estimatedValue": money(100_000 + dice.below(5_000) as u64 * 1_000)});
            self.make(&lead, v, dice.below(HISTORY_DAYS as usize) as i64).await?;
        }
        let stages = options(&deal, "stage");
        let mut deals = Vec::new();
        for i in 0..80 {
            let (c, acc) = contacts[dice.below(contacts.len())].clone();
            let days = dice.below(HISTORY_DAYS as usize) as i64;
            let close = today + Duration::days(dice.below(120) as i64 - 60);
            let v = json!({"title": format!("{} #{}", dice.pick(PRODUCT), i + 1), "stage": dice.pick(&stages),
                "position": (i + 1) as f64 * 1024.0, "amount": money(500_000 + dice.below(20_000) as u64 * 1_000),
                "expectedClose": close.to_string(), "account": acc, "contact": c});
            deals.push(self.make(&deal, v, days).await?);
        }
        let kinds = options(&activity, "type");
        for i in 0..120 {
            let d = &deals[dice.below(deals.len())];
            let due = chrono::Utc::now() + Duration::hours(dice.below(24 * 60) as i64 - 24 * 30);
            let v = json!({"type": dice.pick(&kinds), "subject": format!("Follow-up {}", i + 1),
                "dueAt": entity::runtime::time::format(&due), "done": due < chrono::Utc::now(), "deal": d});
            self.make(&activity, v, dice.below(HISTORY_DAYS as usize) as i64).await?;
        }
        Ok(())
    }
}

/// Gives the demo records their history: creation times spread over the past months (a demo
/// shortcut on the system connection; records made through the API are stamped by the store).
async fn backdate(state: &AppState, tenant_id: &str, created: &[(String, i64)]) -> Result<(), ApiError> {
    let sys = &state.system_db;
    let txn = sys.begin_tenant(tenant_id, true).await?;
    let now = entity::runtime::time::now();
    for (i, (id, days)) in created.iter().enumerate() {
        let at = now - Duration::days(*days) - Duration::minutes((i as i64 * 37) % 600);
        let mut buf = SqlBuf::new(sys.dialect);
        buf.push("UPDATE records SET created_at = ").bind_ts(at).push(", updated_at = ").bind_ts(at);
        buf.push(" WHERE tenant_id = ").bind(tenant_id.to_owned()).push(" AND id = ").bind(id.clone());
        txn.execute_raw(buf.into_statement()).await.map_err(entity::Error::from)?;
    }
    txn.commit().await.map_err(ApiError::from)?;
    Ok(())
}
