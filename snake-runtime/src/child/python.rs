//! Importing the user's module, checking it against the declaration, and capturing exceptions.

use std::ffi::CStr;

use pyo3::exceptions::PyModuleNotFoundError;
use pyo3::ffi::c_str;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};

use crate::error::{PythonException, PythonExecutionError};
use crate::protocol::{ChildInfo, HandlerMode, MethodSpec};

/// Compares a handler's annotations with the declared type names: `check(function, mode,
/// request, reply)` returns `(what, declared, annotated)` for a clear mismatch, else `None`.
const ANNOTATION_CHECK: &CStr = c_str!(include_str!("embedded/annotation_check.py"));

/// Captures a Python exception with its type, message and formatted traceback.
pub(crate) fn capture(py: Python<'_>, err: &PyErr) -> PythonException {
    let value = err.value(py);
    let type_name =
        value.get_type().fully_qualified_name().map_or_else(|_| "<unknown exception>".to_owned(), |n| n.to_string());
    let message = value.str().map_or_else(|_| String::new(), |s| s.to_string());
    let traceback = py
        .import("traceback")
        .and_then(|tb| tb.call_method1("format_exception", (err.get_type(py), value, err.traceback(py))))
        .and_then(|lines| lines.cast_into::<PyList>().map_err(PyErr::from))
        .map(|lines| lines.iter().map(|line| line.to_string()).collect::<String>())
        .unwrap_or_default();
    PythonException { type_name, message, traceback }
}

/// A handler exception as the error a caller sees.
pub(crate) fn exception(py: Python<'_>, err: &PyErr) -> PythonExecutionError {
    PythonExecutionError::Exception(capture(py, err))
}

/// Facts about the embedded interpreter for the handshake.
pub(crate) fn child_info(py: Python<'_>) -> ChildInfo {
    let sys = py.import("sys").ok();
    let prefix = sys.and_then(|sys| sys.getattr("prefix").ok()).map_or_else(String::new, |p| p.to_string());
    let version = py.version_info();
    ChildInfo {
        pid: std::process::id(),
        python_version: format!("{}.{}.{}", version.major, version.minor, version.patch),
        sys_prefix: prefix,
    }
}

/// Imports numpy when a method needs it (else `NumpyUnavailable`), then imports `module` and
/// resolves every declared function, checking each is callable, of the
/// declared mode, and annotated (where it is) with the declared request and reply types. Returns
/// the functions with their detected modes.
pub(crate) fn load(
    py: Python<'_>,
    module: &str,
    methods: &[MethodSpec],
) -> Result<Vec<(Py<PyAny>, HandlerMode)>, PythonExecutionError> {
    if methods.iter().any(|spec| spec.needs_numpy) {
        py.import("numpy").map_err(|err| PythonExecutionError::NumpyUnavailable { exception: capture(py, &err) })?;
    }
    let imported = py.import(module).map_err(|err| import_error(py, module, &err))?;
    super::startup::mark(super::startup::Step::Imported);
    // Compiled at the first handler with annotations to compare (a few milliseconds of a start).
    let mut checker: Option<Bound<'_, PyAny>> = None;
    methods
        .iter()
        .map(|spec| {
            let function =
                imported.getattr(spec.function.as_str()).map_err(|_| PythonExecutionError::FunctionNotFound {
                    module: module.to_owned(),
                    function: spec.function.clone(),
                    suggestion: crate::suggest::closest_function(imported.as_any(), &spec.function),
                })?;
            if !function.is_callable() {
                return Err(PythonExecutionError::NotCallable {
                    module: module.to_owned(),
                    function: spec.function.clone(),
                    type_name: function.get_type().name().map_or_else(|_| "?".to_owned(), |n| n.to_string()),
                });
            }
            let actual = detect_mode(&function).map_err(|e| exception(py, &e))?;
            if let Some(signature) = rejects_one_argument(&function) {
                return Err(PythonExecutionError::WrongSignature {
                    module: module.to_owned(),
                    function: spec.function.clone(),
                    signature,
                });
            }
            match spec.mode {
                Some(declared) if declared != actual => {
                    return Err(PythonExecutionError::HandlerMismatch {
                        module: module.to_owned(),
                        function: spec.function.clone(),
                        declared,
                        actual,
                    });
                }
                _ => {}
            }
            let declared_types = spec.request_type.is_some() || spec.reply_type.is_some();
            if declared_types && !PlainFunction::unannotated(&function) && checker.is_none() {
                let source =
                    PyModule::from_code(py, ANNOTATION_CHECK, c"<snake annotation check>", c"_snake_annotation_check")
                        .map_err(|e| exception(py, &e))?;
                checker = Some(source.getattr("check").map_err(|e| exception(py, &e))?);
            }
            if let Some(checker) = checker.as_ref().filter(|_| declared_types)
                && let Some((what, declared, annotated)) = annotation_mismatch(checker, &function, actual, spec)
            {
                return Err(PythonExecutionError::AnnotationMismatch {
                    module: module.to_owned(),
                    function: spec.function.clone(),
                    what,
                    declared,
                    annotated,
                });
            }
            Ok((function.unbind(), actual))
        })
        .collect()
}

/// Resolves a warmup or teardown function of `module` (imported already by [`load`]): it must
/// exist (else `FunctionNotFound`, as for a handler), be callable, and be a plain or `async def`
/// function (a generator function is a `HandlerMismatch`). One that needs arguments raises
/// `TypeError` when it is called. Returns it with its mode.
pub(crate) fn load_lifecycle(
    py: Python<'_>,
    module: &str,
    function: &str,
) -> Result<(Py<PyAny>, HandlerMode), PythonExecutionError> {
    let imported = py.import(module).map_err(|err| import_error(py, module, &err))?;
    let found = imported.getattr(function).map_err(|_| PythonExecutionError::FunctionNotFound {
        module: module.to_owned(),
        function: function.to_owned(),
        suggestion: crate::suggest::closest_function(imported.as_any(), function),
    })?;
    if !found.is_callable() {
        return Err(PythonExecutionError::NotCallable {
            module: module.to_owned(),
            function: function.to_owned(),
            type_name: found.get_type().name().map_or_else(|_| "?".to_owned(), |n| n.to_string()),
        });
    }
    let mode = detect_mode(&found).map_err(|e| exception(py, &e))?;
    if !matches!(mode, HandlerMode::Sync | HandlerMode::Async) {
        return Err(PythonExecutionError::HandlerMismatch {
            module: module.to_owned(),
            function: function.to_owned(),
            declared: HandlerMode::Sync,
            actual: mode,
        });
    }
    Ok((found.unbind(), mode))
}

/// What `annotation_check.check` finds wrong with `function`'s annotations: `(what, declared,
/// annotated)`. The check is a safety net, so a failure of the checker itself accepts the handler.
fn annotation_mismatch(
    checker: &Bound<'_, PyAny>,
    function: &Bound<'_, PyAny>,
    mode: HandlerMode,
    spec: &MethodSpec,
) -> Option<(String, String, String)> {
    let mode = match mode {
        HandlerMode::Sync => "sync",
        HandlerMode::Async => "async",
        HandlerMode::Generator => "generator",
        HandlerMode::AsyncGenerator => "async_generator",
    };
    checker
        .call1((function, mode, spec.request_type.as_deref(), spec.reply_type.as_deref()))
        .and_then(|found| found.extract::<Option<(String, String, String)>>())
        .unwrap_or_default()
}

/// The function's signature, when it cannot be called with the one positional argument snake
/// passes. Callables whose signature Python cannot tell (some builtins) are given the benefit of
/// the doubt. A plain function that accepts the call is recognised from its code object; anything
/// else, and every refusal, is left to `inspect.signature` (imported only then).
fn rejects_one_argument(function: &Bound<'_, PyAny>) -> Option<String> {
    if let Some(plain) = PlainFunction::of(function)
        && plain.accepts_one_argument()
    {
        return None;
    }
    let py = function.py();
    let signature = py.import("inspect").ok()?.call_method1("signature", (function,)).ok()?;
    match signature.call_method1("bind", (py.None(),)) {
        Ok(_) => None,
        Err(_) => Some(signature.str().map_or_else(|_| "?".to_owned(), |s| s.to_string())),
    }
}

/// `inspect`'s `iscoroutinefunction`, `isasyncgenfunction` and `isgeneratorfunction`, in that
/// order. A plain function's kind is its code object's flags, as `inspect` reads them; other
/// callables (methods, partials, marked functions) are left to `inspect`, imported only then.
fn detect_mode(function: &Bound<'_, PyAny>) -> PyResult<HandlerMode> {
    if let Some(plain) = PlainFunction::of(function) {
        return Ok(plain.mode());
    }
    let inspect = function.py().import("inspect")?;
    let is = |predicate: &str| -> PyResult<bool> { inspect.call_method1(predicate, (function,))?.is_truthy() };
    Ok(if is("iscoroutinefunction")? {
        HandlerMode::Async
    } else if is("isasyncgenfunction")? {
        HandlerMode::AsyncGenerator
    } else if is("isgeneratorfunction")? {
        HandlerMode::Generator
    } else {
        HandlerMode::Sync
    })
}

/// What a plain `def` (exactly a Python function, not wrapped by a decorator that set
/// `__wrapped__`, with no `__signature__` and no coroutine mark) tells of itself through its code
/// object: enough to decide its kind and whether one positional argument binds, without
/// importing `inspect` (tens of milliseconds of a child's start).
struct PlainFunction {
    flags: u32,
    positional: usize,
    defaults: usize,
    required_keywords: bool,
}

impl PlainFunction {
    const CO_VARARGS: u32 = 0x04;
    const CO_GENERATOR: u32 = 0x20;
    const CO_COROUTINE: u32 = 0x80;
    const CO_ASYNC_GENERATOR: u32 = 0x200;

    fn of(function: &Bound<'_, PyAny>) -> Option<Self> {
        if !function.is_exact_instance_of::<pyo3::types::PyFunction>() {
            return None;
        }
        // Each of these makes `inspect` look further than the code object.
        for attribute in ["__wrapped__", "__signature__", "_partialmethod", "__partialmethod__", "_is_coroutine_marker"]
        {
            if function.hasattr(attribute).unwrap_or(true) {
                return None;
            }
        }
        let code = function.getattr("__code__").ok()?;
        let count = |name: &str| code.getattr(name).ok()?.extract::<usize>().ok();
        let positional = count("co_argcount")?;
        let keywords = count("co_kwonlyargcount")?;
        let defaults = match function.getattr("__defaults__").ok()? {
            d if d.is_none() => 0,
            d => d.len().ok()?,
        };
        let required_keywords = if keywords == 0 {
            false
        } else {
            let names = code.getattr("co_varnames").ok()?;
            let given = function.getattr("__kwdefaults__").ok()?;
            let mut required = false;
            for index in positional..positional + keywords {
                let name = names.get_item(index).ok()?;
                if given.is_none() || !given.contains(name).ok()? {
                    required = true;
                }
            }
            required
        };
        Some(Self { flags: code.getattr("co_flags").ok()?.extract().ok()?, positional, defaults, required_keywords })
    }

    /// Whether `function` is a plain `def` without a single annotation: nothing to check.
    fn unannotated(function: &Bound<'_, PyAny>) -> bool {
        Self::of(function).is_some()
            && function
                .getattr("__annotations__")
                .ok()
                .and_then(|found| found.cast_into::<pyo3::types::PyDict>().ok())
                .is_some_and(|found| found.is_empty())
    }

    fn mode(&self) -> HandlerMode {
        if self.flags & Self::CO_COROUTINE != 0 {
            HandlerMode::Async
        } else if self.flags & Self::CO_ASYNC_GENERATOR != 0 {
            HandlerMode::AsyncGenerator
        } else if self.flags & Self::CO_GENERATOR != 0 {
            HandlerMode::Generator
        } else {
            HandlerMode::Sync
        }
    }

    /// Whether `function(None)` binds: a first positional parameter (or `*args`), every other
    /// positional one defaulted, and no keyword-only parameter without a default.
    fn accepts_one_argument(&self) -> bool {
        let takes_one = self.positional >= 1 || self.flags & Self::CO_VARARGS != 0;
        takes_one && self.positional.saturating_sub(self.defaults) <= 1 && !self.required_keywords
    }
}

/// A missing module (the module itself or a package on its dotted path) is `ModuleNotFound`;
/// anything raised while the module body runs, including a missing import *inside* it, is
/// `ImportFailed` with the traceback.
fn import_error(py: Python<'_>, module: &str, err: &PyErr) -> PythonExecutionError {
    if err.is_instance_of::<PyModuleNotFoundError>(py) {
        let missing =
            err.value(py).getattr("name").ok().and_then(|n| n.cast_into::<PyString>().ok()).map(|n| n.to_string());
        let is_ours = missing
            .as_deref()
            .is_some_and(|name| module == name || module.strip_prefix(name).is_some_and(|rest| rest.starts_with('.')));
        if is_ours {
            let sys_path = py
                .import("sys")
                .and_then(|sys| sys.getattr("path"))
                .and_then(|p| p.extract::<Vec<String>>())
                .unwrap_or_default();
            return PythonExecutionError::ModuleNotFound { module: module.to_owned(), sys_path };
        }
    }
    PythonExecutionError::ImportFailed { module: module.to_owned(), exception: capture(py, err) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Functions of every shape a handler may have: the code-object reading must agree with
    /// `inspect` wherever it answers.
    const SHAPES: &CStr = c_str!(
        r#"
import functools
def one(x): pass
def positional_only(x, /): pass
def defaulted(x, y=1): pass
def all_defaulted(x=1, y=2): pass
def two(x, y): pass
def none(): pass
def star(*args): pass
def star_after(x, *args): pass
def keyword_required(x, *, k): pass
def keyword_defaulted(x, *, k=1): pass
def keywords_only(*, k=1): pass
def kwargs_only(**kw): pass
async def coroutine(x): pass
async def async_generator(x):
    yield x
def generator(x):
    yield x
@functools.wraps(two)
def wrapped(*args, **kwargs): pass
class Holder:
    def method(self, x): pass
bound = Holder().method
partial = functools.partial(two, 1)
shapes = [one, positional_only, defaulted, all_defaulted, two, none, star, star_after, keyword_required,
          keyword_defaulted, keywords_only, kwargs_only, coroutine, async_generator, generator, wrapped,
          bound, partial, len]
"#
    );

    #[test]
    fn plain_functions_are_read_as_inspect_reads_them() {
        Python::initialize();
        Python::attach(|py| {
            let module = PyModule::from_code(py, SHAPES, c"shapes.py", c"shapes").expect("shapes");
            let inspect = py.import("inspect").expect("inspect");
            let shapes = module.getattr("shapes").expect("shapes list");
            let mut read = 0;
            for function in shapes.try_iter().expect("iterable") {
                let function = function.expect("item");
                let name = function.str().expect("str").to_string();
                let is = |predicate: &str| {
                    inspect
                        .call_method1(predicate, (&function,))
                        .and_then(|r| r.is_truthy())
                        .expect("inspect predicate")
                };
                let expected = if is("iscoroutinefunction") {
                    HandlerMode::Async
                } else if is("isasyncgenfunction") {
                    HandlerMode::AsyncGenerator
                } else if is("isgeneratorfunction") {
                    HandlerMode::Generator
                } else {
                    HandlerMode::Sync
                };
                assert_eq!(detect_mode(&function).expect("mode"), expected, "{name}");
                let binds = inspect
                    .call_method1("signature", (&function,))
                    .map(|signature| signature.call_method1("bind", (py.None(),)).is_ok())
                    .unwrap_or(true);
                assert_eq!(rejects_one_argument(&function).is_none(), binds, "{name}");
                if let Some(plain) = PlainFunction::of(&function) {
                    read += 1;
                    assert_eq!(plain.mode(), expected, "{name}");
                    assert_eq!(plain.accepts_one_argument(), binds, "{name}");
                }
            }
            // Every plain `def` is read from its code object; the wrapped one, the bound method,
            // the partial and the builtin are left to `inspect`.
            assert_eq!(read, 15);
        });
    }
}
