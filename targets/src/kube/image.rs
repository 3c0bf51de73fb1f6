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
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;

/// One image the lab makes: a row of [`IMAGES`].
#[derive(Debug)]
pub struct Image {
    /// Its name: the folder of its Containerfile under `k8s/images/`, and its tarball's name.
    pub name: &'static str,
    /// Its reference (`lab.local/coredns:v1.14.7`), as pods name it.
    pub reference: &'static str,
    /// What its root file system holds, besides the other files of its folder (an entry-point
    /// script), which go to `/`.
    pub parts: &'static [Part],
    /// Whether every cluster gets it at `up` (the add-ons'); the others are the service
    /// system's, made when it is deployed.
    pub add_on: bool,
    /// Whether only the store nodes get it (the stores' images: only store pods use them).
    pub stores_only: bool,
}

/// A part of an image's root file system.
#[derive(Debug, Clone, Copy)]
pub enum Part {
    /// A component `tools/kube/build` built ([`bin::folder`]), at `/<name>`.
    Built(&'static str),
    /// A binary of this workspace (the service's `api` and `worker`, the `checker`), found as
    /// the lab finds the service's binaries, at `/<name>`.
    Workspace(&'static str),
    /// A program installed on this machine (Debian's busybox-static, nginx), at `/<file name>`.
    File(&'static str),
    /// A folder installed on this machine (Debian's PostgreSQL 15), copied to the same path
    /// (its programs find their data files relative to where they are), without the entries
    /// (paths relative to it) of the second field.
    Tree(&'static str, &'static [&'static str]),
    /// busybox (Debian's busybox-static) at `/busybox`, with `/bin/sh` a link to it: entry
    /// points are its shell scripts, and programs that `popen` (initdb) need `/bin/sh`.
    Shell,
    /// The jars `tools/<name>/pom.xml` resolves ([`crate::maven`]) at `/opt/<name>/lib/`, and
    /// the other files of `tools/<name>/` (configuration templates, logging) at
    /// `/opt/<name>/conf/`.
    Jars(&'static str),
    /// A Java runtime at `/opt/java`, made by `jlink` from this machine's OpenJDK 17 (every
    /// module, without debug symbols, headers or manuals: 83 MB instead of 263 MB).
    Java,
}

/// The JDK `jlink` makes [`Part::Java`] from: Debian's OpenJDK 17, which Cassandra 5.0 and
/// Kafka 4 both run on.
const JDK: &str = "/usr/lib/jvm/java-17-openjdk-amd64";
/// Debian's static busybox.
const BUSYBOX_PROGRAM: &str = "/bin/busybox";

impl Part {
    /// Puts this part into `rootfs`; `dir` is the images' folder (where made runtimes and
    /// resolved classpaths are kept).
    fn add(&self, rootfs: &Path, dir: &Path) -> Result<(), ClusterError> {
        let program = |source: PathBuf| {
            let name = source.file_name().unwrap_or_default().to_owned();
            copy(&source, &rootfs.join(name))?;
            add_libraries(rootfs, &source)
        };
        match self {
            Part::Built(name) => program(bin::path(name)?),
            Part::Workspace(name) => program(crate::service::server::binary(name)?),
            Part::File(path) => program(PathBuf::from(path)),
            Part::Tree(path, except) => {
                let path = Path::new(path);
                let to = inside(rootfs, path);
                copy_tree(path, &to)?;
                for entry in except.iter() {
                    let _ = std::fs::remove_dir_all(to.join(entry));
                    let _ = std::fs::remove_file(to.join(entry));
                }
                for file in elf_files(&to)? {
                    add_libraries(rootfs, &file)?;
                }
                Ok(())
            }
            Part::Shell => {
                program(PathBuf::from(BUSYBOX_PROGRAM))?;
                std::fs::create_dir_all(rootfs.join("bin"))
                    .and_then(|()| std::os::unix::fs::symlink("/busybox", rootfs.join("bin/sh")))
                    .map_err(|e| ClusterError(format!("cannot link /bin/sh in an image: {e}")))
            }
            Part::Jars(name) => {
                let classpath = crate::maven::classpath(name, &classpath_file(dir, name)?)?;
                let opt = rootfs.join("opt").join(name);
                for jar in crate::maven::jars(&classpath) {
                    copy(
                        jar,
                        &opt.join("lib").join(jar.file_name().unwrap_or_default()),
                    )?;
                }
                copy_tree(&crate::maven::tools_dir(name), &opt.join("conf"))
            }
            Part::Java => {
                let runtime = java_runtime(dir)?;
                copy_tree(&runtime, &rootfs.join("opt/java"))?;
                for file in elf_files(&runtime)? {
                    add_libraries(rootfs, &file)?;
                }
                Ok(())
            }
        }
    }

    /// What the part is made from, for [`Image::fingerprint`]: when it changes, the image is
    /// made again.
    fn hash_into(&self, hasher: &mut DefaultHasher) -> Result<(), ClusterError> {
        match self {
            Part::Built(name) => stamp(&bin::path(name)?, hasher),
            Part::Workspace(name) => stamp(&crate::service::server::binary(name)?, hasher),
            Part::File(path) => stamp(Path::new(path), hasher),
            // Every file: a package upgrade replaces files without touching the folder itself.
            Part::Tree(path, _) => {
                for file in files(Path::new(path))? {
                    stamp(&file, hasher);
                }
            }
            Part::Shell => stamp(Path::new(BUSYBOX_PROGRAM), hasher),
            Part::Jars(name) => {
                for file in files(&crate::maven::tools_dir(name))? {
                    std::fs::read(&file).ok().hash(hasher);
                }
            }
            Part::Java => stamp(&Path::new(JDK).join("release"), hasher),
        }
        Ok(())
    }
}

/// Where the classpath of `tools/<name>/pom.xml` is kept in `dir`: one file per content of the
/// POM, so that a changed POM is resolved again (a kept classpath is never asked of Maven).
fn classpath_file(dir: &Path, name: &str) -> Result<PathBuf, ClusterError> {
    let pom = crate::maven::tools_dir(name).join("pom.xml");
    let text = std::fs::read(&pom)
        .map_err(|e| ClusterError(format!("cannot read {}: {e}", pom.display())))?;
    let mut hasher = DefaultHasher::new();
    text.hash(&mut hasher);
    Ok(dir.join(format!("{name}-{:08x}.classpath", hasher.finish() as u32)))
}

/// A file's path, size and time of change, into `hasher`.
fn stamp(path: &Path, hasher: &mut DefaultHasher) {
    path.hash(hasher);
    if let Ok(meta) = std::fs::metadata(path) {
        meta.len().hash(hasher);
        meta.modified().ok().hash(hasher);
    }
}

/// The pods' sandbox (containerd's `sandbox_image`).
pub static PAUSE: Image = Image {
    name: "pause",
    reference: "lab.local/pause:3.10.1",
    parts: &[Part::Built("pause")],
    add_on: true,
    stores_only: false,
};

/// The cluster's DNS.
pub static COREDNS: Image = Image {
    name: "coredns",
    reference: "lab.local/coredns:v1.14.7",
    parts: &[Part::Built("coredns")],
    add_on: true,
    stores_only: false,
};

/// The resource metrics API (`kubectl top`, the HPA's CPU and memory).
pub static METRICS_SERVER: Image = Image {
    name: "metrics-server",
    reference: "lab.local/metrics-server:v0.8.0",
    parts: &[Part::Built("metrics-server")],
    add_on: true,
    stores_only: false,
};

/// A shell and small tools (`busybox sh`, `nc`, `httpd`, `nslookup`) for the lab's own probes
/// and tests; from Debian's busybox-static.
pub static BUSYBOX: Image = Image {
    name: "busybox",
    reference: "lab.local/busybox:1.35",
    parts: &[Part::File(BUSYBOX_PROGRAM)],
    add_on: true,
    stores_only: false,
};

/// The service system's api.
pub static API: Image = Image {
    name: "api",
    reference: "lab.local/api:dev",
    parts: &[Part::Workspace("api")],
    add_on: false,
    stores_only: false,
};

/// The service system's worker.
pub static WORKER: Image = Image {
    name: "worker",
    reference: "lab.local/worker:dev",
    parts: &[Part::Workspace("worker")],
    add_on: false,
    stores_only: false,
};

/// NGINX in front of the api.
pub static NGINX: Image = Image {
    name: "nginx",
    reference: "lab.local/nginx:1.22",
    parts: &[Part::File("/usr/sbin/nginx")],
    add_on: false,
    stores_only: false,
};

/// etcd 3.6.16, as the chart's in-cluster store for discovery, election and live settings.
pub static ETCD: Image = Image {
    name: "etcd",
    reference: "lab.local/etcd:v3.6.16",
    parts: &[Part::Built("etcd")],
    add_on: false,
    stores_only: false,
};

/// The checker, to run workloads from inside the cluster.
pub static CHECKER: Image = Image {
    name: "checker",
    reference: "lab.local/checker:dev",
    parts: &[Part::Workspace("checker")],
    add_on: false,
    stores_only: false,
};

/// PostgreSQL 15 from Debian's packages (programs, modules, data files, time zones) with
/// busybox for its entry point, which makes a primary (ordinal 0) or a standby copied from it.
pub static POSTGRES: Image = Image {
    name: "postgres",
    reference: "lab.local/postgres:15",
    parts: &[
        Part::Shell,
        // Without the JIT (jit = off): its LLVM would triple the image.
        Part::Tree(
            "/usr/lib/postgresql/15",
            &["lib/llvmjit.so", "lib/llvmjit_types.bc", "lib/bitcode"],
        ),
        Part::Tree("/usr/share/postgresql/15", &[]),
        Part::Tree("/usr/share/zoneinfo", &[]),
    ],
    add_on: false,
    stores_only: true,
};

/// Cassandra 5.0 from Maven Central's jars on a Java runtime made from Debian's OpenJDK.
pub static CASSANDRA: Image = Image {
    name: "cassandra",
    reference: "lab.local/cassandra:5.0.9",
    parts: &[Part::Shell, Part::Java, Part::Jars("cassandra")],
    add_on: false,
    stores_only: true,
};

/// Kafka 4.4 (KRaft) from Maven Central's jars on the same Java runtime.
pub static KAFKA: Image = Image {
    name: "kafka",
    reference: "lab.local/kafka:4.4.0",
    parts: &[Part::Shell, Part::Java, Part::Jars("kafka")],
    add_on: false,
    stores_only: true,
};

/// Prometheus in the cluster, scraping the release's api and worker pods.
pub static PROMETHEUS: Image = Image {
    name: "prometheus",
    reference: "lab.local/prometheus:2.42",
    parts: &[Part::File("/usr/bin/prometheus")],
    add_on: false,
    stores_only: false,
};

/// The custom-metrics API of the release (kubernetes-sigs' prometheus-adapter): requests per
/// second per api pod, from the release's Prometheus, for the api's HPA.
pub static PROMETHEUS_ADAPTER: Image = Image {
    name: "prometheus-adapter",
    reference: "lab.local/prometheus-adapter:v0.12.0",
    parts: &[Part::Built("prometheus-adapter")],
    add_on: false,
    stores_only: false,
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
    &POSTGRES,
    &CASSANDRA,
    &KAFKA,
    &PROMETHEUS,
    &PROMETHEUS_ADAPTER,
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

    /// The other files of its folder (entry points), which go to `/` of its root file system.
    fn extra_files(&self) -> Result<Vec<PathBuf>, ClusterError> {
        let folder = containerfiles().join(self.name);
        Ok(files(&folder)?
            .into_iter()
            .filter(|f| f.file_name().is_some_and(|n| n != "Containerfile"))
            .collect())
    }

    /// What the image is made from: its Containerfile and other files, and its parts. The
    /// tarball is made again only when this changes.
    fn fingerprint(&self) -> Result<String, ClusterError> {
        let mut hasher = DefaultHasher::new();
        self.reference.hash(&mut hasher);
        for file in std::iter::once(self.containerfile()).chain(self.extra_files()?) {
            file.hash(&mut hasher);
            std::fs::read(&file).ok().hash(&mut hasher);
        }
        for part in self.parts {
            part.hash_into(&mut hasher)?;
        }
        Ok(format!("{:016x}", hasher.finish()))
    }

    /// The fingerprint of the tarball in `dir` ([`Image::fingerprint`]: what it was made from),
    /// once made.
    pub fn build(&self, dir: &Path) -> Option<String> {
        std::fs::read_to_string(self.stamp(dir)).ok()
    }

    fn stamp(&self, dir: &Path) -> PathBuf {
        dir.join(format!("{}.fingerprint", self.name))
    }

    /// Builds the image and saves it as `<dir>/<name>.tar`, returning the path; a tarball made
    /// from the same inputs ([`Image::fingerprint`]) is kept.
    pub fn archive(&self, dir: &Path) -> Result<PathBuf, ClusterError> {
        let archive = dir.join(format!("{}.tar", self.name));
        let stamp = self.stamp(dir);
        let fingerprint = self.fingerprint()?;
        if archive.is_file()
            && std::fs::read_to_string(&stamp).ok().as_deref() == Some(&fingerprint)
        {
            return Ok(archive);
        }
        let context = dir.join(format!("{}.context", self.name));
        let _ = std::fs::remove_dir_all(&context);
        let rootfs = context.join("rootfs");
        assemble(&rootfs)?;
        for part in self.parts {
            part.add(&rootfs, dir)?;
        }
        for file in self.extra_files()? {
            copy(&file, &rootfs.join(file.file_name().unwrap_or_default()))?;
        }
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
        std::fs::write(&stamp, &fingerprint)
            .map_err(|e| ClusterError(format!("cannot write {}: {e}", stamp.display())))?;
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

/// The base of every image's root file system: `/etc/passwd` and `/etc/group` with root, the
/// images' user (65532) and the pause user (65535), a resolver configuration, and `/tmp`.
fn assemble(rootfs: &Path) -> Result<(), ClusterError> {
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
    Ok(())
}

/// Copies the shared libraries `program` links (and the dynamic loader) into `rootfs`, at the
/// paths the loader looks in.
fn add_libraries(rootfs: &Path, program: &Path) -> Result<(), ClusterError> {
    for library in libraries(program)? {
        let target = inside(rootfs, &library);
        if !target.exists() {
            copy(&library, &target)?;
        }
    }
    Ok(())
}

/// Where the absolute `path` of this machine is inside `rootfs`.
fn inside(rootfs: &Path, path: &Path) -> PathBuf {
    rootfs.join(path.strip_prefix("/").unwrap_or(path))
}

/// A Java runtime made by `jlink` from [`JDK`]'s modules, kept in `dir` once made (one per
/// release of the JDK, so that an upgraded JDK makes a new one).
fn java_runtime(dir: &Path) -> Result<PathBuf, ClusterError> {
    let mut hasher = DefaultHasher::new();
    stamp(&Path::new(JDK).join("release"), &mut hasher);
    let runtime = dir.join(format!("java-17-{:08x}.runtime", hasher.finish() as u32));
    if runtime.join("bin/java").is_file() {
        return Ok(runtime);
    }
    let jlink = Path::new(JDK).join("bin/jlink");
    if !jlink.is_file() {
        return Err(ClusterError(format!(
            "{} is missing: the stores' Java images are made from Debian's OpenJDK 17 \
             (`apt-get install openjdk-17-jdk-headless`, or run ./test.sh)",
            jlink.display()
        )));
    }
    let partial = runtime.with_extension("tmp");
    let _ = std::fs::remove_dir_all(&partial);
    run(Command::new(&jlink)
        .args([
            "--add-modules",
            "ALL-MODULE-PATH",
            "--strip-debug",
            "--no-man-pages",
        ])
        .args(["--no-header-files", "--compress=2", "--output"])
        .arg(&partial))?;
    std::fs::rename(&partial, &runtime)
        .map_err(|e| ClusterError(format!("cannot write {}: {e}", runtime.display())))?;
    Ok(runtime)
}

/// The files under `dir`, recursively, sorted (links to files followed, links to folders not).
fn files(dir: &Path) -> Result<Vec<PathBuf>, ClusterError> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        let entries = std::fs::read_dir(&folder)
            .map_err(|e| ClusterError(format!("cannot read {}: {e}", folder.display())))?;
        for entry in entries.flatten() {
            let path = entry.path();
            // A link to a folder is not followed: Debian's time zones link `posix/Europe` to
            // `../Europe`, which would be copied twice.
            let linked = entry.file_type().is_ok_and(|t| t.is_symlink());
            if path.is_dir() && !linked {
                pending.push(path);
            } else if path.is_file() {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// The ELF files (programs and shared objects) under `dir`.
fn elf_files(dir: &Path) -> Result<Vec<PathBuf>, ClusterError> {
    use std::io::Read;
    Ok(files(dir)?
        .into_iter()
        .filter(|file| {
            let mut magic = [0u8; 4];
            std::fs::File::open(file)
                .and_then(|mut f| f.read_exact(&mut magic))
                .is_ok()
                && magic == *b"\x7fELF"
        })
        .collect())
}

/// Copies the folder `from` to `to`, following symbolic links (Debian's packages link their
/// configuration in from `/etc`) and keeping files' modes.
fn copy_tree(from: &Path, to: &Path) -> Result<(), ClusterError> {
    for file in files(from)? {
        let relative = file.strip_prefix(from).unwrap_or(&file);
        copy(&file, &to.join(relative))?;
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
