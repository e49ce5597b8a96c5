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
    let inspect = py.import("inspect").map_err(|e| exception(py, &e))?;
    let wants_annotations = methods.iter().any(|spec| spec.request_type.is_some() || spec.reply_type.is_some());
    let checker = if wants_annotations {
        let source = PyModule::from_code(py, ANNOTATION_CHECK, c"<snake annotation check>", c"_snake_annotation_check")
            .map_err(|e| exception(py, &e))?;
        Some(source.getattr("check").map_err(|e| exception(py, &e))?)
    } else {
        None
    };
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
            let actual = detect_mode(&inspect, &function).map_err(|e| exception(py, &e))?;
            if let Some(signature) = rejects_one_argument(&inspect, &function) {
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
            if let Some(checker) = &checker
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
    let inspect = py.import("inspect").map_err(|e| exception(py, &e))?;
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
    let mode = detect_mode(&inspect, &found).map_err(|e| exception(py, &e))?;
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
/// the doubt.
fn rejects_one_argument(inspect: &Bound<'_, PyModule>, function: &Bound<'_, PyAny>) -> Option<String> {
    let signature = inspect.call_method1("signature", (function,)).ok()?;
    let py = function.py();
    match signature.call_method1("bind", (py.None(),)) {
        Ok(_) => None,
        Err(_) => Some(signature.str().map_or_else(|_| "?".to_owned(), |s| s.to_string())),
    }
}

fn detect_mode(inspect: &Bound<'_, PyModule>, function: &Bound<'_, PyAny>) -> PyResult<HandlerMode> {
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
