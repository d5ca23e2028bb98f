//! The programs in native/examples, as `cargo test --all-targets` built
//! them, and the blocks of the docs that show them.

use std::path::PathBuf;
use std::process::Command;

/// The newest build of example `name`: `cargo test --all-targets` builds
/// examples under `examples/` beside the test binaries, named
/// `name-HASH` (`cargo run --example` also leaves a plain `name`).
pub fn program(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|profile| profile.join("examples"))
        .unwrap();
    let prefix = format!("{name}-");
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run with --all-targets, which builds examples)",
                dir.display()
            )
        })
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            let file = path.file_name().and_then(|f| f.to_str()).unwrap_or("");
            (file == name || file.starts_with(&prefix)) && path.extension().is_none()
        })
        .max_by_key(|path| std::fs::metadata(path).and_then(|m| m.modified()).ok())
        .unwrap_or_else(|| panic!("no build of example {name} in {}", dir.display()))
}

/// Runs example `name` to its end; what it printed on stdout, which must
/// be all it did (exit status 0).
pub fn run(name: &str) -> String {
    let program = program(name);
    let out = Command::new(&program)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()));
    assert!(
        out.status.success(),
        "example {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// `docs/{page}` from the marker `<!-- example: native/examples/{name}.rs -->`
/// on: the example's block and everything after it.
pub fn from_example(page: &str, name: &str) -> String {
    let path = format!("{}/../docs/{page}", env!("CARGO_MANIFEST_DIR"));
    let docs = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let marker = format!("<!-- example: native/examples/{name}.rs -->\n");
    let at = docs
        .find(&marker)
        .unwrap_or_else(|| panic!("{page} does not show example {name}"));
    docs[at..].to_owned()
}

/// The body of the first block fenced as `fence` (such as "```text") in
/// `text`.
pub fn block(text: &str, fence: &str) -> String {
    let open = format!("{fence}\n");
    let start = text
        .find(&open)
        .unwrap_or_else(|| panic!("no {fence} block"))
        + open.len();
    text[start..start + text[start..].find("```").unwrap()].to_owned()
}
