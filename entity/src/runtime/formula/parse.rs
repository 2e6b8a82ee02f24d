//! The formula language's syntax: a hand-written tokenizer and a Pratt parser from the
//! expression text to an untyped tree (`Node`), every node with the character position it
//! starts at, so the checker's messages can point at it.
//!
//! Grammar (keywords and function names are case-insensitive):
//! `expr := literal | ref | ref.ref | -expr | NOT expr | expr op expr | (expr)
//!        | NAME(expr, …) | CASE WHEN expr THEN expr … [ELSE expr] END`,
//! literals `12`, `0.5`, `'text'` (a quote doubled inside), `TRUE`, `FALSE`, `NULL`;
//! operators by binding strength: `OR` < `AND` < `NOT` < `= <> != < <= > >=` < `&` < `+ -`
//! < `* /` < unary `-`.

/// Longest expression accepted (characters).
pub const MAX_LEN: usize = 2000;
/// Deepest nesting accepted (keeps the recursion and the generated SQL bounded).
const MAX_DEPTH: u32 = 64;

/// A syntax or type error at a character position of the expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub pos: usize,
    pub message: String,
}

impl Problem {
    pub fn at(pos: usize, message: impl Into<String>) -> Problem {
        Problem { pos, message: message.into() }
    }
}

/// A binary operator as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Concat,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

impl BinOp {
    fn power(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And => 2,
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => 4,
            BinOp::Concat => 5,
            BinOp::Add | BinOp::Sub => 6,
            BinOp::Mul | BinOp::Div => 7,
        }
    }
}

/// Binding strength of prefix `NOT` (above AND, below comparisons) and of unary minus.
const NOT_POWER: u8 = 3;
const NEG_POWER: u8 = 8;

/// The untyped tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub pos: usize,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Number(String),
    Text(String),
    Bool(bool),
    Null,
    /// `field` or `relation.field`.
    Ref(Vec<String>),
    Neg(Box<Node>),
    Not(Box<Node>),
    Binary(BinOp, Box<Node>, Box<Node>),
    /// A function call, its name upper-cased.
    Call(String, Vec<Node>),
    Case(Vec<(Node, Node)>, Option<Box<Node>>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Number(String),
    Text(String),
    Ident(String),
    Op(&'static str),
    Dot,
    Comma,
    Open,
    Close,
    End,
}

fn tokenize(src: &str) -> Result<Vec<(usize, Tok)>, Problem> {
    let chars: Vec<(usize, char)> = src.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    // Positions are in characters, which is what a person counts.
    while i < chars.len() {
        let c = chars[i].1;
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() {
            while i < chars.len() && chars[i].1.is_ascii_digit() {
                i += 1;
            }
            if i + 1 < chars.len() && chars[i].1 == '.' && chars[i + 1].1.is_ascii_digit() {
                i += 1;
                while i < chars.len() && chars[i].1.is_ascii_digit() {
                    i += 1;
                }
            }
            out.push((start, Tok::Number(chars[start..i].iter().map(|c| c.1).collect())));
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            while i < chars.len() && (chars[i].1.is_ascii_alphanumeric() || chars[i].1 == '_') {
                i += 1;
            }
            out.push((start, Tok::Ident(chars[start..i].iter().map(|c| c.1).collect())));
            continue;
        }
        if c == '\'' || c == '"' {
            let mut text = String::new();
            i += 1;
            loop {
                match chars.get(i).map(|c| c.1) {
                    None => return Err(Problem::at(start, "unterminated string")),
                    Some(q) if q == c && chars.get(i + 1).map(|c| c.1) == Some(c) => {
                        text.push(c);
                        i += 2;
                    }
                    Some(q) if q == c => {
                        i += 1;
                        break;
                    }
                    Some('\0') => return Err(Problem::at(i, "strings cannot hold a NUL character")),
                    Some(other) => {
                        text.push(other);
                        i += 1;
                    }
                }
            }
            out.push((start, Tok::Text(text)));
            continue;
        }
        let next = chars.get(i + 1).map(|c| c.1);
        let (tok, len) = match (c, next) {
            ('<', Some('=')) => (Tok::Op("<="), 2),
            ('>', Some('=')) => (Tok::Op(">="), 2),
            ('<', Some('>')) | ('!', Some('=')) => (Tok::Op("<>"), 2),
            ('<', _) => (Tok::Op("<"), 1),
            ('>', _) => (Tok::Op(">"), 1),
            ('=', _) => (Tok::Op("="), 1),
            ('+', _) => (Tok::Op("+"), 1),
            ('-', _) => (Tok::Op("-"), 1),
            ('*', _) => (Tok::Op("*"), 1),
            ('/', _) => (Tok::Op("/"), 1),
            ('&', _) => (Tok::Op("&"), 1),
            ('.', _) => (Tok::Dot, 1),
            (',', _) => (Tok::Comma, 1),
            ('(', _) => (Tok::Open, 1),
            (')', _) => (Tok::Close, 1),
            _ => return Err(Problem::at(start, format!("unexpected character `{c}`"))),
        };
        out.push((start, tok));
        i += len;
    }
    out.push((chars.len(), Tok::End));
    Ok(out)
}

/// Parses a whole expression.
pub fn parse(src: &str) -> Result<Node, Problem> {
    if src.chars().count() > MAX_LEN {
        return Err(Problem::at(0, format!("is longer than {MAX_LEN} characters")));
    }
    let toks = tokenize(src)?;
    let mut p = Parser { toks, at: 0, depth: 0 };
    let node = p.expr(0)?;
    match p.peek() {
        Tok::End => Ok(node),
        _ => Err(Problem::at(p.pos(), "expected an operator or the end of the expression")),
    }
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    at: usize,
    depth: u32,
}

fn keyword(t: &Tok, word: &str) -> bool {
    matches!(t, Tok::Ident(s) if s.eq_ignore_ascii_case(word))
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.at.min(self.toks.len() - 1)].1
    }

    fn pos(&self) -> usize {
        self.toks[self.at.min(self.toks.len() - 1)].0
    }

    fn bump(&mut self) -> (usize, Tok) {
        let t = self.toks[self.at.min(self.toks.len() - 1)].clone();
        self.at += 1;
        t
    }

    fn expect(&mut self, want: &Tok, what: &str) -> Result<(), Problem> {
        if self.peek() == want {
            self.bump();
            Ok(())
        } else {
            Err(Problem::at(self.pos(), format!("expected {what}")))
        }
    }

    fn expect_word(&mut self, word: &str) -> Result<(), Problem> {
        if keyword(self.peek(), word) {
            self.bump();
            Ok(())
        } else {
            Err(Problem::at(self.pos(), format!("expected {word}")))
        }
    }

    /// The binary operator at the cursor, if any.
    fn infix(&self) -> Option<BinOp> {
        Some(match self.peek() {
            Tok::Op("+") => BinOp::Add,
            Tok::Op("-") => BinOp::Sub,
            Tok::Op("*") => BinOp::Mul,
            Tok::Op("/") => BinOp::Div,
            Tok::Op("&") => BinOp::Concat,
            Tok::Op("=") => BinOp::Eq,
            Tok::Op("<>") => BinOp::Ne,
            Tok::Op("<") => BinOp::Lt,
            Tok::Op("<=") => BinOp::Le,
            Tok::Op(">") => BinOp::Gt,
            Tok::Op(">=") => BinOp::Ge,
            t if keyword(t, "AND") => BinOp::And,
            t if keyword(t, "OR") => BinOp::Or,
            _ => return None,
        })
    }

    fn expr(&mut self, min: u8) -> Result<Node, Problem> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Problem::at(self.pos(), "is nested too deeply"));
        }
        let mut left = self.prefix()?;
        while let Some(op) = self.infix() {
            let power = op.power();
            if power <= min {
                break;
            }
            let pos = self.pos();
            self.bump();
            let right = self.expr(power)?;
            left = Node { pos, kind: Kind::Binary(op, Box::new(left), Box::new(right)) };
        }
        self.depth -= 1;
        Ok(left)
    }

    fn prefix(&mut self) -> Result<Node, Problem> {
        let (pos, tok) = self.bump();
        let kind = match tok {
            Tok::Number(n) => Kind::Number(n),
            Tok::Text(s) => Kind::Text(s),
            Tok::Op("-") => Kind::Neg(Box::new(self.expr(NEG_POWER)?)),
            Tok::Open => {
                let inner = self.expr(0)?;
                self.expect(&Tok::Close, "`)`")?;
                return Ok(inner);
            }
            Tok::Ident(word) => return self.word(pos, &word),
            Tok::End => return Err(Problem::at(pos, "expected a value, found the end of the expression")),
            _ => return Err(Problem::at(pos, "expected a value")),
        };
        Ok(Node { pos, kind })
    }

    /// A literal keyword, `NOT`, `CASE`, a function call or a field reference.
    fn word(&mut self, pos: usize, word: &str) -> Result<Node, Problem> {
        let upper = word.to_ascii_uppercase();
        let kind = match upper.as_str() {
            "TRUE" => Kind::Bool(true),
            "FALSE" => Kind::Bool(false),
            "NULL" => Kind::Null,
            "NOT" => Kind::Not(Box::new(self.expr(NOT_POWER)?)),
            "CASE" => self.case()?,
            _ if *self.peek() == Tok::Open => {
                self.bump();
                let mut args = Vec::new();
                if *self.peek() != Tok::Close {
                    loop {
                        args.push(self.expr(0)?);
                        if *self.peek() == Tok::Comma {
                            self.bump();
                        } else {
                            break;
                        }
                    }
                }
                self.expect(&Tok::Close, "`,` or `)`")?;
                Kind::Call(upper, args)
            }
            _ => {
                let mut path = vec![word.to_owned()];
                while *self.peek() == Tok::Dot {
                    self.bump();
                    match self.bump() {
                        (_, Tok::Ident(next)) => path.push(next),
                        (p, _) => return Err(Problem::at(p, "expected a field key after `.`")),
                    }
                }
                Kind::Ref(path)
            }
        };
        Ok(Node { pos, kind })
    }

    fn case(&mut self) -> Result<Kind, Problem> {
        let mut arms = Vec::new();
        while keyword(self.peek(), "WHEN") {
            self.bump();
            let cond = self.expr(0)?;
            self.expect_word("THEN")?;
            arms.push((cond, self.expr(0)?));
        }
        if arms.is_empty() {
            return Err(Problem::at(self.pos(), "expected WHEN"));
        }
        let otherwise = if keyword(self.peek(), "ELSE") {
            self.bump();
            Some(Box::new(self.expr(0)?))
        } else {
            None
        };
        self.expect_word("END")?;
        Ok(Kind::Case(arms, otherwise))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_and_positions() {
        let n = parse("a + b * 2 > 3 AND NOT c").expect("parses");
        let Kind::Binary(BinOp::And, left, right) = n.kind else { panic!("AND at the top: {n:?}") };
        assert!(matches!(right.kind, Kind::Not(_)));
        let Kind::Binary(BinOp::Gt, sum, _) = left.kind else { panic!("comparison under AND") };
        let Kind::Binary(BinOp::Add, _, product) = sum.kind else { panic!("sum under >") };
        // A binary node is where its operator is.
        assert_eq!(product.pos, 6);
        assert!(matches!(product.kind, Kind::Binary(BinOp::Mul, _, _)));
    }

    #[test]
    fn strings_calls_case_and_errors() {
        let n = parse("CONCAT('it''s', customer.name) & \"x\"").expect("parses");
        assert!(matches!(n.kind, Kind::Binary(BinOp::Concat, _, _)));
        let n = parse("case when x then 1 else 2 end").expect("parses");
        assert!(matches!(n.kind, Kind::Case(ref arms, Some(_)) if arms.len() == 1));
        assert_eq!(parse("a +").expect_err("incomplete").pos, 3);
        assert_eq!(parse("a # b").expect_err("bad char").pos, 2);
        assert_eq!(parse("(a").expect_err("unclosed").pos, 2);
        assert_eq!(parse("'abc").expect_err("unterminated").pos, 0);
    }
}
