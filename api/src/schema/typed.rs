//! Typed GraphQL inputs beside the JSON inputs whose shape is closed (a role's `rules`, a
//! workflow's `trigger` and `actions`, a dashboard's `widgetList`): what they share. Code
//! generators and GraphiQL can build a value of a typed input from the schema alone; the JSON
//! input beside it stays accepted as it always was, and an input gives one or the other.
//!
//! A typed input is converted to exactly the JSON document its JSON twin takes, and that
//! document goes through the one parser and validator there is for it (no second validator),
//! so both forms store the same definition and are refused for the same reasons. Errors found
//! there name the JSON form's paths; `rename_paths` turns them into the typed input's.
//!
//! A member that takes one of several shapes (a trigger, an action, a widget) is a `@oneOf`
//! input object (`Union`) with one member per shape: `{recordCreated: {entity: "deal"}}` is
//! the JSON form's `{"type": "record_created", "entity": "deal"}`.

use async_graphql::dynamic::{Enum, InputObject, InputValue, Type, TypeRef};
use entity::FieldError;
use entity::runtime::naming::types as t;
use serde_json::{Map, Value};

use crate::error::ApiError;

/// What a member of a typed input holds.
#[derive(Clone, Copy)]
pub enum Kind {
    Text,
    Int,
    /// An open JSON value (its description says which shape).
    Json,
    /// A list of strings.
    Texts,
    /// A value of the named GraphQL enum: its JSON form is the lower-cased name
    /// (`THIS_WEEK` → `"this_week"`).
    Enum(&'static str),
    /// A list of values of the named GraphQL enum (lower-cased as `Enum`).
    Enums(&'static str),
    /// An input object of its own members (converted member by member).
    Object(&'static Nested),
}

/// An input object nested in a typed input (a widget's `orderBy`).
pub struct Nested {
    pub name: &'static str,
    pub doc: &'static str,
    pub members: &'static [Member],
}

/// One member of a typed input.
pub struct Member {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
    pub doc: &'static str,
}

/// A required member.
pub const fn req(name: &'static str, kind: Kind, doc: &'static str) -> Member {
    Member { name, kind, required: true, doc }
}

/// An optional member.
pub const fn opt(name: &'static str, kind: Kind, doc: &'static str) -> Member {
    Member { name, kind, required: false, doc }
}

impl Member {
    fn input_value(&self) -> InputValue {
        let name = match self.kind {
            Kind::Text | Kind::Texts => TypeRef::STRING,
            Kind::Int => TypeRef::INT,
            Kind::Json => t::JSON,
            Kind::Enum(name) | Kind::Enums(name) => name,
            Kind::Object(nested) => nested.name,
        };
        let ty = match (self.kind, self.required) {
            (Kind::Texts | Kind::Enums(_), true) => TypeRef::named_nn_list_nn(name),
            (Kind::Texts | Kind::Enums(_), false) => TypeRef::named_nn_list(name),
            (_, true) => TypeRef::named_nn(name),
            (_, false) => TypeRef::named(name),
        };
        InputValue::new(self.name, ty).description(self.doc)
    }

    /// The member's JSON form: enum names lower-cased (also in nested objects), everything
    /// else as given.
    fn to_json(&self, v: &Value) -> Value {
        match (self.kind, v) {
            (Kind::Enum(_) | Kind::Enums(_), _) => lower_enum(v),
            (Kind::Object(nested), Value::Object(given)) => Value::Object(nested.to_json(given)),
            _ => v.clone(),
        }
    }
}

impl Nested {
    fn to_json(&self, given: &Map<String, Value>) -> Map<String, Value> {
        let members = given.iter().filter(|(_, x)| !x.is_null());
        members
            .map(|(k, x)| {
                let value =
                    self.members.iter().find(|m| m.name == k).map_or_else(|| x.clone(), |m| m.to_json(x));
                (k.clone(), value)
            })
            .collect()
    }
}

/// The JSON form of an enum value or a list of them: the lower-cased name.
pub fn lower_enum(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(s.to_lowercase()),
        Value::Array(items) => Value::Array(items.iter().map(lower_enum).collect()),
        other => other.clone(),
    }
}

/// A GraphQL enum whose values are the upper-cased JSON names `names` (`this_week` →
/// `THIS_WEEK`), the inverse of `lower_enum`.
pub fn enum_type<'a>(name: &str, doc: &str, names: impl IntoIterator<Item = &'a str>) -> Enum {
    Enum::new(name).description(doc).items(names.into_iter().map(str::to_uppercase))
}

/// An input object with `members`.
pub fn input_object(name: &str, doc: &str, members: &[Member]) -> InputObject {
    members.iter().fold(InputObject::new(name).description(doc), |o, m| o.field(m.input_value()))
}

/// One shape of a `Union`: the `@oneOf` member `field`, the JSON form's `type` tag, and the
/// input type holding its members (shapes with the same members share one).
pub struct Shape {
    pub field: &'static str,
    pub tag: &'static str,
    pub input: &'static str,
    pub doc: &'static str,
    pub members: &'static [Member],
}

/// A `@oneOf` input object with one member per shape of a JSON document tagged by `type`.
pub struct Union {
    pub name: &'static str,
    pub doc: &'static str,
    pub shapes: &'static [Shape],
}

impl Union {
    /// The `@oneOf` input object and the input types of its shapes.
    pub fn types(&self) -> Vec<Type> {
        let one_of =
            self.shapes.iter().fold(InputObject::new(self.name).description(self.doc).oneof(), |o, s| {
                o.field(InputValue::new(s.field, TypeRef::named(s.input)).description(s.doc))
            });
        let mut out: Vec<Type> = vec![one_of.into()];
        let mut seen = std::collections::BTreeSet::new();
        for s in self.shapes.iter().filter(|s| seen.insert(s.input)) {
            let used_by: Vec<String> =
                self.shapes.iter().filter(|x| x.input == s.input).map(|x| format!("`{}`", x.field)).collect();
            let doc = format!("The members of a {} `{}`.", used_by.join(" or "), self.name);
            out.push(input_object(s.input, &doc, s.members).into());
        }
        let nested = self.shapes.iter().flat_map(|s| s.members).filter_map(|m| match m.kind {
            Kind::Object(n) => Some(n),
            _ => None,
        });
        for n in nested.filter(|n| seen.insert(n.name)) {
            out.push(input_object(n.name, n.doc, n.members).into());
        }
        out
    }

    /// The JSON form (`{"type": tag, …members}`) of `v`, a value of this union given at
    /// `path`. GraphQL validation has let through exactly one non-null member; anything else
    /// is refused here all the same rather than guessed at.
    pub fn to_json(&self, v: &Value, path: &str) -> Result<Value, FieldError> {
        let given: Vec<(&String, &Value)> =
            v.as_object().into_iter().flatten().filter(|(_, x)| !x.is_null()).collect();
        let shape = match given.as_slice() {
            [(field, _)] => self.shapes.iter().find(|s| s.field == field.as_str()),
            _ => None,
        };
        let (Some(shape), [(_, members)]) = (shape, given.as_slice()) else {
            let names: Vec<&str> = self.shapes.iter().map(|s| s.field).collect();
            return Err(FieldError::new(path, format!("give exactly one of {}", names.join(", "))));
        };
        let of_shape = Nested { name: shape.input, doc: shape.doc, members: shape.members };
        let mut out = Map::new();
        out.insert("type".into(), Value::from(shape.tag));
        out.extend(members.as_object().map(|m| of_shape.to_json(m)).unwrap_or_default());
        Ok(Value::Object(out))
    }

    /// The JSON form of a list of this union's values given at `path` (`actions[0]`, …);
    /// what cannot be converted is added to `errors`.
    pub fn list_to_json(&self, items: &[Value], path: &str, errors: &mut Vec<FieldError>) -> Value {
        let converted = items.iter().enumerate().map(|(i, item)| self.to_json(item, &format!("{path}[{i}]")));
        Value::Array(converted.filter_map(|r| r.map_err(|e| errors.push(e)).ok()).collect())
    }
}

/// How the error paths of a JSON form become the typed form's (`rename_paths`): `(from, to)`
/// pairs, the first match winning.
pub type Renames = Vec<(String, String)>;

/// Which form of an input was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// The JSON member.
    Json,
    /// One or more of the typed members.
    Typed,
    /// Neither (an update that keeps what is stored).
    Neither,
}

/// Which of `input`'s forms was given: its JSON member `json` or any of its typed members
/// `typed` (a null counts as absent). Giving both is refused, and giving neither when the
/// input needs one (`required`): `VALIDATION_FAILED` on `json`.
pub fn form(
    input: &Map<String, Value>,
    json: &str,
    typed: &[&str],
    required: bool,
) -> Result<Form, ApiError> {
    let given = |k: &str| input.get(k).is_some_and(|v| !v.is_null());
    let typed_names = typed.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
    match (given(json), typed.iter().any(|k| given(k))) {
        (true, true) => Err(ApiError::Validation(vec![FieldError::new(
            json,
            format!("give either `{json}` (JSON) or the typed {typed_names}, not both"),
        )])),
        (true, false) => Ok(Form::Json),
        (false, true) => Ok(Form::Typed),
        (false, false) if required => Err(ApiError::Validation(vec![FieldError::new(
            json,
            format!("is required: give `{json}` (JSON) or the typed {typed_names}"),
        )])),
        (false, false) => Ok(Form::Neither),
    }
}

/// `err` with its field errors named by the typed input instead of the JSON form it was
/// converted to: a path is renamed by the first `(from, to)` where it is `from` or begins
/// with `from` followed by `.` or `[`, `from` becoming `to`. Other errors are unchanged.
pub fn rename_paths(err: ApiError, renames: &[(String, String)]) -> ApiError {
    let ApiError::Validation(fields) = err else { return err };
    let rename = |path: String| {
        for (from, to) in renames {
            if let Some(rest) = path.strip_prefix(from.as_str())
                && (rest.is_empty() || rest.starts_with(['.', '[']))
            {
                return format!("{to}{rest}");
            }
        }
        path
    };
    ApiError::Validation(fields.into_iter().map(|f| FieldError::new(rename(f.field), f.message)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SHAPES: &[Shape] = &[Shape {
        field: "relativeDate",
        tag: "relative_date",
        input: "X",
        doc: "",
        members: &[req("field", Kind::Text, ""), opt("period", Kind::Enum("P"), "")],
    }];
    const U: Union = Union { name: "U", doc: "", shapes: SHAPES };

    #[test]
    fn a_union_value_becomes_the_tagged_json_form() {
        let v = json!({"relativeDate": {"field": "startsAt", "period": "THIS_WEEK", "other": null}});
        assert_eq!(
            U.to_json(&v, "p"),
            Ok(json!({"type": "relative_date", "field": "startsAt", "period": "this_week"}))
        );
        assert!(U.to_json(&json!({}), "p").is_err());
        assert!(U.to_json(&json!({"nope": {}}), "p").is_err());
    }

    #[test]
    fn paths_are_renamed_by_the_first_match() {
        let renames = [
            ("permissions.deal.fields.margin".to_owned(), "rules[0].fields[1].field".to_owned()),
            ("permissions.deal".to_owned(), "rules[0]".to_owned()),
        ];
        let err = ApiError::Validation(vec![
            FieldError::new("permissions.deal.fields.margin", "a"),
            FieldError::new("permissions.deal.where.x", "b"),
            FieldError::new("permissions.dealer", "c"),
        ]);
        let ApiError::Validation(out) = rename_paths(err, &renames) else { panic!("kept its kind") };
        let paths: Vec<&str> = out.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(paths, ["rules[0].fields[1].field", "rules[0].where.x", "permissions.dealer"]);
    }
}
