//! Compiled reads: the data path of a query without the GraphQL executor. The executor costs
//! far more CPU than the SQL it waits on (a boxed future, a `FieldValue` and a `Value` per
//! field of every row, then a tree serialized at the end); a query that only reads records
//! — lists, gets, their scalar fields, to-one relations, page info — needs none of that.
//!
//! Each compiled tenant schema keeps the plans of the query texts it has answered. The first
//! time a text runs it goes through the executor (which parses, validates and applies the
//! limits); when that succeeds without an error, the document is compiled into a `Plan` (or
//! remembered as not compilable: mutations, fragments, directives, fields outside the data
//! path). Later requests with the same text run the plan: the same `Store` calls the
//! resolvers make, with the same arguments, row rules and read connection, written straight
//! into the response body. A plan answers only when it can answer exactly as the executor
//! would; for anything else (a variable of another type, a stored value breaking a non-null
//! type, any error) it declines and the request takes the executor, which produces the
//! answer or the coded error. Plans belong to one schema (tenant, permissions, metadata
//! version), so a definition or permission change starts with none.

mod plan;
mod run;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub use plan::Plan;

use super::access::SchemaAccess;

/// Query texts remembered per schema; beyond this, new texts run through the executor only.
const MAX_PLANS: usize = 256;

/// What a root field of `Query` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RootKind {
    One,
    Many,
}

/// What is known of a query text.
pub enum Lookup {
    /// Never answered yet: run it through the executor, then `learn` it.
    Unknown,
    /// Runs through the executor (not a plain read).
    Executor,
    Plan(Arc<Plan>),
}

/// An operation name (none when the request names none) and its plan, or none when the
/// executor answers it.
type Known = (Option<String>, Option<Arc<Plan>>);

/// The plans of one compiled schema.
pub struct Plans {
    /// Root field name → what it reads, of the entity at this position in a tenant's
    /// `SchemaAccess`.
    roots: HashMap<String, (RootKind, usize)>,
    /// Query text → what is known of it per operation name asked.
    known: Mutex<HashMap<String, Vec<Known>>>,
}

impl Plans {
    pub fn new(access: &SchemaAccess) -> Self {
        let mut roots = HashMap::new();
        for a in &access.entities {
            let n = a.names();
            roots.insert(n.query_one, (RootKind::One, a.index));
            roots.insert(n.query_many, (RootKind::Many, a.index));
        }
        Plans { roots, known: Mutex::new(HashMap::new()) }
    }

    /// What is known of `query` (with `operation`).
    pub fn lookup(&self, query: &str, operation: Option<&str>) -> Lookup {
        let Ok(known) = self.known.lock() else { return Lookup::Executor };
        let found = known.get(query).and_then(|ops| ops.iter().find(|(op, _)| op.as_deref() == operation));
        match found {
            None if known.len() >= MAX_PLANS => Lookup::Executor,
            None => Lookup::Unknown,
            Some((_, Some(plan))) => Lookup::Plan(plan.clone()),
            Some((_, None)) => Lookup::Executor,
        }
    }

    /// Compiles `query` after the executor answered it without an error (so the document is
    /// valid for this schema and within its limits) and remembers the outcome. `access` is
    /// the asking tenant's; any tenant sharing the schema reads alike, so the plan (which
    /// keeps entity positions and field keys, never ids) serves them all. `cost`: the
    /// complexity the executor measured, which every run of the plan is charged.
    pub fn learn(&self, query: &str, operation: Option<&str>, access: &SchemaAccess, cost: u64) {
        let plan = async_graphql::parser::parse_query(query)
            .ok()
            .and_then(|doc| plan::compile(&doc, operation, self, access))
            .map(|plan| Arc::new(Plan { cost, ..plan }));
        let Ok(mut known) = self.known.lock() else { return };
        if known.len() >= MAX_PLANS && !known.contains_key(query) {
            return;
        }
        let ops = known.entry(query.to_owned()).or_default();
        if !ops.iter().any(|(op, _)| op.as_deref() == operation) {
            ops.push((operation.map(str::to_owned), plan));
        }
    }

    /// How many query texts are remembered (for tests and metrics).
    pub fn len(&self) -> usize {
        self.known.lock().map(|k| k.len()).unwrap_or(0)
    }

    /// Whether no query text is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
