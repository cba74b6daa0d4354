//! The interactive generate-release driven through a pseudo-terminal (python's `pty`): pick the
//! family with Enter, move through the bump list with the arrow keys, have an empty changelog
//! rejected, type one, decline publishing.

use crate::fixture::{Catalog, text};

const DRIVER: &str = r#"
import fcntl, os, pty, select, struct, sys, termios, time
argv = sys.argv[1:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', 40, 120, 0, 0))
seen = b""
buf = b""
def read(timeout):
    global buf, seen
    r, _, _ = select.select([fd], [], [], timeout)
    if not r:
        return None
    try:
        data = os.read(fd, 4096)
    except OSError:
        data = b""
    buf += data
    seen += data
    return data
def expect(s, timeout=120):
    global buf
    end = time.time() + timeout
    while s.encode() not in buf:
        data = read(max(0, end - time.time()))
        if data is None or data == b"":
            sys.stdout.buffer.write(seen)
            sys.stderr.write("\n[driver] %s waiting for %r\n" % ("timeout" if data is None else "EOF", s))
            sys.exit(3)
    buf = buf[buf.index(s.encode()) + len(s):]
def send(b):
    os.write(fd, b)
    time.sleep(0.4)
expect("Which base image would you like to release a new version for?")
send(b"\r")
expect("Which kind of new version would you like to cut? (latest version is 0.0.0)")
expect("major")
send(b"\x1b[B")
send(b"\x1b[A")
send(b"\r")
expect("What should the changelog entry be?")
send(b"\r")
expect("cannot be empty")
send(b"Interactive release\r")
expect("Would you like to publish it to our remote registry now?")
send(b"n\r")
expect("Added 1.0.0 to the registry.", 600)
while read(600):
    pass
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(seen)
sys.exit(os.waitstatus_to_exitcode(status))
"#;

#[test]
fn generate_release_through_a_pseudo_terminal() {
    if !crate::require_root() {
        return;
    }
    let c = Catalog::new("pty");
    let probe = c.cmd(&["generate-release"]);
    let mut cmd = c.ctx.command("python3");
    cmd.arg("-c").arg(DRIVER).arg(probe.get_program());
    cmd.args(probe.get_args());
    for (k, v) in probe.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.env_remove("PLINTH_NO_PROMPT").env("TERM", "xterm");
    let out = c.run(&mut cmd);
    assert!(out.status.success(), "{}", text(&out));
    let changelog: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(c.changelog()).unwrap()).unwrap();
    assert_eq!(
        changelog[0]["version"], "1.0.0",
        "major was picked after moving down and up"
    );
    assert_eq!(changelog[0]["changelog_entry"], "Interactive release");
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(
        screen.contains("major → 1.0.0"),
        "the bump labels show the resulting version:\n{screen}"
    );
    assert!(screen.contains("Skipping publication."), "{screen}");
}
