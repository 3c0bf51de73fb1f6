//! Running the system tools the lab drives (`ip`, `iptables`, server
//! binaries) with errors that name the command and what it printed.

use crate::ClusterError;
use std::process::Command;

/// Runs `command` to completion; its stdout on success, else an error
/// naming the command line, its exit status and its stderr.
pub fn run(command: &mut Command) -> Result<String, ClusterError> {
    let output = command.output().map_err(|e| {
        ClusterError(format!(
            "cannot run `{}`: {e}{}",
            line(command),
            missing_hint(command, &e)
        ))
    })?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(ClusterError(format!(
            "`{}` failed ({}): {}",
            line(command),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

/// Runs `command` and reports only whether it succeeded (for probes such
/// as `iptables -C`, whose failure is an answer, not an error).
pub fn succeeds(command: &mut Command) -> bool {
    command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// The command line, for messages.
pub fn line(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn missing_hint(command: &Command, error: &std::io::Error) -> String {
    if error.kind() != std::io::ErrorKind::NotFound {
        return String::new();
    }
    let program = command.get_program().to_string_lossy();
    let package = match program.as_ref() {
        "ip" => "iproute2",
        "iptables" => "iptables",
        "etcd" => "etcd-server",
        "java" => "openjdk-17-jre-headless",
        "mvn" => "maven",
        _ => return " (is it installed? ./test.sh installs what the lab needs)".into(),
    };
    format!(" (install it with `apt-get install {package}`, or run ./test.sh, which installs what the lab needs)")
}
