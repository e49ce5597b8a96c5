//! Compile-time tests for the snake macros live in `tests/`.
//!
//! The pedantic hygiene case is also compiled here, as a module of this library, so that
//! `cargo clippy --all-targets` lints what the derive expands to under `clippy::pedantic`
//! (trybuild runs rustc, not clippy).

#[path = "../tests/ui/pass/hygiene_pedantic.rs"]
pub mod hygiene_pedantic;

#[path = "../tests/ui/pass/actor_and_callback_pedantic.rs"]
pub mod actor_and_callback_pedantic;
