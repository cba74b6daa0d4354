//! Loading a private key file into an `ssh-agent` without its comment, as buildx's agent holds
//! key files (Go's keyring adds keys with an empty comment, so `ssh-add -l` in a step prints
//! none). `ssh-add` cannot do that: it falls back to the file's name when a key has no
//! comment. So the key goes to the agent over its socket here, in an `ADD_IDENTITY` message
//! (agent protocol, draft-miller-ssh-agent §3.2) whose comment is empty.
//!
//! An unencrypted OpenSSH key file holds each private key in exactly the form that message
//! takes (OpenSSH's `sshkey_private_serialize` writes both), followed by the comment: the
//! fields are copied as they are, and only their count per key type needs knowing. Keys in
//! other formats (PEM, PKCS#8) are first rewritten as OpenSSH keys by `ssh-keygen -p` in a
//! private copy; a key with a passphrase is refused there.

use std::io::{Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine as _;

const OPENSSH_BEGIN: &str = "-----BEGIN OPENSSH PRIVATE KEY-----";
const OPENSSH_END: &str = "-----END OPENSSH PRIVATE KEY-----";
const OPENSSH_MAGIC: &[u8] = b"openssh-key-v1\0";
const SSH2_AGENTC_ADD_IDENTITY: u8 = 17;
const SSH_AGENT_SUCCESS: u8 = 6;
/// The largest reply read from the agent: a success or failure is one byte.
const MAX_REPLY: u32 = 1 << 16;

/// Why a key could not be loaded.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum KeyError {
    /// The key is encrypted: it needs its passphrase, which a build never asks for.
    Passphrase,
    /// Anything else, said in a few words.
    Other(String),
}

/// Loads the private key in the file `key` into the agent at `socket` with an empty comment.
/// `scratch` is a private directory (mode 0700) for a converted copy of a key in another
/// format.
pub(super) fn add_key_file(socket: &Path, key: &Path, scratch: &Path) -> Result<(), KeyError> {
    let text = std::fs::read_to_string(key)
        .map_err(|e| KeyError::Other(format!("cannot read it: {e}")))?;
    let text = if text.trim_start().starts_with(OPENSSH_BEGIN) {
        text
    } else {
        as_openssh(&text, scratch)?
    };
    let fields = private_key_fields(&text)?;
    let mut message = Vec::with_capacity(fields.len() + 5);
    message.push(SSH2_AGENTC_ADD_IDENTITY);
    message.extend_from_slice(&fields);
    put_string(&mut message, b"");
    send(socket, &message).map_err(KeyError::Other)
}

/// A key in another format rewritten as an OpenSSH key, in a copy under `scratch` (removed
/// again): `ssh-keygen -p` with empty passphrases writes OpenSSH's format by default.
fn as_openssh(text: &str, scratch: &Path) -> Result<String, KeyError> {
    let copy = tempfile::Builder::new()
        .prefix("key-")
        .tempfile_in(scratch)
        .map_err(|e| KeyError::Other(format!("cannot make a private copy of it: {e}")))?;
    std::fs::write(copy.path(), text)
        .map_err(|e| KeyError::Other(format!("cannot make a private copy of it: {e}")))?;
    let out = Command::new("ssh-keygen")
        .args(["-p", "-q", "-P", "", "-N", "", "-f"])
        .arg(copy.path())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| KeyError::Other(format!("cannot run ssh-keygen to read it: {e}")))?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        if why.contains("passphrase") {
            return Err(KeyError::Passphrase);
        }
        return Err(KeyError::Other(
            why.lines()
                .next()
                .unwrap_or("ssh-keygen cannot read it")
                .trim()
                .to_owned(),
        ));
    }
    std::fs::read_to_string(copy.path())
        .map_err(|e| KeyError::Other(format!("cannot read its converted copy: {e}")))
}

/// The key type and private fields of the one key of an OpenSSH private key file, as the agent
/// protocol's `ADD_IDENTITY` carries them (everything of the key but its comment).
fn private_key_fields(text: &str) -> Result<Vec<u8>, KeyError> {
    let body: String = text
        .trim()
        .strip_prefix(OPENSSH_BEGIN)
        .and_then(|t| t.strip_suffix(OPENSSH_END))
        .ok_or_else(|| KeyError::Other("not an OpenSSH private key file".into()))?
        .split_whitespace()
        .collect();
    let blob = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|e| KeyError::Other(format!("its base64 is damaged: {e}")))?;
    let mut file = blob
        .strip_prefix(OPENSSH_MAGIC)
        .map(Wire::new)
        .ok_or_else(|| KeyError::Other("not an openssh-key-v1 key".into()))?;
    let cipher = file.string()?;
    let _kdf = file.string()?;
    let _kdf_options = file.string()?;
    if cipher != b"none" {
        return Err(KeyError::Passphrase);
    }
    if file.u32()? != 1 {
        return Err(KeyError::Other(
            "the file holds several keys: give one file per key".into(),
        ));
    }
    let _public = file.string()?;
    let mut private = Wire::new(file.string()?);
    if private.u32()? != private.u32()? {
        return Err(KeyError::Other(
            "its check numbers differ: the file is damaged".into(),
        ));
    }
    let start = private.at;
    let key_type = private.string()?;
    for field in private_field_kinds(key_type)? {
        match field {
            Field::String => private.string().map(|_| ())?,
            Field::Byte => private.byte().map(|_| ())?,
        }
    }
    Ok(private.bytes[start..private.at].to_vec())
}

#[derive(Clone, Copy)]
enum Field {
    /// An SSH `string` or `mpint` (both a length and bytes).
    String,
    Byte,
}

/// The fields after the type name of a private key of `key_type` (OpenSSH's
/// `sshkey_private_serialize`).
fn private_field_kinds(key_type: &[u8]) -> Result<&'static [Field], KeyError> {
    use Field::{Byte, String as S};
    Ok(match key_type {
        b"ssh-ed25519" => &[S, S],                        // public, private
        b"ssh-rsa" => &[S, S, S, S, S, S],                // n, e, d, iqmp, p, q
        b"ssh-dss" => &[S, S, S, S, S],                   // p, q, g, y, x
        t if t.starts_with(b"ecdsa-sha2-") => &[S, S, S], // curve, public point, private scalar
        // Security keys: the public part, the application, flags, the token's handle, reserved.
        b"sk-ssh-ed25519@openssh.com" => &[S, S, Byte, S, S],
        b"sk-ecdsa-sha2-nistp256@openssh.com" => &[S, S, S, Byte, S, S],
        other => {
            return Err(KeyError::Other(format!(
                "its key type `{}` is not one plinth can load",
                String::from_utf8_lossy(other)
            )));
        }
    })
}

/// A reader of SSH wire encoding that never reads past its bytes.
struct Wire<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Wire<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], KeyError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| KeyError::Other("the file ends too early: it is damaged".into()))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn byte(&mut self) -> Result<u8, KeyError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, KeyError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn string(&mut self) -> Result<&'a [u8], KeyError> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s);
}

/// Sends one request to the agent and checks that it answered success.
fn send(socket: &Path, message: &[u8]) -> Result<(), String> {
    let io = |e: std::io::Error| format!("the agent at `{}` did not answer: {e}", socket.display());
    let mut stream = UnixStream::connect(socket).map_err(io)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(io)?;
    let mut frame = Vec::with_capacity(message.len() + 4);
    put_string(&mut frame, message);
    stream.write_all(&frame).map_err(io)?;
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).map_err(io)?;
    let len = u32::from_be_bytes(len);
    if len == 0 || len > MAX_REPLY {
        return Err(format!("the agent answered a {len}-byte message"));
    }
    let mut reply = vec![0u8; len as usize];
    stream.read_exact(&mut reply).map_err(io)?;
    match reply[0] {
        SSH_AGENT_SUCCESS => Ok(()),
        code => Err(format!("the agent refused the key (answer {code})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damaged_or_foreign_files_are_errors_not_panics() {
        let wrap = |blob: &[u8]| {
            format!(
                "{OPENSSH_BEGIN}\n{}\n{OPENSSH_END}\n",
                base64::engine::general_purpose::STANDARD.encode(blob)
            )
        };
        assert!(matches!(
            private_key_fields("hello"),
            Err(KeyError::Other(m)) if m.contains("not an OpenSSH")
        ));
        assert!(matches!(
            private_key_fields(&wrap(b"openssh-key-v1\0\0\0\0\x04no")),
            Err(KeyError::Other(m)) if m.contains("ends too early")
        ));
        let mut encrypted = OPENSSH_MAGIC.to_vec();
        for s in [&b"aes256-ctr"[..], b"bcrypt", b""] {
            put_string(&mut encrypted, s);
        }
        assert_eq!(
            private_key_fields(&wrap(&encrypted)),
            Err(KeyError::Passphrase)
        );
        // Every prefix of a valid-looking file fails cleanly.
        let mut file = OPENSSH_MAGIC.to_vec();
        for s in [&b"none"[..], b"none", b""] {
            put_string(&mut file, s);
        }
        file.extend_from_slice(&1u32.to_be_bytes());
        put_string(&mut file, b"public");
        let mut private = vec![0, 0, 0, 7, 0, 0, 0, 7];
        put_string(&mut private, b"ssh-ed25519");
        put_string(&mut private, &[1; 32]);
        put_string(&mut private, &[2; 64]);
        put_string(&mut private, b"a comment");
        put_string(&mut file, &private);
        let fields = private_key_fields(&wrap(&file)).unwrap();
        assert_eq!(fields, private[8..8 + 4 + 11 + 4 + 32 + 4 + 64]);
        for n in 0..file.len() {
            assert!(private_key_fields(&wrap(&file[..n])).is_err(), "prefix {n}");
        }
    }

    fn keygen(dir: &Path, name: &str, args: &[&str]) -> std::path::PathBuf {
        let key = dir.join(name);
        let out = Command::new("ssh-keygen")
            .args(["-q", "-C", &format!("comment-of-{name}")])
            .args(args)
            .arg("-f")
            .arg(&key)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "ssh-keygen {args:?}: {out:?}");
        key
    }

    /// `ssh-keygen -l`'s line for `key` (`size fingerprint comment (type)`) with the comment
    /// left empty, as `ssh-add -l` prints a key that has none.
    fn uncommented_listing(key: &Path) -> String {
        let out = Command::new("ssh-keygen")
            .arg("-l")
            .arg("-f")
            .arg(key)
            .output()
            .unwrap();
        let line = String::from_utf8(out.stdout).unwrap();
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [size, fingerprint, comment, kind] = fields[..] else {
            panic!("unexpected ssh-keygen -l line {line:?}");
        };
        assert!(comment.starts_with("comment-of-"), "{line}");
        format!("{size} {fingerprint}  {kind}")
    }

    #[test]
    fn key_files_of_every_format_are_served_without_their_comments() {
        let dir = tempfile::tempdir().unwrap();
        let keys = [
            keygen(dir.path(), "ed25519", &["-t", "ed25519", "-N", ""]),
            keygen(
                dir.path(),
                "rsa_pem",
                &["-t", "rsa", "-b", "2048", "-m", "PEM", "-N", ""],
            ),
            keygen(
                dir.path(),
                "ecdsa_pkcs8",
                &["-t", "ecdsa", "-m", "PKCS8", "-N", ""],
            ),
        ];
        let mut ssh = super::super::BuildSsh::new();
        let flag = keys
            .iter()
            .map(|k| k.display().to_string())
            .collect::<Vec<_>>();
        ssh.add_flag(&format!("keys={}", flag.join(","))).unwrap();
        let socket = ssh.socket("keys").unwrap().unwrap();
        let out = Command::new("ssh-add")
            .arg("-l")
            .env("SSH_AUTH_SOCK", &socket)
            .output()
            .unwrap();
        assert!(out.status.success(), "ssh-add -l: {out:?}");
        let listed = String::from_utf8(out.stdout).unwrap();
        let want: Vec<String> = keys.iter().map(|k| uncommented_listing(k)).collect();
        assert_eq!(listed.lines().collect::<Vec<_>>(), want);
        // The keys files are untouched (a PEM key was converted in a copy).
        assert!(
            std::fs::read_to_string(&keys[1])
                .unwrap()
                .starts_with("-----BEGIN RSA PRIVATE KEY-----")
        );
    }

    #[test]
    fn a_key_with_a_passphrase_is_refused_with_the_way_out() {
        let dir = tempfile::tempdir().unwrap();
        let openssh = keygen(
            dir.path(),
            "locked",
            &["-t", "ed25519", "-N", "pass phrase"],
        );
        let pem = keygen(
            dir.path(),
            "locked_pem",
            &["-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "pass phrase"],
        );
        for key in [openssh, pem] {
            let mut ssh = super::super::BuildSsh::new();
            ssh.add_flag(&format!("default={}", key.display())).unwrap();
            let err = ssh.socket("default").unwrap().unwrap_err();
            assert!(
                err.contains(&format!(
                    "the key `{}` could not be loaded: it has a passphrase",
                    key.display()
                )) && err.contains("--ssh default=$SSH_AUTH_SOCK"),
                "{err}"
            );
        }
    }
}
