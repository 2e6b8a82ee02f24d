//! The GraphQL names of the stock engine's operations and types (`stockOnHand`, `explodeBom`,
//! `configureStock`), reserved with the platform's so no entity takes them.

/// `[StockBalance!]!` of `stockOnHand`.
pub const STOCK_BALANCE: &str = "StockBalance";
/// `[BomRequirement!]!` of `explodeBom`.
pub const BOM_REQUIREMENT: &str = "BomRequirement";

/// `stockOnHand(item, warehouse)`: an item's balances.
pub const STOCK_ON_HAND: &str = "stockOnHand";
/// `explodeBom(item, quantity)`: the components a quantity of an item needs.
pub const EXPLODE_BOM: &str = "explodeBom";
/// `configureStock(entity, config)`: an entity's stock configuration (administrators).
pub const CONFIGURE_STOCK: &str = "configureStock";

/// Its type names.
pub const TYPES: [&str; 2] = [STOCK_BALANCE, BOM_REQUIREMENT];
/// Its root field names.
pub const ROOT_FIELDS: [&str; 3] = [STOCK_ON_HAND, EXPLODE_BOM, CONFIGURE_STOCK];
