//! Compiles the schemas in `schema/` with the `capnp` tool (on `PATH`, or `$CAPNP`) into `OUT_DIR`.
//!
//! The vendored `schema/capnp/stream.capnp` answers the compiler's implicit import for `-> stream`
//! methods; the system's import path is turned off so that the build does not depend on which
//! Cap'n Proto headers the machine has.

use std::path::Path;

const SCHEMAS: [&str; 7] = [
    "records.capnp",
    "controller.capnp",
    "agent.capnp",
    "inventory.capnp",
    "ingest.capnp",
    "query.capnp",
    "auth.capnp",
];

fn main() {
    let dir = Path::new("schema");
    println!("cargo:rerun-if-changed=schema");
    println!("cargo:rerun-if-env-changed=CAPNP");

    let mut command = capnpc::CompilerCommand::new();
    if let Some(capnp) = std::env::var_os("CAPNP") {
        command.capnp_executable(capnp);
    }
    command
        .no_standard_import()
        .import_path(dir)
        .src_prefix(dir)
        .default_parent_module(vec!["schema".into()]);
    for file in SCHEMAS {
        command.file(dir.join(file));
    }
    if let Err(error) = command.run() {
        panic!(
            "compiling the Cap'n Proto schemas failed (the `capnp` tool, 0.8 or later, must be on \
             PATH or named by $CAPNP; Debian: `apt-get install capnproto`): {error}"
        );
    }
}
