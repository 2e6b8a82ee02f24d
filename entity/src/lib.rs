//! The data layer of Alphery OS: SeaORM models of the platform tables and the runtime entity
//! engine (tenant metadata, value validation, the filter language and its SQL compilation, and
//! the record store). Everything that reads or writes tenant data goes through this crate, so
//! tenant scoping and validation live in exactly one place.

pub mod db;
pub mod dialect;
pub mod error;
pub mod features;
pub mod hex;
pub mod inline;
pub(crate) mod message;
pub mod models;
pub mod pipeline;
pub mod raw_pool;
pub mod runtime;
pub mod sealed;
pub mod sql_buf;
pub mod stats;
pub mod unreachable;

pub use db::{Db, ReadScope};
pub use dialect::Dialect;
pub use error::{Error, ErrorCode, FieldError, Moved, Result};
