//! Index slots as plain data: the kinds of slot and their numbered columns on `records`
//! (migration 22), by which a field's definition says where its index lives (`FieldDef::slot`).
//! How slots are given to fields and filled is `indexes`; how a statement reads through one is
//! `sql`.

use crate::Dialect;

/// The kinds of slot: what the generated value column holds (exactly: `sql::slot_fill`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SlotKind {
    /// `data->>'k'`: text, and the ISO text of dates and date-times.
    Text,
    /// `(data->>'k')::numeric` (SQLite: REAL).
    Number,
    /// `(data->>'k')::boolean`.
    Boolean,
    /// `data->'k'`, a MULTI_SELECT's array, for containment (PostgreSQL).
    Array,
}

impl SlotKind {
    pub const ALL: [SlotKind; 4] = [SlotKind::Text, SlotKind::Number, SlotKind::Boolean, SlotKind::Array];

    fn letter(self) -> char {
        match self {
            SlotKind::Text => 't',
            SlotKind::Number => 'n',
            SlotKind::Boolean => 'b',
            SlotKind::Array => 'a',
        }
    }

    /// How many slots of the kind each entity has (migration 22 made the columns).
    pub fn count(self) -> u8 {
        match self {
            SlotKind::Text => 8,
            SlotKind::Number => 4,
            SlotKind::Boolean | SlotKind::Array => 2,
        }
    }

    /// What the kind holds, for messages.
    pub fn what(self) -> &'static str {
        match self {
            SlotKind::Text => "text, select, date and relation",
            SlotKind::Number => "number and currency",
            SlotKind::Boolean => "boolean",
            SlotKind::Array => "multi-select",
        }
    }

    fn parse(c: char) -> Option<SlotKind> {
        SlotKind::ALL.into_iter().find(|k| k.letter() == c)
    }
}

/// One slot: a kind and its number (1-based), stored as `t3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slot {
    pub kind: SlotKind,
    pub n: u8,
}

impl Slot {
    /// Every slot the database has (migration 22): array slots on PostgreSQL only.
    pub fn all(d: Dialect) -> impl Iterator<Item = Slot> {
        SlotKind::ALL
            .into_iter()
            .filter(move |k| *k != SlotKind::Array || d == Dialect::Postgres)
            .flat_map(|kind| (1..=kind.count()).map(move |n| Slot { kind, n }))
    }

    /// `t3` → the third text slot; `None` for anything that names no slot.
    pub fn parse(s: &str) -> Option<Slot> {
        let mut chars = s.chars();
        let kind = SlotKind::parse(chars.next()?)?;
        let n: u8 = chars.as_str().parse().ok()?;
        (1..=kind.count()).contains(&n).then_some(Slot { kind, n })
    }

    /// The stored name, `t3`.
    pub fn name(self) -> String {
        format!("{}{}", self.kind.letter(), self.n)
    }

    /// The generated value column, `ix_t3`.
    pub fn column(self) -> String {
        format!("ix_{}", self.name())
    }

    /// The key column, `ixk_t3`.
    pub fn key_column(self) -> String {
        format!("ixk_{}", self.name())
    }
}
