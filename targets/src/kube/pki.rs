//! The cluster's certificates and keys, made with `openssl` (ECDSA P-256: quick to generate, and
//! every component accepts it), and the kubeconfigs that use them.
//!
//! One CA signs every serving and client certificate, so the kubelets' serving certificates can
//! be checked by the apiserver and by metrics-server (which reads the CA from the
//! `kube-root-ca.crt` ConfigMap every namespace gets); a second CA signs the apiserver's
//! front-proxy client, which the aggregation layer needs (metrics-server's `APIService`).

use cluster::command::run;
use cluster::ClusterError;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A folder of certificates and keys (`<name>.crt`, `<name>.key`).
#[derive(Debug, Clone)]
pub struct Pki {
    dir: PathBuf,
}

/// What a certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// A client certificate (TLS client authentication).
    Client,
    /// A serving certificate (TLS server authentication).
    Server,
}

/// One leaf certificate to make: its file name, subject, usage and alternative names.
#[derive(Debug, Clone)]
pub struct Leaf<'a> {
    /// The file name stem (`admin` gives `admin.crt` and `admin.key`).
    pub name: &'a str,
    /// The common name (a user for client certificates).
    pub common_name: &'a str,
    /// The organisation (a group for client certificates), if any.
    pub organisation: Option<&'a str>,
    /// Client or server.
    pub usage: Usage,
    /// IP addresses the certificate is valid for (servers).
    pub ips: Vec<Ipv4Addr>,
    /// DNS names the certificate is valid for (servers).
    pub dns: Vec<String>,
    /// Which CA signs it (`ca` or `front-proxy-ca`).
    pub ca: &'a str,
}

impl<'a> Leaf<'a> {
    /// A client certificate for `common_name` in group `organisation`, signed by the cluster CA.
    pub fn client(name: &'a str, common_name: &'a str, organisation: Option<&'a str>) -> Leaf<'a> {
        Leaf {
            name,
            common_name,
            organisation,
            usage: Usage::Client,
            ips: Vec::new(),
            dns: Vec::new(),
            ca: CA,
        }
    }

    /// A serving certificate for `ips` and `dns`, signed by the cluster CA.
    pub fn server(
        name: &'a str,
        common_name: &'a str,
        ips: Vec<Ipv4Addr>,
        dns: Vec<String>,
    ) -> Leaf<'a> {
        Leaf {
            name,
            common_name,
            organisation: None,
            usage: Usage::Server,
            ips,
            dns,
            ca: CA,
        }
    }
}

/// The cluster CA's name.
pub const CA: &str = "ca";
/// The front-proxy CA's name.
pub const FRONT_PROXY_CA: &str = "front-proxy-ca";
/// The service-account signing key's name (`sa.key`, `sa.pub`).
pub const SERVICE_ACCOUNT: &str = "sa";

/// Ten years: the cluster lives for a test run, but a certificate that expires under a
/// long-lived lab would fail in confusing ways.
const DAYS: &str = "3650";

impl Pki {
    /// The folder `dir` (not created until [`Pki::create_authorities`]).
    pub fn at(dir: &Path) -> Pki {
        Pki {
            dir: dir.to_path_buf(),
        }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `<name>.crt`.
    pub fn cert(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.crt"))
    }

    /// `<name>.key`.
    pub fn key(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.key"))
    }

    /// The service accounts' public key (`sa.pub`).
    pub fn service_account_public(&self) -> PathBuf {
        self.dir.join(format!("{SERVICE_ACCOUNT}.pub"))
    }

    /// Makes the folder afresh with both CAs and the service-account key pair.
    pub fn create_authorities(&self) -> Result<(), ClusterError> {
        let _ = std::fs::remove_dir_all(&self.dir);
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| ClusterError(format!("cannot create {}: {e}", self.dir.display())))?;
        for (name, subject) in [
            (CA, "/CN=lab-kubernetes-ca"),
            (FRONT_PROXY_CA, "/CN=lab-front-proxy-ca"),
        ] {
            run(openssl()
                .args(["req", "-x509", "-nodes", "-days", DAYS, "-subj", subject])
                .args(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
                .arg("-keyout")
                .arg(self.key(name))
                .arg("-out")
                .arg(self.cert(name)))?;
        }
        run(openssl()
            .args([
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
            ])
            .arg(self.key(SERVICE_ACCOUNT)))?;
        run(openssl()
            .args(["pkey", "-pubout", "-in"])
            .arg(self.key(SERVICE_ACCOUNT))
            .arg("-out")
            .arg(self.service_account_public()))?;
        Ok(())
    }

    /// Makes `leaf`'s key and certificate, signed by its CA.
    pub fn issue(&self, leaf: &Leaf) -> Result<(), ClusterError> {
        let subject = match leaf.organisation {
            Some(o) => format!("/O={o}/CN={}", leaf.common_name),
            None => format!("/CN={}", leaf.common_name),
        };
        let csr = self.dir.join(format!("{}.csr", leaf.name));
        run(openssl()
            .args(["req", "-new", "-nodes", "-subj", &subject])
            .args(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
            .arg("-keyout")
            .arg(self.key(leaf.name))
            .arg("-out")
            .arg(&csr))?;
        let extensions = self.dir.join(format!("{}.ext", leaf.name));
        std::fs::write(&extensions, extensions_text(leaf))
            .map_err(|e| ClusterError(format!("cannot write {}: {e}", extensions.display())))?;
        run(openssl()
            .args(["x509", "-req", "-days", DAYS, "-CAcreateserial", "-in"])
            .arg(&csr)
            .arg("-CA")
            .arg(self.cert(leaf.ca))
            .arg("-CAkey")
            .arg(self.key(leaf.ca))
            .arg("-extfile")
            .arg(&extensions)
            .arg("-out")
            .arg(self.cert(leaf.name)))?;
        let _ = std::fs::remove_file(csr);
        let _ = std::fs::remove_file(extensions);
        Ok(())
    }
}

/// The X.509 v3 extensions of `leaf`, as an `openssl x509 -extfile` file.
fn extensions_text(leaf: &Leaf) -> String {
    let usage = match leaf.usage {
        Usage::Client => "clientAuth",
        Usage::Server => "serverAuth",
    };
    let mut text = format!(
        "basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature, keyEncipherment\nextendedKeyUsage = {usage}\n"
    );
    let names: Vec<String> = (leaf.ips.iter().map(|ip| format!("IP:{ip}")))
        .chain(leaf.dns.iter().map(|d| format!("DNS:{d}")))
        .collect();
    if !names.is_empty() {
        text.push_str(&format!("subjectAltName = {}\n", names.join(", ")));
    }
    text
}

fn openssl() -> Command {
    Command::new("openssl")
}

/// A kubeconfig for `user` (its certificate `user_cert` in `pki`) talking to `server`.
pub fn kubeconfig(pki: &Pki, server: &str, user: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: lab
  cluster:
    server: {server}
    certificate-authority: {ca}
users:
- name: {user}
  user:
    client-certificate: {cert}
    client-key: {key}
contexts:
- name: lab
  context:
    cluster: lab
    user: {user}
current-context: lab
",
        ca = pki.cert(CA).display(),
        cert = pki.cert(user).display(),
        key = pki.key(user).display(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_serving_certificate_names_its_addresses_and_a_client_one_none() {
        let server = Leaf::server(
            "api",
            "kube-apiserver",
            vec![Ipv4Addr::new(10, 96, 0, 1)],
            vec!["kubernetes".into()],
        );
        let text = extensions_text(&server);
        assert!(text.contains("extendedKeyUsage = serverAuth"), "{text}");
        assert!(
            text.contains("subjectAltName = IP:10.96.0.1, DNS:kubernetes"),
            "{text}"
        );
        let client = extensions_text(&Leaf::client("admin", "admin", Some("system:masters")));
        assert!(
            client.contains("clientAuth") && !client.contains("subjectAltName"),
            "{client}"
        );
    }

    /// Real openssl: the issued certificate verifies against its CA and carries its group.
    #[test]
    fn issued_certificates_verify_against_their_authority() {
        let dir = std::env::temp_dir().join(format!("kube-pki-{}", std::process::id()));
        let pki = Pki::at(&dir);
        pki.create_authorities().expect("the authorities");
        pki.issue(&Leaf::client("admin", "admin", Some("system:masters")))
            .expect("a leaf");
        let verified = run(Command::new("openssl")
            .arg("verify")
            .arg("-CAfile")
            .arg(pki.cert(CA))
            .arg(pki.cert("admin")))
        .expect("openssl verify");
        assert!(verified.contains("OK"), "{verified}");
        let subject = run(Command::new("openssl")
            .args(["x509", "-noout", "-subject", "-in"])
            .arg(pki.cert("admin")))
        .expect("the subject");
        assert!(
            subject.contains("O = system:masters") && subject.contains("CN = admin"),
            "{subject}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
