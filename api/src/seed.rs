//! The demo tenant seeded on first start with an empty database: the corporate-CRM template
//! with a realistic data set — about 570 accounts, contacts, leads, deals, products,
//! activities, quotes, invoices and invoice lines, related to each other and created over the
//! past six months, so lists, filters, the pipeline and every widget of both dashboards (sales
//! and finance) have something sensible to show at once: deal amounts are baskets of products,
//! quotes follow their deals' stages, won deals are invoiced with one line per product, and
//! invoices are drafts, sent, paid or overdue by their age. Every record goes through the
//! store (numbering, audit, workflows); the data is generated from a fixed seed, so every demo
//! looks the same relative to its day. Nothing is seeded into a database that has a tenant, so
//! later starts add nothing.

use std::sync::Arc;

use chrono::{Datelike, Duration, NaiveDate};
use entity::models::tenant;
use entity::runtime::audit::Actor;
use entity::runtime::meta::{EntityDef, TenantMeta};
use entity::runtime::store::{Caller, Store, WriteRequest};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Map, Value, json};

use crate::auth::service::{self, SignupInput};
use crate::error::ApiError;
use crate::services::Services;

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

    /// An index drawn with the given weights.
    fn weighted(&mut self, weights: &[usize]) -> usize {
        let mut n = self.below(weights.iter().sum());
        for (i, w) in weights.iter().enumerate() {
            if n < *w {
                return i;
            }
            n -= w;
        }
        0
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
pub async fn demo_login_if_unchanged(state: &Services) -> Result<Option<DemoLogin>, ApiError> {
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
pub async fn seed_demo_if_empty(state: &Services) -> Result<Option<DemoLogin>, ApiError> {
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
    Ok(Some(demo_login()))
}

struct Demo<'a> {
    store: Store<'a>,
    meta: &'a TenantMeta,
    actor: &'a Actor,
    /// Every record made, with how many days ago it should look created.
    created: Vec<(String, i64)>,
}

/// A product as the deals' baskets and the invoice lines use it.
struct Product {
    id: String,
    name: &'static str,
    price: u64,
}

/// A deal, kept for its quote, invoice and activities.
struct DealSeed {
    id: String,
    title: String,
    account: String,
    contact: String,
    stage: String,
    /// Products and quantities; the deal's amount is their price before tax.
    basket: Vec<(usize, u64)>,
    amount: u64,
    created_ago: i64,
    /// Days since a closed deal closed (its `expected_close`).
    closed_ago: i64,
    /// Which won deal this is (0 for the first), for the spread of the finance dates.
    won: Option<usize>,
}

/// Weights of the deal stages in template order (Prospecting … Closed Lost): a healthy
/// pipeline with enough won deals for months of invoices.
const STAGE_WEIGHTS: &[usize] = &[3, 3, 3, 2, 5, 2];
/// Probability (%) of each stage, in the same order.
const STAGE_PROBABILITY: &[u64] = &[10, 25, 50, 75, 100, 0];
/// GST charged on every invoice line (the template's tax fields are Indian GST).
const TAX_RATE: u64 = 18;
/// Days an invoice is payable and a quote valid.
const TERMS_DAYS: i64 = 30;

/// `amount` with `TAX_RATE` added, rounded to the cent.
fn with_tax(amount: u64) -> u64 {
    (amount * (100 + TAX_RATE) + 50) / 100
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
        let caller = Caller::unrestricted(self.actor);
        let record = self
            .store
            .create(WriteRequest { meta: self.meta, entity: e, input: &input, owner: None, caller })
            .await?;
        self.created.push((record.id.clone(), days_ago));
        Ok(record.id)
    }

    async fn generate(&mut self) -> Result<(), ApiError> {
        let mut dice = Dice(0x00a1_7e47);
        // The demo tenant's time zone is UTC (as every signup's), so its "today" is UTC's.
        let today = chrono::Utc::now().date_naive();
        let products = self.products(&mut dice).await?;
        let contacts = self.accounts_and_contacts(&mut dice).await?;
        self.leads(&mut dice).await?;
        let deals = self.deals(&mut dice, today, &products, &contacts).await?;
        self.quotes_and_invoices(&mut dice, today, &products, &deals).await?;
        self.activities(&mut dice, &deals).await
    }

    async fn products(&mut self, dice: &mut Dice) -> Result<Vec<Product>, ApiError> {
        let product = self.entity("product")?;
        let mut made = Vec::new();
        for (i, name) in PRODUCT.iter().enumerate() {
            let days = dice.below(HISTORY_DAYS as usize) as i64;
            let price = 10_000 + dice.below(500) as u64 * 1_000;
            let category = dice.pick(&options(&product, "category")).clone();
            let v = json!({"name": name, "sku": format!("SKU-{:03}", i + 1), "category": category,
                "unitPrice": money(price), "taxRate": TAX_RATE, "active": true});
            made.push(Product { id: self.make(&product, v, days).await?, name, price });
        }
        Ok(made)
    }

    /// Accounts, then their contacts: returns each contact with its account.
    async fn accounts_and_contacts(&mut self, dice: &mut Dice) -> Result<Vec<(String, String)>, ApiError> {
        let (account, contact) = (self.entity("account")?, self.entity("contact")?);
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
        Ok(contacts)
    }

    async fn leads(&mut self, dice: &mut Dice) -> Result<(), ApiError> {
        let lead = self.entity("lead")?;
        let (statuses, sources) = (options(&lead, "status"), options(&lead, "source"));
        for i in 0..90 {
            let name = format!("{} {}", dice.pick(FIRST), dice.pick(LAST));
            let v = json!({"fullName": name, "email": format!("lead{i}@prospect.example"),
                "company": format!("{} {}", dice.pick(COMPANY), dice.pick(SUFFIX)),
                "status": dice.pick(&statuses), "source": dice.pick(&sources),
                "estimatedValue": money(100_000 + dice.below(5_000) as u64 * 1_000)});
            self.make(&lead, v, dice.below(HISTORY_DAYS as usize) as i64).await?;
        }
        Ok(())
    }

    /// Deals whose amounts are baskets of products. Open deals close in the coming weeks;
    /// closed ones closed in the past five months, and the won ones are spread so that every
    /// month has some: one in four closed this month (the first one today, so "won this
    /// month" is never empty), one in four three to thirty days ago, the rest one to five
    /// months ago.
    async fn deals(
        &mut self,
        dice: &mut Dice,
        today: NaiveDate,
        products: &[Product],
        contacts: &[(String, String)],
    ) -> Result<Vec<DealSeed>, ApiError> {
        let deal = self.entity("deal")?;
        let (stages, sources, reasons) =
            (options(&deal, "stage"), options(&deal, "source"), options(&deal, "lost_reason"));
        let weights: Vec<usize> =
            (0..stages.len()).map(|i| STAGE_WEIGHTS.get(i).copied().unwrap_or(1)).collect();
        let mut deals = Vec::new();
        let mut won = 0;
        for i in 0..90 {
            let (contact, account) = contacts[dice.below(contacts.len())].clone();
            let s = dice.weighted(&weights);
            let stage = stages[s].clone();
            let mut basket: Vec<(usize, u64)> = Vec::new();
            for _ in 0..1 + dice.below(3) {
                let p = dice.below(products.len());
                if !basket.iter().any(|(q, _)| *q == p) {
                    basket.push((p, 1 + dice.below(4) as u64));
                }
            }
            let amount = basket.iter().map(|(p, n)| products[*p].price * n).sum();
            let title = format!("{} #{}", products[basket[0].0].name, i + 1);
            let spread = dice.below(120) as i64;
            let (closed, closed_ago, won_index) = match stage.as_str() {
                "Closed Won" => {
                    let ago = match won % 4 {
                        _ if won == 0 => 0,
                        0 => dice.below(today.day() as usize) as i64,
                        1 => 3 + dice.below(27) as i64,
                        2 => 31 + spread / 2,
                        _ => 31 + spread,
                    };
                    won += 1;
                    (true, ago, Some(won - 1))
                }
                "Closed Lost" => (true, 30 + spread, None),
                _ => (false, 0, None),
            };
            let created_ago = if closed {
                (closed_ago + 7 + dice.below(30) as i64).min(HISTORY_DAYS)
            } else {
                dice.below(HISTORY_DAYS as usize) as i64
            };
            let close = if closed {
                today - Duration::days(closed_ago)
            } else {
                today + Duration::days(7 + dice.below(90) as i64)
            };
            let mut v = json!({"title": title, "stage": stage, "position": (i + 1) as f64 * 1024.0,
                "amount": money(amount), "probability": STAGE_PROBABILITY.get(s).copied().unwrap_or(50),
                "expectedClose": close.to_string(), "source": dice.pick(&sources),
                "account": account, "contact": contact});
            if stage == "Closed Lost" {
                v["lostReason"] = json!(dice.pick(&reasons));
            }
            let id = self.make(&deal, v, created_ago).await?;
            deals.push(DealSeed {
                id,
                title,
                account,
                contact,
                stage,
                basket,
                amount,
                created_ago,
                closed_ago,
                won: won_index,
            });
        }
        Ok(deals)
    }

    /// A quote for every deal past qualification (draft or sent while open, accepted when
    /// won, rejected or expired when lost), and for every won deal an invoice with one line
    /// per product, issued the day it closed: drafts for the last few days, sent while
    /// payable, then paid — or overdue for one in two of the won deals one to three months
    /// old. Both are made oldest first, so their numbers follow their dates.
    async fn quotes_and_invoices(
        &mut self,
        dice: &mut Dice,
        today: NaiveDate,
        products: &[Product],
        deals: &[DealSeed],
    ) -> Result<(), ApiError> {
        let (quote, invoice, line) =
            (self.entity("quote")?, self.entity("invoice")?, self.entity("invoice_line")?);
        // Proposals alternate draft and sent, losses rejected and expired.
        let (mut proposals, mut losses) = (0, 0);
        let mut quotes = Vec::new();
        for d in deals {
            let status = match d.stage.as_str() {
                "Proposal" => {
                    proposals += 1;
                    if proposals % 2 == 1 { "Draft" } else { "Sent" }
                }
                "Negotiation" => "Sent",
                "Closed Won" => "Accepted",
                "Closed Lost" => {
                    losses += 1;
                    if losses % 2 == 1 { "Rejected" } else { "Expired" }
                }
                _ => continue,
            };
            let ago = if d.won.is_some() || d.stage == "Closed Lost" {
                d.closed_ago + 1 + dice.below(6) as i64
            } else {
                dice.below(d.created_ago.min(20) as usize + 1) as i64
            }
            .min(d.created_ago);
            quotes.push((d, status, ago));
        }
        quotes.sort_by_key(|(_, _, ago)| -ago);
        let mut won = Vec::new();
        for (d, status, ago) in quotes {
            let quoted = today - Duration::days(ago);
            let valid_until = if status == "Expired" {
                today - Duration::days(d.closed_ago + 1)
            } else {
                quoted + Duration::days(TERMS_DAYS)
            };
            let v = json!({"title": format!("Quote for {}", d.title), "deal": d.id, "account": d.account,
                "contact": d.contact, "status": status, "total": money(d.amount),
                "validUntil": valid_until.max(quoted).to_string(), "terms": "Net 30; prices before GST."});
            let quote_id = self.make(&quote, v, ago).await?;
            if let Some(n) = d.won {
                won.push((d, n, quote_id));
            }
        }
        won.sort_by_key(|(d, n, _)| (-d.closed_ago, *n));
        for (d, n, quote_id) in won {
            let (issued, age) = (today - Duration::days(d.closed_ago), d.closed_ago);
            let lines: Vec<(&Product, u64, u64)> =
                d.basket.iter().map(|(p, k)| (&products[*p], *k, with_tax(products[*p].price * k))).collect();
            let total: u64 = lines.iter().map(|(_, _, t)| t).sum();
            let status = match age {
                0..3 => "Draft",
                3..=TERMS_DAYS => "Sent",
                _ if n % 8 == 2 => "Overdue",
                _ => "Paid",
            };
            let paid = if status == "Paid" { total } else { 0 };
            let v = json!({"account": d.account, "quote": quote_id, "status": status,
                "issueDate": issued.to_string(), "dueDate": (issued + Duration::days(TERMS_DAYS)).to_string(),
                "total": money(total), "amountPaid": money(paid)});
            let invoice_id = self.make(&invoice, v, age).await?;
            for (p, k, line_total) in lines {
                let v = json!({"invoice": invoice_id, "product": p.id, "description": p.name, "quantity": k,
                    "unitPrice": money(p.price), "taxRate": TAX_RATE, "lineTotal": money(line_total)});
                self.make(&line, v, age).await?;
            }
        }
        Ok(())
    }

    /// Follow-ups on deals due over the past and next month: the past ones are done, except
    /// one in six left open (overdue); the coming ones are open.
    async fn activities(&mut self, dice: &mut Dice, deals: &[DealSeed]) -> Result<(), ApiError> {
        let activity = self.entity("activity")?;
        let (kinds, priorities) = (options(&activity, "type"), options(&activity, "priority"));
        let now = chrono::Utc::now();
        for i in 0..120 {
            let d = &deals[dice.below(deals.len())];
            let hours = dice.below(24 * 60) as i64 - 24 * 30;
            let due = now + Duration::hours(hours);
            let done = due < now && dice.below(6) != 0;
            let v = json!({"type": dice.pick(&kinds), "subject": format!("Follow-up {}", i + 1),
                "priority": dice.pick(&priorities), "dueAt": entity::runtime::time::format(&due), "done": done,
                "deal": d.id, "account": d.account, "contact": d.contact});
            // Made some time in the deal's life, and before it was due.
            let made = (dice.below(d.created_ago as usize + 1) as i64).max(-hours / 24 + 1);
            self.make(&activity, v, made).await?;
        }
        Ok(())
    }
}

/// Gives the demo records their history: creation times spread over the past months (a demo
/// shortcut on the system connection; records made through the API are stamped by the store).
async fn backdate(state: &Services, tenant_id: &str, created: &[(String, i64)]) -> Result<(), ApiError> {
    let sys = &state.system_db;
    let txn = sys.begin_tenant_write(tenant_id).await?;
    let now = entity::runtime::time::now();
    for (i, (id, days)) in created.iter().enumerate() {
        let at = now - Duration::days(*days) - Duration::minutes((i as i64 * 37) % 600);
        entity::runtime::store::backdate(&txn, sys.dialect, tenant_id, id, at).await?;
    }
    txn.commit().await.map_err(ApiError::from)?;
    Ok(())
}
