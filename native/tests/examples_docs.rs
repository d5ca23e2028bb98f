//! The Rust programs the docs show are files in native/examples, included
//! byte for byte (python/tests/test_doc_inventory.py checks that), built and
//! run by `cargo test --all-targets` as harness-less examples. Here each
//! runs again, and prints what its page says it prints.

mod common;

use common::example::{block, from_example, run};

/// docs/native.md, "Embedding the server".
#[test]
fn the_embedding_example_prints_what_the_page_shows() {
    let shown = from_example("native.md", "embed");
    assert_eq!(
        block(&shown, "```rust"),
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/embed.rs")).unwrap()
    );
    assert_eq!(run("embed"), block(&shown, "```text"));
}

/// docs/security.md, "From Rust": the page says what it prints in a
/// sentence, `the host got "hello over TLS"`.
#[test]
fn the_tls_example_prints_what_the_page_says() {
    let shown = from_example("security.md", "tls");
    let after = &shown[shown.find("It prints `").expect("what it prints") + "It prints `".len()..];
    let said = &after[..after.find('`').unwrap()];
    assert_eq!(run("tls"), format!("{said}\n"));
}
