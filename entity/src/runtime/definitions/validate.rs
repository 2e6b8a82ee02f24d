//! Validation of proposed definitions: labels, prefixes, options, validation rules and
//! defaults of one field, and the whole-metadata check that every generated GraphQL name is
//! unique. Pure functions over the proposed metadata; they collect every problem into one
//! `VALIDATION_FAILED` list instead of stopping at the first.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::Value;

use super::input::FieldInput;
use crate::FieldError;
use crate::runtime::field_key::FieldKey;
use crate::runtime::formula::{self, Formula};
use crate::runtime::lifecycle::Lifecycle;
use crate::runtime::meta::{EntityDef, FieldDef, FieldType, RelationKind, TenantMeta, Validation};
use crate::runtime::naming::{self, EntityNames};
use crate::runtime::rollup_fields;
use crate::runtime::value;

pub(super) fn check_label(errors: &mut Vec<FieldError>, path: &str, label: &str) {
    if label.trim().is_empty() || label.chars().count() > 200 {
        errors.push(FieldError::new(path, "must be 1 to 200 characters"));
    }
}

pub(super) fn check_prefix(errors: &mut Vec<FieldError>, prefix: Option<&str>) {
    if let Some(p) = prefix {
        let ok = (1..=10).contains(&p.len())
            && p.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            && p.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if !ok {
            errors.push(FieldError::new(
                "recordNumberPrefix",
                "must be 1 to 10 upper-case letters or digits, starting with a letter",
            ));
        }
    }
}

pub(super) fn check_labels_json(errors: &mut Vec<FieldError>, path: &str, labels: Option<&Value>) {
    if let Some(v) = labels.filter(|v| !v.is_null()) {
        let ok = v.as_object().is_some_and(|o| o.values().all(Value::is_string));
        if !ok {
            errors.push(FieldError::new(path, "must be an object of language code → label"));
        }
    }
}

/// A choice field's option translations: an object of option → language code → label, each
/// option one of the field's and each label 1 to 200 characters.
pub(super) fn check_option_labels(
    errors: &mut Vec<FieldError>,
    path: &str,
    ty: FieldType,
    options: &[String],
    labels: Option<&Value>,
) {
    let Some(v) = labels.filter(|v| !v.is_null()) else { return };
    if !matches!(ty, FieldType::Select | FieldType::MultiSelect) {
        errors.push(FieldError::new(path, "only SELECT and MULTI_SELECT fields take optionLabels"));
        return;
    }
    let Some(by_option) = v.as_object() else {
        errors.push(FieldError::new(path, "must be an object of option → {language code: label}"));
        return;
    };
    for (option, langs) in by_option {
        let at = format!("{path}.{option}");
        if !options.contains(option) {
            errors.push(FieldError::new(at, format!("`{option}` is not one of the field's options")));
            continue;
        }
        let ok = langs.as_object().is_some_and(|m| {
            m.iter().all(|(lang, label)| {
                crate::runtime::i18n::is_language_tag(lang)
                    && label.as_str().is_some_and(|l| !l.trim().is_empty() && l.chars().count() <= 200)
            })
        });
        if !ok {
            errors.push(FieldError::new(
                at,
                "must be an object of language code → label (1 to 200 characters)",
            ));
        }
    }
}

/// An entity's translations: language code → `{singular, plural}` (both labels).
pub(super) fn check_entity_labels(errors: &mut Vec<FieldError>, labels: Option<&Value>) {
    if let Some(v) = labels.filter(|v| !v.is_null()) {
        let ok = v.as_object().is_some_and(|o| {
            o.values().all(|l| {
                l.as_object().is_some_and(|m| {
                    m.len() == 2
                        && ["singular", "plural"]
                            .iter()
                            .all(|k| m.get(*k).and_then(Value::as_str).is_some_and(|s| !s.trim().is_empty()))
                })
            })
        });
        if !ok {
            errors.push(FieldError::new("labels", "must be an object of language code → {singular, plural}"));
        }
    }
}

pub(super) fn parse_validation(
    errors: &mut Vec<FieldError>,
    path: &str,
    ty: FieldType,
    v: Option<&Value>,
) -> (Validation, Option<Arc<regex::Regex>>) {
    let Some(v) = v.filter(|v| !v.is_null()) else { return (Validation::default(), None) };
    let val: Validation = match serde_json::from_value(v.clone()) {
        Ok(val) => val,
        Err(e) => {
            errors.push(FieldError::new(path, format!("invalid validation: {e}")));
            return (Validation::default(), None);
        }
    };
    let ranged =
        matches!(ty, FieldType::Number | FieldType::Currency | FieldType::Date | FieldType::Datetime);
    if (val.min.is_some() || val.max.is_some()) && !ranged {
        errors.push(FieldError::new(path, "min/max apply to NUMBER, CURRENCY, DATE and DATETIME"));
    }
    let probe = FieldDef { ty, ..blank_field() };
    for bound in [&val.min, &val.max].into_iter().flatten() {
        if ranged && value::normalize(&probe, bound).ok().flatten().is_none() {
            errors.push(FieldError::new(path, format!("min/max {bound} is not a valid {}", ty.as_str())));
        }
    }
    let texty = ty.is_text_like();
    if (val.min_length.is_some() || val.max_length.is_some() || val.pattern.is_some()) && !texty {
        errors.push(FieldError::new(path, "minLength/maxLength/pattern apply to text fields"));
    }
    crate::runtime::uid::check_validation(errors, path, ty, &val);
    if val.integer.is_some() && ty != FieldType::Number {
        errors.push(FieldError::new(path, "integer applies to NUMBER"));
    }
    if let Some(scale) = val.scale
        && (ty != FieldType::Currency || scale > 10)
    {
        errors.push(FieldError::new(path, "scale applies to CURRENCY, 0 to 10"));
    }
    let pattern = match &val.pattern {
        Some(p) => match regex::RegexBuilder::new(p).size_limit(1 << 20).build() {
            Ok(re) => Some(Arc::new(re)),
            Err(e) => {
                errors.push(FieldError::new(path, format!("invalid pattern: {e}")));
                None
            }
        },
        None => None,
    };
    (val, pattern)
}

/// A field definition with every option at its default (a starting point for probes).
pub(crate) fn blank_field() -> FieldDef {
    FieldDef {
        id: String::new(),
        key: FieldKey::blank(),
        graphql_name: String::new(),
        label: String::new(),
        ty: FieldType::Text,
        required: false,
        unique: false,
        indexed: false,
        personal: false,
        hierarchy: false,
        slot: None,
        slot_ready: false,
        searchable: false,
        search_ready: false,
        mentions: false,
        options: Vec::new(),
        related_entity_id: None,
        relation_kind: None,
        default: None,
        validation: Validation::default(),
        pattern: None,
        labels: None,
        lifecycle: None,
        option_labels: None,
        formula: None,
        position: 0,
        rollup: None,
    }
}

pub(super) fn check_options(
    errors: &mut Vec<FieldError>,
    path: &str,
    ty: FieldType,
    options: Option<&Vec<String>>,
) {
    let takes = matches!(ty, FieldType::Select | FieldType::MultiSelect);
    match options {
        Some(opts) if takes => {
            let distinct: BTreeSet<&String> = opts.iter().collect();
            if opts.is_empty()
                || distinct.len() != opts.len()
                || opts.iter().any(|o| o.trim().is_empty() || o.len() > 100)
            {
                errors.push(FieldError::new(
                    path,
                    "needs distinct, non-empty options (at most 100 characters)",
                ));
            }
        }
        None if takes => errors.push(FieldError::new(path, "SELECT and MULTI_SELECT need options")),
        Some(_) => errors.push(FieldError::new(path, "only SELECT and MULTI_SELECT take options")),
        None => {}
    }
}

/// A field marked personal holds a value of its own: a RELATION points at a record (the
/// subject is that record, `runtime::personal`), and a computed field is derived from fields
/// that are marked themselves.
pub(super) fn check_personal(errors: &mut Vec<FieldError>, path: &str, f: &FieldDef) {
    if f.personal && (f.ty == FieldType::Relation || !f.is_stored() || f.rollup.is_some()) {
        errors.push(FieldError::new(path, "RELATION, FORMULA and ROLLUP fields cannot be personal"));
    }
}

/// A field taking `@mentions` holds stored text: a TEXT or TEXTAREA field.
pub(super) fn check_mentions(errors: &mut Vec<FieldError>, path: &str, f: &FieldDef) {
    let text = matches!(f.ty, FieldType::Text | FieldType::Textarea) && f.is_stored() && f.rollup.is_none();
    if f.mentions && !text {
        errors.push(FieldError::new(path, "only stored TEXT and TEXTAREA fields take mentions"));
    }
}

/// A `searchable` field must be of a type search reads (`FieldType::searchable`) and stored.
pub(super) fn check_searchable(errors: &mut Vec<FieldError>, path: &str, f: &FieldDef) {
    if !f.searchable {
        return;
    }
    if !f.is_stored() {
        errors
            .push(FieldError::new(path, "a FORMULA field is computed, not stored: it cannot be searchable"));
    } else if f.rollup.is_some() || !f.ty.searchable() {
        let types: Vec<&str> =
            FieldType::ALL.into_iter().filter(|t| t.searchable()).map(FieldType::as_str).collect();
        errors.push(FieldError::new(path, format!("only {} fields can be searchable", types.join(", "))));
    }
}

/// Checks `default` against the field's own rules.
pub(super) fn check_default(errors: &mut Vec<FieldError>, path: &str, f: &FieldDef) {
    if let Some(d) = &f.default {
        if f.ty == FieldType::Relation {
            errors.push(FieldError::new(path, "RELATION fields take no default"));
        } else if let Err(m) = value::normalize(f, d) {
            errors.push(FieldError::new(path, format!("default {m}")));
        }
    }
}

/// Builds a field definition from input, resolving the relation target against `meta` plus
/// the entity being defined (`self_entity`: name and id).
pub(super) fn build_field(
    errors: &mut Vec<FieldError>,
    path: &str,
    input: &FieldInput,
    meta: &TenantMeta,
    self_entity: (&str, &str),
    position: i32,
) -> FieldDef {
    let p = |s: &str| if path.is_empty() { s.to_owned() } else { format!("{path}.{s}") };
    let key = FieldKey::new(&input.key);
    if key.is_none() {
        errors.push(FieldError::new(
            p("key"),
            "must be a snake_case or camelCase identifier (a-z first, at most 63)",
        ));
    }
    let graphql_name = naming::field_name(&input.key);
    if naming::SYSTEM_FIELDS.contains(&graphql_name.as_str())
        || naming::RESERVED_FIELD_NAMES.contains(&graphql_name.as_str())
    {
        errors.push(FieldError::new(p("key"), format!("`{graphql_name}` is a reserved name")));
    }
    check_label(errors, &p("label"), &input.label);
    let rollup = if input.ty == rollup_fields::TYPE_NAME {
        let Some(r) = rollup_fields::define::check(errors, &p, input, meta, self_entity.1) else {
            return blank_field();
        };
        Some(r)
    } else {
        if input.rollup.as_ref().is_some_and(|v| !v.is_null()) {
            errors.push(FieldError::new(p("rollup"), "only ROLLUP fields take rollup"));
        }
        None
    };
    let formula = formula_input(errors, &p, input);
    let Some(ty) = rollup
        .as_ref()
        .map(|r| r.ty)
        .or_else(|| formula.as_ref().map(|(ty, _)| *ty))
        .or_else(|| FieldType::parse(&input.ty))
    else {
        errors.push(FieldError::new(p("type"), "unknown field type"));
        return blank_field();
    };
    check_options(errors, &p("options"), ty, input.options.as_ref());
    check_labels_json(errors, &p("labels"), input.labels.as_ref());
    let options = input.options.clone().unwrap_or_default();
    check_option_labels(errors, &p("optionLabels"), ty, &options, input.option_labels.as_ref());
    if input.unique == Some(true) && matches!(ty, FieldType::Json | FieldType::File | FieldType::MultiSelect)
    {
        errors.push(FieldError::new(p("unique"), "JSON, FILE and MULTI_SELECT fields cannot be unique"));
    }
    let (related_entity_id, relation_kind) = match (ty, &input.related_entity) {
        (FieldType::Relation, Some(target)) => {
            let id = if target == self_entity.0 {
                Some(self_entity.1.to_owned())
            } else {
                meta.entity_by_name(target).map(|e| e.id.clone())
            };
            if id.is_none() {
                errors.push(FieldError::new(p("relatedEntity"), format!("no entity named `{target}`")));
            }
            let kind = match input.relation_kind.as_deref() {
                None => RelationKind::ManyToOne,
                Some(k) => RelationKind::parse(k).unwrap_or_else(|| {
                    errors.push(FieldError::new(p("relationKind"), "unknown relation kind"));
                    RelationKind::ManyToOne
                }),
            };
            (id, Some(kind))
        }
        (FieldType::Relation, None) => {
            errors.push(FieldError::new(p("relatedEntity"), "RELATION fields need relatedEntity"));
            (None, None)
        }
        (_, Some(_)) => {
            errors.push(FieldError::new(p("relatedEntity"), "only RELATION fields take relatedEntity"));
            (None, None)
        }
        (_, None) => {
            if input.relation_kind.is_some() {
                errors.push(FieldError::new(p("relationKind"), "only RELATION fields take relationKind"));
            }
            (None, None)
        }
    };
    let (validation, pattern) = match &rollup {
        Some(r) => (r.validation.clone(), None),
        None => parse_validation(errors, &p("validation"), ty, input.validation.as_ref()),
    };
    let mut f = FieldDef {
        id: uuid::Uuid::new_v4().to_string(),
        // An input whose key is refused is never stored: its errors end the change.
        key: key.unwrap_or_else(FieldKey::blank),
        graphql_name,
        label: input.label.trim().to_owned(),
        ty,
        required: input.required.unwrap_or(false),
        unique: input.unique.unwrap_or(false),
        indexed: input.indexed.unwrap_or(false),
        personal: input.personal.unwrap_or(false),
        hierarchy: input.hierarchy.unwrap_or(false),
        slot: None,
        slot_ready: false,
        searchable: input.searchable.unwrap_or(false),
        search_ready: false,
        mentions: input.mentions.unwrap_or(false),
        options,
        related_entity_id,
        relation_kind,
        default: input.default.clone().filter(|v| !v.is_null()),
        validation,
        pattern,
        labels: input.labels.clone().filter(|v| !v.is_null()),
        lifecycle: None,
        option_labels: input.option_labels.clone().filter(|v| !v.is_null()),
        position,
        rollup: rollup.map(|r| Arc::new(r.rollup)),
        formula: formula.map(|(_, x)| x),
    };
    check_default(errors, &p("default"), &f);
    check_personal(errors, &p("personal"), &f);
    super::super::hierarchy::check_link(errors, &p("hierarchy"), &f);
    check_searchable(errors, &p("searchable"), &f);
    check_mentions(errors, &p("mentions"), &f);
    if let Some(l) = &input.lifecycle {
        f.lifecycle = Lifecycle::parse(errors, &p("lifecycle"), &f, l);
    }
    f
}

/// A FORMULA field's result type and (unchecked) expression; what a computed field cannot
/// take is refused (the expression is checked against the whole entity afterwards:
/// `formula_errors`). `None` for any other type.
fn formula_input(
    errors: &mut Vec<FieldError>,
    p: &impl Fn(&str) -> String,
    input: &FieldInput,
) -> Option<(FieldType, Arc<Formula>)> {
    let given = input.formula.as_ref().filter(|v| !v.is_null());
    if input.ty != formula::TYPE_NAME {
        if given.is_some() {
            errors.push(FieldError::new(p("formula"), "only FORMULA fields take a formula"));
        }
        return None;
    }
    let (ty, formula) = formula_source(errors, p, given)?;
    refuse_computed(
        errors,
        p,
        [
            ("required", input.required == Some(true)),
            ("unique", input.unique == Some(true)),
            ("indexed", input.indexed == Some(true)),
            ("default", input.default.as_ref().is_some_and(|v| !v.is_null())),
            ("options", input.options.is_some()),
        ],
    );
    let only_scale = input.validation.as_ref().filter(|v| !v.is_null()).is_none_or(|v| {
        v.as_object().is_some_and(|o| o.keys().all(|k| k == "scale")) && ty == FieldType::Currency
    });
    if !only_scale {
        errors.push(FieldError::new(
            p("validation"),
            "a FORMULA field takes only `scale`, for a CURRENCY result",
        ));
    }
    Some((ty, formula))
}

/// A formula's `{expression, resultType}` as given (on `addField` or `updateField`): its
/// result type and (unchecked) expression.
pub(super) fn formula_source(
    errors: &mut Vec<FieldError>,
    p: &impl Fn(&str) -> String,
    given: Option<&Value>,
) -> Option<(FieldType, Arc<Formula>)> {
    let source: formula::Source = match given.map(|v| serde_json::from_value(v.clone())) {
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            errors.push(FieldError::new(p("formula"), format!("must be {{expression, resultType}}: {e}")));
            return None;
        }
        None => {
            errors.push(FieldError::new(
                p("formula"),
                "FORMULA fields need a formula {expression, resultType}",
            ));
            return None;
        }
    };
    let Some(ty) = FieldType::parse(&source.result_type).filter(|t| formula::RESULT_TYPES.contains(t)) else {
        errors.push(FieldError::new(
            p("formula.resultType"),
            "must be NUMBER, CURRENCY, TEXT, DATE, DATETIME or BOOLEAN",
        ));
        return None;
    };
    Some((ty, Formula::unchecked(&source.expression)))
}

/// Refuses each option `set` that a FORMULA field (computed, never stored) cannot take.
pub(super) fn refuse_computed(
    errors: &mut Vec<FieldError>,
    p: impl Fn(&str) -> String,
    set: [(&str, bool); 5],
) {
    for (name, _) in set.into_iter().filter(|(_, on)| *on) {
        errors.push(FieldError::new(p(name), "a FORMULA field is computed: it takes no such option"));
    }
}

/// The formulas of `proposed` that do not check but did in `current` (or are new), each at
/// the path `path_of(entity id, key)` gives (`None`: not reported).
pub(super) fn formula_errors(
    errors: &mut Vec<FieldError>,
    current: &[Arc<EntityDef>],
    proposed: &[Arc<EntityDef>],
    path_of: impl Fn(&str, &str) -> Option<String>,
) {
    // Only whether they check matters here: any clock will do.
    let clock = formula::Clock::of("", "UTC");
    let (_, before) = formula::resolve_all(current, &clock);
    let (_, after) = formula::resolve_all(proposed, &clock);
    for b in after {
        let known = before.iter().any(|x| x.entity_id == b.entity_id && x.key == b.key);
        if let Some(path) = path_of(&b.entity_id, &b.key).filter(|_| !known) {
            errors.push(FieldError::new(path, b.message));
        }
    }
}

/// A name collision in proposed metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The entity whose generated name or field collides.
    pub entity: String,
    /// The field key responsible, when a field (or relation) is the cause.
    pub field: Option<String>,
    pub message: String,
}

/// Every GraphQL name the proposed metadata would generate must be unique in its namespace.
/// Returns one conflict per collision.
pub fn name_conflicts(entities: &[Arc<EntityDef>]) -> Vec<Conflict> {
    let mut conflicts = Vec::new();
    let platform = || "the platform".to_owned();
    let mut types: BTreeMap<String, String> =
        naming::platform_type_names().into_iter().map(|n| (n.to_owned(), platform())).collect();
    let mut roots: BTreeMap<String, String> =
        naming::platform_root_fields().into_iter().map(|n| (n.to_owned(), platform())).collect();
    let meta = TenantMeta::new(String::new(), 0, entities.to_vec());
    for e in entities {
        let names = EntityNames::new(&e.name_singular, &e.name_plural);
        let owner = format!("entity `{}`", e.name_singular);
        let conflict = |field: Option<&str>, message: String| Conflict {
            entity: e.name_singular.clone(),
            field: field.map(str::to_owned),
            message,
        };
        for t in names.type_names() {
            if let Some(prev) = types.insert(t.to_owned(), owner.clone()) {
                conflicts
                    .push(conflict(None, format!("type name `{t}` of {owner} is already used by {prev}")));
            }
        }
        for r in names.root_fields() {
            if let Some(prev) = roots.insert(r.to_owned(), owner.clone()) {
                conflicts
                    .push(conflict(None, format!("operation `{r}` of {owner} is already used by {prev}")));
            }
        }
        let mut fields: BTreeSet<String> = naming::SYSTEM_FIELDS.iter().map(|s| (*s).to_owned()).collect();
        for f in &e.fields {
            if !fields.insert(f.graphql_name.clone()) {
                let message = format!("field `{}` appears twice on `{}`", f.graphql_name, names.type_name);
                conflicts.push(conflict(Some(f.key.as_str()), message));
            }
        }
        // A lifecycle's field of next values (`statusTransitions`) is on the type too.
        for f in e.fields.iter().filter(|f| f.lifecycle.is_some()) {
            let name = naming::transitions_field(&f.graphql_name);
            if !fields.insert(name.clone()) {
                let message = format!("`{name}` (the moves of `{}`) collides with a field", f.graphql_name);
                conflicts.push(conflict(Some(f.key.as_str()), message));
            }
        }
        for r in meta.reverse_relations(&e.id) {
            if !fields.insert(r.name.clone()) {
                conflicts.push(Conflict {
                    entity: r.source.name_singular.clone(),
                    field: Some(r.field.key.to_string()),
                    message: format!(
                        "the reverse relation `{}` (from `{}.{}`) collides with a field of `{}`",
                        r.name, r.source.name_singular, r.field.key, names.type_name
                    ),
                });
            }
        }
    }
    conflicts
}
