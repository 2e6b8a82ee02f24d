//! Parsed GraphQL documents kept by query text. Clients send the same few query texts over and
//! over (a frontend's operations, an integration's mutation), and parsing one is a good share
//! of a small request's CPU (a create: about a tenth). Parsing depends on the text alone, not
//! on the tenant's schema, so one cache serves every schema; validation still runs per request
//! against the schema at hand. Bounded by entries and by text size; the least recently used
//! entry makes room.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use async_graphql::parser::types::ExecutableDocument;

/// Documents kept at most.
const CAPACITY: usize = 512;
/// Longer texts are parsed every time (a few large generated queries must not evict the rest).
const MAX_TEXT: usize = 16 * 1024;

struct Cache {
    docs: HashMap<String, (Arc<ExecutableDocument>, u64)>,
    clock: u64,
}

fn cache() -> &'static Mutex<Cache> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(Cache { docs: HashMap::new(), clock: 0 }))
}

/// The document parsed from `query` before, if kept (copied outside the lock).
pub fn get(query: &str) -> Option<ExecutableDocument> {
    let doc = {
        let mut c = cache().lock().ok()?;
        c.clock += 1;
        let now = c.clock;
        let (doc, used) = c.docs.get_mut(query)?;
        *used = now;
        Arc::clone(doc)
    };
    Some((*doc).clone())
}

/// Keeps `doc`, parsed from `query`.
pub fn put(query: &str, doc: &ExecutableDocument) {
    if query.len() > MAX_TEXT {
        return;
    }
    let doc = Arc::new(doc.clone());
    let Ok(mut c) = cache().lock() else { return };
    if c.docs.len() >= CAPACITY
        && let Some(oldest) = c.docs.iter().min_by_key(|(_, (_, used))| *used).map(|(k, _)| k.clone())
    {
        c.docs.remove(&oldest);
    }
    c.clock += 1;
    let now = c.clock;
    c.docs.insert(query.to_owned(), (doc, now));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> ExecutableDocument {
        async_graphql::parser::parse_query(q).expect("parses")
    }

    #[test]
    fn keeps_documents_by_text_and_drops_the_least_recently_used() {
        let first = "query First { a }";
        put(first, &parse(first));
        let kept = get(first).expect("kept");
        assert_eq!(format!("{:?}", kept.operations), format!("{:?}", parse(first).operations));
        // Fill the cache past its capacity while `first` stays in use: it survives, and the
        // least recently used of the others makes room.
        for i in 0..CAPACITY + 8 {
            let q = format!("query Q{i} {{ b{i} }}");
            put(&q, &parse(&q));
            assert!(get(first).is_some(), "evicted while in use after {i} inserts");
        }
        assert!(get("query Q0 { b0 }").is_none(), "the least recently used entry stayed");
        let long = format!("query Long {{ {} }}", "x ".repeat(MAX_TEXT));
        put(&long, &parse(&long));
        assert!(get(&long).is_none(), "a text over the size bound was kept");
    }
}
