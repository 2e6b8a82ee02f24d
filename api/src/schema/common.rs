//! Types every tenant schema shares: the scalars (`DateTime`, `Date`, `Decimal`, `JSON`), the
//! per-type filter inputs, `PageInfo`, `File`, the platform enums, and `Upload` (`upload`).

use async_graphql::Value;
use async_graphql::dynamic::{
    Enum, Field, FieldFuture, FieldValue, InputObject, InputValue, Object, Scalar, TypeRef,
};
use entity::runtime::formula;
use entity::runtime::meta::{FieldType, RelationKind};
use entity::runtime::naming::types as t;
use entity::runtime::rollup_fields;
use entity::runtime::value::FILE_ID;

use super::values::{LiveKind, PageInfoValue, parent};

/// What the `JSON` scalar's values are (its `@specifiedBy`).
pub const JSON_SPEC: &str = "https://www.rfc-editor.org/rfc/rfc8259";

/// Registers the shared types on a schema builder.
pub fn register(mut b: async_graphql::dynamic::SchemaBuilder) -> async_graphql::dynamic::SchemaBuilder {
    // Scalars accept strings (Decimal also integers); the resolvers validate the content so
    // that every bad field is reported together as VALIDATION_FAILED.
    b = b
        .register(
            Scalar::new(t::DATE_TIME)
                .description(
                    "RFC 3339 date-time; returned in UTC with milliseconds (2026-01-31T09:30:00.000Z).",
                )
                .validator(|v| matches!(v, Value::String(_))),
        )
        .register(
            Scalar::new(t::DATE)
                .description("Calendar date, YYYY-MM-DD.")
                .validator(|v| matches!(v, Value::String(_))),
        )
        .register(
            Scalar::new(t::DECIMAL)
                .description("Exact decimal sent as a string (\"1999.90\"); never rounded through a float.")
                .validator(|v| matches!(v, Value::String(_) | Value::Number(_))),
        )
        .register(
            Scalar::new(t::JSON)
                .description(
                    "A JSON value (RFC 8259): object, array, string, number, boolean or null, written \
                     as a GraphQL literal or sent in the variables as JSON. Each argument, input field \
                     and field of this type says which shape it takes, with an example.",
                )
                .specified_by_url(JSON_SPEC),
        );
    for (name, items) in [
        (
            t::FIELD_TYPE,
            FieldType::ALL
                .iter()
                .map(|f| f.as_str())
                .chain([formula::TYPE_NAME, rollup_fields::TYPE_NAME])
                .collect(),
        ),
        (t::RELATION_KIND, vec![RelationKind::ManyToOne.as_str(), RelationKind::OneToOne.as_str()]),
        (t::CHANGE_KIND, LiveKind::all().into_iter().map(LiveKind::as_str).collect()),
        (t::ORDER_DIRECTION, vec!["ASC", "DESC"]),
        (t::DATE_BUCKET, vec!["DAY", "WEEK", "MONTH", "QUARTER", "YEAR"]),
    ] {
        b = b.register(Enum::new(name).items(items));
    }
    b = super::upload::register(b);
    b = b.register(page_info()).register(file_object()).register(
        InputObject::new(t::FILE_INPUT)
            .description(
                "A file: `fileId` of an uploaded file (`uploadFile`, `POST /files`), or a `url` elsewhere.",
            )
            .field(InputValue::new(FILE_ID, TypeRef::named(TypeRef::ID)))
            .field(InputValue::new("url", TypeRef::named(TypeRef::STRING)))
            .field(InputValue::new("name", TypeRef::named(TypeRef::STRING)))
            .field(InputValue::new("mimeType", TypeRef::named(TypeRef::STRING)))
            .field(InputValue::new("size", TypeRef::named(TypeRef::INT))),
    );
    for f in filter_inputs() {
        b = b.register(f);
    }
    b
}

/// The filter input of one scalar type, with the operators shared/API.md lists for it.
fn filter_input(name: &str, scalar: &str, ops: &[&str]) -> InputObject {
    let mut o = InputObject::new(name);
    for op in ops {
        // List operators take a list of the scalar, `isNull` a flag, every other one a value.
        let ty = if matches!(*op, "in" | "notIn" | "containsAny" | "containsAll") {
            TypeRef::named_nn_list(scalar)
        } else if *op == "isNull" {
            TypeRef::named(TypeRef::BOOLEAN)
        } else {
            TypeRef::named(scalar)
        };
        o = o.field(InputValue::new(*op, ty));
    }
    o
}

fn filter_inputs() -> Vec<InputObject> {
    use entity::runtime::filter::operators;
    vec![
        filter_input(t::STRING_FILTER, TypeRef::STRING, operators(FieldType::Text)),
        filter_input(t::FLOAT_FILTER, TypeRef::FLOAT, operators(FieldType::Number)),
        filter_input(t::DECIMAL_FILTER, t::DECIMAL, operators(FieldType::Currency)),
        filter_input(t::DATE_FILTER, t::DATE, operators(FieldType::Date)),
        filter_input(t::DATE_TIME_FILTER, t::DATE_TIME, operators(FieldType::Datetime)),
        filter_input(t::BOOLEAN_FILTER, TypeRef::BOOLEAN, operators(FieldType::Boolean)),
        filter_input(t::SELECT_FILTER, TypeRef::STRING, operators(FieldType::Select)),
        filter_input(t::MULTI_SELECT_FILTER, TypeRef::STRING, operators(FieldType::MultiSelect)),
        filter_input(t::ID_FILTER, TypeRef::ID, operators(FieldType::Relation)),
    ]
}

/// The filter input type name of a field type (`None`: not filterable).
pub fn filter_type(ty: FieldType) -> Option<&'static str> {
    Some(match ty {
        FieldType::Text
        | FieldType::Textarea
        | FieldType::Email
        | FieldType::Phone
        | FieldType::Url
        | FieldType::Uid => t::STRING_FILTER,
        FieldType::Number => t::FLOAT_FILTER,
        FieldType::Currency => t::DECIMAL_FILTER,
        FieldType::Date => t::DATE_FILTER,
        FieldType::Datetime => t::DATE_TIME_FILTER,
        FieldType::Boolean => t::BOOLEAN_FILTER,
        FieldType::Select => t::SELECT_FILTER,
        FieldType::MultiSelect => t::MULTI_SELECT_FILTER,
        FieldType::Relation => t::ID_FILTER,
        FieldType::File | FieldType::Json => return None,
    })
}

/// The GraphQL scalar (or object) name carrying a field type's values.
pub fn output_type(ty: FieldType) -> &'static str {
    match ty {
        FieldType::Number => TypeRef::FLOAT,
        FieldType::Currency => t::DECIMAL,
        FieldType::Boolean => TypeRef::BOOLEAN,
        FieldType::Date => t::DATE,
        FieldType::Datetime => t::DATE_TIME,
        FieldType::Json => t::JSON,
        FieldType::File => t::FILE,
        FieldType::Relation => TypeRef::ID,
        // Option values of a MULTI_SELECT are strings too (its list is wrapped around this).
        FieldType::Text
        | FieldType::Textarea
        | FieldType::Email
        | FieldType::Phone
        | FieldType::Url
        | FieldType::Select
        | FieldType::MultiSelect
        | FieldType::Uid => TypeRef::STRING,
    }
}

/// The input type name of a field type.
pub fn input_type(ty: FieldType) -> &'static str {
    match ty {
        FieldType::File => t::FILE_INPUT,
        other => output_type(other),
    }
}

fn page_info() -> Object {
    let flag = |name: &'static str, get: fn(&PageInfoValue) -> bool| {
        Field::new(name, TypeRef::named_nn(TypeRef::BOOLEAN), move |ctx| {
            FieldFuture::new(async move { Ok(Some(Value::from(get(parent::<PageInfoValue>(&ctx)?)))) })
        })
    };
    let cursor = |name: &'static str, get: fn(&PageInfoValue) -> Option<String>| {
        Field::new(name, TypeRef::named(TypeRef::STRING), move |ctx| {
            FieldFuture::new(async move { Ok(get(parent::<PageInfoValue>(&ctx)?).map(Value::from)) })
        })
    };
    Object::new(t::PAGE_INFO)
        .field(flag("hasNextPage", |p| p.has_next))
        .field(flag("hasPreviousPage", |p| p.has_previous))
        .field(cursor("startCursor", |p| p.start.clone()))
        .field(cursor("endCursor", |p| p.end.clone()))
}

fn file_object() -> Object {
    // A FILE value is a JSON object of these members (`value::normalize`; an uploaded file's
    // are filled in by the record store from the file, `id` being its `fileId`).
    let member = |name: &'static str, member: &'static str, ty: TypeRef| {
        Field::new(name, ty, move |ctx| {
            let v = ctx
                .parent_value
                .as_value()
                .and_then(|v| if let Value::Object(m) = v { m.get(member).cloned() } else { None });
            FieldFuture::Value(v.map(FieldValue::value))
        })
    };
    let field = |name: &'static str, ty: TypeRef| member(name, name, ty);
    Object::new(t::FILE)
        .field(
            member("id", FILE_ID, TypeRef::named(TypeRef::ID))
                .description("The uploaded file (null for a URL)."),
        )
        .field(field("url", TypeRef::named_nn(TypeRef::STRING)))
        .field(field("name", TypeRef::named(TypeRef::STRING)))
        .field(field("mimeType", TypeRef::named(TypeRef::STRING)))
        .field(field("size", TypeRef::named(TypeRef::INT)))
        .field(
            field("sha256", TypeRef::named(TypeRef::STRING))
                .description("SHA-256 of an uploaded file's content (hex)."),
        )
}
