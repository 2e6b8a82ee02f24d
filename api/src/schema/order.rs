//! Response objects in selection order (GraphQL spec, "Serialized Map Ordering": an object's
//! fields in the order its selection set names them, fragments expanded in place, a key
//! selected twice where it first appears). async-graphql 7 resolves the fields of an object
//! concurrently and writes each as it finishes (`FuturesUnordered`), so the root fields of a
//! query, and the fields of any object with one that waits (a relation through a loader),
//! came back in a different order from run to run. A `Shape`, the response keys of each
//! selection set in order, is read from the document once per request, and the executor's
//! answer is put in that order (`extension`). Compiled reads write in selection order
//! themselves.
//!
//! The schemas have object types only (no interfaces or unions), so once a document is valid
//! every fragment applies where it is spread; only `@skip` and `@include` decide what is
//! selected.

use async_graphql::parser::types::{
    Directive, ExecutableDocument, OperationDefinition, Selection, SelectionSet,
};
use async_graphql::{Name, Positioned, Value, Variables};

/// A value as written in the document: variables not yet bound.
type Written = async_graphql_value::Value;

/// Fragments and fields nest no deeper than this: the shape is read before validation, which
/// is what refuses fragment cycles.
const MAX_DEPTH: usize = 64;

/// The response keys of a selection set in order, each with the shape of its value (none for
/// a leaf).
#[derive(Debug, Default)]
pub struct Shape(Vec<(Name, Shape)>);

impl Shape {
    /// The shape of the answer to `operation` (the document's only one when `None`), `@skip`
    /// and `@include` read with `variables`; `None` when the document has no such operation
    /// (the request then fails anyway).
    pub fn of(doc: &ExecutableDocument, operation: Option<&str>, variables: &Variables) -> Option<Shape> {
        let mut ops = doc.operations.iter();
        let op = match operation {
            Some(wanted) => ops.find(|(name, _)| name.is_some_and(|n| n.as_str() == wanted))?.1,
            None => match (ops.next(), ops.next()) {
                (Some((_, op)), None) => op,
                _ => return None,
            },
        };
        let reader = Reader { doc, op: &op.node, variables };
        Some(reader.shape(&[&op.node.selection_set.node], 0))
    }

    /// Puts the objects of `value` (an answer of this shape) in selection order.
    pub fn apply(&self, value: &mut Value) {
        match value {
            Value::Object(map) => {
                if !self.in_order(map.keys()) {
                    let at = |k: &Name| self.0.iter().position(|(n, _)| n == k).unwrap_or(usize::MAX);
                    map.sort_by(|a, _, b, _| at(a).cmp(&at(b)));
                }
                for (key, sub) in &self.0 {
                    if !sub.0.is_empty()
                        && let Some(v) = map.get_mut(key)
                    {
                        sub.apply(v);
                    }
                }
            }
            Value::List(items) => {
                for item in items {
                    self.apply(item);
                }
            }
            _ => {}
        }
    }

    /// Whether `keys` come in this shape's order: one pass, as most objects already do.
    fn in_order<'k>(&self, mut keys: impl Iterator<Item = &'k Name>) -> bool {
        let mut expected = self.0.iter();
        keys.all(|k| expected.any(|(n, _)| n == k))
    }
}

/// Reads shapes from one operation of a document.
struct Reader<'a> {
    doc: &'a ExecutableDocument,
    op: &'a OperationDefinition,
    variables: &'a Variables,
}

impl<'a> Reader<'a> {
    /// The shape of `sets` merged (the selection sets of one response key).
    fn shape(&self, sets: &[&'a SelectionSet], depth: usize) -> Shape {
        let mut fields: Vec<(&'a Name, Vec<&'a SelectionSet>)> = Vec::new();
        for set in sets {
            self.collect(set, &mut fields, depth);
        }
        let shape = fields
            .into_iter()
            .map(|(key, subs)| {
                let leaf = depth >= MAX_DEPTH || subs.iter().all(|s| s.items.is_empty());
                (key.clone(), if leaf { Shape::default() } else { self.shape(&subs, depth + 1) })
            })
            .collect();
        Shape(shape)
    }

    /// The response keys of `set` in order, each with its selection sets, added to `out`
    /// (the spec's CollectFields).
    fn collect(&self, set: &'a SelectionSet, out: &mut Vec<(&'a Name, Vec<&'a SelectionSet>)>, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        for item in &set.items {
            if !self.included(item.node.directives()) {
                continue;
            }
            match &item.node {
                Selection::Field(f) => {
                    let key = &f.node.response_key().node;
                    let sub = &f.node.selection_set.node;
                    match out.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, subs)) => subs.push(sub),
                        None => out.push((key, vec![sub])),
                    }
                }
                Selection::InlineFragment(f) => self.collect(&f.node.selection_set.node, out, depth + 1),
                Selection::FragmentSpread(s) => {
                    if let Some(f) = self.doc.fragments.get(&s.node.fragment_name.node) {
                        self.collect(&f.node.selection_set.node, out, depth + 1);
                    }
                }
            }
        }
    }

    /// Whether `@skip`/`@include` keep a selection. An `if` that cannot be read keeps it
    /// (validation refuses such a document).
    fn included(&self, directives: &[Positioned<Directive>]) -> bool {
        directives.iter().all(|d| {
            let condition = d.node.get_argument("if").and_then(|v| self.boolean(&v.node));
            match d.node.name.node.as_str() {
                "skip" => condition != Some(true),
                "include" => condition != Some(false),
                _ => true,
            }
        })
    }

    fn boolean(&self, v: &Written) -> Option<bool> {
        match v {
            Written::Boolean(b) => Some(*b),
            Written::Variable(name) => {
                let given = self.variables.get(name).cloned();
                let default = || {
                    self.op
                        .variable_definitions
                        .iter()
                        .find(|d| d.node.name.node == *name)
                        .and_then(|d| d.node.default_value.as_ref().map(|v| v.node.clone()))
                };
                match given.or_else(default) {
                    Some(Value::Boolean(b)) => Some(b),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::Variables;

    use super::*;

    /// The keys of `shape`, nested ones as `key(…)`.
    fn keys(shape: &Shape) -> String {
        let parts: Vec<String> = shape
            .0
            .iter()
            .map(|(k, sub)| if sub.0.is_empty() { k.to_string() } else { format!("{k}({})", keys(sub)) })
            .collect();
        parts.join(" ")
    }

    fn shape(query: &str, operation: Option<&str>, variables: serde_json::Value) -> String {
        let doc = async_graphql::parser::parse_query(query).expect("parses");
        let variables = Variables::from_json(variables);
        Shape::of(&doc, operation, &variables).map(|s| keys(&s)).unwrap_or_else(|| "none".into())
    }

    #[test]
    fn keys_in_selection_order_with_fragments_merges_and_directives() {
        assert_eq!(shape("{ b a: x c { z y } }", None, serde_json::json!({})), "b a c(z y)");
        // A key selected again merges where it first appears; fragments expand in place.
        assert_eq!(
            shape("{ c { z } ...F b ... { a c { y } } } fragment F on Q { d }", None, serde_json::json!({})),
            "c(z y) d b a"
        );
        // @skip/@include with literals, variables and variable defaults.
        let q = "query($s: Boolean!, $i: Boolean = false) { a @skip(if: $s) b @include(if: $i) \
                 c @skip(if: false) d @include(if: true) a }";
        assert_eq!(shape(q, None, serde_json::json!({"s": true})), "c d a");
        assert_eq!(shape(q, None, serde_json::json!({"s": false, "i": true})), "a b c d");
        // The operation asked for; none when it is not there or not named among several.
        let two = "query One { a } query Two { b c }";
        assert_eq!(shape(two, Some("Two"), serde_json::json!({})), "b c");
        assert_eq!(shape(two, None, serde_json::json!({})), "none");
        assert_eq!(shape(two, Some("Three"), serde_json::json!({})), "none");
        // A fragment cycle (validation refuses it later) ends.
        assert_eq!(shape("{ ...A } fragment A on Q { a ...A }", None, serde_json::json!({})), "a");
    }

    #[test]
    fn puts_objects_and_lists_of_objects_in_order() {
        let doc = async_graphql::parser::parse_query("{ b a { y x } }").expect("parses");
        let shape = Shape::of(&doc, None, &Variables::default()).expect("a shape");
        let mut value =
            Value::from_json(serde_json::json!({"a": [{"x": 1, "y": 2}, {"y": 3, "x": 4}], "b": 0}))
                .expect("a value");
        shape.apply(&mut value);
        let text = serde_json::to_string(&value).expect("serializes");
        assert_eq!(text, r#"{"b":0,"a":[{"y":2,"x":1},{"y":3,"x":4}]}"#);
    }
}
