//! Compile-time tests for the snake macros live in `tests/`.
