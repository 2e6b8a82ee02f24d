//! The GraphQL names of Daily Focus: the rules (`focusRules`, `setFocusRules`), a caller's
//! list for a day (`dailyFocus`) and its live form (`focusChanged`). They join the platform's
//! taken names (`platform_type_names`, `platform_root_fields` in `naming`), so no entity takes
//! them.

/// Type names.
pub mod types {
    pub const FOCUS_RULE: &str = "FocusRule";
    pub const FOCUS_RULE_INPUT: &str = "FocusRuleInput";
    pub const DAILY_FOCUS: &str = "DailyFocus";
    pub const FOCUS_ITEM: &str = "FocusItem";
    pub const FOCUS_RECORD: &str = "FocusRecord";

    /// Every type name above.
    pub const ALL: &[&str] = &[FOCUS_RULE, FOCUS_RULE_INPUT, DAILY_FOCUS, FOCUS_ITEM, FOCUS_RECORD];
}

/// Root field names.
pub mod fields {
    pub const FOCUS_RULES: &str = "focusRules";
    pub const SET_FOCUS_RULES: &str = "setFocusRules";
    pub const DAILY_FOCUS: &str = "dailyFocus";
    pub const FOCUS_CHANGED: &str = "focusChanged";

    /// Every root field name above.
    pub const ALL: &[&str] = &[FOCUS_RULES, SET_FOCUS_RULES, DAILY_FOCUS, FOCUS_CHANGED];
}
