//! Runtime behaviour through real child processes.
//!
//! This binary is its own Python child: `setup_python_subprocess_system!` generates `main`,
//! which serves the requested actor when the test re-executes itself as a child, and otherwise
//! runs the tests (with libtest-mimic, so filtering and output are the usual `cargo test` ones).

mod annotations;
#[cfg(feature = "numpy")]
mod arrays;
mod callbacks;
mod calls;
mod common;
mod errors;
mod faults;
mod faults_child;
mod health;
mod lifecycle;
mod logs;
mod macros;
mod messages;
mod metrics;
#[cfg(feature = "otel")]
mod otel;
mod pools;
mod roundtrip;
mod runtime_module;
mod shared_memory;
mod streams;
mod typed;
mod wire;

use messages::Listed;

snake::setup_python_subprocess_system! {
    actors = { (snake::PythonActor<Listed>, Listed, snake::NoCallback) },
    child_init = { snake::RuntimeConfig::default() },
    parent_init = {
        if let Some(code) = lifecycle::run_helper_role().or_else(faults::run_helper_role) {
            std::process::exit(code);
        }
        let args = libtest_mimic::Arguments::from_args();
        let trials: Vec<_> = [
            calls::trials(),
            errors::trials(),
            faults::trials(),
            faults_child::trials(),
            health::trials(),
            lifecycle::trials(),
            roundtrip::trials(),
            callbacks::trials(),
            streams::trials(),
            typed::trials(),
            runtime_module::trials(),
            wire::trials(),
            macros::trials(),
            annotations::trials(),
            #[cfg(feature = "otel")]
            otel::trials(),
            logs::trials(),
            metrics::trials(),
            pools::trials(),
            shared_memory::trials(),
            #[cfg(feature = "numpy")]
            arrays::trials(),
        ].into_iter().flatten().collect();
        libtest_mimic::run(&args, trials).exit()
    },
}
