//! Why a database could not be connected to, in words a person starting the server can act on:
//! a PostgreSQL database that was never created, a server that does not answer, a login it
//! refuses, a SQLite file whose directory is missing. The driver's own text (`database "…"
//! does not exist at line 948`, `(code: 14) unable to open database file`) names neither the
//! cause nor the fix, so it is only kept at the end.

use std::path::Path;
use std::str::FromStr;

use sea_orm::sqlx::postgres::PgConnectOptions;
use sea_orm::sqlx::sqlite::SqliteConnectOptions;
use sea_orm::{DbErr, RuntimeErr};

use crate::Error;
use crate::dialect::Dialect;

/// SQLSTATE `invalid_catalog_name`: the database named in the URL does not exist.
const NO_DATABASE: &str = "3D000";
/// SQLSTATE class 28 (`invalid_authorization_specification`, `invalid_password`).
const LOGIN_REFUSED: &str = "28";
/// SQLite's `SQLITE_CANTOPEN`.
const CANNOT_OPEN: &str = "14";

/// Explains a failure to connect to `url` as a `BadRequest` (a setting to change, not a fault of
/// the server); anything it does not recognise keeps the driver's words after a plain lead.
pub fn explain(url: &str, dialect: Dialect, e: DbErr) -> Error {
    let (code, driver) = match &e {
        DbErr::Conn(RuntimeErr::SqlxError(s)) => {
            let code = match s.as_ref() {
                sea_orm::sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
                _ => None,
            };
            (code, s.to_string())
        }
        other => (None, other.to_string()),
    };
    let message = match dialect {
        Dialect::Postgres => postgres(url, code.as_deref(), &driver),
        Dialect::Sqlite => sqlite(url, code.as_deref(), &driver),
    };
    Error::BadRequest(message)
}

fn postgres(url: &str, code: Option<&str>, driver: &str) -> String {
    let Ok(o) = PgConnectOptions::from_str(url) else {
        return format!("cannot connect to PostgreSQL: {driver}");
    };
    let (host, port, user) = (o.get_host(), o.get_port(), o.get_username());
    let database = o.get_database().unwrap_or(user);
    match code {
        Some(NO_DATABASE) => format!(
            "the PostgreSQL database \"{database}\" does not exist on {host}:{port}: create it \
             (createdb -h {host} -p {port} -U {user} {database}) and start again, or name an \
             existing database in DATABASE_URL"
        ),
        Some(c) if c.starts_with(LOGIN_REFUSED) => format!(
            "PostgreSQL on {host}:{port} refused the login of user \"{user}\": check the user and \
             password in DATABASE_URL ({driver})"
        ),
        _ if driver.contains("timed out") => format!(
            "cannot connect to PostgreSQL on {host}:{port}: no connection within the connect \
             timeout; is the server running there and accepting connections (not at its \
             max_connections), and does DATABASE_URL name the right host and port?"
        ),
        _ => format!("cannot connect to PostgreSQL on {host}:{port}: {driver}"),
    }
}

fn sqlite(url: &str, code: Option<&str>, driver: &str) -> String {
    let file = SqliteConnectOptions::from_str(url).map(|o| o.get_filename().to_path_buf()).ok();
    let Some(file) = file.filter(|f| code == Some(CANNOT_OPEN) && !f.as_os_str().is_empty()) else {
        return format!("cannot open the SQLite database: {driver}");
    };
    let dir = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return format!(
            "cannot open the SQLite database {}: the directory {} does not exist; create it \
             (mkdir -p {}) or name another file in DATABASE_URL",
            file.display(),
            dir.display(),
            dir.display()
        );
    }
    if !file.exists() {
        return format!(
            "the SQLite database {} does not exist: add ?mode=rwc to DATABASE_URL to create it \
             (sqlite://{}?mode=rwc)",
            file.display(),
            file.display()
        );
    }
    format!("cannot open the SQLite database {}: {driver} (check its permissions)", file.display())
}
