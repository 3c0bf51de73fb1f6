//! Container images without a registry: a root file system the lab assembles (a static binary,
//! an `/etc/passwd` naming its non-root user, an empty `/tmp`), packed as a docker-archive
//! tarball (`docker save`'s format, which `ctr images import` reads) and imported into each
//! node's containerd. Pods use them with `imagePullPolicy: Never`.

use super::bin;
use cluster::command::run;
use cluster::ClusterError;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

/// One image the lab makes: a row of [`IMAGES`].
#[derive(Debug)]
pub struct Image {
    /// Its reference (`lab.local/coredns:v1.14.7`), as pods name it.
    pub reference: &'static str,
    /// The program it holds, at `/<binary>` in the image, and its entry point.
    pub binary: &'static str,
    /// Where the program comes from.
    pub from: Source,
    /// The user it runs as; a number, since the image has no tools to resolve a name.
    pub user: u32,
}

/// Where an image's program comes from.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    /// A component `tools/kube/build` built ([`bin::folder`]).
    Built,
    /// A static program installed on this machine (Debian's busybox-static).
    File(&'static str),
}

/// The pods' sandbox (containerd's `sandbox_image`).
pub static PAUSE: Image = Image {
    reference: "lab.local/pause:3.10.1",
    binary: "pause",
    from: Source::Built,
    user: 65535,
};

/// The cluster's DNS.
pub static COREDNS: Image = Image {
    reference: "lab.local/coredns:v1.14.7",
    binary: "coredns",
    from: Source::Built,
    user: 65532,
};

/// The resource metrics API (`kubectl top`, the HPA's CPU and memory).
pub static METRICS_SERVER: Image = Image {
    reference: "lab.local/metrics-server:v0.8.0",
    binary: "metrics-server",
    from: Source::Built,
    user: 65532,
};

/// A shell and small tools (`busybox sh`, `nc`, `httpd`, `nslookup`) for the lab's own probes
/// and tests; from Debian's busybox-static.
pub static BUSYBOX: Image = Image {
    reference: "lab.local/busybox:1.35",
    binary: "busybox",
    from: Source::File("/bin/busybox"),
    user: 65532,
};

/// Every image the cluster's nodes get.
pub static IMAGES: &[&Image] = &[&PAUSE, &COREDNS, &METRICS_SERVER, &BUSYBOX];

impl Image {
    /// Packs the image into `<dir>/<binary>.tar` unless it is there, and returns the path.
    pub fn archive(&self, dir: &Path) -> Result<PathBuf, ClusterError> {
        let archive = dir.join(format!("{}.tar", self.binary));
        if archive.is_file() {
            return Ok(archive);
        }
        let work = dir.join(format!("{}.build", self.binary));
        let _ = std::fs::remove_dir_all(&work);
        let rootfs = work.join("rootfs");
        let io = |what: &Path, e: std::io::Error| {
            ClusterError(format!("cannot write {}: {e}", what.display()))
        };
        for folder in ["etc", "tmp"] {
            std::fs::create_dir_all(rootfs.join(folder)).map_err(|e| io(&rootfs, e))?;
        }
        let passwd = format!(
            "root:x:0:0:root:/:/nonexistent\nlab:x:{0}:{0}:lab:/:/nonexistent\n",
            self.user
        );
        std::fs::write(rootfs.join("etc/passwd"), passwd).map_err(|e| io(&rootfs, e))?;
        std::fs::write(
            rootfs.join("etc/group"),
            format!("root:x:0:\nlab:x:{}:\n", self.user),
        )
        .map_err(|e| io(&rootfs, e))?;
        let target = rootfs.join(self.binary);
        let source = match self.from {
            Source::Built => bin::path(self.binary)?,
            Source::File(path) => PathBuf::from(path),
        };
        std::fs::copy(&source, &target).map_err(|e| {
            ClusterError(format!(
                "cannot copy {} into the image: {e}",
                source.display()
            ))
        })?;
        // /tmp world-writable and sticky, as programs expect.
        run(Command::new("chmod").arg("1777").arg(rootfs.join("tmp")))?;

        let layer = work.join("layer.tar");
        run(Command::new("tar")
            .args([
                "--sort=name",
                "--mtime=@0",
                "--owner=0",
                "--group=0",
                "--numeric-owner",
                "-C",
            ])
            .arg(&rootfs)
            .arg("-cf")
            .arg(&layer)
            .arg("."))?;
        let layer_digest = sha256_file(&layer)?;
        let config = serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "config": {
                "User": format!("{0}:{0}", self.user),
                "Entrypoint": [format!("/{}", self.binary)],
                "Env": ["PATH=/"],
                "WorkingDir": "/",
            },
            "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{layer_digest}")]},
        })
        .to_string();
        let config_name = format!("{}.json", hex(&Sha256::digest(config.as_bytes())));
        std::fs::write(work.join(&config_name), &config).map_err(|e| io(&work, e))?;
        let manifest = serde_json::json!([{
            "Config": config_name,
            "RepoTags": [self.reference],
            "Layers": ["layer.tar"],
        }])
        .to_string();
        std::fs::write(work.join("manifest.json"), manifest).map_err(|e| io(&work, e))?;
        let partial = dir.join(format!("{}.tar.tmp", self.binary));
        run(Command::new("tar")
            .arg("-C")
            .arg(&work)
            .arg("-cf")
            .arg(&partial)
            .args(["manifest.json", &config_name, "layer.tar"]))?;
        std::fs::rename(&partial, &archive).map_err(|e| io(&archive, e))?;
        let _ = std::fs::remove_dir_all(&work);
        Ok(archive)
    }
}

fn sha256_file(path: &Path) -> Result<String, ClusterError> {
    let bytes = std::fs::read(path)
        .map_err(|e| ClusterError(format!("cannot read {}: {e}", path.display())))?;
    Ok(hex(&Sha256::digest(&bytes)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_image_has_its_own_reference_and_a_non_root_user() {
        for (i, image) in IMAGES.iter().enumerate() {
            assert!(image.reference.starts_with("lab.local/"), "{image:?}");
            assert_ne!(image.user, 0, "{image:?} runs as root");
            assert!(IMAGES[..i]
                .iter()
                .all(|other| other.reference != image.reference));
        }
    }
}
