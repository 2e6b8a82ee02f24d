//! GraphQL names of a template's demo data (`features::templates::demo`).

/// `applyTemplate`'s argument asking for the template's demo records.
pub const DEMO_DATA: &str = "demoData";

/// What it does, shown in the schema.
pub const DEMO_DATA_DOC: &str = "Also create the template's sample records (in the same transaction), so its lists \
     and dashboards show something at once; the template's workflows run on them as on any record.";
