//! What the features' storage shares: reading, saving and deleting the one row of a tenant's
//! platform table that an id names, and finding the leased work whose worker died. Each statement names the tenant besides the id
//! (`tenant_id = … AND id = …`), as every statement on tenant data does: row-level security on
//! PostgreSQL is the second wall, not the only one.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::models::{
    approval_policy, approval_request, dashboard, email, import, webhook_delivery, workflow, workflow_run,
};
use crate::{Error, Result};

/// A platform table whose rows belong to a tenant and are named by a text id.
pub trait TenantRow: EntityTrait {
    const TENANT_ID: Self::Column;
    const ID: Self::Column;
    /// When the row was created (an update leaves it as it is).
    const CREATED_AT: Self::Column;
}

macro_rules! tenant_rows {
    ($($table:ident),+) => {$(
        impl TenantRow for $table::Entity {
            const TENANT_ID: $table::Column = $table::Column::TenantId;
            const ID: $table::Column = $table::Column::Id;
            const CREATED_AT: $table::Column = $table::Column::CreatedAt;
        }
    )+};
}

tenant_rows!(workflow, approval_policy, approval_request, dashboard);

/// `tenant_id = tenant_id AND id = id` on `E`.
pub fn named<E: TenantRow>(tenant_id: &str, id: &str) -> Condition {
    Condition::all().add(E::TENANT_ID.eq(tenant_id)).add(E::ID.eq(id))
}

/// The tenant's row `id` of `E`, as `T` (`None` when there is none).
pub async fn find<E, T>(conn: &impl ConnectionTrait, tenant_id: &str, id: &str) -> Result<Option<T>>
where
    E: TenantRow,
    T: TryFrom<E::Model, Error = Error>,
{
    E::find().filter(named::<E>(tenant_id, id)).one(conn).await?.map(T::try_from).transpose()
}

/// Inserts `row` (every column it sets: the tenant and id among them), or (`insert` false)
/// writes it over the tenant's row `id`, all but the tenant, the id and the creation time.
pub async fn save<E, A>(
    conn: &impl ConnectionTrait,
    mut row: A,
    insert: bool,
    tenant_id: &str,
    id: &str,
) -> Result<()>
where
    E: TenantRow,
    A: ActiveModelTrait<Entity = E> + Send,
{
    if insert {
        E::insert(row).exec_without_returning(conn).await?;
    } else {
        for kept in [E::TENANT_ID, E::ID, E::CREATED_AT] {
            row.not_set(kept);
        }
        E::update_many().set(row).filter(named::<E>(tenant_id, id)).exec(conn).await?;
    }
    Ok(())
}

/// Deletes the tenant's row `id` of `E`; whether there was one.
pub async fn delete<E: TenantRow>(conn: &impl ConnectionTrait, tenant_id: &str, id: &str) -> Result<bool> {
    Ok(E::delete_many().filter(named::<E>(tenant_id, id)).exec(conn).await?.rows_affected > 0)
}

/// A table of leased work (emails, webhook deliveries, workflow runs, imports): a worker holds a row
/// while its status is `HELD`, and `SINCE` is when it last showed life.
pub trait Leased: EntityTrait {
    const TENANT_ID: Self::Column;
    const ID: Self::Column;
    const STATUS: Self::Column;
    const HELD: &'static str;
    const SINCE: Self::Column;
}

macro_rules! leased {
    ($($table:ident: $held:literal since $since:ident),+) => {$(
        impl Leased for $table::Entity {
            const TENANT_ID: $table::Column = $table::Column::TenantId;
            const ID: $table::Column = $table::Column::Id;
            const STATUS: $table::Column = $table::Column::Status;
            const HELD: &'static str = $held;
            const SINCE: $table::Column = $table::Column::$since;
        }
    )+};
}

leased!(
    email: "sending" since ClaimedAt,
    webhook_delivery: "sending" since ClaimedAt,
    workflow_run: "running" since HeartbeatAt,
    import: "running" since HeartbeatAt
);

/// The rows of `E` still held with no sign of life since before `cutoff`, of every tenant:
/// (tenant, id), the oldest first, 500 at most.
pub async fn stale<E: Leased>(
    conn: &impl ConnectionTrait,
    cutoff: DateTime<Utc>,
) -> Result<Vec<(String, String)>> {
    Ok(E::find()
        .select_only()
        .columns([E::TENANT_ID, E::ID])
        .filter(E::STATUS.eq(E::HELD))
        .filter(E::SINCE.lt(cutoff))
        .order_by_asc(E::SINCE)
        .limit(500)
        .into_tuple()
        .all(conn)
        .await?)
}
