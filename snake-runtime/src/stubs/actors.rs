//! `snake_actors.py` (a `Protocol` per actor), `check_<module>.py` (the assignment that makes
//! mypy compare a module with its protocol) and `snake_callbacks.py`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::python::{self, Exprs};
use super::{ACTORS_FILE, CALLBACKS_FILE, HEADER, StubsError};
use crate::protocol::HandlerMode;
use crate::schema::{ActorDecl, CallbackDecl, Registry, Type};

/// Annotations in these files only refer to names imported from `snake_types`.
struct Imports {
    defined: BTreeSet<String>,
    typing: BTreeSet<&'static str>,
    abc: BTreeSet<&'static str>,
    referenced: BTreeSet<String>,
}

impl Imports {
    fn new(registry: &Registry) -> Self {
        Self {
            defined: registry.definitions().map(|d| d.name.clone()).collect(),
            typing: BTreeSet::new(),
            abc: BTreeSet::new(),
            referenced: BTreeSet::new(),
        }
    }

    fn render(&mut self, ty: &Type) -> String {
        Exprs { defined: &self.defined, typing: &mut self.typing, referenced: &mut self.referenced }.render(ty)
    }

    /// `Iterator[T]` / `AsyncIterator[T]` for streams, `T` otherwise.
    fn reply(&mut self, ty: &Type, stream: Option<&'static str>) -> String {
        let item = self.render(ty);
        match stream {
            Some(iterator) => {
                self.abc.insert(iterator);
                format!("{iterator}[{item}]")
            }
            None => item,
        }
    }

    /// The import lines, then a blank line.
    fn write(&self, out: &mut String, extra_typing: &[&'static str]) {
        if !self.abc.is_empty() {
            let names: Vec<&str> = self.abc.iter().copied().collect();
            let _ = writeln!(out, "from collections.abc import {}", names.join(", "));
        }
        if self.typing.contains(python::NUMPY_TYPING) {
            out.push_str("import numpy.typing\n");
        }
        let typing: BTreeSet<&str> = self
            .typing
            .iter()
            .copied()
            .chain(extra_typing.iter().copied())
            .filter(|name| *name != python::NUMPY_TYPING)
            .collect();
        if !typing.is_empty() {
            let names: Vec<&str> = typing.into_iter().collect();
            let _ = writeln!(out, "from typing import {}", names.join(", "));
        }
        if !self.referenced.is_empty() {
            let names: Vec<&str> = self.referenced.iter().map(String::as_str).collect();
            let _ = writeln!(out, "\nfrom snake_types import {}", names.join(", "));
        }
    }
}

fn check_name(name: &str, what: impl FnOnce() -> String) -> Result<(), StubsError> {
    if python::is_identifier(name) && !python::RESERVED.contains(&name) {
        Ok(())
    } else {
        Err(StubsError::InvalidName { name: name.to_owned(), what: what() })
    }
}

fn check_module(module: &str) -> Result<(), StubsError> {
    if module.split('.').all(python::is_identifier) {
        Ok(())
    } else {
        Err(StubsError::InvalidName { name: module.to_owned(), what: "Python module of an actor".to_owned() })
    }
}

/// `snake_actors.py`.
pub(super) fn render_actors(registry: &Registry, actors: &[ActorDecl]) -> Result<String, StubsError> {
    let mut imports = Imports::new(registry);
    let mut body = String::new();
    let mut names = BTreeSet::new();
    for actor in actors {
        check_name(&actor.name, || format!("protocol name of the actor for module `{}`", actor.module))?;
        check_module(&actor.module)?;
        if imports.defined.contains(&actor.name) || !names.insert(actor.name.as_str()) {
            return Err(StubsError::NameClash { name: actor.name.clone(), file: ACTORS_FILE.to_owned() });
        }
        let _ = writeln!(body, "\n\nclass {}(Protocol):", actor.name);
        let docs = format!("{}\n\nImplemented by the module `{}`.", actor.docs.trim(), actor.module);
        python::docstring(&mut body, &docs, "    ");
        let mut methods = BTreeSet::new();
        for method in &actor.methods {
            let name = &method.python_name;
            check_name(name, || format!("function of actor `{}`", actor.name))?;
            if !methods.insert(name.as_str()) {
                return Err(StubsError::NameClash { name: name.clone(), file: ACTORS_FILE.to_owned() });
            }
            let request = imports.render(&method.request);
            let (prefix, stream) = match method.mode {
                HandlerMode::Sync => ("def", None),
                HandlerMode::Async => ("async def", None),
                HandlerMode::Generator => ("def", Some("Iterator")),
                // An async generator function is a plain `def` returning an async iterator.
                HandlerMode::AsyncGenerator => ("def", Some("AsyncIterator")),
            };
            let reply = imports.reply(&method.reply, stream);
            let signature = format!("    {prefix} {name}(self, request: {request}, /) -> {reply}:");
            function(&mut body, &signature, &method.docs, "        ");
        }
    }
    let mut out = String::from(HEADER);
    out.push_str("\"\"\"What each actor's Python module must define, as `typing.Protocol`s.\n\n");
    out.push_str("`check_<module>.py` assigns each module to its protocol, so `mypy --strict` on this directory\n");
    out.push_str("checks the handlers against the Rust declarations.\n\"\"\"\n\n");
    imports.write(&mut out, if actors.is_empty() { &[] } else { &["Protocol"] });
    out.push_str(&body);
    Ok(out)
}

/// A function with a docstring and `...` as its body (pyright reads a body of only a docstring
/// as one that returns `None`), or `...` alone when it has no docs.
fn function(out: &mut String, signature: &str, docs: &str, indent: &str) {
    if docs.trim().is_empty() {
        let _ = writeln!(out, "\n{signature} ...");
    } else {
        let _ = writeln!(out, "\n{signature}");
        python::docstring(out, docs, indent);
        let _ = writeln!(out, "{indent}...");
    }
}

/// `check_<module>.py` for every module, by file name.
pub(super) fn render_checks(actors: &[ActorDecl]) -> Result<BTreeMap<String, String>, StubsError> {
    let mut by_module: BTreeMap<&str, Vec<&ActorDecl>> = BTreeMap::new();
    for actor in actors {
        by_module.entry(&actor.module).or_default().push(actor);
    }
    let mut files = BTreeMap::new();
    for (module, actors) in by_module {
        let file = format!("check_{}.py", module.replace('.', "_"));
        let mut out = String::from(HEADER);
        let protocols: Vec<&str> = actors.iter().map(|actor| actor.name.as_str()).collect();
        let _ = writeln!(
            out,
            "\"\"\"Makes `mypy --strict` check that module `{module}` implements {}.\"\"\"\n",
            protocols.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ")
        );
        let _ = writeln!(out, "import {module}\n\nfrom snake_actors import {}\n", protocols.join(", "));
        for protocol in protocols {
            let _ = writeln!(out, "_{protocol}: {protocol} = {module}");
        }
        if files.insert(file.clone(), out).is_some() {
            return Err(StubsError::NameClash { name: file, file: "check files".to_owned() });
        }
    }
    Ok(files)
}

/// What `snake_callbacks.py` says when a callback is called outside a child with no fake.
const CALLBACKS_PRELUDE: &str = r#"
_FAKES: dict[str, Callable[[Any], Any]] = {}
"""Fakes by callback name, installed by the `snake_callbacks` fixture of `snake.testing`."""


def _fake(name: str) -> Callable[[Any], Any]:
    try:
        return _FAKES[name]
    except KeyError:
        raise RuntimeError(
            f"snake_callbacks.{name} calls into Rust, which only works inside a snake child process; "
            f"in a test, give it a fake with the `snake_callbacks` fixture of snake.testing "
            f"(`snake_callbacks.{name} = ...`)"
        ) from None


async def _fake_async(name: str, arg: Any) -> Any:
    result: Any = _fake(name)(arg)
    if inspect.isawaitable(result):
        return await result
    return result


async def _fake_stream(name: str, arg: Any) -> AsyncIterator[Any]:  # pyright: ignore[reportUnusedFunction]
    result: Any = _fake(name)(arg)
    item: Any
    if hasattr(result, "__aiter__"):
        async for item in result:
            yield item
    else:
        for item in result:
            yield item
"#;

/// `snake_callbacks.py`: outside a child it is imported from disk and calls the fakes a test
/// installed; inside a child the real module, registered under the same name before the handler
/// module is imported, takes its place.
pub(super) fn render_callbacks(registry: &Registry, callbacks: &[CallbackDecl]) -> Result<String, StubsError> {
    let mut imports = Imports::new(registry);
    imports.abc.extend(["AsyncIterator", "Callable"]);
    let mut body = String::new();
    let mut names = BTreeSet::new();
    for callback in callbacks {
        let name = &callback.name;
        check_name(name, || "callback name".to_owned())?;
        let async_name = format!("{name}_async");
        if !names.insert(name.clone()) || !names.insert(async_name.clone()) {
            return Err(StubsError::NameClash { name: name.clone(), file: CALLBACKS_FILE.to_owned() });
        }
        let arg = imports.render(&callback.arg);
        let quoted = python::string(name);
        let (blocking, blocking_body, asynchronous, async_body) = if callback.streaming {
            let blocking = imports.reply(&callback.reply, Some("Iterator"));
            let asynchronous = imports.reply(&callback.reply, Some("AsyncIterator"));
            (
                format!("def {name}(arg: {arg}, /) -> {blocking}:"),
                format!("    result: {blocking} = iter(_fake({quoted})(arg))\n    return result\n"),
                format!("def {async_name}(arg: {arg}, /) -> {asynchronous}:"),
                format!("    return _fake_stream({quoted}, arg)\n"),
            )
        } else {
            let reply = imports.reply(&callback.reply, None);
            (
                format!("def {name}(arg: {arg}, /) -> {reply}:"),
                format!("    result: {reply} = _fake({quoted})(arg)\n    return result\n"),
                format!("async def {async_name}(arg: {arg}, /) -> {reply}:"),
                format!("    result: {reply} = await _fake_async({quoted}, arg)\n    return result\n"),
            )
        };
        let docs = callback.docs.trim();
        let blocking_docs = format!("{docs}\n\nBlocks the calling thread until Rust answers.");
        let async_docs = format!("{docs}\n\nThe asyncio spelling of `{name}`.");
        for (signature, docs, code) in
            [(blocking, blocking_docs, blocking_body), (asynchronous, async_docs, async_body)]
        {
            let _ = writeln!(body, "\n\n{signature}");
            python::docstring(&mut body, &docs, "    ");
            body.push_str(&code);
        }
    }
    let mut out = String::from(HEADER);
    out.push_str("\"\"\"The callbacks Python code can make into Rust, each blocking and as a coroutine.\n\n");
    out.push_str("Inside a snake child this file is not used: the child registers the real module under this name\n");
    out.push_str("before it imports the handlers. Imported anywhere else (a test), each function calls the fake a\n");
    out.push_str(
        "test installed through the `snake_callbacks` fixture of `snake.testing`, or raises `RuntimeError`.\n",
    );
    out.push_str("\"\"\"\n\nimport inspect\n");
    imports.write(&mut out, &["Any"]);
    out.push_str(CALLBACKS_PRELUDE);
    out.push_str(&body);
    Ok(out)
}
