//! The stock engine's rules without a database: exact quantities, what a movement write moves,
//! once-per-crossing reorder alerts, and an explosion's aggregation.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::def::Ledger;
use super::*;

fn ledger() -> Ledger {
    serde_json::from_value(json!({"item": "item", "warehouse": "plant", "toWarehouse": "to_plant",
        "quantity": "quantity", "kind": "direction", "receipt": "In", "issue": "Out",
        "transfer": "Transfer"}))
    .expect("a ledger")
}

fn movement(direction: &str, quantity: Value, to: Option<&str>) -> Map<String, Value> {
    let mut m = json!({"item": "i", "plant": "a", "direction": direction, "quantity": quantity});
    if let Some(to) = to {
        m["to_plant"] = json!(to);
    }
    m.as_object().cloned().expect("an object")
}

fn entity() -> EntityDef {
    EntityDef { name_singular: "inventory_move".into(), ..EntityDef::default() }
}

fn key(item: &str, warehouse: &str) -> (String, String) {
    (item.to_owned(), warehouse.to_owned())
}

#[test]
fn quantities_are_exact_millionths() {
    assert_eq!(units_of(Some(&json!(2.5))), Ok(Some(2_500_000)));
    assert_eq!(units_of(Some(&json!(40))), Ok(Some(40_000_000)));
    assert_eq!(units_of(Some(&json!(0.000001))), Ok(Some(1)));
    assert_eq!(units_of(None), Ok(None));
    assert!(units_of(Some(&json!(0.0000001))).is_err());
    assert!(units_of(Some(&json!("many"))).is_err());
    assert_eq!(as_number(-3_250_000), -3.25);
}

#[test]
fn a_movement_write_books_its_new_values_and_reverses_its_old_ones() {
    let (e, l) = (entity(), ledger());
    let receipt = movement("In", json!(10), None);
    assert_eq!(
        movement_moves(&e, &l, None, Some(&receipt)).expect("moves"),
        Moves::from([(key("i", "a"), 10_000_000)])
    );
    let issue = movement("Out", json!(4), None);
    // An update from a receipt of 10 to an issue of 4: −10 − 4.
    assert_eq!(
        movement_moves(&e, &l, Some(&receipt), Some(&issue)).expect("moves"),
        Moves::from([(key("i", "a"), -14_000_000)])
    );
    let transfer = movement("Transfer", json!(1.5), Some("b"));
    assert_eq!(
        movement_moves(&e, &l, None, Some(&transfer)).expect("moves"),
        Moves::from([(key("i", "a"), -1_500_000), (key("i", "b"), 1_500_000)])
    );
    // A delete reverses; an unchanged update moves nothing.
    assert_eq!(
        movement_moves(&e, &l, Some(&issue), None).expect("moves"),
        Moves::from([(key("i", "a"), 4_000_000)])
    );
    assert!(movement_moves(&e, &l, Some(&issue), Some(&issue)).expect("moves").is_empty());
    assert!(movement_moves(&e, &l, None, Some(&movement("Transfer", json!(1), None))).is_err());
    assert!(movement_moves(&e, &l, None, Some(&movement("In", json!(-1), None))).is_err());
}

#[test]
fn a_reorder_alert_is_a_crossing_from_at_or_above_to_below() {
    let levels = HashMap::from([("i".to_owned(), 10_000_000)]);
    let fell = |from: i64, to: i64| {
        let moves = Moves::from([(key("i", "a"), to - from)]);
        crossings("items", &moves, &[("i".into(), "a".into(), to)], &levels).len()
    };
    assert_eq!(fell(10_000_000, 9_000_000), 1);
    assert_eq!(fell(15_000_000, 5_000_000), 1);
    assert_eq!(fell(5_000_000, 3_000_000), 0, "already below");
    assert_eq!(fell(20_000_000, 10_000_000), 0, "at the level is not below it");
    assert_eq!(fell(3_000_000, 23_000_000), 0, "a receipt never alerts");
}
