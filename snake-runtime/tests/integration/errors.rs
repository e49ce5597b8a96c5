//! Failures a caller must be told about precisely: exceptions, import problems, bad replies.

use std::time::Duration;

use libtest_mimic::Trial;
use snake::{ConversionDirection, HandlerMode, PythonChildProcessBuilder, PythonExecutionError};

use crate::common::{builder, config, handler_error, trial};
use crate::messages::*;

pub fn trials() -> Vec<Trial> {
    vec![
        trial("errors::sync_exception_has_type_message_and_traceback", sync_exception),
        trial("errors::async_exception_has_type_message_and_traceback", async_exception),
        trial("errors::missing_module", missing_module),
        trial("errors::missing_function", missing_function),
        trial("errors::attribute_that_is_not_callable", not_callable),
        trial("errors::exception_at_import_time", import_time_exception),
        trial("errors::missing_dependency_inside_the_module", missing_dependency),
        trial("errors::declared_async_but_function_is_sync", declared_async_but_sync),
        trial("errors::function_that_cannot_take_one_argument", wrong_signature),
        trial("errors::declared_sync_but_function_is_async", declared_sync_but_async),
        trial("errors::reply_of_the_wrong_type_names_path_and_types", wrong_reply_type),
        trial("errors::nested_reply_error_names_the_full_path", nested_reply_error),
        trial("errors::handshake_times_out_on_a_slow_import", handshake_timeout),
        trial("errors::unregistered_actor_is_refused_before_spawning", unregistered_in_parent),
        trial("errors::unregistered_actor_is_refused_by_the_child", unregistered_in_child),
    ]
}

async fn sync_exception() {
    let actor = builder("fail").spawn::<Text>().await.expect("spawn");
    let err = handler_error(actor.ask(Text { text: "boom".into() }).await);
    let PythonExecutionError::Exception(exception) = &err else { panic!("{err:?}") };
    assert_eq!(exception.type_name, "ValueError");
    assert_eq!(exception.message, "bad value: boom");
    assert!(exception.traceback.starts_with("Traceback (most recent call last):"), "{}", exception.traceback);
    assert!(exception.traceback.contains("handlers.py"), "{}", exception.traceback);
    assert!(exception.traceback.contains("in fail"), "{}", exception.traceback);
    assert!(exception.traceback.trim_end().ends_with("ValueError: bad value: boom"), "{}", exception.traceback);
    assert_eq!(err.to_string(), "python raised ValueError: bad value: boom");
    // The child survives its handler's exception.
    let again = handler_error(actor.ask(Text { text: "again".into() }).await);
    assert_eq!(again.python_exception().map(|e| e.message.as_str()), Some("bad value: again"));
}

async fn async_exception() {
    let actor = builder("fail_async").spawn::<Text>().await.expect("spawn");
    let err = handler_error(actor.ask(Text { text: "missing-key".into() }).await);
    let PythonExecutionError::Exception(exception) = &err else { panic!("{err:?}") };
    assert_eq!(exception.type_name, "KeyError");
    assert_eq!(exception.message, "'missing-key'");
    assert!(exception.traceback.contains("in fail_async"), "{}", exception.traceback);
}

async fn missing_module() {
    let err = PythonChildProcessBuilder::new(config("no_such_module_here", "f"))
        .spawn::<Text>()
        .await
        .expect_err("must fail");
    let PythonExecutionError::ModuleNotFound { module, sys_path } = &err else { panic!("{err:?}") };
    assert_eq!(module, "no_such_module_here");
    let dir = crate::common::python_dir().display().to_string();
    assert!(sys_path.contains(&dir), "module_path is on sys.path: {sys_path:?}");
}

async fn missing_function() {
    let err = builder("no_such_function").spawn::<Text>().await.expect_err("must fail");
    assert_eq!(
        err,
        PythonExecutionError::FunctionNotFound {
            module: "handlers".into(),
            function: "no_such_function".into(),
            suggestion: None,
        }
    );
    assert_eq!(err.to_string(), "python module `handlers` has no function `no_such_function`");
    // A likely typo names the closest public function.
    let err = builder("echo_asnyc").spawn::<Text>().await.expect_err("must fail");
    assert_eq!(
        err,
        PythonExecutionError::FunctionNotFound {
            module: "handlers".into(),
            function: "echo_asnyc".into(),
            suggestion: Some("echo_async".into()),
        }
    );
    assert_eq!(err.to_string(), "python module `handlers` has no function `echo_asnyc` (did you mean `echo_async`?)");
    // Private names are never suggested (`handlers._channel_fd` exists).
    let err = builder("channel_fd").spawn::<Text>().await.expect_err("must fail");
    let PythonExecutionError::FunctionNotFound { suggestion, .. } = &err else { panic!("{err:?}") };
    assert_eq!(suggestion, &None);
}

async fn not_callable() {
    let err = builder("not_callable").spawn::<Text>().await.expect_err("must fail");
    assert_eq!(
        err,
        PythonExecutionError::NotCallable {
            module: "handlers".into(),
            function: "not_callable".into(),
            type_name: "int".into()
        }
    );
}

async fn import_time_exception() {
    let err =
        PythonChildProcessBuilder::new(config("broken_import", "f")).spawn::<Text>().await.expect_err("must fail");
    let PythonExecutionError::ImportFailed { module, exception } = &err else { panic!("{err:?}") };
    assert_eq!(module, "broken_import");
    assert_eq!(exception.type_name, "RuntimeError");
    assert_eq!(exception.message, "this module refuses to import");
    assert!(exception.traceback.contains("broken_import.py"), "{}", exception.traceback);
}

async fn missing_dependency() {
    let err = PythonChildProcessBuilder::new(config("missing_dependency", "handler"))
        .spawn::<Text>()
        .await
        .expect_err("must fail");
    let PythonExecutionError::ImportFailed { module, exception } = &err else { panic!("{err:?}") };
    assert_eq!(module, "missing_dependency");
    assert_eq!(exception.type_name, "ModuleNotFoundError");
    assert!(exception.message.contains("snake_no_such_dependency"), "{}", exception.message);
}

async fn declared_async_but_sync() {
    let mut config = config("handlers", "echo");
    config.is_async = Some(true);
    let err = PythonChildProcessBuilder::new(config).spawn::<Text>().await.expect_err("must fail");
    assert_eq!(
        err,
        PythonExecutionError::HandlerMismatch {
            module: "handlers".into(),
            function: "echo".into(),
            declared: HandlerMode::Async,
            actual: HandlerMode::Sync,
        }
    );
}

async fn declared_sync_but_async() {
    let mut config = config("handlers", "echo_async");
    config.is_async = Some(false);
    let err = PythonChildProcessBuilder::new(config).spawn::<Text>().await.expect_err("must fail");
    assert!(
        matches!(
            err,
            PythonExecutionError::HandlerMismatch { declared: HandlerMode::Sync, actual: HandlerMode::Async, .. }
        ),
        "{err:?}"
    );
}

async fn wrong_reply_type() {
    let actor = builder("wrong_type").spawn::<Jitter>().await.expect("spawn");
    let err = handler_error(actor.ask(Jitter { id: 3 }).await);
    let PythonExecutionError::Conversion { direction, error } = &err else { panic!("{err:?}") };
    assert_eq!(*direction, ConversionDirection::Reply);
    assert_eq!(error.to_string(), "reply.doubled: expected int, got str");
}

async fn nested_reply_error() {
    let actor = builder("wrong_nested").spawn::<Scores>().await.expect("spawn");
    let err = handler_error(actor.ask(Scores).await);
    let PythonExecutionError::Conversion { error, .. } = &err else { panic!("{err:?}") };
    assert_eq!(error.to_string(), "reply.items[3].score: expected float, got str");
    assert_eq!(err.to_string(), "converting the reply failed: reply.items[3].score: expected float, got str");
}

async fn handshake_timeout() {
    let started = std::time::Instant::now();
    let err = PythonChildProcessBuilder::new(config("slow_import", "handler"))
        .handshake_timeout(Duration::from_millis(500))
        .spawn::<Text>()
        .await
        .expect_err("must time out");
    assert!(
        matches!(err, PythonExecutionError::HandshakeTimedOut { timeout, .. } if timeout == Duration::from_millis(500)),
        "{err:?}"
    );
    // Not a timing assertion: only that the 30 s import was not waited for.
    assert!(started.elapsed() < Duration::from_secs(25));
}

async fn unregistered_in_parent() {
    let err = builder("echo").spawn::<Unregistered>().await.expect_err("must fail");
    let PythonExecutionError::ActorNotRegistered { actor } = &err else { panic!("{err:?}") };
    assert!(actor.contains("Unregistered"), "{actor}");
}

async fn unregistered_in_child() {
    // Naming the program skips the parent's own registry check, so the child must refuse.
    let program = std::env::current_exe().expect("current exe");
    let err = builder("echo").program(program).spawn::<Unregistered>().await.expect_err("must fail");
    let PythonExecutionError::ActorNotRegistered { actor } = &err else { panic!("{err:?}") };
    assert!(actor.contains("Unregistered"), "{actor}");
}

async fn wrong_signature() {
    for (function, signature) in [("two_arguments", "(first, second)"), ("keyword_only", "(*, msg)")] {
        let err = builder(function).spawn::<Text>().await.expect_err("must fail");
        assert_eq!(
            err,
            PythonExecutionError::WrongSignature {
                module: "handlers".into(),
                function: function.into(),
                signature: signature.into()
            }
        );
    }
    let actor = builder("defaults_are_fine").spawn::<Text>().await.expect("a default for a second parameter is fine");
    assert_eq!(actor.ask(Text { text: "ok".into() }).await.expect("echo").text, "ok");
}
