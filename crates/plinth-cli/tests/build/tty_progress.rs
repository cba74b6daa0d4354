//! `--progress tty` drawn on a real pseudo-terminal: the bytes plinth writes are replayed on a
//! small terminal model (cursor moves, line and screen erasing), and the final screen is what
//! a user is left with.

use plinth_test::{External, TestContext, require_external};

use super::{busybox_layout, write_dockerfile};

/// Runs the command on a pseudo-terminal (160 columns) and writes everything it drew to stdout;
/// exits with the command's code.
const ON_A_PTY: &str = r#"
import fcntl, os, pty, select, struct, sys, termios
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', 50, 160, 0, 0))
seen = b""
while True:
    r, _, _ = select.select([fd], [], [], 600)
    if not r:
        break
    try:
        data = os.read(fd, 65536)
    except OSError:
        break
    if not data:
        break
    seen += data
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(seen)
sys.exit(os.waitstatus_to_exitcode(status))
"#;

/// The pseudo-terminal's width, as the driver sets it.
const WIDTH: usize = 160;

/// A terminal as far as progress drawing uses it: printable text overwrites at the cursor and
/// wraps after the last column as xterm does (the wrap waits for the next printable
/// character; indicatif pads its lines to the width and relies on it); `\r`, `\n`, `\b`; CSI
/// `A`/`B`/`C`/`D`/`G` moves, `K` and `J` erase; other CSI sequences (colours, cursor
/// visibility) change nothing on the screen.
#[derive(Default)]
struct Screen {
    lines: Vec<Vec<char>>,
    row: usize,
    col: usize,
    wrap_pending: bool,
}

impl Screen {
    fn feed(&mut self, text: &str) {
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '\u{1b}' && c.is_control() {
                self.wrap_pending = false;
            }
            match c {
                '\r' => self.col = 0,
                '\n' => self.row += 1,
                '\u{8}' => self.col = self.col.saturating_sub(1),
                '\u{1b}' if chars.peek() == Some(&'[') => {
                    chars.next();
                    let mut params = String::new();
                    let mut end = ' ';
                    for p in chars.by_ref() {
                        if p.is_ascii_alphabetic() {
                            end = p;
                            break;
                        }
                        params.push(p);
                    }
                    self.csi(&params, end);
                }
                c if c.is_control() => {}
                c => {
                    if self.wrap_pending {
                        self.wrap_pending = false;
                        self.row += 1;
                        self.col = 0;
                    }
                    let col = self.col;
                    let line = self.line();
                    if line.len() <= col {
                        line.resize(col + 1, ' ');
                    }
                    line[col] = c;
                    if col + 1 == WIDTH {
                        self.wrap_pending = true;
                    } else {
                        self.col += 1;
                    }
                }
            }
        }
    }

    fn line(&mut self) -> &mut Vec<char> {
        if self.lines.len() <= self.row {
            self.lines.resize(self.row + 1, Vec::new());
        }
        &mut self.lines[self.row]
    }

    fn csi(&mut self, params: &str, end: char) {
        if end != 'm' {
            self.wrap_pending = false;
        }
        let n = params.trim_start_matches('?').parse::<usize>().ok();
        let col = self.col;
        match end {
            'A' => self.row = self.row.saturating_sub(n.unwrap_or(1)),
            'B' => self.row += n.unwrap_or(1),
            'C' => self.col += n.unwrap_or(1),
            'D' => self.col = self.col.saturating_sub(n.unwrap_or(1)),
            'G' => self.col = n.unwrap_or(1).saturating_sub(1),
            'K' => match n.unwrap_or(0) {
                0 => self.line().truncate(col),
                1 => {
                    let line = self.line();
                    let end = (col + 1).min(line.len());
                    line[..end].iter_mut().for_each(|c| *c = ' ');
                }
                _ => self.line().clear(),
            },
            'J' => {
                self.line().truncate(col);
                let below = self.row + 1;
                self.lines.truncate(below);
            }
            _ => {}
        }
    }

    fn text(&self) -> Vec<String> {
        self.lines
            .iter()
            .map(|l| l.iter().collect::<String>().trim_end().to_owned())
            .collect()
    }
}

#[test]
fn tty_progress_leaves_every_step_finished_and_the_digest_on_screen() {
    require_external!(External::Root);
    let ctx = TestContext::new();
    let root = busybox_layout(ctx.temp_dir());
    let dockerfile = write_dockerfile(
        &ctx,
        &format!(
            "FROM {root}\nRUN echo one > /one && sleep 0.5\nENV A=1\nRUN echo two > /two && sleep 0.5\n"
        ),
    );
    let run = |no_cache: bool| {
        let mut probe = ctx.plinth();
        probe
            .args(["build", "--progress", "tty", "--platform", "linux/amd64"])
            .arg("-f")
            .arg(&dockerfile)
            .arg(ctx.temp_dir());
        if no_cache {
            probe.arg("--no-cache");
        }
        let mut cmd = ctx.command("python3");
        cmd.arg("-c").arg(ON_A_PTY).arg(probe.get_program());
        cmd.args(probe.get_args());
        for (k, v) in probe.get_envs() {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        cmd.env("TERM", "xterm").env_remove("PLINTH_NO_PROGRESS");
        let out = cmd.output().unwrap();
        let drawn = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{drawn}");
        assert!(
            drawn.contains("\u{1b}["),
            "spinners were drawn with escapes: {drawn:?}"
        );
        let mut screen = Screen::default();
        screen.feed(&drawn);
        (screen.text(), drawn)
    };
    for (no_cache, status) in [(true, "DONE "), (false, "CACHED")] {
        let (lines, drawn) = run(no_cache);
        let shown: Vec<&String> = lines.iter().filter(|l| !l.is_empty()).collect();
        let context = format!("screen:\n{}\n\nbytes: {drawn:?}", lines.join("\n"));
        // Steps 2 to 4 each end up as one finished line; nothing of a spinner is left.
        for (k, step) in [(2, "RUN "), (3, "ENV A=1"), (4, "RUN ")] {
            let finished: Vec<&&String> = shown
                .iter()
                .filter(|l| l.starts_with('#') && l.contains(&format!("[{k}/4] {step}")))
                .collect();
            assert_eq!(finished.len(), 1, "step {k} once: {context}");
            let ends_finished = finished[0].contains(status)
                || (k == 3 && (finished[0].contains("DONE ") || finished[0].contains("CACHED")));
            assert!(ends_finished, "step {k} finished ({status}): {context}");
        }
        assert!(
            !shown.iter().any(|l| !l.starts_with('#')
                && !l.starts_with("built ")
                && !l.starts_with("sha256:")),
            "no spinner or stray line is left: {context}"
        );
        let last = shown.last().expect("something on screen");
        assert!(
            last.starts_with("sha256:") && last.len() == 71,
            "the digest is the last line, not erased: {context}"
        );
        assert!(
            shown.iter().any(|l| l.starts_with("built ")),
            "the summary line stays: {context}"
        );
    }
}
