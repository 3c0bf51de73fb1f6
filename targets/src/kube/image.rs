//! Container images without a registry. Each image has a Containerfile in `k8s/images/<name>/`
//! (user, entry point, ports, health check) and a root file system the lab assembles: its
//! programs, the shared libraries they link (found with `ldd`, copied from this machine's Debian
//! packages), an `/etc/passwd` naming its non-root user, an empty `/tmp`. `podman build` turns
//! the two into an image FROM scratch (no base image, so nothing is pulled), `podman save` into a
//! docker-archive tarball, and `ctr images import` puts it into each node's containerd; pods use
//! it with `imagePullPolicy: Never`.

use super::bin;
use cluster::command::run;
use cluster::ClusterError;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One image the lab makes: a row of [`IMAGES`].
#[derive(Debug)]
pub struct Image {
    /// Its name: the folder of its Containerfile under `k8s/images/`, and its tarball's name.
    pub name: &'static str,
    /// Its reference (`lab.local/coredns:v1.14.7`), as pods name it.
    pub reference: &'static str,
    /// The programs it holds, each at `/<file name>`.
    pub programs: &'static [Program],
    /// Whether every cluster gets it at `up` (the add-ons'); the others are the service
    /// system's, made when it is deployed, from the binaries built then.
    pub add_on: bool,
}

/// Where a program of an image comes from.
#[derive(Debug, Clone, Copy)]
pub enum Program {
    /// A component `tools/kube/build` built ([`bin::folder`]).
    Built(&'static str),
    /// A binary of this workspace (the service's `api` and `worker`, the `checker`), found as
    /// the lab finds the service's binaries.
    Workspace(&'static str),
    /// A program installed on this machine (Debian's busybox-static, nginx).
    File(&'static str),
}

impl Program {
    fn path(&self) -> Result<PathBuf, ClusterError> {
        match self {
            Program::Built(name) => bin::path(name),
            Program::Workspace(name) => crate::service::server::binary(name),
            Program::File(path) => Ok(PathBuf::from(path)),
        }
    }
}

/// The pods' sandbox (containerd's `sandbox_image`).
pub static PAUSE: Image = Image {
    name: "pause",
    reference: "lab.local/pause:3.10.1",
    programs: &[Program::Built("pause")],
    add_on: true,
};

/// The cluster's DNS.
pub static COREDNS: Image = Image {
    name: "coredns",
    reference: "lab.local/coredns:v1.14.7",
    programs: &[Program::Built("coredns")],
    add_on: true,
};

/// The resource metrics API (`kubectl top`, the HPA's CPU and memory).
pub static METRICS_SERVER: Image = Image {
    name: "metrics-server",
    reference: "lab.local/metrics-server:v0.8.0",
    programs: &[Program::Built("metrics-server")],
    add_on: true,
};

/// A shell and small tools (`busybox sh`, `nc`, `httpd`, `nslookup`) for the lab's own probes
/// and tests; from Debian's busybox-static.
pub static BUSYBOX: Image = Image {
    name: "busybox",
    reference: "lab.local/busybox:1.35",
    programs: &[Program::File("/bin/busybox")],
    add_on: true,
};

/// The service system's api.
pub static API: Image = Image {
    name: "api",
    reference: "lab.local/api:dev",
    programs: &[Program::Workspace("api")],
    add_on: false,
};

/// The service system's worker.
pub static WORKER: Image = Image {
    name: "worker",
    reference: "lab.local/worker:dev",
    programs: &[Program::Workspace("worker")],
    add_on: false,
};

/// NGINX in front of the api.
pub static NGINX: Image = Image {
    name: "nginx",
    reference: "lab.local/nginx:1.22",
    programs: &[Program::File("/usr/sbin/nginx")],
    add_on: false,
};

/// etcd 3.6.16, as the chart's in-cluster store for discovery, election and live settings.
pub static ETCD: Image = Image {
    name: "etcd",
    reference: "lab.local/etcd:v3.6.16",
    programs: &[Program::Built("etcd")],
    add_on: false,
};

/// The checker, to run workloads from inside the cluster.
pub static CHECKER: Image = Image {
    name: "checker",
    reference: "lab.local/checker:dev",
    programs: &[Program::Workspace("checker")],
    add_on: false,
};

/// Every image the lab makes.
pub static IMAGES: &[&Image] = &[
    &PAUSE,
    &COREDNS,
    &METRICS_SERVER,
    &BUSYBOX,
    &API,
    &WORKER,
    &NGINX,
    &ETCD,
    &CHECKER,
];

/// The images every cluster gets at `up`.
pub fn add_ons() -> impl Iterator<Item = &'static Image> {
    IMAGES.iter().copied().filter(|i| i.add_on)
}

/// The folder of the Containerfiles (`k8s/images` of the checkout).
pub fn containerfiles() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../k8s/images")
}

impl Image {
    /// Its Containerfile.
    pub fn containerfile(&self) -> PathBuf {
        containerfiles().join(self.name).join("Containerfile")
    }

    /// Builds the image and saves it as `<dir>/<name>.tar`, returning the path. An add-on's
    /// tarball, once made, is kept (its programs are pinned builds); the service's images are
    /// made afresh each time, from the binaries as they are now.
    pub fn archive(&self, dir: &Path) -> Result<PathBuf, ClusterError> {
        let archive = dir.join(format!("{}.tar", self.name));
        if self.add_on && archive.is_file() {
            return Ok(archive);
        }
        let context = dir.join(format!("{}.context", self.name));
        let _ = std::fs::remove_dir_all(&context);
        let rootfs = context.join("rootfs");
        assemble(&rootfs, self.programs)?;
        let podman = |args: &[&str]| {
            let mut command = podman(dir);
            command.args(args);
            command
        };
        let containerfile = self.containerfile();
        run(podman(&[
            "build",
            "--quiet",
            "--format",
            "docker",
            "--tag",
            self.reference,
            "--file",
        ])
        .arg(&containerfile)
        .arg(&context))?;
        let partial = dir.join(format!("{}.tar.tmp", self.name));
        let _ = std::fs::remove_file(&partial);
        run(
            podman(&["save", "--quiet", "--format", "docker-archive", "--output"])
                .arg(&partial)
                .arg(self.reference),
        )?;
        std::fs::rename(&partial, &archive)
            .map_err(|e| ClusterError(format!("cannot write {}: {e}", archive.display())))?;
        // The tarball is what is kept: podman's own copy would grow its store with every build.
        run(&mut podman(&["rmi", "--force", self.reference]))?;
        let _ = std::fs::remove_dir_all(&context);
        Ok(archive)
    }
}

/// podman with its storage in `dir` (beside the tarballs, in a cache), not the machine's
/// `/var/lib/containers`; vfs, which works on any file system. Its run root (locks) must be a
/// path of under 50 bytes, and the same every time (podman records it with its storage), so it
/// is a fixed folder of the temporary one.
fn podman(dir: &Path) -> Command {
    let mut command = Command::new("podman");
    command
        .arg("--root")
        .arg(dir.join("podman"))
        .arg("--runroot")
        .arg(podman_run_root())
        .args(["--storage-driver", "vfs"]);
    command
}

fn podman_run_root() -> PathBuf {
    // SAFETY: geteuid has no preconditions and cannot fail.
    std::env::temp_dir().join(format!("lab-podman-{}", unsafe { libc::geteuid() }))
}

/// The root file system of an image holding `programs`: each at `/<file name>`, the shared
/// libraries they link at the paths the dynamic loader looks in, `/etc/passwd` and `/etc/group`
/// with root, the images' user (65532) and the pause user (65535), and `/tmp`.
fn assemble(rootfs: &Path, programs: &[Program]) -> Result<(), ClusterError> {
    let io = |what: &Path, e: std::io::Error| {
        ClusterError(format!("cannot write {}: {e}", what.display()))
    };
    for folder in ["etc", "tmp"] {
        std::fs::create_dir_all(rootfs.join(folder)).map_err(|e| io(rootfs, e))?;
    }
    let passwd = "root:x:0:0:root:/:/nonexistent\nlab:x:65532:65532:lab:/tmp:/nonexistent\npause:x:65535:65535:pause:/:/nonexistent\n";
    std::fs::write(rootfs.join("etc/passwd"), passwd).map_err(|e| io(rootfs, e))?;
    std::fs::write(
        rootfs.join("etc/group"),
        "root:x:0:\nlab:x:65532:\npause:x:65535:\n",
    )
    .map_err(|e| io(rootfs, e))?;
    // A resolver configuration for glibc programs: names through the pod's resolv.conf.
    std::fs::write(
        rootfs.join("etc/nsswitch.conf"),
        "passwd: files\ngroup: files\nhosts: files dns\n",
    )
    .map_err(|e| io(rootfs, e))?;
    run(Command::new("chmod").arg("1777").arg(rootfs.join("tmp")))?;
    for program in programs {
        let source = program.path()?;
        let name = source.file_name().unwrap_or_default();
        copy(&source, &rootfs.join(name))?;
        for library in libraries(&source)? {
            let inside = rootfs.join(library.strip_prefix("/").unwrap_or(&library));
            copy(&library, &inside)?;
        }
    }
    Ok(())
}

/// The shared libraries `program` links, as absolute paths (none for a static program), with
/// the dynamic loader itself.
fn libraries(program: &Path) -> Result<Vec<PathBuf>, ClusterError> {
    let output = Command::new("ldd")
        .arg(program)
        .output()
        .map_err(|e| ClusterError(format!("cannot run ldd on {}: {e}", program.display())))?;
    // ldd exits 1 for a static program ("not a dynamic executable").
    let text = String::from_utf8_lossy(&output.stdout);
    Ok(text
        .lines()
        .filter_map(|line| {
            let path = match line.split_once("=>") {
                Some((_, after)) => after.split_whitespace().next()?,
                None => line.split_whitespace().next()?,
            };
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect())
}

/// Copies the file `from` (following symbolic links) to `to`, creating its folder.
fn copy(from: &Path, to: &Path) -> Result<(), ClusterError> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| ClusterError(format!("cannot create {}: {e}", parent.display())))?;
    }
    std::fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| ClusterError(format!("cannot copy {} into an image: {e}", from.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_image_has_a_containerfile_a_lab_reference_and_a_non_root_user() {
        for (i, image) in IMAGES.iter().enumerate() {
            assert!(image.reference.starts_with("lab.local/"), "{image:?}");
            assert!(IMAGES[..i]
                .iter()
                .all(|other| other.reference != image.reference && other.name != image.name));
            let text = std::fs::read_to_string(image.containerfile())
                .unwrap_or_else(|e| panic!("{}: {e}", image.containerfile().display()));
            assert!(
                text.contains("FROM scratch"),
                "{} pulls a base image",
                image.name
            );
            let user = text
                .lines()
                .find_map(|l| l.strip_prefix("USER "))
                .unwrap_or_else(|| panic!("{} has no USER", image.name));
            assert!(
                !user.starts_with('0') && !user.starts_with("root"),
                "{} runs as root",
                image.name
            );
        }
    }

    #[test]
    fn a_dynamic_program_brings_its_loader_and_libc_and_a_static_one_nothing() {
        let dynamic = libraries(Path::new("/bin/sh")).expect("ldd");
        assert!(
            dynamic
                .iter()
                .any(|l| l.to_string_lossy().contains("libc.so")),
            "{dynamic:?}"
        );
        assert!(
            dynamic
                .iter()
                .any(|l| l.to_string_lossy().contains("ld-linux")),
            "{dynamic:?}"
        );
        if Path::new("/bin/busybox").exists() {
            assert!(libraries(Path::new("/bin/busybox"))
                .expect("ldd")
                .is_empty());
        }
    }
}
