//! Resolving and type-checking formulas against the definitions: every reference named by key
//! (`amount`, or `customer.name` through a to-one RELATION field to a stored field of its
//! target), another formula of the same entity inlined (a cycle is refused), and every
//! operator and function given operands of the types it takes. A problem names the character
//! position it was found at.

use std::collections::HashMap;
use std::sync::Arc;

use super::parse::{self, BinOp, Kind, Node, Problem};
use super::{Arith, Clock, Cmp, Expr, Formula, Hop, Read, Text1, Ty};
use crate::runtime::decimal::Decimal;
use crate::runtime::meta::{EntityDef, FieldDef, FieldType};

/// A formula that does not check: which, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    pub entity_id: String,
    pub key: String,
    pub message: String,
}

/// The most relations a reference follows (`a.b.c.field`): each is one more subquery in SQL
/// and one more statement before an in-memory evaluation.
pub const MAX_HOPS: usize = 3;

/// `entities` with every formula field's tree resolved and checked (TODAY and NOW reading
/// `clock`), and the formulas that do not check (left without a tree: their value is null).
pub fn resolve_all(entities: &[Arc<EntityDef>], clock: &Clock) -> (Vec<Arc<EntityDef>>, Vec<Broken>) {
    let mut broken = Vec::new();
    let out = entities
        .iter()
        .map(|e| {
            if !e.fields.iter().any(|f| f.formula.is_some()) {
                return e.clone();
            }
            let mut ctx = Ctx { entity: e, all: entities, clock, done: HashMap::new(), stack: Vec::new() };
            let mut changed = (**e).clone();
            for f in &mut changed.fields {
                let Some(formula) = &f.formula else { continue };
                let checked = ctx.field(f).and_then(|(expr, ty)| result_fits(f, ty).map(|()| expr));
                let expression = formula.expression.clone();
                f.formula = Some(Arc::new(match checked {
                    Ok(expr) => {
                        let relations = relations_of(&expr);
                        Formula { expression, expr: Some(expr), relations }
                    }
                    Err(p) => {
                        let message = format!("at position {}: {}", p.pos, p.message);
                        broken.push(Broken { entity_id: e.id.clone(), key: f.key.to_string(), message });
                        Formula { expression, expr: None, relations: Vec::new() }
                    }
                }));
            }
            Arc::new(changed)
        })
        .collect();
    (out, broken)
}

fn result_fits(f: &FieldDef, ty: Option<Ty>) -> Result<(), Problem> {
    let want = match f.ty {
        FieldType::Number | FieldType::Currency => Ty::Number,
        FieldType::Text => Ty::Text,
        FieldType::Boolean => Ty::Bool,
        FieldType::Date => Ty::Date,
        FieldType::Datetime => Ty::Datetime,
        other => return Err(Problem::at(0, format!("{} is not a result type", other.as_str()))),
    };
    match ty {
        Some(t) if t != want => Err(Problem::at(
            0,
            format!("the expression is {}, but resultType is {}", t.name(), f.ty.as_str()),
        )),
        _ => Ok(()),
    }
}

/// The relation paths `e` reads through, each prefix before the paths that extend it.
fn relations_of(e: &Expr) -> Vec<Vec<Hop>> {
    let mut out: Vec<Vec<Hop>> = Vec::new();
    for r in e.reads() {
        for n in 1..=r.via.len() {
            let prefix = r.via[..n].to_vec();
            if !out.contains(&prefix) {
                out.push(prefix);
            }
        }
    }
    out.sort_by_key(Vec::len);
    out
}

/// The type an expression reads stored values of `ty` as (`None`: not usable in formulas).
fn stored_ty(ty: FieldType) -> Option<Ty> {
    match ty {
        FieldType::Number | FieldType::Currency => Some(Ty::Number),
        FieldType::Boolean => Some(Ty::Bool),
        FieldType::Date => Some(Ty::Date),
        FieldType::Datetime => Some(Ty::Datetime),
        FieldType::Text
        | FieldType::Textarea
        | FieldType::Email
        | FieldType::Phone
        | FieldType::Url
        | FieldType::Select
        | FieldType::Relation
        | FieldType::Uid => Some(Ty::Text),
        FieldType::MultiSelect | FieldType::File | FieldType::Json => None,
    }
}

type Typed = (Expr, Option<Ty>);

/// Checking the formulas of one entity, each at most once.
struct Ctx<'a> {
    entity: &'a EntityDef,
    all: &'a [Arc<EntityDef>],
    clock: &'a Clock,
    done: HashMap<String, Result<Typed, String>>,
    /// The formulas being checked, outermost first (a reference to one of them is a cycle).
    stack: Vec<String>,
}

impl Ctx<'_> {
    fn field(&mut self, f: &FieldDef) -> Result<Typed, Problem> {
        let key = f.key.to_string();
        if let Some(done) = self.done.get(&key) {
            return done.clone().map_err(|m| Problem::at(0, m));
        }
        let expression = f.formula.as_ref().map(|x| x.expression.clone()).unwrap_or_default();
        self.stack.push(key.clone());
        let result = parse::parse(&expression).and_then(|n| self.node(&n));
        self.stack.pop();
        self.done.insert(key, result.clone().map_err(|p| format!("at position {}: {}", p.pos, p.message)));
        result
    }

    fn node(&mut self, n: &Node) -> Result<Typed, Problem> {
        let at = |m: String| Problem::at(n.pos, m);
        Ok(match &n.kind {
            Kind::Number(s) => (
                Expr::Num(Decimal::parse(s).ok_or_else(|| at("number out of range".into()))?),
                Some(Ty::Number),
            ),
            Kind::Text(s) => (Expr::Text(s.clone()), Some(Ty::Text)),
            Kind::Bool(b) => (Expr::Bool(*b), Some(Ty::Bool)),
            Kind::Null => (Expr::Null, None),
            Kind::Ref(path) => self.reference(n.pos, path)?,
            Kind::Neg(a) => (Expr::Neg(Box::new(self.want(a, Ty::Number, "`-`")?)), Some(Ty::Number)),
            Kind::Not(a) => (Expr::Not(Box::new(self.want(a, Ty::Bool, "NOT")?)), Some(Ty::Bool)),
            Kind::Binary(op, a, b) => self.binary(n.pos, *op, a, b)?,
            Kind::Call(name, args) => self.call(n.pos, name, args)?,
            Kind::Case(arms, otherwise) => {
                let mut checked = Vec::new();
                let mut values = Vec::new();
                for (c, v) in arms {
                    let c = self.want(c, Ty::Bool, "WHEN")?;
                    values.push((v.pos, self.node(v)?));
                    checked.push(c);
                }
                if let Some(o) = otherwise {
                    values.push((o.pos, self.node(o)?));
                } else {
                    values.push((n.pos, (Expr::Null, None)));
                }
                let ty = unify(&values, "CASE")?;
                let mut values: Vec<Expr> = values.into_iter().map(|(_, (e, _))| e).collect();
                let otherwise = values.pop().unwrap_or(Expr::Null);
                (
                    Expr::Case(
                        checked.into_iter().zip(values).collect(),
                        Box::new(otherwise),
                        ty.unwrap_or(Ty::Text),
                    ),
                    ty,
                )
            }
        })
    }

    /// `n` checked, which must be of type `ty` (or null).
    fn want(&mut self, n: &Node, ty: Ty, what: &str) -> Result<Expr, Problem> {
        let (e, got) = self.node(n)?;
        match got {
            Some(t) if t != ty => {
                Err(Problem::at(n.pos, format!("{what} takes {}, not {}", ty.name(), t.name())))
            }
            _ => Ok(e),
        }
    }

    fn reference(&mut self, pos: usize, path: &[String]) -> Result<Typed, Problem> {
        let at = |m: String| Problem::at(pos, m);
        let (key, relations) = path.split_last().ok_or_else(|| at("expected a field".into()))?;
        if relations.len() > MAX_HOPS {
            return Err(at(format!("a reference follows at most {MAX_HOPS} relations")));
        }
        let mut on = self.entity;
        let mut via = Vec::new();
        for step in relations {
            let here = on
                .field_by_key(step)
                .ok_or_else(|| at(format!("unknown field `{step}` of `{}`", on.name_singular)))?;
            if here.ty != FieldType::Relation || here.formula.is_some() {
                return Err(at(format!("`{}` is not a RELATION field", here.key)));
            }
            let target = here
                .related_entity_id
                .as_deref()
                .and_then(|id| {
                    self.all.iter().find(|e| e.id == id).map(|e| &**e).or((on.id == id).then_some(on))
                })
                .ok_or_else(|| at(format!("the target of `{}` is unknown", here.key)))?;
            via.push(Hop { key: here.key.clone(), entity_id: target.id.clone() });
            on = target;
        }
        let f = on.field_by_key(key).ok_or_else(|| {
            if via.is_empty() {
                at(format!("unknown field `{key}`"))
            } else {
                at(format!("unknown field `{key}` of `{}`", on.name_singular))
            }
        })?;
        if f.formula.is_some() {
            if !via.is_empty() {
                return Err(at(format!(
                    "`{}` is a formula: only stored fields are read through a relation",
                    path.join(".")
                )));
            }
            if self.stack.contains(&f.key.to_string()) {
                return Err(at(format!("`{}` refers to itself (a cycle of formulas)", f.key)));
            }
            let f = f.clone();
            return self
                .field(&f)
                .map_err(|p| at(format!("formula `{}` does not check ({})", f.key, p.message)));
        }
        let ty = stored_ty(f.ty)
            .ok_or_else(|| at(format!("a {} field cannot be used in a formula", f.ty.as_str())))?;
        Ok((Expr::Read(Read { via, key: f.key.clone(), ty }), Some(ty)))
    }

    fn binary(&mut self, pos: usize, op: BinOp, a: &Node, b: &Node) -> Result<Typed, Problem> {
        let arith = |op| -> Option<Arith> {
            Some(match op {
                BinOp::Add => Arith::Add,
                BinOp::Sub => Arith::Sub,
                BinOp::Mul => Arith::Mul,
                BinOp::Div => Arith::Div,
                _ => return None,
            })
        };
        let cmp = match op {
            BinOp::Eq => Some(Cmp::Eq),
            BinOp::Ne => Some(Cmp::Ne),
            BinOp::Lt => Some(Cmp::Lt),
            BinOp::Le => Some(Cmp::Le),
            BinOp::Gt => Some(Cmp::Gt),
            BinOp::Ge => Some(Cmp::Ge),
            _ => None,
        };
        if let Some(c) = cmp {
            let (x, tx) = self.node(a)?;
            let (y, ty) = self.node(b)?;
            let t = unify(&[(a.pos, (Expr::Null, tx)), (b.pos, (Expr::Null, ty))], "a comparison")?;
            if t == Some(Ty::Bool) && !matches!(c, Cmp::Eq | Cmp::Ne) {
                return Err(Problem::at(pos, "booleans compare only with `=` and `<>`"));
            }
            return Ok((Expr::Cmp(c, t.unwrap_or(Ty::Text), Box::new(x), Box::new(y)), Some(Ty::Bool)));
        }
        match op {
            BinOp::And | BinOp::Or => {
                let word = if op == BinOp::And { "AND" } else { "OR" };
                let x = Box::new(self.want(a, Ty::Bool, word)?);
                let y = Box::new(self.want(b, Ty::Bool, word)?);
                Ok((if op == BinOp::And { Expr::And(x, y) } else { Expr::Or(x, y) }, Some(Ty::Bool)))
            }
            BinOp::Concat => {
                let x = self.want(a, Ty::Text, "`&`")?;
                let y = self.want(b, Ty::Text, "`&`")?;
                Ok((Expr::Concat(Box::new(x), Box::new(y)), Some(Ty::Text)))
            }
            _ => {
                let (x, tx) = self.node(a)?;
                let (y, ty) = self.node(b)?;
                let symbol = match op {
                    BinOp::Add => "+",
                    BinOp::Sub => "-",
                    BinOp::Mul => "*",
                    _ => "/",
                };
                match (op, tx, ty) {
                    (BinOp::Add, Some(Ty::Date), Some(Ty::Number) | None) => {
                        Ok((Expr::AddDays(Box::new(x), Box::new(y)), Some(Ty::Date)))
                    }
                    (BinOp::Add, Some(Ty::Number) | None, Some(Ty::Date)) => {
                        Ok((Expr::AddDays(Box::new(y), Box::new(x)), Some(Ty::Date)))
                    }
                    (BinOp::Sub, Some(Ty::Date), Some(Ty::Number) | None) => {
                        Ok((Expr::AddDays(Box::new(x), Box::new(Expr::Neg(Box::new(y)))), Some(Ty::Date)))
                    }
                    // `TODAY() - close_date`: the days from the second date to the first.
                    (BinOp::Sub, Some(Ty::Date), Some(Ty::Date)) => {
                        Ok((Expr::DaysBetween(Box::new(y), Box::new(x)), Some(Ty::Number)))
                    }
                    _ => {
                        for (n, t) in [(a, tx), (b, ty)] {
                            if let Some(t) = t.filter(|t| *t != Ty::Number) {
                                return Err(Problem::at(
                                    n.pos,
                                    format!("`{symbol}` takes numbers, not {}", t.name()),
                                ));
                            }
                        }
                        let op = arith(op).unwrap_or(Arith::Add);
                        Ok((Expr::Arith(op, Box::new(x), Box::new(y)), Some(Ty::Number)))
                    }
                }
            }
        }
    }

    fn call(&mut self, pos: usize, name: &str, args: &[Node]) -> Result<Typed, Problem> {
        let arity = |want: usize| -> Result<(), Problem> {
            if args.len() == want {
                Ok(())
            } else {
                Err(Problem::at(
                    pos,
                    format!("{name} takes {want} argument{}", if want == 1 { "" } else { "s" }),
                ))
            }
        };
        let one = |ctx: &mut Self, ty: Ty| -> Result<Box<Expr>, Problem> {
            arity(1)?;
            Ok(Box::new(ctx.want(&args[0], ty, name)?))
        };
        Ok(match name {
            "IF" => {
                arity(3)?;
                let c = self.want(&args[0], Ty::Bool, "IF's condition")?;
                let values = vec![(args[1].pos, self.node(&args[1])?), (args[2].pos, self.node(&args[2])?)];
                let ty = unify(&values, "IF")?;
                let mut values = values.into_iter().map(|(_, (e, _))| e);
                let (a, b) = (values.next().unwrap_or(Expr::Null), values.next().unwrap_or(Expr::Null));
                (Expr::Case(vec![(c, a)], Box::new(b), ty.unwrap_or(Ty::Text)), ty)
            }
            "COALESCE" | "CONCAT" => {
                if args.is_empty() {
                    return Err(Problem::at(pos, format!("{name} takes at least one argument")));
                }
                let mut values = Vec::new();
                for a in args {
                    values.push((a.pos, self.node(a)?));
                }
                if name == "CONCAT" {
                    for (p, (_, t)) in &values {
                        if let Some(t) = t.filter(|t| *t != Ty::Text) {
                            return Err(Problem::at(*p, format!("CONCAT takes texts, not {}", t.name())));
                        }
                    }
                    (Expr::Join(values.into_iter().map(|(_, (e, _))| e).collect()), Some(Ty::Text))
                } else {
                    let ty = unify(&values, name)?;
                    (
                        Expr::Coalesce(
                            values.into_iter().map(|(_, (e, _))| e).collect(),
                            ty.unwrap_or(Ty::Text),
                        ),
                        ty,
                    )
                }
            }
            "ROUND" => {
                if args.is_empty() || args.len() > 2 {
                    return Err(Problem::at(pos, "ROUND takes a number and, optionally, places (0 to 9)"));
                }
                let x = self.want(&args[0], Ty::Number, name)?;
                let places = match args.get(1).map(|a| &a.kind) {
                    None => 0,
                    Some(Kind::Number(s)) => {
                        s.parse::<u32>().ok().filter(|p| *p <= super::num::SCALE).ok_or_else(|| {
                            Problem::at(args[1].pos, "ROUND's places must be a whole number from 0 to 9")
                        })?
                    }
                    Some(_) => {
                        return Err(Problem::at(
                            args[1].pos,
                            "ROUND's places must be a whole number literal",
                        ));
                    }
                };
                (Expr::Round(Box::new(x), places), Some(Ty::Number))
            }
            "ABS" => (Expr::Abs(one(self, Ty::Number)?), Some(Ty::Number)),
            "LOWER" => (Expr::Fold(Text1::Lower, one(self, Ty::Text)?), Some(Ty::Text)),
            "UPPER" => (Expr::Fold(Text1::Upper, one(self, Ty::Text)?), Some(Ty::Text)),
            "LEN" => (Expr::Len(one(self, Ty::Text)?), Some(Ty::Number)),
            "DAYS_BETWEEN" => {
                arity(2)?;
                let a = self.want(&args[0], Ty::Date, name)?;
                let b = self.want(&args[1], Ty::Date, name)?;
                (Expr::DaysBetween(Box::new(a), Box::new(b)), Some(Ty::Number))
            }
            "TODAY" => {
                arity(0)?;
                (Expr::Today(self.clock.clone()), Some(Ty::Date))
            }
            "NOW" => {
                arity(0)?;
                (Expr::Now(self.clock.clone()), Some(Ty::Datetime))
            }
            _ => return Err(Problem::at(pos, format!("unknown function `{name}`"))),
        })
    }
}

/// The one type of several values (nulls fit any), or a problem at the first that differs.
fn unify(values: &[(usize, Typed)], what: &str) -> Result<Option<Ty>, Problem> {
    let mut found: Option<Ty> = None;
    for (pos, (_, t)) in values {
        match (found, t) {
            (None, Some(t)) => found = Some(*t),
            (Some(f), Some(t)) if f != *t => {
                return Err(Problem::at(*pos, format!("{what} mixes {} and {}", f.name(), t.name())));
            }
            _ => {}
        }
    }
    Ok(found)
}
