//! The GraphQL names of the AI gateway (providers, budget, usage, `aiComplete`), Customer
//! Memory (`customerMemory`) and the workflows' AI actions. The platform's name sets
//! (`platform_type_names`, `platform_root_fields`) include them, so no entity can take one.

/// Type names.
pub mod types {
    pub const AI_PROVIDER: &str = "AiProvider";
    pub const AI_PROVIDER_INPUT: &str = "AiProviderInput";
    pub const AI_BUDGET: &str = "AiBudget";
    pub const AI_USAGE: &str = "AiUsage";
    pub const AI_COMPLETION: &str = "AiCompletion";
    pub const AI_CONTEXT_INPUT: &str = "AiContextInput";
    pub const CUSTOMER_MEMORY: &str = "CustomerMemory";
    pub const MEMORY_FACT: &str = "MemoryFact";
    pub const MEMORY_CITATION: &str = "MemoryCitation";
    pub const WORKFLOW_AI_GENERATE_INPUT: &str = "WorkflowAiGenerateInput";
    pub const WORKFLOW_AI_CLASSIFY_INPUT: &str = "WorkflowAiClassifyInput";

    /// Every type name above.
    pub const ALL: &[&str] = &[
        AI_PROVIDER,
        AI_PROVIDER_INPUT,
        AI_BUDGET,
        AI_USAGE,
        AI_COMPLETION,
        AI_CONTEXT_INPUT,
        CUSTOMER_MEMORY,
        MEMORY_FACT,
        MEMORY_CITATION,
        WORKFLOW_AI_GENERATE_INPUT,
        WORKFLOW_AI_CLASSIFY_INPUT,
    ];
}

/// Root field names.
pub mod fields {
    pub const AI_PROVIDERS: &str = "aiProviders";
    pub const CONFIGURE_AI_PROVIDER: &str = "configureAiProvider";
    pub const DELETE_AI_PROVIDER: &str = "deleteAiProvider";
    pub const AI_BUDGET: &str = "aiBudget";
    pub const SET_AI_BUDGET: &str = "setAiBudget";
    pub const AI_USAGE: &str = "aiUsage";
    pub const AI_COMPLETE: &str = "aiComplete";
    pub const CUSTOMER_MEMORY: &str = "customerMemory";

    /// Every root field name above.
    pub const ALL: &[&str] = &[
        AI_PROVIDERS,
        CONFIGURE_AI_PROVIDER,
        DELETE_AI_PROVIDER,
        AI_BUDGET,
        SET_AI_BUDGET,
        AI_USAGE,
        AI_COMPLETE,
        CUSTOMER_MEMORY,
    ];
}
