//! Descriptions of the definition types' JSON members (`EntityDefinition`, `FieldDefinition`
//! and their inputs), kept apart from the builder in `platform.rs`: they are the contract's
//! prose for what a JSON member holds, and they grow with every definition feature.

/// The JSON members of a field definition (input and output) and their shapes.
pub(super) const FIELD_JSON_DOCS: [(&str, &str); 4] = [
    (
        "default",
        "The value a new record gets when none is given, as JSON in the form the field's input takes \
         (`\"Open\"`, `10`, `\"99.90\"` for CURRENCY, `true`, `[\"a\", \"b\"]` for MULTI_SELECT).",
    ),
    (
        "validation",
        "Rules as a JSON object: `min`/`max` (NUMBER, CURRENCY, DATE, DATETIME), `minLength`/`maxLength`/\
         `pattern` (text fields), `integer` (NUMBER), `scale` (CURRENCY, 0-10), e.g. \
         `{\"min\": 0, \"max\": 100, \"integer\": true}`.",
    ),
    (
        "labels",
        "The label in other languages, as a JSON object of language code → label, e.g. `{\"hi\": \"नाम\"}`.",
    ),
    (
        "optionLabels",
        "SELECT / MULTI_SELECT: the options' labels in other languages, as a JSON object of option → \
         language code → label, e.g. `{\"Open\": {\"hi\": \"खुला\", \"te\": \"తెరిచిన\"}}`.",
    ),
];

/// A label shown in the request's language.
pub(super) const SHOWN_DOC: &str = "In the request's language (`lang`, then `Accept-Language`, your locale, the tenant's \
     default language), else the base text; `labels` holds every translation.";
/// A ROLLUP field's `rollup` (input and output).
pub(super) const ROLLUP_DOC: &str = "A ROLLUP field's definition (type ROLLUP only), as a JSON object: the child `entity`, \
     its RELATION field pointing at this entity (`relation`), the `function` (COUNT, SUM, MIN, MAX, AVG), the \
     child's `field` it reads (NUMBER or CURRENCY; MIN and MAX also DATE or DATETIME; none for COUNT of \
     records) and an optional `filter` over the children, e.g. `{\"entity\": \"invoice_line\", \"relation\": \
     \"invoice\", \"function\": \"SUM\", \"field\": \"amount\"}`. Its value is kept current by every \
     child write and is read-only. On `updateField` the function, field and filter may change (not the child \
     entity nor the result type): every parent's value is recomputed in the same transaction.";
/// A field definition's `formula` (input and output).
pub(super) const FORMULA_DOC: &str = "A FORMULA field's expression and result type, as a JSON object \
     `{\"expression\": \"quantity * unit_price\", \"resultType\": \"CURRENCY\"}` (resultType: NUMBER, \
     CURRENCY, TEXT, DATE, DATETIME or BOOLEAN); null for other types. On `updateField` it replaces the \
     expression, checked again with every formula that reads the field. The language is in the README \
     (§ Formula fields).";

/// An entity definition's `labels`.
pub(super) const ENTITY_LABELS_DOC: &str = "The labels in other languages, as a JSON object of language code → \
     {singular, plural}, e.g. `{\"hi\": {\"singular\": \"सौदा\", \"plural\": \"सौदे\"}}`.";

pub(super) const PERSONAL_DOC: &str = "The field holds personal data (GDPR): its values in audit entries are \
     sealed under a key of the record they belong to, which `erasePersonalData` destroys, and erasure \
     clears the field. EMAIL and PHONE fields marked personal identify a data subject.";
pub(super) const SEARCHABLE_DOC: &str = "Found by full-text search (`search:` on lists, `globalSearch`): TEXT, TEXTAREA, \
     EMAIL, PHONE, URL, SELECT and MULTI_SELECT fields only. Turning it on indexes the existing records \
     (a large entity in a background job; until it finishes, `search:` matches substrings as before); \
     turning it off removes the field from the index.";
