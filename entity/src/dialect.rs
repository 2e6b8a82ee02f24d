//! The two SQL dialects the engine compiles to. A leaf: the connection (`db`), the statement
//! buffer (`runtime::sql::buf`) and whatever explains a failed connection (`unreachable`) all
//! name it, and it names none of them.

use sea_orm::DbBackend;

/// The two SQL dialects the engine compiles to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The SeaORM backend that speaks this dialect.
    pub fn backend(self) -> DbBackend {
        match self {
            Dialect::Sqlite => DbBackend::Sqlite,
            Dialect::Postgres => DbBackend::Postgres,
        }
    }
}
