//! The SCIM filter and PATCH path grammar (RFC 7644 §3.4.2.2 and §3.5.2), parsed into an AST.
//! `sql.rs` turns a [`Filter`] into a database condition; [`matches`] evaluates one against a
//! JSON value in memory (PATCH value-filtered paths).

mod eval;

use serde_json::{Number, Value};

/// `[schemaURN ":"] attrName ["." subAttr]`, as written (case preserved; lookups are
/// case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN prefix, e.g. `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`.
    pub schema: Option<String>,
    pub attr: String,
    pub sub: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    String(String),
    Number(Number),
    Bool(bool),
    Null,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: Literal,
    },
    Present(AttrPath),
    /// `emails[type eq "work"]`: some element of the multi-valued `attr` (whose `sub` is
    /// `None`) matches `filter`, whose paths are relative to the element. The filter form
    /// `emails[type eq "work"].value eq "x"` is parsed as `emails[type eq "work" and value eq
    /// "x"]`.
    ValuePath {
        attr: AttrPath,
        filter: Box<Filter>,
    },
}

/// A PATCH `path`: `attrPath [ "[" valFilter "]" ] [ "." subAttr ]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub filter: Option<Filter>,
    /// The sub-attribute after a value filter (`emails[type eq "work"].value`).
    pub sub: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

/// Longest filter or path accepted, in bytes.
const MAX_INPUT_LEN: usize = 4096;
/// Deepest nesting of parentheses, `not (...)` and value filters accepted.
const MAX_DEPTH: usize = 32;
/// Longest piece of the input quoted back in an error message, in characters.
const MAX_SHOWN: usize = 40;

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

/// Parses a SCIM filter (the `filter` query parameter, RFC 7644 §3.4.2.2).
///
/// # Errors
/// A [`ParseError`] with a short message fit to show the client, for input that is not a
/// filter, longer than 4096 bytes, or nested (parentheses, `not`, value filters) more than 32
/// deep.
pub fn parse_filter(input: &str) -> Result<Filter, ParseError> {
    let mut p = Parser::new(input)?;
    if p.peek().is_none() {
        return Err(err("the filter is empty".to_owned()));
    }
    let filter = p.parse_or(false)?;
    match p.peek() {
        None => Ok(filter),
        Some(t) => Err(unexpected_after_expression(t)),
    }
}

/// Parses a SCIM PATCH `path` (RFC 7644 §3.5.2).
///
/// # Errors
/// A [`ParseError`] as for [`parse_filter`], for input that is not a path.
pub fn parse_path(input: &str) -> Result<PatchPath, ParseError> {
    let mut p = Parser::new(input)?;
    let (word, pos) = match p.peek() {
        None => return Err(err("the path is empty".to_owned())),
        Some(Token {
            tok: Tok::Word(w),
            pos,
        }) => (w.clone(), *pos),
        Some(t) => {
            return Err(err(format!(
                "expected an attribute name at position {}, found {}",
                t.pos,
                t.describe()
            )));
        }
    };
    let attr = parse_attr_path(&word, pos)?;
    p.bump();
    let mut filter = None;
    let mut sub = None;
    if let Some(Token {
        tok: Tok::LBracket,
        pos,
    }) = p.peek()
    {
        let pos = *pos;
        if attr.sub.is_some() {
            return Err(err(format!(
                "a value filter cannot follow the sub-attribute '{}' at position {pos}",
                show(&word)
            )));
        }
        filter = Some(p.parse_value_filter()?);
        if let Some(Token {
            tok: Tok::Word(w),
            pos,
        }) = p.peek()
            && let Some(name) = w.strip_prefix('.')
        {
            if !is_attr_name(name) {
                return Err(err(format!(
                    "invalid sub-attribute name '{}' at position {pos}",
                    show(name)
                )));
            }
            sub = Some(name.to_owned());
            p.bump();
        }
    }
    match p.peek() {
        None => Ok(PatchPath { attr, filter, sub }),
        Some(t) => Err(err(format!(
            "unexpected {} at position {} in the path",
            t.describe(),
            t.pos
        ))),
    }
}

/// Evaluate `filter` against one JSON object (an element of a multi-valued attribute, or a
/// whole resource). Attribute names match keys case-insensitively. `case_exact(path)` says
/// whether string comparison on that attribute is case-exact (otherwise strings are compared
/// after Unicode lowercasing).
///
/// Inside a [`Filter::ValuePath`] the paths of the inner filter are relative to the element;
/// `case_exact` is then asked about the joined path (`emails[type eq "work"]` asks about
/// `emails.type`, with the schema of `emails`).
pub fn matches(filter: &Filter, element: &Value, case_exact: &dyn Fn(&AttrPath) -> bool) -> bool {
    eval::eval(filter, element, None, case_exact)
}

// ---------------------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    LBracket,
    RBracket,
    /// A quoted string, already decoded.
    Str(String),
    /// Anything else up to whitespace, a bracket, a parenthesis or a quote: an attribute path,
    /// an operator, a keyword, a number, or `.subAttr` after a value filter.
    Word(String),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    /// 1-based character position of the token's first character.
    pos: usize,
}

impl Token {
    fn describe(&self) -> String {
        match &self.tok {
            Tok::LParen => "'('".to_owned(),
            Tok::RParen => "')'".to_owned(),
            Tok::LBracket => "'['".to_owned(),
            Tok::RBracket => "']'".to_owned(),
            Tok::Str(_) => "a string".to_owned(),
            Tok::Word(w) => format!("'{}'", show(w)),
        }
    }

    fn word(&self) -> Option<&str> {
        match &self.tok {
            Tok::Word(w) => Some(w),
            _ => None,
        }
    }

    fn is_keyword(&self, keyword: &str) -> bool {
        self.word().is_some_and(|w| w.eq_ignore_ascii_case(keyword))
    }
}

fn err(message: String) -> ParseError {
    ParseError(message)
}

/// A piece of the input, cut short and with control characters escaped, for error messages.
fn show(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(MAX_SHOWN)
        .flat_map(char::escape_debug)
        .collect();
    if s.chars().nth(MAX_SHOWN).is_some() {
        out.push('…');
    }
    out
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_word_char(c: char) -> bool {
    !is_space(c) && !matches!(c, '(' | ')' | '[' | ']' | '"')
}

/// Splits `input` into tokens; returns them with the position just past the end.
fn lex(input: &str) -> Result<(Vec<Token>, usize), ParseError> {
    let mut tokens = Vec::new();
    let mut chars = input.char_indices().peekable();
    let mut pos = 0usize; // characters consumed so far
    while let Some((start, c)) = chars.next() {
        pos += 1;
        let token_pos = pos;
        let tok = match c {
            c if is_space(c) => continue,
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            '[' => Tok::LBracket,
            ']' => Tok::RBracket,
            '"' => {
                let mut escaped = false;
                let mut end = None;
                for (i, c) in chars.by_ref() {
                    pos += 1;
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        end = Some(i);
                        break;
                    }
                }
                let Some(end) = end else {
                    return Err(err(format!(
                        "unterminated string starting at position {token_pos}"
                    )));
                };
                let raw = input.get(start..=end).unwrap_or_default();
                match serde_json::from_str::<String>(raw) {
                    // No stored value holds a NUL (PostgreSQL cannot store one).
                    Ok(s) if s.contains('\0') => {
                        return Err(err(format!(
                            "a NUL character in the string at position {token_pos}"
                        )));
                    }
                    Ok(s) => Tok::Str(s),
                    Err(_) => {
                        return Err(err(format!(
                            "invalid string starting at position {token_pos}"
                        )));
                    }
                }
            }
            _ => {
                let mut end = start + c.len_utf8();
                while let Some(&(i, c)) = chars.peek() {
                    if !is_word_char(c) {
                        break;
                    }
                    end = i + c.len_utf8();
                    pos += 1;
                    chars.next();
                }
                Tok::Word(input.get(start..end).unwrap_or_default().to_owned())
            }
        };
        tokens.push(Token {
            tok,
            pos: token_pos,
        });
    }
    Ok((tokens, pos + 1))
}

// ---------------------------------------------------------------------------------------------
// Parser

struct Parser {
    tokens: Vec<Token>,
    next: usize,
    /// Position just past the end of the input.
    end: usize,
    depth: usize,
}

impl Parser {
    fn new(input: &str) -> Result<Self, ParseError> {
        if input.len() > MAX_INPUT_LEN {
            return Err(err(format!(
                "the input is too long (at most {MAX_INPUT_LEN} bytes)"
            )));
        }
        let (tokens, end) = lex(input)?;
        Ok(Parser {
            tokens,
            next: 0,
            end,
            depth: 0,
        })
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next)
    }

    fn bump(&mut self) {
        self.next += 1;
    }

    /// Position of the next token, or of the end of the input.
    fn pos(&self) -> usize {
        self.peek().map_or(self.end, |t| t.pos)
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(err(format!(
                "the filter is nested too deeply at position {} (at most {MAX_DEPTH} levels)",
                self.pos()
            )));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn parse_or(&mut self, in_value_path: bool) -> Result<Filter, ParseError> {
        let mut left = self.parse_and(in_value_path)?;
        while self.peek().is_some_and(|t| t.is_keyword("or")) {
            self.bump();
            let right = self.parse_and(in_value_path)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_and(&mut self, in_value_path: bool) -> Result<Filter, ParseError> {
        let mut left = self.parse_unary(in_value_path)?;
        while self.peek().is_some_and(|t| t.is_keyword("and")) {
            self.bump();
            let right = self.parse_unary(in_value_path)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_unary(&mut self, in_value_path: bool) -> Result<Filter, ParseError> {
        let Some(t) = self.peek() else {
            return Err(err(format!(
                "expected a filter expression at position {}",
                self.end
            )));
        };
        match &t.tok {
            Tok::LParen => {
                self.bump();
                self.enter()?;
                let inner = self.parse_or(in_value_path)?;
                self.expect_close(Tok::RParen, "')'")?;
                self.leave();
                Ok(inner)
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("not") => {
                self.bump();
                if !matches!(self.peek().map(|t| &t.tok), Some(Tok::LParen)) {
                    return Err(err(format!(
                        "expected '(' after 'not' at position {}",
                        self.pos()
                    )));
                }
                self.bump();
                self.enter()?;
                let inner = self.parse_or(in_value_path)?;
                self.expect_close(Tok::RParen, "')'")?;
                self.leave();
                Ok(Filter::Not(Box::new(inner)))
            }
            Tok::Word(w) => {
                let (w, pos) = (w.clone(), t.pos);
                self.bump();
                self.parse_attr_expression(&w, pos, in_value_path)
            }
            _ => Err(err(format!(
                "expected a filter expression at position {}, found {}",
                t.pos,
                t.describe()
            ))),
        }
    }

    fn expect_close(&mut self, close: Tok, name: &str) -> Result<(), ParseError> {
        match self.peek() {
            Some(t) if t.tok == close => {
                self.bump();
                Ok(())
            }
            Some(t) => Err(err(format!(
                "expected 'and', 'or' or {name} at position {}, found {}",
                t.pos,
                t.describe()
            ))),
            None => Err(err(format!(
                "expected {name} at position {} (end of input)",
                self.end
            ))),
        }
    }

    /// `"[" valFilter "]"`, starting at the `[`.
    fn parse_value_filter(&mut self) -> Result<Filter, ParseError> {
        self.bump(); // '['
        self.enter()?;
        let inner = self.parse_or(true)?;
        self.expect_close(Tok::RBracket, "']'")?;
        self.leave();
        Ok(inner)
    }

    /// What follows an attribute path in a filter: `pr`, an operator and a value, or a value
    /// filter (optionally followed by `.subAttr` and a condition on it).
    fn parse_attr_expression(
        &mut self,
        word: &str,
        pos: usize,
        in_value_path: bool,
    ) -> Result<Filter, ParseError> {
        let path = parse_attr_path(word, pos)?;
        let Some(Token {
            tok: Tok::LBracket,
            pos: bracket_pos,
        }) = self.peek()
        else {
            return self.parse_condition(path, word);
        };
        let bracket_pos = *bracket_pos;
        if in_value_path {
            return Err(err(format!(
                "nested value filters are not allowed (position {bracket_pos})"
            )));
        }
        if path.sub.is_some() {
            return Err(err(format!(
                "a value filter cannot follow the sub-attribute '{}' at position {bracket_pos}",
                show(word)
            )));
        }
        let mut inner = self.parse_value_filter()?;
        if let Some(t) = self.peek()
            && let Some(w) = t.word()
            && let Some(name) = w.strip_prefix('.')
        {
            if !is_attr_name(name) {
                return Err(err(format!(
                    "invalid sub-attribute name '{}' at position {}",
                    show(name),
                    t.pos
                )));
            }
            let sub = AttrPath {
                schema: None,
                attr: name.to_owned(),
                sub: None,
            };
            let shown = w.to_owned();
            self.bump();
            let condition = self.parse_condition(sub, &shown)?;
            inner = Filter::And(Box::new(inner), Box::new(condition));
        }
        Ok(Filter::ValuePath {
            attr: path,
            filter: Box::new(inner),
        })
    }

    /// `"pr"` or `compareOp compValue` after the attribute path `path` (written as `word`).
    fn parse_condition(&mut self, path: AttrPath, word: &str) -> Result<Filter, ParseError> {
        let operator = self.peek().and_then(|t| t.word()).and_then(|w| {
            if w.eq_ignore_ascii_case("pr") {
                Some(None)
            } else {
                compare_op(w).map(Some)
            }
        });
        let Some(operator) = operator else {
            return Err(err(format!(
                "expected an operator after '{}' at position {}",
                show(word),
                self.pos()
            )));
        };
        self.bump();
        let Some(op) = operator else {
            if let Some(t) = self.peek()
                && matches!(t.tok, Tok::Str(_))
            {
                return Err(err(format!("'pr' takes no value (position {})", t.pos)));
            }
            return Ok(Filter::Present(path));
        };
        let value_pos = self.pos();
        let value = self.parse_value(op)?;
        check_operand(op, &value, value_pos)?;
        Ok(Filter::Compare { path, op, value })
    }

    fn parse_value(&mut self, op: CompareOp) -> Result<Literal, ParseError> {
        let Some(t) = self.peek() else {
            return Err(err(format!(
                "expected a value after '{}' at position {}",
                op_name(op),
                self.end
            )));
        };
        let value = match &t.tok {
            Tok::Str(s) => Literal::String(s.clone()),
            Tok::Word(w) if w.eq_ignore_ascii_case("true") => Literal::Bool(true),
            Tok::Word(w) if w.eq_ignore_ascii_case("false") => Literal::Bool(false),
            Tok::Word(w) if w.eq_ignore_ascii_case("null") => Literal::Null,
            Tok::Word(w) if w.starts_with(|c: char| c == '-' || c.is_ascii_digit()) => {
                match serde_json::from_str::<Number>(w) {
                    Ok(n) => Literal::Number(n),
                    Err(_) => {
                        return Err(err(format!(
                            "invalid number '{}' at position {}",
                            show(w),
                            t.pos
                        )));
                    }
                }
            }
            _ => {
                return Err(err(format!(
                    "expected a value (a quoted string, a number, true, false or null) after \
                     '{}' at position {}, found {}",
                    op_name(op),
                    t.pos,
                    t.describe()
                )));
            }
        };
        self.bump();
        Ok(value)
    }
}

/// The error for a token found where `and`, `or` or the end of the filter was expected.
fn unexpected_after_expression(t: &Token) -> ParseError {
    match t.tok {
        Tok::RParen => err(format!("unexpected ')' at position {}", t.pos)),
        Tok::RBracket => err(format!("unexpected ']' at position {}", t.pos)),
        _ => err(format!(
            "expected 'and' or 'or' at position {}, found {}",
            t.pos,
            t.describe()
        )),
    }
}

fn compare_op(word: &str) -> Option<CompareOp> {
    const OPS: [(&str, CompareOp); 9] = [
        ("eq", CompareOp::Eq),
        ("ne", CompareOp::Ne),
        ("co", CompareOp::Co),
        ("sw", CompareOp::Sw),
        ("ew", CompareOp::Ew),
        ("gt", CompareOp::Gt),
        ("ge", CompareOp::Ge),
        ("lt", CompareOp::Lt),
        ("le", CompareOp::Le),
    ];
    OPS.iter()
        .find(|(name, _)| word.eq_ignore_ascii_case(name))
        .map(|&(_, op)| op)
}

fn op_name(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Eq => "eq",
        CompareOp::Ne => "ne",
        CompareOp::Co => "co",
        CompareOp::Sw => "sw",
        CompareOp::Ew => "ew",
        CompareOp::Gt => "gt",
        CompareOp::Ge => "ge",
        CompareOp::Lt => "lt",
        CompareOp::Le => "le",
    }
}

/// Rejects operator/value pairs that have no meaning: ordering against `true`, `false` or
/// `null`, and substring matching against anything but a string.
fn check_operand(op: CompareOp, value: &Literal, pos: usize) -> Result<(), ParseError> {
    let ordering = matches!(
        op,
        CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
    );
    let substring = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
    let bad = match value {
        Literal::String(_) => false,
        Literal::Number(_) => substring,
        Literal::Bool(_) | Literal::Null => ordering || substring,
    };
    if bad {
        let what = match value {
            Literal::String(_) => "a string",
            Literal::Number(_) => "a number",
            Literal::Bool(true) => "true",
            Literal::Bool(false) => "false",
            Literal::Null => "null",
        };
        return Err(err(format!(
            "'{}' cannot be used with {what} (position {pos})",
            op_name(op)
        )));
    }
    Ok(())
}

/// `ATTRNAME = ALPHA *(nameChar)`, `nameChar = "-" / "_" / DIGIT / ALPHA`, or `$ref`.
fn is_attr_name(s: &str) -> bool {
    if s.eq_ignore_ascii_case("$ref") {
        return true;
    }
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A schema URN prefix: starts with a letter, printable ASCII only.
fn is_schema_urn(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic()) && s.chars().all(|c| c.is_ascii_graphic())
}

/// `[URI ":"] ATTRNAME *1subAttr`, split at the last `:`.
fn parse_attr_path(word: &str, pos: usize) -> Result<AttrPath, ParseError> {
    let (schema, rest) = match word.rsplit_once(':') {
        Some((schema, rest)) => {
            if !is_schema_urn(schema) {
                return Err(err(format!(
                    "invalid schema URN in '{}' at position {pos}",
                    show(word)
                )));
            }
            (Some(schema.to_owned()), rest)
        }
        None => (None, word),
    };
    let (attr, sub) = match rest.split_once('.') {
        Some((attr, sub)) => (attr, Some(sub)),
        None => (rest, None),
    };
    if !is_attr_name(attr) || sub.is_some_and(|s| !is_attr_name(s)) {
        return Err(err(format!(
            "invalid attribute name '{}' at position {pos}",
            show(word)
        )));
    }
    Ok(AttrPath {
        schema,
        attr: attr.to_owned(),
        sub: sub.map(str::to_owned),
    })
}

#[cfg(test)]
mod tests;
