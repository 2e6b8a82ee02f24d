//! Lifecycles of SELECT fields: the options a record may start in, the moves between options
//! that are allowed, and which roles may make each move. A lifecycle is checked against the
//! field's options when the field is defined or changed (`definitions`), and on every record
//! write (`store::write`), where every path that sets a field ends — GraphQL creates and
//! updates, the CRM's `moveDeal`, workflow actions — so none can go around it.
//!
//! Rules: setting the value a record already has is no move. A value that the lifecycle does
//! not mention (an option added later, or a lifecycle added to a field with data) is treated
//! like no value: the record may move to any starting value, so existing data never gets
//! stuck. Clearing a value is a move the lifecycle never allows (it would be a way around it).
//! Role lists bind users; the system itself (templates, workflows) is bound by the moves only.

use serde_json::{Map, Value};

use super::meta::{FieldDef, FieldType};
use crate::error::{FieldError, Moved};
pub use def::{Lifecycle, Transition};

pub mod def;

impl Lifecycle {
    /// Parses a lifecycle as given (`null`: none) and checks it against the field: its type
    /// and options, and its default. Problems go to `errors` under `path`.
    pub fn parse(errors: &mut Vec<FieldError>, path: &str, f: &FieldDef, v: &Value) -> Option<Lifecycle> {
        if v.is_null() {
            return None;
        }
        let lifecycle: Lifecycle = match serde_json::from_value(v.clone()) {
            Ok(l) => l,
            Err(e) => {
                errors.push(FieldError::new(path, format!("invalid lifecycle: {e}")));
                return None;
            }
        };
        lifecycle.check(errors, path, f);
        Some(lifecycle)
    }

    /// The lifecycle fits the field: a SELECT whose options it names, whose default may start.
    pub fn check(&self, errors: &mut Vec<FieldError>, path: &str, f: &FieldDef) {
        if f.ty != FieldType::Select {
            errors.push(FieldError::new(path, "only SELECT fields take a lifecycle"));
            return;
        }
        let mut unknown = |at: String, value: &str| {
            if !f.options.iter().any(|o| o == value) {
                errors.push(FieldError::new(at, format!("`{value}` is not an option")));
            }
        };
        for (i, v) in self.initial.iter().enumerate() {
            unknown(format!("{path}.initial[{i}]"), v);
        }
        for (i, t) in self.transitions.iter().enumerate() {
            unknown(format!("{path}.transitions[{i}].from"), &t.from);
            unknown(format!("{path}.transitions[{i}].to"), &t.to);
        }
        for (i, t) in self.transitions.iter().enumerate() {
            if t.from == t.to {
                errors.push(FieldError::new(
                    format!("{path}.transitions[{i}]"),
                    "a move goes to another value (setting the same value is always allowed)",
                ));
            }
            if t.roles.iter().any(|r| r.trim().is_empty()) {
                errors.push(FieldError::new(
                    format!("{path}.transitions[{i}].roles"),
                    "role names are not empty",
                ));
            }
            if self.transitions[..i].iter().any(|o| o.from == t.from && o.to == t.to) {
                errors.push(FieldError::new(
                    format!("{path}.transitions[{i}]"),
                    format!("the move `{}` → `{}` is listed twice", t.from, t.to),
                ));
            }
        }
        if let Some(d) = f.default.as_ref().and_then(Value::as_str)
            && !self.initial.is_empty()
            && !self.initial.iter().any(|i| i == d)
        {
            errors.push(FieldError::new(format!("{path}.initial"), format!("must hold the default `{d}`")));
        }
    }

    /// Whether the lifecycle names `value` at all (as a start or an end of a move).
    fn mentions(&self, value: &str) -> bool {
        self.initial.iter().any(|v| v == value)
            || self.transitions.iter().any(|t| t.from == value || t.to == value)
    }

    /// The values a record holding `from` may be set to by `role` (`None`: the system), in
    /// the order of `options`; `from` itself is not listed.
    pub fn next(&self, options: &[String], from: Option<&str>, role: Option<&str>) -> Vec<String> {
        let allowed = |to: &str| match from.filter(|v| self.mentions(v)) {
            Some(from) => {
                self.transitions.iter().any(|t| t.from == from && t.to == to && role.is_none_or(|r| t.may(r)))
            }
            // No value yet, or one the lifecycle does not know: a starting value.
            None => self.initial.is_empty() || self.initial.iter().any(|i| i == to),
        };
        options.iter().filter(|o| Some(o.as_str()) != from && allowed(o)).cloned().collect()
    }
}

/// The lifecycle rules a write of `new` (over `old`, the record before an update; `None` for a
/// create) breaks, one error per field, naming the move and the values allowed instead.
pub fn check_write(
    fields: &[FieldDef],
    old: Option<&Map<String, Value>>,
    new: &Map<String, Value>,
    role: Option<&str>,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for f in fields {
        let Some(lifecycle) = &f.lifecycle else { continue };
        let before = old.and_then(|o| o.get(f.key.as_str())).and_then(Value::as_str);
        let after = new.get(f.key.as_str()).and_then(Value::as_str);
        if before == after {
            continue;
        }
        let allowed = lifecycle.next(&f.options, before, role);
        let refused = match after {
            Some(to) => !allowed.iter().any(|a| a == to),
            None => true,
        };
        if !refused {
            continue;
        }
        let message = match (before, after) {
            (_, None) => "cannot be cleared: its lifecycle allows no move to an empty value".to_owned(),
            (None, Some(to)) => format!("cannot start as `{to}`"),
            (Some(from), Some(to)) => {
                let by_role =
                    role.is_some() && lifecycle.transitions.iter().any(|t| t.from == from && t.to == to);
                if by_role {
                    format!("your role may not move it from `{from}` to `{to}`")
                } else {
                    format!("cannot move from `{from}` to `{to}`")
                }
            }
        };
        let message = if allowed.is_empty() {
            format!("{message} (no move is allowed)")
        } else {
            format!("{message} (allowed: {})", allowed.join(", "))
        };
        let moved = Moved { from: before.map(str::to_owned), to: after.map(str::to_owned), allowed };
        errors.push(FieldError::new(&f.graphql_name, message).with_move(moved));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::definitions::blank_field;
    use serde_json::json;

    fn status() -> FieldDef {
        let mut f = blank_field();
        f.ty = FieldType::Select;
        f.graphql_name = "status".into();
        f.options = ["New", "Admitted", "Treated", "Discharged"].map(str::to_owned).to_vec();
        f.lifecycle = Some(
            serde_json::from_value(json!({"initial": ["New"], "transitions": [
                {"from": "New", "to": "Admitted"},
                {"from": "Admitted", "to": "Treated", "roles": ["doctor"]},
                {"from": "Treated", "to": "Discharged"}]}))
            .expect("lifecycle"),
        );
        f
    }

    fn data(v: Option<&str>) -> Map<String, Value> {
        v.map(|v| Map::from_iter([("blank".to_owned(), json!(v))])).unwrap_or_default()
    }

    #[test]
    fn moves_follow_the_lifecycle_and_roles() {
        let f = status();
        let l = f.lifecycle.as_ref().expect("lifecycle");
        assert_eq!(l.next(&f.options, None, Some("member")), ["New"]);
        assert_eq!(l.next(&f.options, Some("Admitted"), Some("member")), Vec::<String>::new());
        assert_eq!(l.next(&f.options, Some("Admitted"), Some("doctor")), ["Treated"]);
        assert_eq!(l.next(&f.options, Some("Admitted"), None), ["Treated"]);
        let fields = [f];
        assert!(check_write(&fields, Some(&data(Some("New"))), &data(Some("New")), Some("x")).is_empty());
        assert!(
            check_write(&fields, Some(&data(Some("New"))), &data(Some("Admitted")), Some("x")).is_empty()
        );
        let refused = check_write(&fields, Some(&data(Some("New"))), &data(Some("Discharged")), Some("x"));
        assert_eq!(refused.len(), 1);
        let cleared = check_write(&fields, Some(&data(Some("New"))), &data(None), None);
        assert_eq!(cleared.len(), 1);
        assert_eq!(check_write(&fields, None, &data(Some("Treated")), None).len(), 1);
    }

    #[test]
    fn a_lifecycle_names_options_of_a_select() {
        let f = status();
        let mut errors = Vec::new();
        let bad = json!({"initial": ["Gone"], "transitions": [{"from": "New", "to": "Nope"}, {"from": "New", "to": "New"}]});
        Lifecycle::parse(&mut errors, "lifecycle", &f, &bad);
        let paths: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            paths,
            ["lifecycle.initial[0]", "lifecycle.transitions[0].to", "lifecycle.transitions[1]"]
        );
    }
}
