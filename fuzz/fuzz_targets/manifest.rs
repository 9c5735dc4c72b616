//! Scan manifests (TOML): any text gives a manifest or errors that say where, never a panic.

#![no_main]

use std::path::{Path, PathBuf};

use brulee::manifest::{PluginCatalog, ScanManifest};
use libfuzzer_sys::fuzz_target;

/// First-party plugins as a release ships them; the paths need not exist, the loader only
/// resolves names.
struct Shipped;

impl PluginCatalog for Shipped {
    fn find(&self, name: &str) -> Option<PathBuf> {
        self.names()
            .contains(&name.to_string())
            .then(|| PathBuf::from(format!("/nonexistent/plugins/{name}.wasm")))
    }
    fn names(&self) -> Vec<String> {
        ["webhook", "s3", "gcs", "azure-blob", "aws-ec2", "gcp-compute"]
            .map(String::from)
            .to_vec()
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let formats: Vec<&str> = brulee_reports::formats().iter().map(|f| f.name).collect();
    match ScanManifest::parse(
        text,
        Path::new("/nonexistent/scan.toml"),
        &brulee::builtin::names,
        &Shipped,
        &formats,
    ) {
        Ok(_) => {}
        Err(errors) => {
            assert!(!errors.0.is_empty(), "an error without a message");
            for e in &errors.0 {
                assert!(
                    e.location.starts_with("/nonexistent/scan.toml"),
                    "an error that does not say where: {e}"
                );
            }
        }
    }
});
