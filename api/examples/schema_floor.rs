//! What async-graphql's dynamic `Schema` itself takes for a schema of a given shape: the floor
//! under any tenant schema built with it, whatever the builder does.
//!
//! It reads SDL files (default: `schema.graphql`, an empty tenant's, and the SDL snapshot of
//! the hospital template) and rebuilds each type, field, argument and enum value with the
//! dynamic API and the cheapest parts there are — no description, a resolver that captures
//! nothing — then weighs what the built `Schema` holds with the counting allocator the server uses.
//!
//!     cargo run -q -p alphery-api --example schema_floor [-- FILE.graphql ...]
//!
//! The tenant-scale issue asks for at most 200 KB per distinct schema; this shows how much of
//! the measured size (`alphery_schema_cache_bytes`) is the library's own, per `Schema` value.

use alphery_api::alloc::{Counting, measure};
use async_graphql::dynamic::{
    Enum, EnumItem, Field, FieldFuture, FieldValue, InputObject, InputValue, Object, Scalar, Schema,
    Subscription, SubscriptionField, SubscriptionFieldFuture, TypeRef,
};
use async_graphql::parser::types::{BaseType, Type, TypeKind, TypeSystemDefinition};

#[global_allocator]
static ALLOCATOR: Counting<std::alloc::System> = Counting(std::alloc::System);

const DEFAULT_FILES: [&str; 2] = ["schema.graphql", "tests/snapshots/hospital.graphql"];

/// The dynamic type reference of an SDL type.
fn type_ref(ty: &Type) -> TypeRef {
    let base = match &ty.base {
        BaseType::Named(name) => TypeRef::named(name.as_str()),
        BaseType::List(inner) => TypeRef::List(Box::new(type_ref(inner))),
    };
    if ty.nullable { base } else { TypeRef::NonNull(Box::new(base)) }
}

/// Counts of what a schema declares.
#[derive(Default)]
struct Shape {
    types: usize,
    fields: usize,
    arguments: usize,
    values: usize,
}

/// Builds the dynamic schema of `sdl` (descriptions kept when `described`).
fn build(sdl: &str, described: bool) -> Result<(Schema, Shape), String> {
    let doc = async_graphql::parser::parse_schema(sdl).map_err(|e| e.to_string())?;
    let mut shape = Shape::default();
    let (mut query, mut mutation, mut subscription) = (None, None, None);
    let mut others = Vec::new();
    for def in doc.definitions {
        let TypeSystemDefinition::Type(t) = def else { continue };
        let t = t.node;
        let name = t.name.node.to_string();
        let description = t.description.as_ref().filter(|_| described).map(|d| d.node.clone());
        shape.types += 1;
        match t.kind {
            TypeKind::Scalar => {
                let mut s = Scalar::new(&name);
                if let Some(d) = description {
                    s = s.description(d);
                }
                others.push(Kind::Scalar(s));
            }
            TypeKind::Enum(e) => {
                let mut out = Enum::new(&name);
                for v in e.values {
                    shape.values += 1;
                    let mut item = EnumItem::new(v.node.value.node.as_str());
                    if described && let Some(d) = &v.node.description {
                        item = item.description(d.node.clone());
                    }
                    out = out.item(item);
                }
                others.push(Kind::Enum(out));
            }
            TypeKind::InputObject(i) => {
                let mut out = InputObject::new(&name);
                for f in i.fields {
                    shape.fields += 1;
                    let mut v = InputValue::new(f.node.name.node.as_str(), type_ref(&f.node.ty.node));
                    if described && let Some(d) = &f.node.description {
                        v = v.description(d.node.clone());
                    }
                    out = out.field(v);
                }
                others.push(Kind::Input(out));
            }
            TypeKind::Object(o) if name == "Subscription" => {
                let mut out = Subscription::new(&name);
                for f in o.fields {
                    shape.fields += 1;
                    let mut field =
                        SubscriptionField::new(f.node.name.node.as_str(), type_ref(&f.node.ty.node), |_| {
                            SubscriptionFieldFuture::new(async {
                                Ok(futures_util::stream::empty::<async_graphql::Result<FieldValue<'static>>>(
                                ))
                            })
                        });
                    for a in &f.node.arguments {
                        shape.arguments += 1;
                        field = field
                            .argument(InputValue::new(a.node.name.node.as_str(), type_ref(&a.node.ty.node)));
                    }
                    if described && let Some(d) = &f.node.description {
                        field = field.description(d.node.clone());
                    }
                    out = out.field(field);
                }
                subscription = Some(out);
            }
            TypeKind::Object(o) => {
                let mut out = Object::new(&name);
                if let Some(d) = description {
                    out = out.description(d);
                }
                for f in o.fields {
                    shape.fields += 1;
                    let mut field = Field::new(f.node.name.node.as_str(), type_ref(&f.node.ty.node), |_| {
                        FieldFuture::new(async { Ok(None::<FieldValue<'static>>) })
                    });
                    for a in &f.node.arguments {
                        shape.arguments += 1;
                        let mut v = InputValue::new(a.node.name.node.as_str(), type_ref(&a.node.ty.node));
                        if described && let Some(d) = &a.node.description {
                            v = v.description(d.node.clone());
                        }
                        field = field.argument(v);
                    }
                    if described && let Some(d) = &f.node.description {
                        field = field.description(d.node.clone());
                    }
                    out = out.field(field);
                }
                match name.as_str() {
                    "Query" => query = Some(out),
                    "Mutation" => mutation = Some(out),
                    _ => others.push(Kind::Object(out)),
                }
            }
            TypeKind::Interface(_) | TypeKind::Union(_) => {
                return Err(format!("{name}: interfaces and unions are not used by the server's schemas"));
            }
        }
    }
    let query = query.ok_or("no Query type")?;
    let mut builder = Schema::build(
        query.type_name(),
        mutation.as_ref().map(Object::type_name),
        subscription.as_ref().map(Subscription::type_name),
    )
    .register(query);
    if let Some(m) = mutation {
        builder = builder.register(m);
    }
    if let Some(s) = subscription {
        builder = builder.register(s);
    }
    for k in others {
        builder = match k {
            Kind::Scalar(s) => builder.register(s),
            Kind::Enum(e) => builder.register(e),
            Kind::Input(i) => builder.register(i),
            Kind::Object(o) => builder.register(o),
        };
    }
    Ok((builder.finish().map_err(|e| e.to_string())?, shape))
}

enum Kind {
    Scalar(Scalar),
    Enum(Enum),
    Input(InputObject),
    Object(Object),
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let files: Vec<String> =
        if args.is_empty() { DEFAULT_FILES.iter().map(|f| (*f).to_owned()).collect() } else { args };
    println!(
        "{:<36} {:>6} {:>7} {:>6} {:>7} {:>12} {:>14}",
        "SDL", "types", "fields", "args", "values", "bare KB", "described KB"
    );
    for file in files {
        let sdl = std::fs::read_to_string(&file).map_err(|e| format!("{file}: {e}"))?;
        let (built, bare) = measure(|| build(&sdl, false));
        let (_schema, shape) = built?;
        let (built, described) = measure(|| build(&sdl, true));
        drop(built?);
        println!(
            "{:<36} {:>6} {:>7} {:>6} {:>7} {:>12.0} {:>14.0}",
            file,
            shape.types,
            shape.fields,
            shape.arguments,
            shape.values,
            bare as f64 / 1024.0,
            described as f64 / 1024.0
        );
    }
    Ok(())
}
