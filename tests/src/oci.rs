//! Driving the real container clients: umoci builds images, skopeo and podman push and pull,
//! oras (Python) pushes artifacts.

use std::path::Path;
use std::process::{Command, Output};

use crate::in_ci;

/// Whether skopeo, podman, umoci and Python's oras are installed. Under `CI=true` a missing
/// client is a failure, never a skip.
pub fn available() -> bool {
    let runs = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let found = runs("skopeo", &["--version"])
        && runs("podman", &["--version"])
        && runs("umoci", &["--version"])
        && runs("python3", &["-c", "import oras.client"]);
    if !found {
        assert!(
            !in_ci(),
            "skopeo, podman, umoci or oras is missing: run scripts/install-tools.sh test (CI=true never skips it)"
        );
        eprintln!("skipping: container clients are not installed (scripts/install-tools.sh test)");
    }
    found
}

/// Run a command; its output.
pub fn run(program: &str, args: &[&str], dir: &Path) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|err| panic!("{program} runs: {err}"))
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Build an OCI layout `img:v1` in `dir` with one layer per given (file name, bytes).
pub fn build_image(dir: &Path, layers: &[(&str, Vec<u8>)]) {
    let out = run("umoci", &["init", "--layout", "img"], dir);
    assert!(out.status.success(), "umoci init: {}", text(&out));
    let out = run("umoci", &["new", "--image", "img:v1"], dir);
    assert!(out.status.success(), "umoci new: {}", text(&out));
    for (name, bytes) in layers {
        let source = dir.join(name);
        std::fs::write(&source, bytes).unwrap();
        let target = format!("/{name}");
        let out = run(
            "umoci",
            &[
                "insert",
                "--image",
                "img:v1",
                source.to_str().unwrap(),
                &target,
            ],
            dir,
        );
        assert!(out.status.success(), "umoci insert: {}", text(&out));
    }
}
