//! Code shared by the example binaries in `src/bin/`.

pub mod otlp;
