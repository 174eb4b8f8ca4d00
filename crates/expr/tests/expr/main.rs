//! Tests of the expression language: one test binary, one module per topic.

// Test helpers outside `#[test]` functions fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod errors;
mod eval;
mod limits;
mod parse;
mod props;
mod template;

use co_expr::{Context, Expr, ExprKind, StatusFn, Value, ValueContext};
use serde_json::json;
use std::cell::RefCell;

/// The structure of an expression as an S-expression: `(|| a (&& b c))`.
pub fn sexpr(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Literal(v) => v.to_string(),
        ExprKind::Ident(name) => name.clone(),
        ExprKind::Member(base, name) => format!("(. {} {name})", sexpr(base)),
        ExprKind::Index(base, index) => format!("([] {} {})", sexpr(base), sexpr(index)),
        ExprKind::Not(inner) => format!("(! {})", sexpr(inner)),
        ExprKind::Binary(op, l, r) => format!("({op} {} {})", sexpr(l), sexpr(r)),
        ExprKind::Call(name, args) => {
            let mut s = format!("(call {name}");
            for a in args {
                s.push(' ');
                s.push_str(&sexpr(a));
            }
            s.push(')');
            s
        }
    }
}

/// The context most evaluation tests run in.
pub fn ctx() -> ValueContext {
    ValueContext::new(json!({
        "inputs": {
            "who": "world",
            "count": 3,
            "tag": "",
            "flag": true,
            "off": false,
            "zero": 0,
            "list": ["a", "b"],
            "nums": [1, 2, 3],
            "json": "{\"a\":{\"b\":[10,20]}}",
            "num-str": "42",
            "float-str": " 2.50 ",
            "fmt": "{1}",
        },
        "actions": {
            "build-linux": {"outputs": {"image-tag": "v1"}, "status": "succeeded"},
            "say": {"outputs": {"greeting": "hello"}, "status": "succeeded"},
        },
        "trigger": {"payload": {"commits": [{"id": "c1"}, {"id": "c2"}]}},
        "matrix": {"os name": "linux", "n": 2},
        "nil": null,
        "obj": {"k": 1},
    }))
}

/// A context that records every lookup.
pub struct Recording {
    pub inner: ValueContext,
    pub lookups: RefCell<Vec<Vec<String>>>,
    pub status_calls: RefCell<Vec<StatusFn>>,
}

impl Default for Recording {
    fn default() -> Recording {
        Recording {
            inner: ctx(),
            lookups: RefCell::new(Vec::new()),
            status_calls: RefCell::new(Vec::new()),
        }
    }
}

impl Context for Recording {
    fn lookup(&self, path: &[&str]) -> Option<Value> {
        self.lookups
            .borrow_mut()
            .push(path.iter().map(|s| s.to_string()).collect());
        self.inner.lookup(path)
    }

    fn status(&self, f: StatusFn) -> bool {
        self.status_calls.borrow_mut().push(f);
        self.inner.status(f)
    }
}
