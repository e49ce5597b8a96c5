//! Records which libpython this crate was built against.
//!
//! A machine may hold several libpython3.x builds; a binary without an rpath loads whichever the
//! system library path finds first, silently running another interpreter (another `sys.prefix`,
//! other site-packages). The parent passes the directory recorded here to every child in
//! `LD_LIBRARY_PATH`, so children run the interpreter the crate was built for even in user
//! binaries that have no build script of their own. This crate's own test and bench binaries also
//! get it as an rpath.
fn main() {
    let config = pyo3_build_config::get();
    if let Some(dir) = config.lib_dir() {
        println!("cargo:rustc-env=SNAKE_PYTHON_LIB_DIR={dir}");
    } else {
        println!("cargo:rustc-env=SNAKE_PYTHON_LIB_DIR=");
    }
    if let Some(exe) = config.executable() {
        println!("cargo:rustc-env=SNAKE_PYTHON_EXECUTABLE={exe}");
    } else {
        println!("cargo:rustc-env=SNAKE_PYTHON_EXECUTABLE=");
    }
    pyo3_build_config::add_libpython_rpath_link_args();
}
