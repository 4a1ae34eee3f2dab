//! Where the SDK library (`liblivekit_ffi`) is looked for.

use std::path::{Path, PathBuf};

/// File name of the SDK library on this platform.
pub const LIBRARY_FILE: &str = if cfg!(target_os = "macos") {
    "liblivekit_ffi.dylib"
} else if cfg!(target_os = "windows") {
    "livekit_ffi.dll"
} else {
    "liblivekit_ffi.so"
};

/// Environment variable naming the library explicitly.
pub const LIBRARY_ENV: &str = "ONAIR_LIVEKIT_LIB";

/// Where to look for the SDK library.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// An explicit path (takes precedence over [`LIBRARY_ENV`]). When set, nothing else is tried.
    pub path: Option<PathBuf>,
    /// The app's bundled resources folder (e.g. Tauri's `resource_dir`).
    pub resource_dir: Option<PathBuf>,
    /// Forward the SDK's and libwebrtc's logs into `tracing`.
    pub capture_logs: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            path: None,
            resource_dir: None,
            capture_logs: true,
        }
    }
}

impl LoadOptions {
    /// Every place to try, in order: explicit setting, next to the executable, bundled
    /// resources, and (unless built with ONAIR_NO_BUILD_LIB) the artifact this crate was
    /// generated from.
    pub fn candidates(&self) -> Vec<PathBuf> {
        if let Some(path) = &self.path {
            return vec![path.clone()];
        }
        if let Some(path) = std::env::var_os(LIBRARY_ENV).filter(|p| !p.is_empty()) {
            return vec![PathBuf::from(path)];
        }
        let mut places = Vec::new();
        if let Some(dir) = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(Path::to_owned))
        {
            places.push(dir.join(LIBRARY_FILE));
            // Debian packages install private libraries under /usr/lib/<app>/.
            places.push(dir.join("../lib/onair").join(LIBRARY_FILE));
        }
        if let Some(dir) = &self.resource_dir {
            places.push(dir.join(LIBRARY_FILE));
            places.push(dir.join("resources").join(LIBRARY_FILE));
        }
        // Builds from a source tree (debug or release) fall back to the artifact they were
        // generated from; packaged builds set ONAIR_NO_BUILD_LIB so they never look at the
        // build machine's paths.
        if option_env!("ONAIR_NO_BUILD_LIB").is_none() {
            places.push(PathBuf::from(env!("ONAIR_LIVEKIT_BUILD_LIB")));
        }
        places
    }
}
