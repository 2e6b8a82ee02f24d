//! PostgreSQL only: `records.id` becomes a native `uuid` (issue 9): 16 bytes in the table and in
//! every index holding it, where `VARCHAR(36)` took 37. SQLite keeps the text. Every record id
//! the engine writes is a UUID in one text form, lowercase and hyphenated, which is also how
//! PostgreSQL prints a `uuid`: the ids read back exactly as before, and the audit chain, which
//! hashes them as text, verifies across the change. A database holding an id in any other form
//! (text the engine never wrote) fails the migration, naming how many and one of them, rather
//! than having its ids rewritten (a differently spelt UUID would read back changed). The
//! conversion rebuilds the indexes that hold `id` (the primary key, the list order, the index
//! slots); no policy, view, generated column, foreign key or function refers to the column, and
//! other tables' `record_id` columns stay text. The rewrite drops the column's statistics:
//! `ANALYZE` gathers them again.

use sea_orm_migration::prelude::*;

use crate::ddl;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The one text form of a stored record id.
const STORED_FORM: &str = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";

/// Fails when a record id is not in `STORED_FORM` (one line: `ddl::run` splits scripts at
/// semicolons that end one).
fn check() -> String {
    format!(
        "DO $$ DECLARE n bigint; example text; BEGIN \
         SELECT count(*), min(id) INTO n, example FROM records WHERE id !~ '{STORED_FORM}'; \
         IF n > 0 THEN RAISE EXCEPTION 'records.id cannot become uuid: % record id(s) are not lowercase hyphenated UUIDs, such as %', n, quote_literal(example) \
         USING HINT = 'The engine writes no such id; correct or delete those records, then migrate again.'; END IF; END $$"
    )
}

const UP: &str = "ALTER TABLE records ALTER COLUMN id TYPE uuid USING CAST(id AS uuid);\nANALYZE records";
const DOWN: &str =
    "ALTER TABLE records ALTER COLUMN id TYPE VARCHAR(36) USING CAST(id AS text);\nANALYZE records";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run_on_postgres(manager, &format!("{};\n{UP}", check())).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run_on_postgres(manager, DOWN).await
    }
}
