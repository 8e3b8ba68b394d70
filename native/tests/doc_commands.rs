//! Every `native` command the documents show exists (`native calibrate disk` once did not).

#[path = "../../scenarios/tests/common/mod.rs"]
mod common;

#[test]
fn every_native_command_shown_exists() {
    let bad = common::doc_mentions::unknown_commands(
        "native",
        std::path::Path::new(env!("CARGO_BIN_EXE_native")),
    );
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
