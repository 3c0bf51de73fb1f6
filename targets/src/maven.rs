//! Jars from Maven Central. No Debian package ships Cassandra or Kafka, so the lab runs each from
//! the jars its POM in `tools/<name>/pom.xml` lists: `mvn` resolves them into `~/.m2` once (which
//! outlives a clone of this repository) and writes their classpath to a file, which later runs
//! read instead of asking Maven again. The lab's clusters and the images of its Kubernetes
//! stores share this.

use cluster::command::line;
use cluster::ClusterError;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `tools/<name>` of this workspace: the POM, and the configuration files that go with it
/// (found from the source tree, which the lab runs from).
pub fn tools_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tools")
        .join(name)
}

/// The classpath of `tools/<name>/pom.xml`'s runtime jars, as `file` holds it; resolved with
/// Maven and written there first when `file` is missing or empty.
pub fn classpath(name: &str, file: &Path) -> Result<String, ClusterError> {
    if let Ok(classpath) = std::fs::read_to_string(file) {
        if !classpath.trim().is_empty() {
            return Ok(classpath.trim().to_string());
        }
    }
    let pom = tools_dir(name).join("pom.xml");
    if !pom.exists() {
        return Err(ClusterError(format!(
            "{} is missing: the lab runs {name} from the jars it lists",
            pom.display()
        )));
    }
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| ClusterError(format!("cannot create {}: {e}", dir.display())))?;
    }
    // Maven writes the file itself: its stdout is not clean (Debian's Maven prints stray ANSI
    // codes even in quiet batch mode).
    let mut mvn = Command::new("mvn");
    mvn.args(["-q", "-B", "-f"])
        .arg(&pom)
        .args(["dependency:build-classpath", "-DincludeScope=runtime"])
        .arg(format!("-Dmdep.outputFile={}", file.display()));
    let output = mvn.output().map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::NotFound {
            " (install it with `apt-get install maven`, or run ./test.sh, which installs what the lab needs)"
        } else {
            ""
        };
        ClusterError(format!("cannot run `{}`: {e}{hint}", line(&mvn)))
    })?;
    let classpath = std::fs::read_to_string(file).unwrap_or_default();
    if !output.status.success() || classpath.trim().is_empty() {
        let _ = std::fs::remove_file(file);
        // Maven reports its errors on stdout, not stderr.
        return Err(ClusterError(format!(
            "resolving {name}'s jars failed: `{}` ({}):\n{}{}",
            line(&mvn),
            output.status,
            String::from_utf8_lossy(&output.stdout).trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(classpath.trim().to_string())
}

/// The jars of a classpath, in its order.
pub fn jars(classpath: &str) -> impl Iterator<Item = &Path> {
    classpath
        .split(':')
        .filter(|jar| !jar.is_empty())
        .map(Path::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_jvm_server_has_a_pom() {
        for name in ["cassandra", "kafka"] {
            assert!(tools_dir(name).join("pom.xml").is_file(), "{name}");
        }
    }

    #[test]
    fn a_missing_pom_is_named() {
        let file = std::env::temp_dir().join("lab-maven-test-none.classpath");
        let error = classpath("no-such-server", &file).unwrap_err();
        assert!(
            error.0.contains("no-such-server/pom.xml is missing"),
            "{error}"
        );
    }

    #[test]
    fn a_classpath_splits_into_its_jars() {
        let found: Vec<_> = jars("/a/x.jar:/b/y.jar:").collect();
        assert_eq!(found, [Path::new("/a/x.jar"), Path::new("/b/y.jar")]);
    }
}
