//! Dialect-aware DDL: statements are written once with `{ts}`, `{json}`, `{bool}`, `{serial}`
//! placeholders and expanded per backend. On SQLite every placeholder keeps TEXT affinity where
//! values must stay strings (timestamps, JSON), so the engine's fixed-format values compare
//! correctly as text.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

/// Expands the placeholders for `backend`.
pub fn expand(sql: &str, backend: DbBackend) -> String {
    let (ts, json, boolean, serial) = match backend {
        DbBackend::Postgres => ("TIMESTAMPTZ", "JSONB", "BOOLEAN", "BIGSERIAL PRIMARY KEY"),
        _ => ("TEXT", "TEXT", "BOOLEAN", "INTEGER PRIMARY KEY AUTOINCREMENT"),
    };
    sql.replace("{ts}", ts).replace("{json}", json).replace("{bool}", boolean).replace("{serial}", serial)
}

/// Runs each statement of `script` (separated by `;` at the end of a line) after expansion.
pub async fn run(manager: &SchemaManager<'_>, script: &str) -> Result<(), DbErr> {
    let conn = manager.get_connection();
    let backend = conn.get_database_backend();
    for stmt in expand(script, backend).split(";\n") {
        let stmt = stmt.trim();
        if !stmt.is_empty() {
            conn.execute_unprepared(stmt).await?;
        }
    }
    Ok(())
}

/// `run` on PostgreSQL; nothing on SQLite (for what only PostgreSQL has: functions, GIN
/// indexes, function flags).
pub async fn run_on_postgres(manager: &SchemaManager<'_>, script: &str) -> Result<(), DbErr> {
    if manager.get_database_backend() == DbBackend::Postgres {
        run(manager, script).await?;
    }
    Ok(())
}

/// A PostgreSQL guard function `name(ok boolean)`: returns true when `ok` is, and otherwise
/// fails its statement with `message` and SQLSTATE `state` — for a write that checks a
/// condition inside its own statement. One line: `run` splits scripts at semicolons that end one.
pub fn guard_function(name: &str, message: &str, state: &str) -> String {
    let message = message.replace('\'', "''");
    format!(
        "CREATE OR REPLACE FUNCTION {name}(ok boolean) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN \
         IF ok IS NOT TRUE THEN RAISE EXCEPTION '{message}' USING ERRCODE = '{state}'; END IF; \
         RETURN true; END $$"
    )
}

/// A PostgreSQL script that marks the built-in `functions` (signatures) LEAKPROOF (`on`) or
/// NOT LEAKPROOF. Changing a built-in's flag needs a superuser: for another migrating user,
/// marking prints the statements for the DBA, with `why`, and unmarking does nothing.
pub fn leakproof(functions: &[&str], on: bool, why: &str) -> String {
    let flag = if on { "LEAKPROOF" } else { "NOT LEAKPROOF" };
    let alters: Vec<String> = functions.iter().map(|f| format!("ALTER FUNCTION {f} {flag};")).collect();
    let otherwise = if on {
        format!("ELSE RAISE NOTICE 'Run as a superuser: {} ({why})'; ", alters.join(" "))
    } else {
        String::new()
    };
    format!(
        "DO $$ BEGIN IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN {} {otherwise}END IF; END $$",
        alters.join(" ")
    )
}
