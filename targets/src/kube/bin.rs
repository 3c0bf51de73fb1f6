//! Where the Kubernetes components are: `tools/kube/build` builds them from the Go module proxy
//! into a cache that outlives a clone and prints the folder; [`BIN_DIR_ENV`] names another.

use cluster::ClusterError;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The environment variable naming a folder that holds every component (the output of
/// `tools/kube/build`), for a `checker` run outside a checkout.
pub const BIN_DIR_ENV: &str = "CHECKER_KUBE_BIN_DIR";

/// The folder of the built components, building them first in a checkout where they are
/// missing (about 8 minutes from cold Go caches; nothing when they are built).
pub fn folder() -> Result<&'static Path, ClusterError> {
    static FOLDER: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    FOLDER
        .get_or_init(locate)
        .as_deref()
        .map_err(|e| ClusterError(e.clone()))
}

/// The component `name` (`kubelet`), from [`folder`].
pub fn path(name: &str) -> Result<PathBuf, ClusterError> {
    Ok(folder()?.join(name))
}

/// Where the lab's images are kept once packed (`images/` beside the components' folder, in the
/// same cache: they are made from those components).
pub fn images_dir() -> Result<PathBuf, ClusterError> {
    let bin = folder()?;
    let dir = bin.parent().unwrap_or(bin).join("images");
    std::fs::create_dir_all(&dir)
        .map_err(|e| ClusterError(format!("cannot create {}: {e}", dir.display())))?;
    Ok(dir)
}

/// A command running the component `name`; its program is the bare name when the components
/// are not found, so the error comes when it runs (after [`folder`] has said why).
pub fn command(name: &str) -> Command {
    Command::new(path(name).unwrap_or_else(|_| PathBuf::from(name)))
}

fn locate() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os(BIN_DIR_ENV) {
        let dir = PathBuf::from(dir);
        return if dir.join("kubelet").is_file() {
            Ok(dir)
        } else {
            Err(format!("{BIN_DIR_ENV}={} holds no kubelet", dir.display()))
        };
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/kube/build");
    if !script.is_file() {
        return Err(format!(
            "the Kubernetes components are not found: set {BIN_DIR_ENV} to the folder \
             `tools/kube/build` prints"
        ));
    }
    let built = Command::new(&script)
        .arg("--check")
        .status()
        .is_ok_and(|s| s.success());
    if !built {
        eprintln!(
            "building the Kubernetes components (tools/kube/build; about 8 minutes the first \
             time, then cached under ~/.cache/consistency-lab/kube)…"
        );
    }
    let output = Command::new(&script)
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{} failed (its messages are above)",
            script.display()
        ));
    }
    let printed = String::from_utf8_lossy(&output.stdout);
    let dir = PathBuf::from(printed.lines().last().unwrap_or_default().trim());
    if dir.join("kubelet").is_file() {
        Ok(dir)
    } else {
        Err(format!(
            "{} printed no folder holding a kubelet",
            script.display()
        ))
    }
}
