//! The SCIM filter and PATCH path grammar (RFC 7644 §3.4.2.2 and §3.5.2), parsed into an AST.
//! `sql.rs` turns a [`Filter`] into a database condition; [`matches`] evaluates one against a
//! JSON value in memory (PATCH value-filtered paths).

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
    eval(filter, element, None, case_exact)
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

// ---------------------------------------------------------------------------------------------
// Evaluation

fn eval(
    filter: &Filter,
    element: &Value,
    parent: Option<&AttrPath>,
    case_exact: &dyn Fn(&AttrPath) -> bool,
) -> bool {
    match filter {
        Filter::And(a, b) => {
            eval(a, element, parent, case_exact) && eval(b, element, parent, case_exact)
        }
        Filter::Or(a, b) => {
            eval(a, element, parent, case_exact) || eval(b, element, parent, case_exact)
        }
        Filter::Not(a) => !eval(a, element, parent, case_exact),
        Filter::Present(path) => resolve(element, path).into_iter().any(is_present),
        Filter::Compare { path, op, value } => {
            let mut leaves = Vec::new();
            for v in resolve(element, path) {
                collect_leaves(v, &mut leaves);
            }
            if leaves.is_empty() {
                // Missing or null: `eq null` holds, and `ne` anything but null.
                return match (op, value) {
                    (CompareOp::Eq, Literal::Null) => true,
                    (CompareOp::Ne, Literal::Null) => false,
                    (op, _) => *op == CompareOp::Ne,
                };
            }
            let exact = matches!(value, Literal::String(_))
                && leaves.iter().any(|v| v.is_string())
                && match parent {
                    Some(parent) if path.schema.is_none() && path.sub.is_none() => {
                        case_exact(&AttrPath {
                            schema: parent.schema.clone(),
                            attr: parent.attr.clone(),
                            sub: Some(path.attr.clone()),
                        })
                    }
                    _ => case_exact(path),
                };
            leaves.iter().any(|v| compare(v, *op, value, exact))
        }
        Filter::ValuePath { attr, filter } => {
            let on_element = |item: &Value| match item {
                Value::Object(_) => eval(filter, item, Some(attr), case_exact),
                Value::Null => false,
                // A multi-valued attribute of simple values: its elements are `value`.
                other => {
                    let mut wrapped = serde_json::Map::new();
                    wrapped.insert("value".to_owned(), other.clone());
                    eval(filter, &Value::Object(wrapped), Some(attr), case_exact)
                }
            };
            resolve(element, attr).into_iter().any(|v| match v {
                Value::Array(items) => items.iter().any(on_element),
                other => on_element(other),
            })
        }
    }
}

/// The value(s) at `path` in `element`: one for a plain attribute, one per element for a
/// sub-attribute of a multi-valued complex attribute.
fn resolve<'v>(element: &'v Value, path: &AttrPath) -> Vec<&'v Value> {
    let Some(base) = lookup_attr(element, path) else {
        return Vec::new();
    };
    let Some(sub) = &path.sub else {
        return vec![base];
    };
    match base {
        Value::Object(o) => get_ci(o, sub).into_iter().collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(|item| item.as_object().and_then(|o| get_ci(o, sub)))
            .collect(),
        _ => Vec::new(),
    }
}

/// The attribute `path.attr` of `element`, honouring a schema prefix: first inside the
/// extension object keyed by the schema URN, then directly on the element (core attributes
/// written with the core URN), then under the whole `schema:attr` key (a bare extension URN).
fn lookup_attr<'v>(element: &'v Value, path: &AttrPath) -> Option<&'v Value> {
    let object = element.as_object()?;
    let Some(schema) = &path.schema else {
        return get_ci(object, &path.attr);
    };
    if let Some(Value::Object(extension)) = get_ci(object, schema)
        && let Some(v) = get_ci(extension, &path.attr)
    {
        return Some(v);
    }
    get_ci(object, &path.attr).or_else(|| get_ci(object, &format!("{schema}:{}", path.attr)))
}

fn get_ci<'v>(object: &'v serde_json::Map<String, Value>, key: &str) -> Option<&'v Value> {
    object.get(key).or_else(|| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The values a comparison looks at: arrays are flattened, elements that are objects stand
/// for their `value` sub-attribute, nulls are absent.
fn collect_leaves<'v>(v: &'v Value, out: &mut Vec<&'v Value>) {
    match v {
        Value::Null => {}
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Null | Value::Array(_) => {}
                    Value::Object(o) => {
                        if let Some(inner) = get_ci(o, "value")
                            && !inner.is_null()
                        {
                            out.push(inner);
                        }
                    }
                    other => out.push(other),
                }
            }
        }
        other => out.push(other),
    }
}

/// `pr`: present and not null, not an empty string, array or object.
fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => items.iter().any(is_present),
        Value::Object(o) => !o.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn compare(v: &Value, op: CompareOp, literal: &Literal, case_exact: bool) -> bool {
    use std::cmp::Ordering;
    let ordering = |ord: Option<Ordering>| match op {
        CompareOp::Eq => ord == Some(Ordering::Equal),
        CompareOp::Ne => ord != Some(Ordering::Equal),
        CompareOp::Gt => ord == Some(Ordering::Greater),
        CompareOp::Ge => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
        CompareOp::Lt => ord == Some(Ordering::Less),
        CompareOp::Le => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    };
    match (v, literal) {
        (Value::String(s), Literal::String(l)) => {
            use std::borrow::Cow;
            let (s, l): (Cow<'_, str>, Cow<'_, str>) = if case_exact {
                (Cow::Borrowed(s), Cow::Borrowed(l))
            } else {
                (Cow::Owned(s.to_lowercase()), Cow::Owned(l.to_lowercase()))
            };
            match op {
                CompareOp::Co => s.contains(&*l),
                CompareOp::Sw => s.starts_with(&*l),
                CompareOp::Ew => s.ends_with(&*l),
                _ => ordering(Some(s.cmp(&l))),
            }
        }
        (Value::Number(n), Literal::Number(l)) => ordering(compare_numbers(n, l)),
        (Value::Bool(b), Literal::Bool(l)) => match op {
            CompareOp::Eq => b == l,
            CompareOp::Ne => b != l,
            _ => false,
        },
        // Different types (or a present value against null) are never equal.
        _ => op == CompareOp::Ne,
    }
}

fn compare_numbers(a: &Number, b: &Number) -> Option<std::cmp::Ordering> {
    fn integer(n: &Number) -> Option<i128> {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    }
    match (integer(a), integer(b)) {
        (Some(a), Some(b)) => Some(a.cmp(&b)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

    fn p(attr: &str) -> AttrPath {
        AttrPath {
            schema: None,
            attr: attr.to_owned(),
            sub: None,
        }
    }

    fn ps(attr: &str, sub: &str) -> AttrPath {
        AttrPath {
            schema: None,
            attr: attr.to_owned(),
            sub: Some(sub.to_owned()),
        }
    }

    fn cmp(path: AttrPath, op: CompareOp, value: Literal) -> Filter {
        Filter::Compare { path, op, value }
    }

    fn s(v: &str) -> Literal {
        Literal::String(v.to_owned())
    }

    fn n(v: i64) -> Literal {
        Literal::Number(Number::from(v))
    }

    fn and(a: Filter, b: Filter) -> Filter {
        Filter::And(Box::new(a), Box::new(b))
    }

    fn or(a: Filter, b: Filter) -> Filter {
        Filter::Or(Box::new(a), Box::new(b))
    }

    fn not(a: Filter) -> Filter {
        Filter::Not(Box::new(a))
    }

    fn parse(input: &str) -> Filter {
        parse_filter(input).unwrap_or_else(|e| panic!("{input:?} should parse: {e}"))
    }

    fn parse_err(input: &str) -> String {
        match parse_filter(input) {
            Ok(f) => panic!("{input:?} should not parse, got {f:?}"),
            Err(e) => e.0,
        }
    }

    fn insensitive(_: &AttrPath) -> bool {
        false
    }

    fn exact(_: &AttrPath) -> bool {
        true
    }

    /// Parses `filter` and evaluates it against `value`, case-insensitively.
    fn m(filter: &str, value: &Value) -> bool {
        matches(&parse(filter), value, &insensitive)
    }

    fn user() -> Value {
        json!({
            "schemas": [CORE_USER, ENTERPRISE],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "userName": "Bjensen",
            "name": {"familyName": "Jensen", "givenName": "Barbara"},
            "displayName": "Babs Jensen",
            "nickName": "",
            "title": null,
            "active": true,
            "loginCount": 42,
            "score": 2.5,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "phoneNumbers": [],
            "x509Certificates": {},
            "roles": ["admin", "Auditor"],
            "meta": {"lastModified": "2011-05-13T04:42:34Z", "resourceType": "User"},
            ENTERPRISE: {
                "employeeNumber": "701984",
                "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
            }
        })
    }

    // ---- parsing: operators ------------------------------------------------------------------

    #[test]
    fn parses_every_comparison_operator() {
        for (word, op) in [
            ("eq", CompareOp::Eq),
            ("ne", CompareOp::Ne),
            ("co", CompareOp::Co),
            ("sw", CompareOp::Sw),
            ("ew", CompareOp::Ew),
            ("gt", CompareOp::Gt),
            ("ge", CompareOp::Ge),
            ("lt", CompareOp::Lt),
            ("le", CompareOp::Le),
        ] {
            let expected = cmp(p("userName"), op, s("x"));
            assert_eq!(parse(&format!("userName {word} \"x\"")), expected);
            assert_eq!(
                parse(&format!("userName {} \"x\"", word.to_uppercase())),
                expected
            );
            let mixed: String = word
                .chars()
                .enumerate()
                .map(|(i, c)| if i == 0 { c.to_ascii_uppercase() } else { c })
                .collect();
            assert_eq!(parse(&format!("userName {mixed} \"x\"")), expected);
        }
    }

    #[test]
    fn parses_present() {
        assert_eq!(parse("title pr"), Filter::Present(p("title")));
        assert_eq!(parse("title PR"), Filter::Present(p("title")));
        assert_eq!(
            parse("name.familyName Pr"),
            Filter::Present(ps("name", "familyName"))
        );
    }

    #[test]
    fn parses_literals() {
        assert_eq!(
            parse("active eq true"),
            cmp(p("active"), CompareOp::Eq, Literal::Bool(true))
        );
        assert_eq!(
            parse("active eq FALSE"),
            cmp(p("active"), CompareOp::Eq, Literal::Bool(false))
        );
        assert_eq!(
            parse("title eq null"),
            cmp(p("title"), CompareOp::Eq, Literal::Null)
        );
        assert_eq!(
            parse("title ne Null"),
            cmp(p("title"), CompareOp::Ne, Literal::Null)
        );
        assert_eq!(parse("count gt 5"), cmp(p("count"), CompareOp::Gt, n(5)));
        assert_eq!(parse("count gt -5"), cmp(p("count"), CompareOp::Gt, n(-5)));
        assert_eq!(
            parse("count le 2.5"),
            cmp(
                p("count"),
                CompareOp::Le,
                Literal::Number(Number::from_f64(2.5).unwrap())
            )
        );
        assert_eq!(
            parse("count le 1e3"),
            cmp(
                p("count"),
                CompareOp::Le,
                Literal::Number(Number::from_f64(1000.0).unwrap())
            )
        );
        assert_eq!(
            parse("count eq 18446744073709551615"),
            cmp(
                p("count"),
                CompareOp::Eq,
                Literal::Number(Number::from(u64::MAX))
            )
        );
        assert_eq!(parse("count ne 0"), cmp(p("count"), CompareOp::Ne, n(0)));
    }

    #[test]
    fn parses_string_escapes() {
        assert_eq!(
            parse(r#"displayName eq "a \"quoted\" \\ name\/\b\f\n\r\t""#),
            cmp(
                p("displayName"),
                CompareOp::Eq,
                s("a \"quoted\" \\ name/\u{8}\u{c}\n\r\t")
            )
        );
        assert_eq!(
            parse(r#"displayName eq "caf\u00e9 \ud83d\ude00""#),
            cmp(p("displayName"), CompareOp::Eq, s("café 😀"))
        );
        assert_eq!(
            parse("displayName eq \"Zoë 日本 (x) [y] and or\""),
            cmp(
                p("displayName"),
                CompareOp::Eq,
                s("Zoë 日本 (x) [y] and or")
            )
        );
        assert_eq!(
            parse(r#"displayName eq """#),
            cmp(p("displayName"), CompareOp::Eq, s(""))
        );
    }

    #[test]
    fn rejects_bad_strings_and_numbers() {
        for bad in [
            r#"userName eq "\x""#,
            r#"userName eq "\u12""#,
            r#"userName eq "\ud800""#,
            "userName eq \"tab\there\"",
            "userName eq \"x\\\"",
            "count eq 01",
            "count eq 1.",
            "count eq -",
            "count eq 1e999",
            "count eq 12abc",
            "count eq +1",
            "count eq .5",
            "count eq NaN",
        ] {
            parse_err(bad);
        }
    }

    // ---- parsing: logic ----------------------------------------------------------------------

    #[test]
    fn precedence_and_binds_tighter_than_or() {
        let a = cmp(p("a"), CompareOp::Eq, n(1));
        let b = cmp(p("b"), CompareOp::Eq, n(2));
        let c = cmp(p("c"), CompareOp::Eq, n(3));
        assert_eq!(
            parse("a eq 1 or b eq 2 and c eq 3"),
            or(a.clone(), and(b.clone(), c.clone()))
        );
        assert_eq!(
            parse("a eq 1 and b eq 2 or c eq 3"),
            or(and(a.clone(), b.clone()), c.clone())
        );
        assert_eq!(
            parse("(a eq 1 or b eq 2) and c eq 3"),
            and(or(a.clone(), b.clone()), c.clone())
        );
        // Left-associative chains.
        assert_eq!(
            parse("a eq 1 or b eq 2 or c eq 3"),
            or(or(a.clone(), b.clone()), c.clone())
        );
        assert_eq!(
            parse("a eq 1 AND b eq 2 And c eq 3"),
            and(and(a.clone(), b.clone()), c.clone())
        );
        // `not` binds tighter than `and`.
        assert_eq!(
            parse("not (a eq 1) and b eq 2"),
            and(not(a.clone()), b.clone())
        );
        assert_eq!(parse("a eq 1 OR NOT (b eq 2)"), or(a, not(b)));
    }

    #[test]
    fn parses_parentheses_and_not() {
        let a = cmp(p("a"), CompareOp::Eq, n(1));
        assert_eq!(parse("(a eq 1)"), a);
        assert_eq!(parse("((((a eq 1))))"), a);
        assert_eq!(parse("not (a eq 1)"), not(a.clone()));
        assert_eq!(parse("not(a eq 1)"), not(a.clone()));
        assert_eq!(parse("NOT   (  a eq 1  )"), not(a.clone()));
        assert_eq!(parse("not (not (a eq 1))"), not(not(a.clone())));
        assert_eq!(
            parse(
                "userType eq \"Employee\" and (emails co \"example.com\" or emails.value co \"example.org\")"
            ),
            and(
                cmp(p("userType"), CompareOp::Eq, s("Employee")),
                or(
                    cmp(p("emails"), CompareOp::Co, s("example.com")),
                    cmp(ps("emails", "value"), CompareOp::Co, s("example.org"))
                )
            )
        );
    }

    #[test]
    fn tolerates_extra_whitespace() {
        let expected = and(
            cmp(p("userName"), CompareOp::Eq, s("x")),
            Filter::Present(p("title")),
        );
        assert_eq!(parse("userName eq \"x\" and title pr"), expected);
        assert_eq!(
            parse("  userName   eq    \"x\"   and\ttitle  pr  "),
            expected
        );
        assert_eq!(parse("userName eq\"x\"and title pr"), expected);
    }

    // ---- parsing: attribute paths ------------------------------------------------------------

    #[test]
    fn parses_attribute_names() {
        assert_eq!(parse("user-name_2 pr"), Filter::Present(p("user-name_2")));
        assert_eq!(
            parse("members.$ref pr"),
            Filter::Present(ps("members", "$ref"))
        );
        assert_eq!(parse("$ref pr"), Filter::Present(p("$ref")));
        parse_err("2fa pr");
        parse_err("_x pr");
        parse_err("a.b.c pr");
        parse_err("a. pr");
        parse_err(".a pr");
        parse_err("na$me pr");
        parse_err("nàme pr");
    }

    #[test]
    fn parses_urn_paths() {
        assert_eq!(
            parse(&format!("{ENTERPRISE}:employeeNumber eq \"701984\"")),
            cmp(
                AttrPath {
                    schema: Some(ENTERPRISE.to_owned()),
                    attr: "employeeNumber".to_owned(),
                    sub: None
                },
                CompareOp::Eq,
                s("701984")
            )
        );
        assert_eq!(
            parse(&format!("{CORE_USER}:name.givenName sw \"B\"")),
            cmp(
                AttrPath {
                    schema: Some(CORE_USER.to_owned()),
                    attr: "name".to_owned(),
                    sub: Some("givenName".to_owned())
                },
                CompareOp::Sw,
                s("B")
            )
        );
        assert_eq!(
            parse(&format!("{ENTERPRISE}:manager.value pr")),
            Filter::Present(AttrPath {
                schema: Some(ENTERPRISE.to_owned()),
                attr: "manager".to_owned(),
                sub: Some("value".to_owned())
            })
        );
        parse_err(":userName pr");
        parse_err("urn:x: pr");
        parse_err("1urn:x:userName pr");
    }

    // ---- parsing: value paths ----------------------------------------------------------------

    #[test]
    fn parses_value_paths() {
        assert_eq!(
            parse("emails[type eq \"work\"]"),
            Filter::ValuePath {
                attr: p("emails"),
                filter: Box::new(cmp(p("type"), CompareOp::Eq, s("work")))
            }
        );
        assert_eq!(
            parse(
                "emails[type eq \"work\" and value co \"@example.com\"] or ims[type eq \"xmpp\" and value co \"@foo.com\"]"
            ),
            or(
                Filter::ValuePath {
                    attr: p("emails"),
                    filter: Box::new(and(
                        cmp(p("type"), CompareOp::Eq, s("work")),
                        cmp(p("value"), CompareOp::Co, s("@example.com"))
                    ))
                },
                Filter::ValuePath {
                    attr: p("ims"),
                    filter: Box::new(and(
                        cmp(p("type"), CompareOp::Eq, s("xmpp")),
                        cmp(p("value"), CompareOp::Co, s("@foo.com"))
                    ))
                }
            )
        );
        assert_eq!(
            parse("addresses[not (primary eq true) or (type eq \"home\")]"),
            Filter::ValuePath {
                attr: p("addresses"),
                filter: Box::new(or(
                    not(cmp(p("primary"), CompareOp::Eq, Literal::Bool(true))),
                    cmp(p("type"), CompareOp::Eq, s("home"))
                ))
            }
        );
        assert_eq!(
            parse(&format!("{CORE_USER}:emails[primary eq true]")),
            Filter::ValuePath {
                attr: AttrPath {
                    schema: Some(CORE_USER.to_owned()),
                    attr: "emails".to_owned(),
                    sub: None
                },
                filter: Box::new(cmp(p("primary"), CompareOp::Eq, Literal::Bool(true)))
            }
        );
    }

    #[test]
    fn desugars_value_path_with_sub_attribute() {
        assert_eq!(
            parse("emails[type eq \"work\"].value eq \"x\""),
            Filter::ValuePath {
                attr: p("emails"),
                filter: Box::new(and(
                    cmp(p("type"), CompareOp::Eq, s("work")),
                    cmp(p("value"), CompareOp::Eq, s("x"))
                ))
            }
        );
        assert_eq!(
            parse("emails[type eq \"work\"].value pr and userName pr"),
            and(
                Filter::ValuePath {
                    attr: p("emails"),
                    filter: Box::new(and(
                        cmp(p("type"), CompareOp::Eq, s("work")),
                        Filter::Present(p("value"))
                    ))
                },
                Filter::Present(p("userName"))
            )
        );
        parse_err("emails[type eq \"work\"].value");
        parse_err("emails[type eq \"work\"].value.x eq \"y\"");
        parse_err("emails[type eq \"work\"].9 eq \"y\"");
        parse_err("emails[type eq \"work\"]. eq \"y\"");
    }

    // ---- parsing: errors ---------------------------------------------------------------------

    #[test]
    fn rejects_bad_filters() {
        let deep_parens = format!("{}userName pr{}", "(".repeat(100), ")".repeat(100));
        let deep_not = format!("{}userName pr{}", "not (".repeat(100), ")".repeat(100));
        let long = format!("userName eq \"{}\"", "x".repeat(5000));
        for bad in [
            "",
            "   ",
            "userName",
            "userName eq",
            "userName eq \"x",
            "userName eq x",
            "userName eq bjensen",
            "(userName eq \"x\"",
            "userName eq \"x\")",
            "emails[type eq \"work\"",
            "emails[type eq \"work\")",
            "emails(type eq \"work\"]",
            "emails[type[value eq \"x\"] eq \"y\"]",
            "emails[emails[type eq \"x\"]]",
            "emails[]",
            "name.familyName[value eq \"x\"]",
            "not userName eq \"x\"",
            "not",
            "not ()",
            "()",
            "userName gt true",
            "userName ge false",
            "userName lt null",
            "userName le null",
            "userName co 3",
            "userName sw true",
            "userName ew null",
            "userNameeq \"x\"",
            "userName eq \"x\" and",
            "userName eq \"x\" or",
            "and userName eq \"x\"",
            "userName eq \"x\" userName eq \"y\"",
            "userName eq \"x\" \"y\"",
            "userName pr \"x\"",
            "userName xx \"x\"",
            "userName eq \"x\" an title pr",
            "\"userName\" eq \"x\"",
            "userName eq (\"x\")",
            "userName eq ]",
            "]",
            ")",
            "[",
            "userName eq \"x\"]",
            "userName  eq \"x\" ) (",
            "eq \"x\"",
            &deep_parens,
            &deep_not,
            &long,
        ] {
            parse_err(bad);
        }
    }

    #[test]
    fn error_messages_are_helpful() {
        assert_eq!(
            parse_err("userName"),
            "expected an operator after 'userName' at position 9"
        );
        assert_eq!(
            parse_err("userNameeq \"x\""),
            "expected an operator after 'userNameeq' at position 12"
        );
        assert!(parse_err("userName eq").contains("expected a value after 'eq'"));
        assert!(parse_err("userName eq \"x").contains("unterminated string"));
        assert!(parse_err("not userName eq \"x\"").contains("expected '(' after 'not'"));
        assert!(parse_err("userName gt true").contains("'gt' cannot be used with true"));
        assert!(parse_err("userName co 3").contains("'co' cannot be used with a number"));
        assert!(parse_err("emails[type[value eq \"x\"] eq \"y\"]").contains("nested"));
        assert!(parse_err("userName eq \"x\")").contains("unexpected ')'"));
        assert!(parse_err("(userName eq \"x\"").contains("expected ')'"));
        let deep = format!("{}a pr{}", "(".repeat(40), ")".repeat(40));
        assert!(parse_err(&deep).contains("nested too deeply"));
        assert!(parse_err(&"x".repeat(5000)).contains("too long"));
        // Long or odd input is quoted back short and escaped.
        let message = parse_err(&format!("{}\u{7} eq", "a".repeat(100)));
        assert!(message.len() < 150, "{message}");
        let message = parse_err("us\u{1b}er eq \"x\"");
        assert!(!message.contains('\u{1b}'), "{message}");
        // Positions count characters, not bytes.
        assert_eq!(
            parse_err("title eq \"é\" é"),
            "expected 'and' or 'or' at position 14, found 'é'"
        );
    }

    #[test]
    fn nesting_up_to_the_limit_is_accepted() {
        let ok = format!("{}a pr{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert_eq!(parse(&ok), Filter::Present(p("a")));
        let too_deep = format!(
            "{}a pr{}",
            "(".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        );
        parse_err(&too_deep);
        // Sequential groups do not add up.
        let wide = vec!["((a pr))"; 100].join(" or ");
        parse(&wide);
        // Input right at the length limit is accepted.
        let at_limit = format!("a eq \"{}\"", "x".repeat(MAX_INPUT_LEN - 7));
        assert_eq!(at_limit.len(), MAX_INPUT_LEN);
        parse(&at_limit);
    }

    /// A tiny deterministic generator, so the fuzz-style tests need no extra crate.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }

        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next()).unwrap() % n
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = Lcg(0x5c1f_f117);
        for _ in 0..3000 {
            let len = rng.below(64);
            let bytes: Vec<u8> = (0..len).map(|_| (rng.next() & 0xff) as u8).collect();
            let text = String::from_utf8_lossy(&bytes);
            let _ = parse_filter(&text);
            let _ = parse_path(&text);
        }
    }

    #[test]
    fn random_token_soup_never_panics() {
        const PIECES: [&str; 30] = [
            " ",
            "  ",
            "(",
            ")",
            "[",
            "]",
            "\"",
            "\"x\"",
            "\"\\u00e9\"",
            "\\",
            ".",
            ":",
            "eq",
            "pr",
            "and",
            "or",
            "not",
            "gt",
            "co",
            "true",
            "null",
            "12",
            "-1.5e3",
            "userName",
            "emails",
            "urn:a:b:",
            "é",
            "日本",
            "\u{0}",
            ".value",
        ];
        let mut rng = Lcg(42);
        let value = user();
        for _ in 0..5000 {
            let len = rng.below(14);
            let text: String = (0..len).map(|_| PIECES[rng.below(PIECES.len())]).collect();
            if let Ok(f) = parse_filter(&text) {
                let _ = matches(&f, &value, &insensitive);
            }
            let _ = parse_path(&text);
        }
    }

    #[test]
    fn every_prefix_and_suffix_of_valid_filters_is_handled() {
        let valid = [
            "userName eq \"bjensen\"",
            "name.familyName co \"O'Malley\" and not (active eq false)",
            "emails[type eq \"work\" and value co \"@example.com\"].value pr or ims[type eq \"xmpp\"]",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber ge 7.5e1",
            "displayName eq \"Zoë \\u00e9 日本\" OR (meta.lastModified gt \"2011-05-13T04:42:34Z\")",
        ];
        let paths = [
            "emails[type eq \"work\"].value",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            "members[value eq \"Zoë 日本\"]",
        ];
        for text in valid.iter().chain(paths.iter()) {
            for (i, _) in text.char_indices().chain([(text.len(), ' ')]) {
                let _ = parse_filter(&text[..i]);
                let _ = parse_filter(&text[i..]);
                let _ = parse_path(&text[..i]);
                let _ = parse_path(&text[i..]);
            }
        }
        for text in valid {
            parse(text);
        }
        for text in paths {
            parse_path(text).unwrap();
        }
    }

    // ---- PATCH paths -------------------------------------------------------------------------

    #[test]
    fn parses_patch_paths() {
        assert_eq!(
            parse_path("members[value eq \"2819c223\"]").unwrap(),
            PatchPath {
                attr: p("members"),
                filter: Some(cmp(p("value"), CompareOp::Eq, s("2819c223"))),
                sub: None
            }
        );
        assert_eq!(
            parse_path("emails[type eq \"work\"].value").unwrap(),
            PatchPath {
                attr: p("emails"),
                filter: Some(cmp(p("type"), CompareOp::Eq, s("work"))),
                sub: Some("value".to_owned())
            }
        );
        assert_eq!(
            parse_path("name.familyName").unwrap(),
            PatchPath {
                attr: ps("name", "familyName"),
                filter: None,
                sub: None
            }
        );
        assert_eq!(
            parse_path("userName").unwrap(),
            PatchPath {
                attr: p("userName"),
                filter: None,
                sub: None
            }
        );
        assert_eq!(
            parse_path(&format!("{ENTERPRISE}:manager")).unwrap(),
            PatchPath {
                attr: AttrPath {
                    schema: Some(ENTERPRISE.to_owned()),
                    attr: "manager".to_owned(),
                    sub: None
                },
                filter: None,
                sub: None
            }
        );
        assert_eq!(
            parse_path(&format!("{ENTERPRISE}:manager.value")).unwrap(),
            PatchPath {
                attr: AttrPath {
                    schema: Some(ENTERPRISE.to_owned()),
                    attr: "manager".to_owned(),
                    sub: Some("value".to_owned())
                },
                filter: None,
                sub: None
            }
        );
        // A bare extension URN: the schema layer resolves it.
        assert_eq!(
            parse_path(ENTERPRISE).unwrap(),
            PatchPath {
                attr: AttrPath {
                    schema: Some(
                        "urn:ietf:params:scim:schemas:extension:enterprise:2.0".to_owned()
                    ),
                    attr: "User".to_owned(),
                    sub: None
                },
                filter: None,
                sub: None
            }
        );
        assert_eq!(
            parse_path(&format!(
                "{CORE_USER}:addresses[type eq \"work\" and primary eq true].streetAddress"
            ))
            .unwrap(),
            PatchPath {
                attr: AttrPath {
                    schema: Some(CORE_USER.to_owned()),
                    attr: "addresses".to_owned(),
                    sub: None
                },
                filter: Some(and(
                    cmp(p("type"), CompareOp::Eq, s("work")),
                    cmp(p("primary"), CompareOp::Eq, Literal::Bool(true))
                )),
                sub: Some("streetAddress".to_owned())
            }
        );
        assert_eq!(
            parse_path("  members[ value EQ \"x\" ]  ").unwrap().filter,
            Some(cmp(p("value"), CompareOp::Eq, s("x")))
        );
    }

    #[test]
    fn rejects_bad_patch_paths() {
        let long = "a".repeat(5000);
        for bad in [
            "",
            "  ",
            "\"userName\"",
            "[type eq \"work\"]",
            "userName eq \"x\"",
            "userName pr",
            "emails[type eq \"work\"",
            "emails[type eq \"work\"]]",
            "emails[type eq \"work\"].value.display",
            "emails[type eq \"work\"].",
            "emails[type eq \"work\"].9",
            "emails[type eq \"work\"] value",
            "emails[type eq \"work\"][value eq \"x\"]",
            "emails[type[value eq \"x\"] eq \"y\"]",
            "emails[]",
            "name.familyName[value eq \"x\"]",
            "name.familyName.x",
            "name .familyName",
            "1abc",
            "urn:x:",
            ":attr",
            "nàme",
            &long,
        ] {
            if let Ok(path) = parse_path(bad) {
                panic!("{bad:?} should not parse as a path, got {path:?}");
            }
        }
    }

    // ---- matching ----------------------------------------------------------------------------

    #[test]
    fn matches_eq_and_ne() {
        let u = user();
        assert!(m("userName eq \"bjensen\"", &u));
        assert!(m("userName eq \"BJENSEN\"", &u));
        assert!(!m("userName eq \"bjense\"", &u));
        assert!(m("userName ne \"someone\"", &u));
        assert!(!m("userName ne \"bJensen\"", &u));
        assert!(m("loginCount eq 42", &u));
        assert!(m("loginCount eq 42.0", &u));
        assert!(m("loginCount ne 41", &u));
        assert!(m("score eq 2.5", &u));
        assert!(m("active eq true", &u));
        assert!(!m("active eq false", &u));
        assert!(m("active ne false", &u));
        // Types never mix.
        assert!(!m("loginCount eq \"42\"", &u));
        assert!(m("loginCount ne \"42\"", &u));
        assert!(!m("active eq \"true\"", &u));
        assert!(!m("userName eq 1", &u));
    }

    #[test]
    fn matches_substring_operators() {
        let u = user();
        assert!(m("displayName co \"s jen\"", &u));
        assert!(m("displayName co \"S JEN\"", &u));
        assert!(m("displayName co \"\"", &u));
        assert!(!m("displayName co \"xyz\"", &u));
        assert!(m("displayName sw \"babs\"", &u));
        assert!(!m("displayName sw \"jensen\"", &u));
        assert!(m("displayName ew \"JENSEN\"", &u));
        assert!(!m("displayName ew \"babs\"", &u));
        // Substring operators on a non-string value never match.
        assert!(!m("loginCount co \"4\"", &u));
    }

    #[test]
    fn matches_ordering_operators() {
        let u = user();
        assert!(m("loginCount gt 41", &u));
        assert!(!m("loginCount gt 42", &u));
        assert!(m("loginCount ge 42", &u));
        assert!(m("loginCount lt 42.5", &u));
        assert!(!m("loginCount lt 42", &u));
        assert!(m("loginCount le 42", &u));
        assert!(m("loginCount gt -1e3", &u));
        assert!(m("score gt 2", &u));
        assert!(m("score lt 3", &u));
        assert!(m("loginCount lt 18446744073709551615", &u));
        assert!(m("userName gt \"a\"", &u));
        assert!(m("userName lt \"C\"", &u));
        assert!(m("userName ge \"BJENSEN\"", &u));
        assert!(m("userName le \"bjensen\"", &u));
        // ISO date-times compare lexicographically.
        assert!(m("meta.lastModified gt \"2011-05-13T04:42:33Z\"", &u));
        assert!(m("meta.lastModified ge \"2011-05-13T04:42:34Z\"", &u));
        assert!(!m("meta.lastModified gt \"2011-05-13T04:42:34Z\"", &u));
        assert!(m("meta.lastModified lt \"2012-01-01T00:00:00Z\"", &u));
        // Different types never order.
        assert!(!m("userName gt 1", &u));
        assert!(!m("loginCount gt \"1\"", &u));
    }

    #[test]
    fn matches_present() {
        let u = user();
        assert!(m("userName pr", &u));
        assert!(m("active pr", &u));
        assert!(m("loginCount pr", &u));
        assert!(m("emails pr", &u));
        assert!(m("name pr", &u));
        assert!(m("name.givenName pr", &u));
        assert!(m("emails.type pr", &u));
        assert!(!m("title pr", &u), "null");
        assert!(!m("nickName pr", &u), "empty string");
        assert!(!m("phoneNumbers pr", &u), "empty array");
        assert!(!m("x509Certificates pr", &u), "empty object");
        assert!(!m("missing pr", &u));
        assert!(!m("name.middleName pr", &u));
        assert!(!m("emails.display pr", &u));
        assert!(!m("userName.sub pr", &u));
        assert!(!m("a pr", &json!({"a": [null, ""]})));
        assert!(m("a pr", &json!({"a": [null, "x"]})));
        assert!(m("a pr", &json!({"a": false})));
        assert!(m("a pr", &json!({"a": 0})));
    }

    #[test]
    fn matches_missing_and_null_attributes() {
        let u = user();
        for op in ["eq", "co", "sw", "ew", "gt", "ge", "lt", "le"] {
            assert!(!m(&format!("missing {op} \"x\""), &u), "{op}");
            assert!(!m(&format!("title {op} \"x\""), &u), "{op} on null");
        }
        assert!(m("missing ne \"x\"", &u));
        assert!(m("title ne \"x\"", &u));
        assert!(m("missing eq null", &u));
        assert!(m("title eq null", &u));
        assert!(!m("missing ne null", &u));
        assert!(!m("title ne null", &u));
        assert!(m("missing ne 3", &u));
        assert!(m("missing ne true", &u));
        assert!(!m("userName eq null", &u));
        assert!(m("userName ne null", &u));
        assert!(m("phoneNumbers eq null", &u));
        assert!(!m("emails eq null", &u));
        // A non-object element has no attributes.
        assert!(!matches(&parse("a pr"), &json!("a"), &insensitive));
        assert!(matches(&parse("a eq null"), &json!(3), &insensitive));
    }

    #[test]
    fn matches_logic() {
        let u = user();
        assert!(m("userName eq \"bjensen\" and active eq true", &u));
        assert!(!m("userName eq \"bjensen\" and active eq false", &u));
        assert!(m("userName eq \"x\" or active eq true", &u));
        assert!(!m("userName eq \"x\" or active eq false", &u));
        assert!(m("not (userName eq \"x\")", &u));
        assert!(!m("not (userName eq \"bjensen\")", &u));
        // Precedence: true or (false and false) = true; (true or false) and false = false.
        assert!(m(
            "active eq true or userName eq \"x\" and userName eq \"y\"",
            &u
        ));
        assert!(!m(
            "(active eq true or userName eq \"x\") and userName eq \"y\"",
            &u
        ));
    }

    #[test]
    fn matches_attribute_names_case_insensitively() {
        let u = user();
        assert!(m("USERNAME eq \"bjensen\"", &u));
        assert!(m("Name.FamilyName eq \"jensen\"", &u));
        assert!(m("EMAILS[TYPE eq \"work\"]", &u));
        assert!(m("meta.LASTMODIFIED pr", &u));
        assert!(m(
            &format!("{}:EMPLOYEENUMBER eq \"701984\"", ENTERPRISE.to_uppercase()),
            &u
        ));
    }

    #[test]
    fn matches_case_exact_attributes() {
        let u = user();
        let only_id = |path: &AttrPath| path.attr.eq_ignore_ascii_case("id");
        let id = parse("id eq \"2819C223-7F76-453A-919D-413861904646\"");
        assert!(!matches(&id, &u, &only_id));
        assert!(matches(&id, &u, &insensitive));
        let name = parse("userName eq \"BJENSEN\"");
        assert!(matches(&name, &u, &only_id));
        assert!(!matches(&name, &u, &exact));
        assert!(matches(&parse("userName eq \"Bjensen\""), &u, &exact));
        assert!(!matches(&parse("userName sw \"bj\""), &u, &exact));
        assert!(!matches(&parse("userName co \"JEN\""), &u, &exact));
        assert!(!matches(&parse("userName ew \"SEN\""), &u, &exact));
        // "B" < "b" when case-exact, "B" == "b" otherwise.
        assert!(matches(&parse("userName lt \"b\""), &u, &exact));
        assert!(!matches(&parse("userName lt \"b\""), &u, &insensitive));
        // Unicode lowercasing.
        let v = json!({"city": "ÅRHUS"});
        assert!(m("city eq \"århus\"", &v));
        assert!(!matches(&parse("city eq \"århus\""), &v, &exact));
    }

    #[test]
    fn case_exact_is_asked_about_joined_paths_in_value_filters() {
        let u = user();
        let asked = std::cell::RefCell::new(Vec::new());
        let record = |path: &AttrPath| {
            asked.borrow_mut().push(path.clone());
            false
        };
        assert!(matches(
            &parse("emails[type eq \"WORK\"] and name.givenName eq \"barbara\""),
            &u,
            &record
        ));
        let asked = asked.into_inner();
        assert!(asked.contains(&ps("emails", "type")), "{asked:?}");
        assert!(asked.contains(&ps("name", "givenName")), "{asked:?}");
    }

    #[test]
    fn matches_multi_valued_attributes() {
        let u = user();
        // Arrays of objects compare their `value`.
        assert!(m("emails eq \"babs@jensen.org\"", &u));
        assert!(m("emails co \"example.com\"", &u));
        assert!(!m("emails co \"example.net\"", &u));
        assert!(m("emails ew \".ORG\"", &u));
        // Sub-attributes across all elements.
        assert!(m("emails.type eq \"home\"", &u));
        assert!(m("emails.value sw \"babs\"", &u));
        assert!(m("emails.primary eq true", &u));
        assert!(!m("emails.type eq \"other\"", &u));
        // Arrays of simple values.
        assert!(m("roles eq \"auditor\"", &u));
        assert!(m("roles eq \"ADMIN\"", &u));
        assert!(!m("roles eq \"root\"", &u));
        // `ne` holds when some element differs.
        assert!(m("roles ne \"admin\"", &u));
        assert!(!m("roles ne \"admin\"", &json!({"roles": ["admin"]})));
        assert!(m("scores gt 5", &json!({"scores": [1, 7]})));
        assert!(!m("scores gt 7", &json!({"scores": [1, 7]})));
        // An empty array counts as missing.
        assert!(!m("phoneNumbers eq \"x\"", &u));
        assert!(m("phoneNumbers ne \"x\"", &u));
    }

    #[test]
    fn matches_value_paths() {
        let u = user();
        assert!(m("emails[type eq \"work\"]", &u));
        assert!(m(
            "emails[type eq \"WORK\" and value co \"example.com\"]",
            &u
        ));
        assert!(!m(
            "emails[type eq \"work\" and value co \"jensen.org\"]",
            &u
        ));
        assert!(m(
            "emails[type eq \"home\" and value co \"jensen.org\"]",
            &u
        ));
        assert!(m("emails[primary eq true]", &u));
        assert!(m("emails[not (primary eq true)]", &u));
        assert!(m("emails[primary ne true]", &u));
        assert!(!m("emails[type eq \"other\"]", &u));
        assert!(!m("phoneNumbers[type eq \"work\"]", &u));
        assert!(!m("missing[type eq \"work\"]", &u));
        assert!(!m("missing[not (type eq \"work\")]", &u));
        // Desugared `.value` form.
        assert!(m(
            "emails[type eq \"work\"].value eq \"bjensen@example.com\"",
            &u
        ));
        assert!(!m(
            "emails[type eq \"work\"].value eq \"babs@jensen.org\"",
            &u
        ));
        assert!(m("emails[type eq \"work\"].value pr", &u));
        assert!(!m("emails[type eq \"work\"].display pr", &u));
        // A singular complex attribute acts as a single element.
        assert!(m(
            &format!("{ENTERPRISE}:manager[value sw \"26118915\"]"),
            &u
        ));
        assert!(m("name[givenName eq \"barbara\"]", &u));
        // Simple multi-valued attributes: elements are `value`.
        assert!(m("roles[value eq \"auditor\"]", &u));
        assert!(!m("roles[value eq \"root\"]", &u));
        // Combined with other clauses.
        assert!(m(
            "userName sw \"b\" and emails[type eq \"home\"] and not (emails[type eq \"other\"])",
            &u
        ));
    }

    #[test]
    fn matches_schema_prefixed_paths() {
        let u = user();
        assert!(m(&format!("{ENTERPRISE}:employeeNumber eq \"701984\""), &u));
        assert!(m(&format!("{ENTERPRISE}:manager.value pr"), &u));
        assert!(m(&format!("{ENTERPRISE}:manager pr"), &u));
        // A singular complex attribute is not compared through its `value` (only elements of
        // multi-valued ones are); `manager.value` says it.
        assert!(!m(
            &format!("{ENTERPRISE}:manager eq \"26118915-6090-4610-87e4-49d8ca9f808d\""),
            &u
        ));
        assert!(m(
            &format!("{ENTERPRISE}:manager.value eq \"26118915-6090-4610-87e4-49d8ca9f808d\""),
            &u
        ));
        assert!(!m(&format!("{ENTERPRISE}:costCenter pr"), &u));
        // Core attributes written with the core URN are stored without it.
        assert!(m(&format!("{CORE_USER}:userName eq \"bjensen\""), &u));
        assert!(m(&format!("{CORE_USER}:name.familyName eq \"jensen\""), &u));
        assert!(m(&format!("{CORE_USER}:emails[type eq \"work\"]"), &u));
        // A bare extension URN names the whole extension object.
        assert!(m(&format!("{ENTERPRISE} pr"), &u));
        // Without the prefix, extension attributes are not found.
        assert!(!m("employeeNumber pr", &u));
    }

    #[test]
    fn matches_an_element_directly() {
        // As used for PATCH value-filtered paths: the filter runs against one element.
        let member =
            json!({"value": "2819c223", "display": "Babs", "$ref": "https://x/Users/2819c223"});
        let f = parse_path("members[value eq \"2819C223\"]")
            .unwrap()
            .filter
            .unwrap();
        assert!(matches(&f, &member, &insensitive));
        assert!(!matches(&f, &member, &exact));
        assert!(m("$ref ew \"/2819c223\"", &member));
        assert!(m("display eq \"babs\" and value sw \"2819\"", &member));
    }

    #[test]
    fn number_comparison_is_exact_for_large_integers() {
        let v = json!({"n": 9007199254740993_u64, "neg": -9007199254740993_i64});
        assert!(m("n gt 9007199254740992", &v));
        assert!(m("n eq 9007199254740993", &v));
        assert!(m("neg lt -9007199254740992", &v));
        assert!(m("n gt -1", &v));
        assert!(m("n lt 1e20", &v));
    }
}
