//! The committed stubs in `examples/python` match the declarations of the binaries that write
//! them (the quick start and the service), so a change to either fails `cargo test` until the
//! stubs are regenerated.

#[test]
fn quickstart_stubs_are_fresh() {
    snake::stubs::assert_fresh(env!("CARGO_BIN_EXE_quickstart"), concat!(env!("CARGO_MANIFEST_DIR"), "/python"));
}

#[test]
fn service_stubs_are_fresh() {
    snake::stubs::assert_fresh(env!("CARGO_BIN_EXE_service"), concat!(env!("CARGO_MANIFEST_DIR"), "/python"));
}

#[test]
fn stale_stubs_fail_with_the_report_and_the_command_that_regenerates_them() {
    let binary = env!("CARGO_BIN_EXE_quickstart");
    let dir = std::env::temp_dir().join(format!("snake-stale-stubs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let committed = concat!(env!("CARGO_MANIFEST_DIR"), "/python");
    for entry in std::fs::read_dir(committed).expect("examples/python") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        if name.starts_with("snake_") || name.starts_with("check_") {
            std::fs::copy(&path, dir.join(&name)).expect("copy");
        }
    }
    snake::stubs::assert_fresh(binary, &dir);

    let types = dir.join("snake_types.py");
    let edited = std::fs::read_to_string(&types).expect("read").replace("words: int", "words: str");
    std::fs::write(&types, edited).expect("edit");
    let panic = std::panic::catch_unwind(|| snake::stubs::assert_fresh(binary, &dir)).expect_err("stale stubs panic");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(message.contains("snake_types.py: differs"), "{message}");
    assert!(message.contains("-    words: str\n"), "{message}");
    assert!(
        message.contains(&format!("regenerate them with `{binary} --snake-stubs write {}`", dir.display())),
        "{message}"
    );
}
