//! Reading the search entries: the predicate `search:` adds to a list (`push_match`) and the
//! ranked hits across entities of `globalSearch` (`global_statement`, read by `collect`; the
//! store runs it, `Store::global_search`). Both read
//! only the entries of the fields they are given — the caller's view of each entity, whose
//! unreadable fields are not there — so a word found only in a field the caller may not read
//! finds nothing. `global` also keeps to each entity's live records within the caller's row
//! rule.
//!
//! A search text is parsed once (`text::Query`) and written per backend: on PostgreSQL each
//! phrase is `phraseto_tsquery('simple', …)` (no stemming, no stop words) and alternatives are
//! joined with the tsquery `||`; on SQLite a phrase is an FTS5 phrase of the `body` column,
//! ANDed with the tenant's scope token (`t<tenant id>`) and, for a list, the entity's
//! (`e<id>`), so the FTS5 index intersects the tenant's postings with the words'. Ranks:
//! `ts_rank` on PostgreSQL, `-bm25` on SQLite (greater is better on both; a record's rank is
//! the sum over its matched fields); they are not comparable between the backends.

use sea_orm::QueryResult;

use super::text::Query;
use crate::runtime::filter::Filter;
use crate::runtime::meta::{EntityDef, FieldDef};
use crate::runtime::sql;
use crate::sql_buf::SqlBuf;
use crate::{Dialect, Result};

/// How a snippet marks the words that matched.
pub const MARK: (&str, &str) = ("<mark>", "</mark>");

/// The keys of `entity`'s fields whose entries searches read.
fn used_keys(entity: &EntityDef) -> Vec<String> {
    entity.fields.iter().filter(|f| FieldDef::search_used(f)).map(|f| f.key.to_string()).collect()
}

/// A scope token of the SQLite FTS5 table (its generated `scope` column): `t` or `e` and the
/// id without hyphens, as an FTS5 column filter.
fn scope_token(prefix: char, id: &str) -> String {
    format!("scope : \"{prefix}{}\"", id.replace('-', "").replace('"', "\"\""))
}

/// The FTS5 match of any of `phrases` within the tenant's (and the entity's) entries.
fn fts_match(tenant_id: &str, entity_id: Option<&str>, phrases: &[&str]) -> String {
    let mut scope = scope_token('t', tenant_id);
    if let Some(e) = entity_id {
        scope = format!("{scope} AND {}", scope_token('e', e));
    }
    // Phrases hold letters, digits and spaces only (`Query::parse`): nothing to escape.
    let any: Vec<String> = phrases.iter().map(|p| format!("body : \"{p}\"")).collect();
    format!("{scope} AND ({})", any.join(" OR "))
}

/// PostgreSQL: the tsquery matching any of `phrases`.
fn push_tsquery(buf: &mut SqlBuf, phrases: &[&str]) {
    buf.push("(");
    for (i, p) in phrases.iter().enumerate() {
        if i > 0 {
            buf.push(" || ");
        }
        buf.push("phraseto_tsquery('simple', ").bind((*p).to_owned()).push(")");
    }
    buf.push(")");
}

/// `FROM … WHERE` the tenant's entries (the entity's, `entity_id`, on SQLite, whose match
/// names it) that match any of `phrases`, aliased `s`.
fn push_matching(buf: &mut SqlBuf, tenant_id: &str, entity_id: Option<&str>, phrases: &[&str]) {
    match buf.dialect {
        Dialect::Postgres => {
            buf.push(" FROM record_search s WHERE s.tenant_id = ").bind(tenant_id.to_owned());
            buf.push(" AND s.doc @@ ");
            push_tsquery(buf, phrases);
        }
        Dialect::Sqlite => {
            // CROSS JOIN: SQLite then reads the match's postings first, and each entry by its
            // rowid, instead of every entry of the entity's fields each checked against it.
            buf.push(" FROM record_search_fts CROSS JOIN record_search s ON s.id = record_search_fts.rowid");
            buf.push(" WHERE record_search_fts MATCH ").bind(fts_match(tenant_id, entity_id, phrases));
            buf.push(" AND s.tenant_id = ").bind(tenant_id.to_owned());
        }
    }
}

/// `s.field_key IN (…)` of `keys` (never empty: callers pass fields that are searched).
fn push_keys(buf: &mut SqlBuf, keys: &[String]) {
    buf.push("s.field_key IN (");
    for (i, k) in keys.iter().enumerate() {
        if i > 0 {
            buf.push(", ");
        }
        buf.bind(k.clone());
    }
    buf.push(")");
}

/// `search:` of a list of `entity` (the caller's view) through the entries: the records that
/// have, for each required group, an entry of a searched field matching it, and none matching
/// an excluded phrase. `1 = 0` when nothing is searched or `q` has nothing to find.
pub fn push_match(buf: &mut SqlBuf, tenant_id: &str, entity: &EntityDef, q: &str) {
    let keys = used_keys(entity);
    let query = Query::parse(q);
    let Some(query) = query.filter(|_| !keys.is_empty()) else {
        buf.push("1 = 0");
        return;
    };
    let sub = |buf: &mut SqlBuf, phrases: &[&str], not: bool| {
        buf.push(if not { "id NOT IN (SELECT s.record_id" } else { "id IN (SELECT s.record_id" });
        push_matching(buf, tenant_id, Some(&entity.id), phrases);
        buf.push(" AND s.entity_id = ").bind(entity.id.clone()).push(" AND ");
        push_keys(buf, &keys);
        buf.push(")");
    };
    buf.push("(");
    for (i, group) in query.groups.iter().enumerate() {
        if i > 0 {
            buf.push(" AND ");
        }
        sub(buf, &group.iter().map(String::as_str).collect::<Vec<_>>(), false);
    }
    for phrase in &query.excluded {
        buf.push(" AND ");
        sub(buf, &[phrase.as_str()], true);
    }
    buf.push(")");
}

/// One entity `global` searches: the caller's view of it and row rule.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub entity: &'a EntityDef,
    pub row: Option<&'a Filter>,
}

/// A record `global` found.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub entity_id: String,
    pub record_id: String,
    /// The keys of the fields that matched, best first.
    pub fields: Vec<String>,
    /// The best field's text around the matched words, marked with `MARK`.
    pub snippet: Option<String>,
    pub rank: f64,
}

/// `1` when entry `s` matches any of `phrases`, else `0`.
fn push_flag(buf: &mut SqlBuf, tenant_id: &str, phrases: &[&str]) {
    buf.push("CASE WHEN ");
    match buf.dialect {
        Dialect::Postgres => {
            buf.push("s.doc @@ ");
            push_tsquery(buf, phrases);
        }
        Dialect::Sqlite => {
            buf.push("s.id IN (SELECT rowid FROM record_search_fts WHERE record_search_fts MATCH ");
            buf.bind(fts_match(tenant_id, None, phrases)).push(")");
        }
    }
    buf.push(" THEN 1 ELSE 0 END");
}

/// The statement of `global` (public so that the EXPLAIN test pins its plan): the tenant's
/// entries matching any phrase of `q`, of the searched fields of live records within each
/// scope's row rule, each flagged by the groups and exclusions it matches; kept for the records
/// whose entries match every group and no exclusion, with each record's total rank, best
/// first, at most `rows` entries. `None` when no scope has a searched field or `q` has nothing
/// to find.
pub fn global_statement(
    d: Dialect,
    tenant_id: &str,
    scopes: &[Scope<'_>],
    q: &str,
    rows: u64,
) -> Result<Option<sea_orm::Statement>> {
    let scopes: Vec<(&Scope<'_>, Vec<String>)> =
        scopes.iter().map(|s| (s, used_keys(s.entity))).filter(|(_, k)| !k.is_empty()).collect();
    let Some(query) = Query::parse(q).filter(|_| !scopes.is_empty()) else { return Ok(None) };
    let any = query.phrases();
    let flags = query.groups.len() + query.excluded.len();
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT h.entity_id, h.record_id, h.field_key, h.rank, h.total, ");
    match d {
        // The headline of the rows returned only (the outer query's): it reads the whole text.
        Dialect::Postgres => {
            buf.push("ts_headline('simple', h.snippet, ");
            push_tsquery(&mut buf, &any);
            let options =
                format!("StartSel={}, StopSel={}, MaxWords=16, MinWords=6, MaxFragments=1", MARK.0, MARK.1);
            buf.push(", ").bind(options).push(")");
        }
        Dialect::Sqlite => {
            buf.push("h.snippet");
        }
    }
    buf.push(" AS snippet FROM (SELECT y.*, SUM(y.rank) OVER w AS total");
    for i in 0..flags {
        buf.push(&format!(", MAX(y.m{i}) OVER w AS q{i}"));
    }
    buf.push(" FROM (SELECT s.entity_id, ");
    match d {
        Dialect::Postgres => {
            buf.push("CAST(s.record_id AS TEXT) AS record_id, s.field_key, CAST(ts_rank(s.doc, ");
            push_tsquery(&mut buf, &any);
            buf.push(") AS DOUBLE PRECISION) AS rank, s.body AS snippet");
        }
        Dialect::Sqlite => {
            buf.push("s.record_id AS record_id, s.field_key, -bm25(record_search_fts, 1.0, 0.0) AS rank, ");
            buf.push("snippet(record_search_fts, 0, ").bind(MARK.0.to_owned()).push(", ");
            buf.bind(MARK.1.to_owned()).push(", ").bind("…".to_owned()).push(", 16) AS snippet");
        }
    }
    let groups = query.groups.iter().map(|g| g.iter().map(String::as_str).collect::<Vec<_>>());
    let excluded = query.excluded.iter().map(|p| vec![p.as_str()]);
    for (i, phrases) in groups.chain(excluded).enumerate() {
        buf.push(", ");
        push_flag(&mut buf, tenant_id, &phrases);
        buf.push(&format!(" AS m{i}"));
    }
    push_matching(&mut buf, tenant_id, None, &any);
    buf.push(" AND (");
    for (i, (scope, keys)) in scopes.iter().enumerate() {
        if i > 0 {
            buf.push(" OR ");
        }
        buf.push("(s.entity_id = ").bind(scope.entity.id.clone()).push(" AND ");
        push_keys(&mut buf, keys);
        buf.push(" AND s.record_id IN (SELECT id FROM records WHERE ");
        let targets = scope.row.iter().flat_map(|f| f.targets());
        sql::push_scope_for(&mut buf, tenant_id, &scope.entity.id, targets)?;
        if let Some(row) = scope.row {
            buf.push(" AND ");
            sql::compile(&mut buf, row)?;
        }
        buf.push("))");
    }
    buf.push(")) y WINDOW w AS (PARTITION BY y.record_id)) h WHERE ");
    for i in 0..flags {
        let want = if i < query.groups.len() { 1 } else { 0 };
        buf.push(&format!("{}h.q{i} = {want}", if i > 0 { " AND " } else { "" }));
    }
    buf.push(" ORDER BY h.total DESC, h.record_id, h.rank DESC LIMIT ").push(&rows.to_string());
    Ok(Some(buf.into_statement()))
}

/// How many rows `global_statement` must return to hold the `first` best records whole: a
/// record's entries are adjacent in its order, at most one per searched field.
pub fn rows_for(scopes: &[Scope<'_>], first: u64) -> u64 {
    let most_fields = scopes.iter().map(|s| used_keys(s.entity).len()).max().unwrap_or(0) as u64;
    first.saturating_mul(most_fields.max(1))
}

/// The rows of `global_statement` as hits, one per record, in order.
pub fn collect(rows: &[QueryResult], first: usize) -> Result<Vec<Hit>> {
    let mut hits: Vec<Hit> = Vec::new();
    for r in rows {
        let record_id: String = r.try_get("", "record_id")?;
        let key: String = r.try_get("", "field_key")?;
        match hits.last_mut() {
            Some(h) if h.record_id == record_id => h.fields.push(key),
            _ => {
                if hits.len() == first {
                    break;
                }
                hits.push(Hit {
                    entity_id: r.try_get("", "entity_id")?,
                    record_id,
                    fields: vec![key],
                    snippet: r.try_get("", "snippet")?,
                    rank: r.try_get("", "total")?,
                });
            }
        }
    }
    Ok(hits)
}
