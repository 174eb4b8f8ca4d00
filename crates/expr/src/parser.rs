//! Recursive-descent parser with a bounded depth.

use crate::functions::{check_format, function, unknown_function_message};
use crate::lexer::{describe, Lexer, Tok, Token};
use crate::{BinOp, Expr, ExprError, ExprKind, Value};

/// The deepest expression tree (and the deepest nesting of parentheses) the parser accepts.
pub const MAX_DEPTH: usize = 64;

struct Node {
    expr: Expr,
    /// Height of the tree (a leaf is 1).
    height: usize,
}

pub(crate) struct Parser<'a> {
    src: &'a str,
    lexer: Lexer<'a>,
    peeked: Token,
    /// The token consumed last.
    previous: Option<Token>,
    nesting: usize,
}

/// Parse the expression in `src[start..end]`; offsets are offsets into `src`.
pub(crate) fn parse(src: &str, start: usize, end: usize) -> Result<Expr, ExprError> {
    let mut parser = Parser::new(src, start, end)?;
    let node = parser.parse_or()?;
    if parser.peeked.tok != Tok::End {
        let found = describe(src, &parser.peeked);
        let hint = match &parser.peeked.tok {
            Tok::Number(n) if n.as_f64().is_some_and(|f| f < 0.0) => {
                " (expressions have no arithmetic)"
            }
            Tok::LParen => " (only a function name can be called)",
            _ if parser.after_single_quoted_string() => {
                " (write a quote inside a single-quoted string as `''`)"
            }
            _ => "",
        };
        return Err(ExprError {
            offset: parser.peeked.start,
            message: format!(
                "expected an operator or the end of the expression, found {found}{hint}"
            ),
        });
    }
    Ok(node.expr)
}

impl<'a> Parser<'a> {
    fn new(src: &'a str, start: usize, end: usize) -> Result<Parser<'a>, ExprError> {
        let mut lexer = Lexer::new(src, start, end);
        let peeked = lexer.next_token()?;
        Ok(Parser {
            src,
            lexer,
            peeked,
            previous: None,
            nesting: 0,
        })
    }

    fn advance(&mut self) -> Result<Token, ExprError> {
        let next = self.lexer.next_token()?;
        let token = std::mem::replace(&mut self.peeked, next);
        self.previous = Some(token.clone());
        Ok(token)
    }

    /// Whether the next token directly follows a single-quoted string (`'it's'` → `s`).
    fn after_single_quoted_string(&self) -> bool {
        self.previous.as_ref().is_some_and(|prev| {
            matches!(prev.tok, Tok::Str(_))
                && prev.end == self.peeked.start
                && self
                    .src
                    .get(prev.start..)
                    .is_some_and(|s| s.starts_with('\''))
        })
    }

    fn error_here(&self, message: String) -> ExprError {
        ExprError {
            offset: self.peeked.start,
            message,
        }
    }

    fn found(&self) -> String {
        describe(self.src, &self.peeked)
    }

    fn too_deep(offset: usize) -> ExprError {
        ExprError {
            offset,
            message: format!(
                "expression is nested too deeply: at most {MAX_DEPTH} levels of operators, \
                 parentheses, calls, members and indexes are allowed"
            ),
        }
    }

    fn node(
        &self,
        kind: ExprKind,
        offset: usize,
        height: usize,
        at: usize,
    ) -> Result<Node, ExprError> {
        if height > MAX_DEPTH {
            return Err(Self::too_deep(at));
        }
        Ok(Node {
            expr: Expr { kind, offset },
            height,
        })
    }

    /// Entry point for every nested expression (top level, parentheses, arguments, indexes).
    fn parse_or(&mut self) -> Result<Node, ExprError> {
        self.nesting += 1;
        let result = if self.nesting > MAX_DEPTH {
            Err(Self::too_deep(self.peeked.start))
        } else {
            self.binary(0)
        };
        self.nesting -= 1;
        result
    }

    fn binary_op(level: usize, tok: &Tok) -> Option<BinOp> {
        match (level, tok) {
            (0, Tok::OrOr) => Some(BinOp::Or),
            (1, Tok::AndAnd) => Some(BinOp::And),
            (2, Tok::EqEq) => Some(BinOp::Eq),
            (2, Tok::NotEq) => Some(BinOp::Ne),
            (3, Tok::Lt) => Some(BinOp::Lt),
            (3, Tok::Le) => Some(BinOp::Le),
            (3, Tok::Gt) => Some(BinOp::Gt),
            (3, Tok::Ge) => Some(BinOp::Ge),
            _ => None,
        }
    }

    /// Levels: 0 `||`, 1 `&&`, 2 `== !=`, 3 `< <= > >=`, then unary. All left-associative.
    fn binary(&mut self, level: usize) -> Result<Node, ExprError> {
        if level > 3 {
            return self.unary();
        }
        let mut left = self.binary(level + 1)?;
        while let Some(op) = Self::binary_op(level, &self.peeked.tok) {
            let op_token = self.advance()?;
            if self.peeked.tok == Tok::End {
                return Err(self.error_here(format!(
                    "expected a value after `{}`, found the end of the expression",
                    self.src.get(op_token.start..op_token.end).unwrap_or("")
                )));
            }
            let right = self.binary(level + 1)?;
            let height = left.height.max(right.height) + 1;
            let offset = left.expr.offset;
            let kind = ExprKind::Binary(op, Box::new(left.expr), Box::new(right.expr));
            left = self.node(kind, offset, height, op_token.start)?;
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Node, ExprError> {
        if self.peeked.tok != Tok::Not {
            return self.postfix();
        }
        let not = self.advance()?;
        self.nesting += 1;
        let inner = if self.nesting > MAX_DEPTH {
            Err(Self::too_deep(not.start))
        } else {
            self.unary()
        };
        self.nesting -= 1;
        let inner = inner?;
        let height = inner.height + 1;
        self.node(
            ExprKind::Not(Box::new(inner.expr)),
            not.start,
            height,
            not.start,
        )
    }

    fn postfix(&mut self) -> Result<Node, ExprError> {
        let mut node = self.primary()?;
        loop {
            match self.peeked.tok {
                Tok::Dot => {
                    let dot = self.advance()?;
                    let name = match &self.peeked.tok {
                        Tok::Ident(name) => name.clone(),
                        Tok::Number(_) => {
                            return Err(self.error_here(format!(
                                "expected a name after `.`, found {} (use `[0]` to index an array)",
                                self.found()
                            )))
                        }
                        Tok::Str(_) => {
                            return Err(self.error_here(format!(
                                "expected a name after `.`, found {} (use `x['…']` for a name with other characters)",
                                self.found()
                            )))
                        }
                        _ => {
                            return Err(self.error_here(format!(
                                "expected a name after `.`, found {}",
                                self.found()
                            )))
                        }
                    };
                    self.advance()?;
                    let offset = node.expr.offset;
                    let height = node.height + 1;
                    node = self.node(
                        ExprKind::Member(Box::new(node.expr), name),
                        offset,
                        height,
                        dot.start,
                    )?;
                }
                Tok::LBracket => {
                    let open = self.advance()?;
                    if self.peeked.tok == Tok::RBracket {
                        return Err(self.error_here(
                            "expected an index between `[` and `]`, found `]`".to_string(),
                        ));
                    }
                    let index = self.parse_or()?;
                    if self.peeked.tok != Tok::RBracket {
                        return Err(self.error_here(format!(
                            "expected `]` to close the index, found {}",
                            self.found()
                        )));
                    }
                    self.advance()?;
                    let offset = node.expr.offset;
                    let height = node.height.max(index.height) + 1;
                    node = self.node(
                        ExprKind::Index(Box::new(node.expr), Box::new(index.expr)),
                        offset,
                        height,
                        open.start,
                    )?;
                }
                Tok::LParen => return Err(self.error_here(
                    "unexpected `(`: only a function such as `contains` can be called, not a value"
                        .to_string(),
                )),
                _ => return Ok(node),
            }
        }
    }

    fn primary(&mut self) -> Result<Node, ExprError> {
        let start = self.peeked.start;
        match &self.peeked.tok {
            Tok::Number(n) => {
                let value = Value::Number(n.clone());
                self.advance()?;
                self.node(ExprKind::Literal(value), start, 1, start)
            }
            Tok::Str(s) => {
                let value = Value::String(s.clone());
                self.advance()?;
                self.node(ExprKind::Literal(value), start, 1, start)
            }
            Tok::Ident(name) => {
                let name = name.clone();
                let token = self.advance()?;
                let literal = match name.as_str() {
                    "true" => Some(Value::Bool(true)),
                    "false" => Some(Value::Bool(false)),
                    "null" => Some(Value::Null),
                    _ => None,
                };
                if let Some(value) = literal {
                    return self.node(ExprKind::Literal(value), start, 1, start);
                }
                if self.peeked.tok == Tok::LParen {
                    return self.call(name, token);
                }
                self.node(ExprKind::Ident(name), start, 1, start)
            }
            Tok::LParen => {
                self.advance()?;
                if self.peeked.tok == Tok::RParen {
                    return Err(self.error_here(
                        "expected an expression between `(` and `)`, found `)`".to_string(),
                    ));
                }
                let inner = self.parse_or()?;
                if self.peeked.tok != Tok::RParen {
                    return Err(self.error_here(format!(
                        "expected `)` to close the `(`, found {}",
                        self.found()
                    )));
                }
                self.advance()?;
                Ok(inner)
            }
            _ => Err(self.error_here(format!(
                "expected a value (a name, a string, a number, `true`, `false`, `null`, a function call or `(`), found {}",
                self.found()
            ))),
        }
    }

    fn call(&mut self, name: String, name_token: Token) -> Result<Node, ExprError> {
        let start = name_token.start;
        let Some(info) = function(&name) else {
            return Err(ExprError {
                offset: start,
                message: unknown_function_message(&name),
            });
        };
        self.advance()?; // `(`
        let mut args: Vec<Expr> = Vec::new();
        let mut height = 0;
        if self.peeked.tok != Tok::RParen {
            loop {
                if self.peeked.tok == Tok::End {
                    return Err(self.error_here(format!(
                        "expected an argument or `)` in `{}(…)`, found the end of the expression",
                        info.name
                    )));
                }
                let arg = self.parse_or()?;
                height = height.max(arg.height);
                args.push(arg.expr);
                match self.peeked.tok {
                    Tok::Comma => {
                        self.advance()?;
                        if self.peeked.tok == Tok::RParen {
                            return Err(self.error_here(format!(
                                "expected argument {} of `{}(…)` after `,`, found `)`",
                                args.len() + 1,
                                info.name
                            )));
                        }
                    }
                    Tok::RParen => break,
                    _ => {
                        return Err(self.error_here(format!(
                            "expected `,` or `)` after argument {} of `{}(…)`, found {}",
                            args.len(),
                            info.name,
                            self.found()
                        )))
                    }
                }
            }
        }
        self.advance()?; // `)`
        if !info.accepts(args.len()) {
            return Err(ExprError {
                offset: start,
                message: format!(
                    "`{}()` takes {}, found {}",
                    info.name,
                    info.arity_text(),
                    args.len()
                ),
            });
        }
        if info.name == "format" {
            if let Some(Expr {
                kind: ExprKind::Literal(Value::String(fmt)),
                offset,
            }) = args.first()
            {
                check_format(fmt, args.len().saturating_sub(1)).map_err(|message| ExprError {
                    offset: *offset,
                    message,
                })?;
            }
        }
        self.node(
            ExprKind::Call(info.name.to_string(), args),
            start,
            height + 1,
            start,
        )
    }
}
