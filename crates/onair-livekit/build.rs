//! Generates the SDK's protocol types from the schema descriptors shipped in the pinned
//! `livekit` wheel, so the types always match the binary we load.

use std::path::PathBuf;

use prost::Message;

const SETUP: &str = "bash scripts/setup.sh";

fn main() {
    println!("cargo:rerun-if-env-changed=ONAIR_LIVEKIT_SDK_DIR");
    let sdk_dir = match std::env::var_os("ONAIR_LIVEKIT_SDK_DIR") {
        Some(dir) => PathBuf::from(dir),
        // Read at run time, not with env!(): a build script binary can be reused by a checkout
        // elsewhere that shares the target directory (CI clones do), and must not point there.
        None => PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"))
            .join("../../.sdk/livekit-1.2.0"),
    };
    let fds_path = sdk_dir.join("livekit_ffi.fds");
    println!("cargo:rerun-if-changed={}", fds_path.display());

    let bytes = std::fs::read(&fds_path).unwrap_or_else(|err| {
        panic!(
            "\n\nThe LiveKit SDK artifact is missing: cannot read {} ({err}).\n\
             Run `{SETUP}` from the repository root: it downloads the pinned livekit==1.2.0 wheel,\n\
             checks its sha256 and unpacks the library and schema into .sdk/.\n\
             (Or point ONAIR_LIVEKIT_SDK_DIR at a folder holding livekit_ffi.fds and liblivekit_ffi.so.)\n\n",
            fds_path.display()
        )
    });
    let fds = prost_types::FileDescriptorSet::decode(bytes.as_slice()).unwrap_or_else(|err| {
        panic!(
            "{} is not a FileDescriptorSet ({err}); re-run `{SETUP}`",
            fds_path.display()
        )
    });

    prost_build::Config::new()
        .compile_fds(fds)
        .expect("generate LiveKit protocol types");

    let lib = sdk_dir.join("liblivekit_ffi.so");
    let lib = lib.canonicalize().unwrap_or(lib);
    // Builds from a source tree remember where the artifact they were generated from lives, so
    // `cargo run`, `cargo test` and `cargo bench` find the matching library without copying it
    // around (packaged builds opt out with ONAIR_NO_BUILD_LIB, see engine.rs).
    println!("cargo:rustc-env=ONAIR_LIVEKIT_BUILD_LIB={}", lib.display());
}
