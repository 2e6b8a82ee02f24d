//! The two SQL dialects the engine compiles to. A leaf: the connection (`db`), the statement
//! buffer (`sql_buf`) and whatever explains a failed connection (`unreachable`) all
//! name it, and it names none of them.

use sea_orm::{ConnectionTrait, DbBackend};

/// The two SQL dialects the engine compiles to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The dialect `conn` speaks (a transaction knows its backend), for code that is handed a
    /// connection and no `Db`. Only SQLite and PostgreSQL are ever connected (`Db::connect`).
    pub fn of(conn: &impl ConnectionTrait) -> Dialect {
        match conn.get_database_backend() {
            DbBackend::Postgres => Dialect::Postgres,
            _ => Dialect::Sqlite,
        }
    }

    /// The SeaORM backend that speaks this dialect.
    pub fn backend(self) -> DbBackend {
        match self {
            Dialect::Sqlite => DbBackend::Sqlite,
            Dialect::Postgres => DbBackend::Postgres,
        }
    }
}
