//! The stub of the module a child injects (`python/src/snake/__init__.pyi`, and `kameo`) agrees
//! with the live module: `mypy.stubtest` run inside a real child.

use libtest_mimic::Trial;
use serde::{Deserialize, Serialize};
use snake::{PythonActorExt, PythonChildProcessBuilder};

use crate::common::{config, trial};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunStubtest {
    pub modules: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StubtestResult {
    pub code: i32,
    pub output: String,
}

impl snake::ChildMessage for RunStubtest {
    type Reply = StubtestResult;
}
snake::register_actor!(RunStubtest);

pub fn trials() -> Vec<Trial> {
    vec![trial("runtime_module::shipped_stub_matches_the_live_module", stub_matches_live_module)]
}

async fn stub_matches_live_module() {
    // The shipped stubs of the two modules alone: the package beside them (`snake.testing`, for
    // tests outside a child) is not part of the module a child registers.
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../python/src");
    let stubs = std::env::temp_dir().join(format!("snake-stubtest-{}", std::process::id()));
    std::fs::create_dir_all(&stubs).expect("stub dir");
    for module in ["snake", "kameo"] {
        std::fs::copy(src.join(module).join("__init__.pyi"), stubs.join(format!("{module}.pyi"))).expect("copy stub");
    }
    let mut config = config("stubtest_runner", "run_stubtest");
    config.env_vars = vec![("MYPYPATH".into(), stubs.display().to_string())];
    let actor = PythonChildProcessBuilder::new(config)
        .handshake_timeout(std::time::Duration::from_secs(30))
        .call_timeout(std::time::Duration::from_secs(120))
        .spawn::<RunStubtest>()
        .await
        .expect("spawn");
    let result = actor.call(RunStubtest { modules: vec!["snake".into(), "kameo".into()] }).await.expect("stubtest ran");
    let _ = std::fs::remove_dir_all(&stubs);
    assert_eq!(result.code, 0, "stubtest found differences:\n{}", result.output);
}
