//! The engine through a real child process written in plain Rust: no Python, no actors.
//!
//! This binary is its own child: started with `SNAKE_CHILD_FD` set, it serves the test protocol
//! of [`child`]; otherwise it runs the trials (with libtest-mimic, so filtering and output are
//! the usual `cargo test` ones).

mod cases;
mod child;

fn main() {
    // SAFETY: first thing in `main`, with one thread.
    if let Some(channel) = unsafe { snake_ipc::spawn::channel_from_env() } {
        match channel {
            Ok(stream) => child::serve(stream),
            Err(err) => {
                eprintln!("engine test child: {err}");
                std::process::exit(2);
            }
        }
    }
    let args = libtest_mimic::Arguments::from_args();
    libtest_mimic::run(&args, cases::trials()).exit()
}
