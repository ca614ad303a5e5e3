//! Throwaway X.509 certificates for TLS tests, made with the `openssl`
//! command (std-only, like the rest of the kit).
//!
//! [`TestCa::new`] makes a CA; [`TestCa::issue_server`] a server certificate
//! it signs, for the names given. Keys are P-256 (quick to make); every file
//! lives in the caller's directory and goes with it.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A certificate authority for one test.
#[derive(Debug, Clone)]
pub struct TestCa {
    /// The CA certificate (PEM): what a client is told to trust.
    pub cert: PathBuf,
    key: PathBuf,
    config: PathBuf,
}

/// A server certificate and its key (PEM), with the CA that signed it.
#[derive(Debug, Clone)]
pub struct ServerCert {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Extensions that make a CA and a TLS server certificate acceptable to
/// strict verifiers (rustls/webpki check all of them).
const OPENSSL_CONFIG: &str = "\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = goippy test
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = ${ENV::GOIPPY_TEST_SAN}
";

impl TestCa {
    /// A new CA named `name`, its files `<dir>/<name>.pem` and `.key`.
    pub fn new(dir: &Path, name: &str) -> io::Result<TestCa> {
        let config = dir.join(format!("{name}-openssl.cnf"));
        std::fs::write(&config, OPENSSL_CONFIG)?;
        let cert = dir.join(format!("{name}.pem"));
        let key = dir.join(format!("{name}.key"));
        openssl(
            Command::new("openssl")
                .args(["req", "-x509", "-config"])
                .arg(&config)
                .args(["-extensions", "ca_ext", "-newkey", "ec"])
                .args(["-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"])
                .args(["-days", "3", "-subj", &format!("/CN={name}")])
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&cert),
        )?;
        Ok(TestCa { cert, key, config })
    }

    /// A server certificate for `names` (DNS names, or IP addresses), its
    /// files `<dir>/<name>.pem` and `.key`.
    pub fn issue_server(&self, dir: &Path, name: &str, names: &[&str]) -> io::Result<ServerCert> {
        let san: Vec<String> = names
            .iter()
            .map(|n| match n.parse::<std::net::IpAddr>() {
                Ok(_) => format!("IP:{n}"),
                Err(_) => format!("DNS:{n}"),
            })
            .collect();
        let cert = dir.join(format!("{name}.pem"));
        let key = dir.join(format!("{name}.key"));
        let csr = dir.join(format!("{name}.csr"));
        openssl(
            Command::new("openssl")
                .args(["req", "-new", "-config"])
                .arg(&self.config)
                .args(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
                .args(["-nodes", "-subj", &format!("/CN={name}")])
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&csr),
        )?;
        openssl(
            Command::new("openssl")
                .args(["x509", "-req", "-in"])
                .arg(&csr)
                .arg("-CA")
                .arg(&self.cert)
                .arg("-CAkey")
                .arg(&self.key)
                .args(["-set_serial", &serial().to_string(), "-days", "3"])
                .arg("-extfile")
                .arg(&self.config)
                .args(["-extensions", "server_ext"])
                .env("GOIPPY_TEST_SAN", san.join(","))
                .arg("-out")
                .arg(&cert),
        )?;
        Ok(ServerCert {
            ca: self.cert.clone(),
            cert,
            key,
        })
    }
}

/// A serial number unlikely to repeat between the certificates of one run.
fn serial() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    (nanos as u64 ^ u64::from(std::process::id())) >> 1
}

fn openssl(cmd: &mut Command) -> io::Result<()> {
    // `[req]` reads the SAN variable too, so it must always be set.
    if !cmd.get_envs().any(|(k, _)| k == "GOIPPY_TEST_SAN") {
        cmd.env("GOIPPY_TEST_SAN", "DNS:unused.invalid");
    }
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run openssl: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "openssl failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_signs_a_server_certificate_for_its_names() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = TestCa::new(dir.path(), "ca").expect("ca");
        let server = ca
            .issue_server(dir.path(), "server", &["localhost", "127.0.0.1"])
            .expect("server");
        let out = Command::new("openssl")
            .args(["verify", "-CAfile"])
            .arg(&server.ca)
            .arg(&server.cert)
            .output()
            .expect("openssl verify");
        assert!(out.status.success(), "{out:?}");
        let text = Command::new("openssl")
            .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
            .arg(&server.cert)
            .output()
            .expect("openssl x509");
        let text = String::from_utf8_lossy(&text.stdout);
        assert!(
            text.contains("DNS:localhost") && text.contains("IP Address:127.0.0.1"),
            "{text}"
        );
    }
}
