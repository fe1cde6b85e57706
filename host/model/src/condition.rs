//! `when:` conditions: a small expression language over workflow parameters and the
//! metrics recorded by upstream steps, e.g. `steps.evaluate.metrics.accuracy >= 0.9`.
//!
//! Grammar: `or := and ('||' and)*`, `and := unary ('&&' unary)*`,
//! `unary := '!' unary | cmp`, `cmp := atom (('=='|'!='|'<'|'<='|'>'|'>=') atom)?`,
//! `atom := number | 'text' | "text" | true | false | params.NAME | steps.ID.metrics.NAME | '(' or ')'`.
//! Parameters are folded into constants during validation; metrics are looked up when the
//! step is about to run.

use crate::diagnostic::clip;
use crate::step_info::ParamValue;
use std::collections::BTreeMap;
use std::fmt;

/// Longest condition text, in bytes.
pub const MAX_CONDITION_BYTES: usize = 4096;
/// Most tokens in one condition. Evaluating, folding and dropping an expression recurse
/// over its tree, whose depth is at most the number of tokens: the cap keeps that
/// recursion far from the end of any thread's stack (a chain of `a && a && ...` of a
/// hundred thousand terms overflowed it).
pub const MAX_CONDITION_TOKENS: usize = 256;
/// Deepest nesting of parentheses and `!`.
pub const MAX_CONDITION_NESTING: usize = 64;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A constant.
    Const(Value),
    /// A workflow parameter (replaced by a constant during validation).
    Param(String),
    /// A metric recorded by a step.
    Metric {
        /// Step id.
        step: String,
        /// Metric name.
        name: String,
    },
    /// Logical not.
    Not(Box<Expr>),
    /// Logical and (short-circuit).
    And(Box<Expr>, Box<Expr>),
    /// Logical or (short-circuit).
    Or(Box<Expr>, Box<Expr>),
    /// Comparison.
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
}

/// A value an expression computes.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A number (integers are widened).
    Num(f64),
    /// Text.
    Str(String),
    /// A boolean.
    Bool(bool),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Num(n) => write!(f, "{n}"),
            Value::Str(s) => write!(f, "'{s}'"),
            Value::Bool(b) => write!(f, "{b}"),
        }
    }
}

impl From<&ParamValue> for Value {
    fn from(v: &ParamValue) -> Value {
        match v {
            ParamValue::Str(s) => Value::Str(s.clone()),
            #[allow(clippy::cast_precision_loss)]
            ParamValue::Int(i) => Value::Num(*i as f64),
            ParamValue::Float(x) => Value::Num(*x),
            ParamValue::Bool(b) => Value::Bool(*b),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Num(f64),
    Str(String),
    Ident(String),
    Op(&'static str),
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if out.len() >= MAX_CONDITION_TOKENS {
            return Err(format!(
                "the condition has more than {MAX_CONDITION_TOKENS} tokens; split it across steps"
            ));
        }
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '.' | '_')) {
                i += 1;
            }
            let s: String = chars[start..i].iter().collect();
            let n: f64 = s.parse().map_err(|_| format!("`{}` is not a number", clip(&s, 40)))?;
            if !n.is_finite() {
                return Err(format!("`{}` is out of range for a 64-bit float", clip(&s, 40)));
            }
            out.push(Token::Num(n));
        } else if c == '\'' || c == '"' {
            let end = chars[i + 1..]
                .iter()
                .position(|&d| d == c)
                .ok_or_else(|| format!("unclosed {c} string"))?;
            out.push(Token::Str(chars[i + 1..i + 1 + end].iter().collect()));
            i += end + 2;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '.' | '_' | '-')) {
                i += 1;
            }
            out.push(Token::Ident(chars[start..i].iter().collect()));
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let op = ["==", "!=", "<=", ">=", "&&", "||"].into_iter().find(|o| *o == two);
            if let Some(op) = op {
                out.push(Token::Op(op));
                i += 2;
            } else if let Some(op) = ["<", ">", "!", "(", ")"].into_iter().find(|o| o.starts_with(c)) {
                out.push(Token::Op(op));
                i += 1;
            } else {
                return Err(format!("unexpected `{c}`"));
            }
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek_op(&self, op: &str) -> bool {
        matches!(self.tokens.get(self.pos), Some(Token::Op(o)) if *o == op)
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.peek_op("||") {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while self.peek_op("&&") {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.peek_op("!") {
            self.pos += 1;
            self.depth += 1;
            if self.depth > MAX_CONDITION_NESTING {
                return Err("expression nests too deeply".into());
            }
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.cmp()
    }

    fn cmp(&mut self) -> Result<Expr, String> {
        let left = self.atom()?;
        let op = match self.tokens.get(self.pos) {
            Some(Token::Op("==")) => CmpOp::Eq,
            Some(Token::Op("!=")) => CmpOp::Ne,
            Some(Token::Op("<")) => CmpOp::Lt,
            Some(Token::Op("<=")) => CmpOp::Le,
            Some(Token::Op(">")) => CmpOp::Gt,
            Some(Token::Op(">=")) => CmpOp::Ge,
            _ => return Ok(left),
        };
        self.pos += 1;
        Ok(Expr::Cmp(op, Box::new(left), Box::new(self.atom()?)))
    }

    fn atom(&mut self) -> Result<Expr, String> {
        let token = self
            .tokens
            .get(self.pos)
            .cloned()
            .ok_or("the expression ends too early")?;
        self.pos += 1;
        Ok(match token {
            Token::Num(n) => Expr::Const(Value::Num(n)),
            Token::Str(s) => Expr::Const(Value::Str(s)),
            Token::Op("(") => {
                self.depth += 1;
                if self.depth > MAX_CONDITION_NESTING {
                    return Err("expression nests too deeply".into());
                }
                let inner = self.or()?;
                if !self.peek_op(")") {
                    return Err("missing `)`".into());
                }
                self.pos += 1;
                self.depth -= 1;
                inner
            }
            Token::Op(op) => return Err(format!("unexpected `{op}`")),
            Token::Ident(id) => match id.as_str() {
                "true" => Expr::Const(Value::Bool(true)),
                "false" => Expr::Const(Value::Bool(false)),
                _ => reference(&id)?,
            },
        })
    }
}

fn reference(id: &str) -> Result<Expr, String> {
    let parts: Vec<&str> = id.split('.').collect();
    match parts.as_slice() {
        ["params", name] => Ok(Expr::Param((*name).to_string())),
        ["steps", step, "metrics", name] => Ok(Expr::Metric {
            step: (*step).to_string(),
            name: (*name).to_string(),
        }),
        _ => Err(format!(
            "unknown name `{}`: use `params.NAME` or `steps.STEP.metrics.NAME`",
            clip(id, 64)
        )),
    }
}

impl Expr {
    /// Parses condition text; an enclosing `${{ ... }}` is optional.
    pub fn parse(text: &str) -> Result<Expr, String> {
        if text.len() > MAX_CONDITION_BYTES {
            return Err(format!(
                "the condition is {} bytes; at most {MAX_CONDITION_BYTES}",
                text.len()
            ));
        }
        let t = text.trim();
        let inner = t.strip_prefix("${{").and_then(|r| r.strip_suffix("}}")).unwrap_or(t);
        let tokens = tokenize(inner)?;
        if tokens.is_empty() {
            return Err("the condition is empty".into());
        }
        let mut p = Parser {
            tokens,
            pos: 0,
            depth: 0,
        };
        let e = p.or()?;
        if p.pos < p.tokens.len() {
            let shown = clip(&format!("{:?}", p.tokens[p.pos]), 64);
            return Err(format!("unexpected {shown} after a complete expression"));
        }
        Ok(e)
    }

    /// Replaces parameters by their values; an undeclared one is an error.
    pub fn fold_params(self, params: &BTreeMap<String, ParamValue>) -> Result<Expr, String> {
        let fold = |e: Box<Expr>| e.fold_params(params).map(Box::new);
        Ok(match self {
            Expr::Param(name) => match params.get(&name) {
                Some(v) => Expr::Const(v.into()),
                None => return Err(format!("`params.{name}` is not a declared workflow parameter")),
            },
            Expr::Not(e) => Expr::Not(fold(e)?),
            Expr::And(a, b) => Expr::And(fold(a)?, fold(b)?),
            Expr::Or(a, b) => Expr::Or(fold(a)?, fold(b)?),
            Expr::Cmp(op, a, b) => Expr::Cmp(op, fold(a)?, fold(b)?),
            other => other,
        })
    }

    /// The steps whose metrics the expression reads.
    pub fn steps(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.visit(&mut |e| {
            if let Expr::Metric { step, .. } = e {
                out.push(step.as_str());
            }
        });
        out
    }

    fn visit<'a>(&'a self, f: &mut impl FnMut(&'a Expr)) {
        f(self);
        match self {
            Expr::Not(e) => e.visit(f),
            Expr::And(a, b) | Expr::Or(a, b) | Expr::Cmp(_, a, b) => {
                a.visit(f);
                b.visit(f);
            }
            _ => {}
        }
    }

    /// Evaluates to a boolean, reading metrics through `metric(step, name)`.
    pub fn eval_bool(&self, metric: &dyn Fn(&str, &str) -> Option<f64>) -> Result<bool, String> {
        match self.eval(metric)? {
            Value::Bool(b) => Ok(b),
            other => Err(format!("the condition gives {other}, not true or false")),
        }
    }

    fn eval(&self, metric: &dyn Fn(&str, &str) -> Option<f64>) -> Result<Value, String> {
        Ok(match self {
            Expr::Const(v) => v.clone(),
            Expr::Param(p) => return Err(format!("`params.{p}` was not substituted")),
            Expr::Metric { step, name } => {
                Value::Num(metric(step, name).ok_or_else(|| format!("step `{step}` recorded no metric `{name}`"))?)
            }
            Expr::Not(e) => Value::Bool(!e.eval_bool(metric)?),
            Expr::And(a, b) => Value::Bool(a.eval_bool(metric)? && b.eval_bool(metric)?),
            Expr::Or(a, b) => Value::Bool(a.eval_bool(metric)? || b.eval_bool(metric)?),
            Expr::Cmp(op, a, b) => {
                let (l, r) = (a.eval(metric)?, b.eval(metric)?);
                let ord = match (&l, &r) {
                    (Value::Num(x), Value::Num(y)) => x.partial_cmp(y),
                    (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
                    (Value::Bool(x), Value::Bool(y)) if matches!(op, CmpOp::Eq | CmpOp::Ne) => Some(x.cmp(y)),
                    _ => return Err(format!("cannot compare {l} with {r}")),
                };
                use std::cmp::Ordering::{Equal, Greater, Less};
                Value::Bool(match (op, ord) {
                    (_, None) => matches!(op, CmpOp::Ne), // NaN: only `!=` holds
                    (CmpOp::Eq, Some(o)) => o == Equal,
                    (CmpOp::Ne, Some(o)) => o != Equal,
                    (CmpOp::Lt, Some(o)) => o == Less,
                    (CmpOp::Le, Some(o)) => o != Greater,
                    (CmpOp::Gt, Some(o)) => o == Greater,
                    (CmpOp::Ge, Some(o)) => o != Less,
                })
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(step: &str, name: &str) -> Option<f64> {
        match (step, name) {
            ("evaluate", "accuracy") => Some(0.93),
            ("evaluate", "auc") => Some(0.99),
            _ => None,
        }
    }

    fn eval(text: &str) -> Result<bool, String> {
        let params: BTreeMap<String, ParamValue> = [
            ("threshold".to_string(), ParamValue::Float(0.9)),
            ("deploy".to_string(), ParamValue::Bool(true)),
            ("env".to_string(), ParamValue::Str("prod".into())),
        ]
        .into_iter()
        .collect();
        Expr::parse(text)?.fold_params(&params)?.eval_bool(&metrics)
    }

    #[test]
    fn comparisons_and_logic() {
        assert_eq!(
            eval("${{ steps.evaluate.metrics.accuracy >= params.threshold }}"),
            Ok(true)
        );
        assert_eq!(eval("steps.evaluate.metrics.accuracy > 0.95"), Ok(false));
        assert_eq!(eval("params.deploy && params.env == 'prod'"), Ok(true));
        assert_eq!(eval("!(params.deploy) || steps.evaluate.metrics.auc < 0.5"), Ok(false));
        assert_eq!(eval("params.env != \"dev\" && (1 < 2 || false)"), Ok(true));
        assert_eq!(eval("-1 < 0"), Ok(true));
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert!(
            eval("steps.evaluate.metrics.f1 > 0")
                .expect_err("missing")
                .contains("recorded no metric `f1`")
        );
        assert!(eval("params.nope").expect_err("undeclared").contains("params.nope"));
        assert!(eval("params.env > 1").expect_err("types").contains("cannot compare"));
        assert!(eval("1 + 2").expect_err("syntax").contains("unexpected `+`"));
        assert!(eval("steps.x.y").expect_err("ref").contains("unknown name"));
        assert!(
            eval("params.threshold")
                .expect_err("not bool")
                .contains("not true or false")
        );
        assert!(eval("(1 < 2").expect_err("paren").contains("missing `)`"));
        assert!(eval("").expect_err("empty").contains("empty"));
        assert!(eval(&"(".repeat(100)).is_err());
        assert!(eval(&"!".repeat(100)).is_err());
        assert!(eval("1e400 > 1").expect_err("inf").contains("out of range"));
    }

    #[test]
    fn size_and_depth_are_bounded() {
        let chain = vec!["params.deploy"; 200].join(" && ");
        assert!(eval(&chain).expect_err("tokens").contains("more than 256 tokens"));
        let ok = vec!["params.deploy"; 100].join(" && ");
        assert_eq!(eval(&ok), Ok(true));
        let negations = vec!["!!params.deploy"; 50].join(" && ");
        assert_eq!(eval(&negations), Ok(true), "each `!` nests only its own operand");
        assert!(
            eval(&"1 < 2 || ".repeat(2000))
                .expect_err("long")
                .contains("at most 4096")
        );
    }

    #[test]
    fn lists_the_steps_it_reads() {
        let e = Expr::parse("steps.a.metrics.x > 1 && steps.b.metrics.y < 2").expect("valid");
        assert_eq!(e.steps(), vec!["a", "b"]);
    }
}
