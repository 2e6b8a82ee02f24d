//! Compiling a validated query document into a `Plan`: which records each root field reads,
//! with which argument values (variables left to bind per request), and which parts of them
//! the response shows, in selection order under their response keys. Anything outside the
//! plain data path makes the document not compilable (`None`), which is never an error: the
//! executor answers it.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use async_graphql::parser::types::{
    BaseType, ExecutableDocument, Field, OperationType, Selection, SelectionSet,
};
use async_graphql::{Name, Value, Variables};
/// A value as written in the document: variables not yet bound.
type Written = async_graphql_value::Value;
use entity::runtime::field_key::FieldKey;
use entity::runtime::meta::{FieldDef, FieldType};
use entity::runtime::store::ListArgs;

use super::{Plans, RootKind};
use crate::schema::access::{EntityAccess, SchemaAccess};

/// A compiled query: its variables, what each root field reads and shows, and its cost.
#[derive(Debug)]
pub struct Plan {
    pub(super) vars: Vec<Var>,
    pub(super) roots: Vec<Root>,
    /// The complexity the executor measured for this text (what rate limits charge).
    pub(super) cost: u64,
    /// The operation's name in the document (for the request log).
    pub(super) name: Option<Name>,
}

/// A declared variable of a scalar type the plan binds itself.
#[derive(Debug)]
pub(super) struct Var {
    name: Name,
    scalar: Scalar,
    nullable: bool,
    default: Option<Value>,
}

/// The variable types a plan binds; a document declaring any other runs in the executor.
#[derive(Debug, Clone, Copy)]
enum Scalar {
    Id,
    String,
    Int,
    Float,
    Boolean,
}

impl Scalar {
    fn of(name: &str) -> Option<Scalar> {
        Some(match name {
            "ID" => Scalar::Id,
            "String" => Scalar::String,
            "Int" => Scalar::Int,
            "Float" => Scalar::Float,
            "Boolean" => Scalar::Boolean,
            _ => return None,
        })
    }

    /// Whether `v` is a value of this type exactly as the resolvers read it (no coercion the
    /// executor would make or refuse: an Int for an ID, a string holding a NUL character —
    /// `inputs::prepare`).
    fn admits(self, v: &Value) -> bool {
        match (self, v) {
            (Scalar::Id | Scalar::String, Value::String(s)) => !s.contains('\0'),
            (Scalar::Int, Value::Number(n)) => n.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
            (Scalar::Float, Value::Number(_)) => true,
            (Scalar::Boolean, Value::Boolean(_)) => true,
            _ => false,
        }
    }
}

/// One root field of the query.
#[derive(Debug)]
pub(super) enum Root {
    Typename(Name),
    /// `deal(id:)`.
    One {
        key: Name,
        /// The entity's position in the tenant's `SchemaAccess` (plans are shared by the
        /// tenants that share the schema; each request reads its own tenant's entity).
        entity: usize,
        id: Written,
        record: RecordSel,
    },
    /// `deals(…)`: the arguments as written (variables bound per request).
    Many {
        key: Name,
        entity: usize,
        args: Vec<(Name, Written)>,
        /// Arguments written without variables are the same on every request: read once.
        constant: Option<OnceLock<Option<ListArgs>>>,
        items: Vec<ConnItem>,
    },
}

/// A field of a connection.
#[derive(Debug)]
pub(super) enum ConnItem {
    Typename(Name, String),
    Nodes(Name, RecordSel),
    Edges(Name, Vec<EdgeItem>),
    PageInfo(Name, Vec<PageItem>),
    TotalCount(Name),
}

impl ConnItem {
    /// Whether the lean columns of a page hold what this item shows (`RecordSel::lean`).
    pub(super) fn lean(&self) -> bool {
        match self {
            ConnItem::Nodes(_, sel) => sel.lean(),
            ConnItem::Edges(_, fields) => fields.iter().all(|f| match f {
                EdgeItem::Node(_, sel) => sel.lean(),
                EdgeItem::Typename(..) | EdgeItem::Cursor(_) => true,
            }),
            ConnItem::Typename(..) | ConnItem::PageInfo(..) | ConnItem::TotalCount(_) => true,
        }
    }
}

/// A field of an edge.
#[derive(Debug)]
pub(super) enum EdgeItem {
    Typename(Name, String),
    Cursor(Name),
    Node(Name, RecordSel),
}

/// A field of `PageInfo`.
#[derive(Debug)]
pub(super) enum PageItem {
    Typename(Name),
    HasNext(Name),
    HasPrevious(Name),
    Start(Name),
    End(Name),
}

/// The fields shown of one record.
#[derive(Debug)]
pub(super) struct RecordSel {
    pub type_name: String,
    pub items: Vec<RecordItem>,
}

/// A field of a record.
#[derive(Debug)]
pub(super) enum RecordItem {
    Typename(Name),
    Id(Name),
    RecordNumber(Name),
    CreatedAt(Name),
    UpdatedAt(Name),
    /// A stored value, shown as its declared type (non-null when the field is required).
    Value(Name, Box<FieldDef>),
    /// A to-one relation to a record of `target`, within the caller's row rule there.
    ToOne {
        key: Name,
        field_key: FieldKey,
        /// The target entity's position in the tenant's `SchemaAccess`.
        target: usize,
        record: RecordSel,
    },
}

impl RecordSel {
    /// Whether the lean columns of a page (`store::Columns::Lean`) hold everything this
    /// selection shows of its records (what it shows of their targets is read apart).
    pub(super) fn lean(&self) -> bool {
        !self.items.iter().any(|i| matches!(i, RecordItem::RecordNumber(_) | RecordItem::UpdatedAt(_)))
    }

    /// The stored keys of the to-one fields shown.
    pub(super) fn to_one_keys(&self) -> impl Iterator<Item = &FieldKey> {
        self.items.iter().filter_map(|i| match i {
            RecordItem::ToOne { field_key, .. } => Some(field_key),
            _ => None,
        })
    }
}

impl Plan {
    /// What a run of this plan is charged against rate limits: the complexity the executor
    /// measured when it answered the same text (the plan skips validation, which measures it).
    pub fn cost(&self) -> u64 {
        self.cost
    }

    /// The operation's name, when the document gives it one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The request's variable values as the executor would see them (given, else the
    /// declared default, else null), or `None` when one is not exactly of its declared type.
    pub(super) fn bind(&self, given: &Variables) -> Option<Vec<(Name, Value)>> {
        let mut out = Vec::with_capacity(self.vars.len());
        for v in &self.vars {
            let value = given.get(&v.name).or(v.default.as_ref()).cloned().unwrap_or(Value::Null);
            let ok = match &value {
                Value::Null => v.nullable,
                other => v.scalar.admits(other),
            };
            if !ok {
                return None;
            }
            out.push((v.name.clone(), value));
        }
        Some(out)
    }
}

/// Substitutes bound variables into an argument value, as the executor does.
pub(super) fn substitute(value: &Written, bound: &[(Name, Value)]) -> Value {
    // Variables outside the bound ones do not pass validation; null is the executor's answer
    // for an unset one.
    value
        .clone()
        .into_const_with(|name| {
            Ok::<_, std::convert::Infallible>(
                bound.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone()).unwrap_or(Value::Null),
            )
        })
        .unwrap_or(Value::Null)
}

/// The plan of `operation` in `doc`, or `None` when it is not a plain read.
pub(super) fn compile(
    doc: &ExecutableDocument,
    operation: Option<&str>,
    plans: &Plans,
    schema: &SchemaAccess,
) -> Option<Plan> {
    if !doc.fragments.is_empty() {
        return None;
    }
    let mut ops = doc.operations.iter().filter(|(name, _)| match operation {
        Some(wanted) => name.is_some_and(|n| n.as_str() == wanted),
        None => true,
    });
    let (name, op) = ops.next()?;
    if ops.next().is_some() {
        return None;
    }
    let op = &op.node;
    if op.ty != OperationType::Query || !op.directives.is_empty() {
        return None;
    }
    let mut vars = Vec::new();
    for def in &op.variable_definitions {
        let def = &def.node;
        let BaseType::Named(ty) = &def.var_type.node.base else { return None };
        if !def.directives.is_empty() {
            return None;
        }
        vars.push(Var {
            name: def.name.node.clone(),
            scalar: Scalar::of(ty.as_str())?,
            nullable: def.var_type.node.nullable,
            default: def.default_value.as_ref().map(|d| d.node.clone()),
        });
    }
    let mut roots = Vec::new();
    for f in fields(&op.selection_set.node)? {
        let key = f.response_key().node.clone();
        let name = f.name.node.as_str();
        if name == "__typename" {
            roots.push(Root::Typename(key));
            continue;
        }
        let (kind, entity) = *plans.roots.get(name)?;
        let access = schema.entities.get(entity)?;
        let root = match kind {
            RootKind::One => {
                let [(arg, id)] = f.arguments.as_slice() else { return None };
                if arg.node.as_str() != "id" {
                    return None;
                }
                let record = record_sel(schema, access, &f.selection_set.node)?;
                Root::One { key, entity, id: id.node.clone(), record }
            }
            RootKind::Many => {
                let args: Vec<(Name, Written)> =
                    f.arguments.iter().map(|(n, v)| (n.node.clone(), v.node.clone())).collect();
                let constant = args.iter().all(|(_, v)| v.clone().into_const().is_some()).then(OnceLock::new);
                let items = connection(schema, access, &f.selection_set.node)?;
                Root::Many { key, entity, args, constant, items }
            }
        };
        roots.push(root);
    }
    Some(Plan { vars, roots, cost: 1, name: name.cloned() })
}

/// The fields of a selection set, when it is plain: fields only (no fragments), no
/// directives, each response key once (the executor would merge repeated keys).
fn fields(set: &SelectionSet) -> Option<Vec<&Field>> {
    let mut keys = HashSet::new();
    let mut out = Vec::with_capacity(set.items.len());
    for item in &set.items {
        let Selection::Field(f) = &item.node else { return None };
        let f = &f.node;
        if !f.directives.is_empty() || !keys.insert(f.response_key().node.as_str()) {
            return None;
        }
        out.push(f);
    }
    Some(out)
}

/// A field without arguments (on types whose fields take none).
fn bare(f: &Field) -> Option<Name> {
    f.arguments.is_empty().then(|| f.response_key().node.clone())
}

fn connection(schema: &SchemaAccess, a: &Arc<EntityAccess>, set: &SelectionSet) -> Option<Vec<ConnItem>> {
    let n = a.names();
    let mut items = Vec::new();
    for f in fields(set)? {
        let key = bare(f)?;
        let sub = &f.selection_set.node;
        items.push(match f.name.node.as_str() {
            "__typename" => ConnItem::Typename(key, n.connection.clone()),
            "nodes" => ConnItem::Nodes(key, record_sel(schema, a, sub)?),
            "totalCount" => ConnItem::TotalCount(key),
            "pageInfo" => ConnItem::PageInfo(key, page_info(sub)?),
            "edges" => {
                let mut edge = Vec::new();
                for e in fields(sub)? {
                    let key = bare(e)?;
                    edge.push(match e.name.node.as_str() {
                        "__typename" => EdgeItem::Typename(key, n.edge.clone()),
                        "cursor" => EdgeItem::Cursor(key),
                        "node" => EdgeItem::Node(key, record_sel(schema, a, &e.selection_set.node)?),
                        _ => return None,
                    });
                }
                ConnItem::Edges(key, edge)
            }
            _ => return None,
        });
    }
    Some(items)
}

fn page_info(set: &SelectionSet) -> Option<Vec<PageItem>> {
    fields(set)?
        .into_iter()
        .map(|f| {
            let key = bare(f)?;
            Some(match f.name.node.as_str() {
                "__typename" => PageItem::Typename(key),
                "hasNextPage" => PageItem::HasNext(key),
                "hasPreviousPage" => PageItem::HasPrevious(key),
                "startCursor" => PageItem::Start(key),
                "endCursor" => PageItem::End(key),
                _ => return None,
            })
        })
        .collect()
}

fn record_sel(schema: &SchemaAccess, a: &Arc<EntityAccess>, set: &SelectionSet) -> Option<RecordSel> {
    let type_name = a.names().type_name;
    let mut items = Vec::new();
    for f in fields(set)? {
        let key = bare(f)?;
        let name = f.name.node.as_str();
        items.push(match name {
            "__typename" => RecordItem::Typename(key),
            "id" => RecordItem::Id(key),
            "recordNumber" => RecordItem::RecordNumber(key),
            "createdAt" => RecordItem::CreatedAt(key),
            "updatedAt" => RecordItem::UpdatedAt(key),
            _ => {
                // A field of the role's view; users (`createdBy`, `owner`) and reverse
                // relations are not on the compiled path.
                let def = a.view.fields.iter().find(|d| d.graphql_name == name)?;
                if def.ty == FieldType::Relation {
                    let target = schema.entity(def.related_entity_id.as_deref()?)?;
                    // Related records are read by id without their formulas' values (the
                    // executor reads a target with formulas through its entity's statement).
                    if target.full.fields.iter().any(|f| !f.is_stored()) {
                        return None;
                    }
                    RecordItem::ToOne {
                        key,
                        field_key: def.key.clone(),
                        target: target.index,
                        record: record_sel(schema, target, &f.selection_set.node)?,
                    }
                } else if def.ty == FieldType::File || !f.selection_set.node.items.is_empty() {
                    // FILE values are objects (`File`) whose missing parts the executor
                    // shows as null: not on the compiled path.
                    return None;
                } else {
                    RecordItem::Value(key, Box::new(def.clone()))
                }
            }
        });
    }
    Some(RecordSel { type_name, items })
}
