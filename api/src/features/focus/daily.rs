//! `dailyFocus(date)`: the caller's missions for a day — in their time zone (their profile's,
//! else the tenant's), `date` defaulting to today there — through their row rules and readable
//! fields (`entity::features::focus::eval`). What `focusChanged` pushes is made here too.

use std::sync::Arc;

use async_graphql::dynamic::{Field, FieldFuture, FieldValue, InputValue, Object, ResolverContext, TypeRef};
use chrono::NaiveDate;
use chrono_tz::Tz;
use entity::features::focus::eval::{self, Item, Scoped};
use entity::features::focus::placeholders::Clock;
use entity::runtime::naming::focus::{fields as f, types as t};
use entity::runtime::naming::types as platform;
use entity::runtime::store::Store;
use entity::runtime::time;

use crate::auth::principal::Principal;
use crate::error::ApiError;
use crate::schema::access::SchemaAccess;
use crate::schema::values::{parent, s, sync_field};
use crate::schema::{args, ctx};
use crate::services::Services;

/// A caller's list for one day.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Focus {
    pub date: NaiveDate,
    pub zone: Tz,
    pub items: Vec<Item>,
}

pub(super) fn focus_type() -> Object {
    Object::new(t::DAILY_FOCUS)
        .description("Your missions for a day, in order, each linking its records.")
        .field(
            sync_field::<Focus>("date", TypeRef::named_nn(platform::DATE), |x| {
                s(&x.date.format("%Y-%m-%d").to_string())
            })
            .description("The day, in `timeZone`."),
        )
        .field(
            sync_field::<Focus>("timeZone", TypeRef::named_nn(TypeRef::STRING), |x| s(x.zone.name()))
                .description("The time zone the day is in: your profile's, else the tenant's."),
        )
        .field(
            Field::new("items", TypeRef::named_nn_list_nn(t::FOCUS_ITEM), |c| {
                FieldFuture::new(async move {
                    let items = parent::<Focus>(&c)?.items.clone();
                    Ok(Some(FieldValue::list(items.into_iter().map(FieldValue::owned_any))))
                })
            })
            .description("The missions with at least one record, by position."),
        )
}

/// The `date` argument, if given.
pub(super) fn date_arg(c: &ResolverContext<'_>) -> Result<Option<NaiveDate>, ApiError> {
    args::opt_string(c, "date")?
        .map(|d| {
            NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                .map_err(|_| ApiError::BadRequest(format!("`date` must be a date (YYYY-MM-DD), not {d:?}")))
        })
        .transpose()
}

pub(super) fn date_argument() -> InputValue {
    InputValue::new("date", TypeRef::named(platform::DATE))
        .description("The day (default: today in your time zone); `$today` and the like stand for it.")
}

/// The caller's time zone: their profile's (read with their credential), else the tenant's.
pub(super) fn zone(p: &Principal, tenant_zone: Tz) -> Tz {
    p.time_zone.unwrap_or(tenant_zone)
}

/// Who asks, and for which day: what a list is evaluated for (kept by a subscription).
#[derive(Clone)]
pub(super) struct Asker {
    pub state: Services,
    pub principal: Principal,
    pub access: Arc<SchemaAccess>,
    pub date: NaiveDate,
    pub zone: Tz,
    /// No `date` was given: the day is today in `zone`, whenever that is asked (`roll`).
    pub follows_today: bool,
}

impl Asker {
    /// The caller of `c` for the day its `date` argument names (today in their zone if none).
    pub fn of(c: &ResolverContext<'_>) -> Result<Asker, ApiError> {
        let (state, p, access) = (ctx::state(c)?, ctx::principal(c)?, ctx::access(c)?);
        let zone = zone(p, access.meta.time_zone);
        let given = date_arg(c)?;
        let date = given.unwrap_or_else(|| Clock::today(zone, time::now_for(&p.tenant_id)));
        let (state, principal, access) = (state.clone(), p.clone(), access.clone());
        Ok(Asker { state, principal, access, date, zone, follows_today: given.is_none() })
    }

    /// Moves an asker that follows today to today as it is now (in its zone, on the tenant's
    /// clock); whether its day changed.
    pub fn roll(&mut self) -> bool {
        if !self.follows_today {
            return false;
        }
        let today = Clock::today(self.zone, time::now_for(&self.principal.tenant_id));
        std::mem::replace(&mut self.date, today) != today
    }

    /// How long until an asker that follows today sees its day turn: `None` when it never
    /// does by itself (a given date, or a pinned clock, which moves only when pinned anew).
    pub fn until_midnight(&self) -> Option<std::time::Duration> {
        let tenant = &self.principal.tenant_id;
        if !self.follows_today || time::is_pinned(tenant) {
            return None;
        }
        let now = time::now_for(tenant);
        Some((Clock::next_midnight(self.zone, now) - now).to_std().unwrap_or_default())
    }

    /// The rules that make the caller's list, each over an entity they read, with their view
    /// of it and their row rule on it.
    pub fn scoped(&self) -> Vec<Scoped<'_>> {
        let p = &self.principal;
        self.access
            .meta
            .focus
            .iter()
            .filter(|r| r.applies_to(&p.role_id))
            .filter_map(|rule| {
                let a = self.access.entities.iter().find(|a| a.full.name_singular == rule.entity)?;
                Some(Scoped { rule, view: &a.view, row: p.permissions.row_filter(&a.full, p.subject()) })
            })
            .collect()
    }

    /// The caller's list as it stands now (reads through `store`).
    pub async fn focus(&self, store: &Store<'_>) -> Result<Focus, ApiError> {
        let p = &self.principal;
        let clock = Clock {
            date: self.date,
            zone: self.zone,
            now: time::now_for(&p.tenant_id),
            user_id: p.user_id.clone(),
        };
        let items = eval::items(store, &self.scoped(), &clock).await?;
        Ok(Focus { date: self.date, zone: self.zone, items })
    }
}

/// `dailyFocus(date)`.
pub(super) fn query() -> Field {
    Field::new(f::DAILY_FOCUS, TypeRef::named_nn(t::DAILY_FOCUS), |c| {
        FieldFuture::new(async move {
            let asker = Asker::of(&c)?;
            let store = crate::schema::resolvers::store(&c)?;
            Ok(Some(FieldValue::owned_any(asker.focus(&store).await?)))
        })
    })
    .argument(date_argument())
    .description(
        "Your missions for a day (`Call 3 high-value leads`), in order, from your role's focus rules: \
         only records you may see count.",
    )
}
