//! The headless-browser checks in `tests/browser` (Node.js with playwright-core and Debian's
//! chromium), and a rendered site written out for them to open.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use seatwatch_core::site::SiteFile;

/// `tests/browser`, where the checker scripts and their `node_modules` are.
pub fn dir() -> PathBuf {
    crate::repo_root().join("tests/browser")
}

/// Runs the checker `script` of `tests/browser` with `args` under Node.js; its output, for the
/// test to judge.
pub fn run(script: &str, args: impl IntoIterator<Item = impl AsRef<OsStr>>) -> Output {
    let browser = dir();
    assert!(
        browser.join("node_modules/playwright-core").exists(),
        "tests/browser/node_modules is missing: run scripts/test.sh first \
         (or `cd tests/browser && npm ci`), and install Debian's chromium"
    );
    Command::new("node")
        .arg(browser.join(script))
        .args(args)
        .current_dir(&browser)
        .output()
        .expect("node runs (is Node.js installed?)")
}

/// Writes the rendered site's files below `dir`, as a bucket or web server would serve them.
pub fn write_site(files: &[SiteFile], dir: &Path) {
    for f in files {
        let path = dir.join(&f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create site dir");
        }
        std::fs::write(&path, &f.bytes).expect("write site file");
    }
}
