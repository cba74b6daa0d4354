//! A real SSH agent for the ssh mount cases: `ssh-agent` on a private socket, holding a key
//! generated for the test run; stopped (our own child, by its handle) when the fixture goes.
//! Also what `ssh-add -l` must print in a step for each way the key is given, checked against
//! docker's BuildKit's tree (which plinth's trees must then equal).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use plinth_oci::Digest;

use crate::run_cases::SshGiven;
use crate::tree::Tree;

pub struct SshAgent {
    pub socket: PathBuf,
    pub key: PathBuf,
    child: Child,
}

impl SshAgent {
    pub fn start(dir: &Path) -> SshAgent {
        std::fs::create_dir_all(dir).unwrap();
        let key = dir.join("id_ed25519");
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "plinth-equivalence"])
            .arg("-f")
            .arg(&key)
            .output()
            .unwrap();
        assert!(out.status.success(), "ssh-keygen failed: {out:?}");
        let socket = dir.join("agent.sock");
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let agent = SshAgent { socket, key, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !agent.socket.exists() {
            assert!(Instant::now() < deadline, "ssh-agent did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = Command::new("ssh-add")
            .arg("-q")
            .arg(&agent.key)
            .env("SSH_AUTH_SOCK", &agent.socket)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "ssh-add failed: {out:?}");
        agent
    }
}

impl SshAgent {
    /// The line `ssh-add -l` prints for the key in a step: through the forwarded fixture agent,
    /// with the key's comment (`size fingerprint comment (type)`, as `ssh-keygen -l` prints
    /// it); given as a key file, as buildx's agent holds it: without a comment, which `ssh-add`
    /// prints as an empty field.
    pub fn listing(&self, given: SshGiven) -> Option<String> {
        let out = Command::new("ssh-keygen")
            .arg("-l")
            .arg("-f")
            .arg(&self.key)
            .output()
            .unwrap();
        assert!(out.status.success(), "ssh-keygen -l failed: {out:?}");
        let line = String::from_utf8(out.stdout).unwrap();
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [size, fingerprint, comment, kind] = fields[..] else {
            panic!("unexpected ssh-keygen -l line {line:?}");
        };
        assert_eq!(comment, "plinth-equivalence");
        match given {
            SshGiven::None => None,
            SshGiven::Socket => Some(format!("{size} {fingerprint} {comment} {kind}\n")),
            SshGiven::Key => Some(format!("{size} {fingerprint}  {kind}\n")),
        }
    }

    /// What is wrong with the `ssh-add -l` output files (`keys`, `home/airbyte/keys`) in docker
    /// BuildKit's `tree` of a case given the agent as `given`: each must hold exactly
    /// [`listing`](Self::listing); a key-file case must have `keys`.
    pub fn listing_problems(&self, given: SshGiven, tree: &Tree) -> Vec<String> {
        let Some(want) = self.listing(given) else {
            return Vec::new();
        };
        let mut problems = Vec::new();
        if given == SshGiven::Key && !tree.contains_key("keys") {
            problems.push("BuildKit's tree has no /keys".to_owned());
        }
        for path in ["keys", "home/airbyte/keys"] {
            if let Some(entry) = tree.get(path)
                && entry.content != Digest::of(want.as_bytes()).to_string()
            {
                problems.push(format!(
                    "BuildKit's /{path} is not the `ssh-add -l` line {want:?}"
                ));
            }
        }
        problems
    }
}

impl Drop for SshAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
