//! Package pins in a recipe's commands: `apt-get install name=version` and
//! `pip install name==version`, found without running anything, so `plinth outdated` can ask
//! the archive and PyPI whether they still install.
//!
//! A command is read as a shell would split it into words (`sh -c '…'` and `bash -c '…'` are
//! looked into; quotes are removed; `&&`, `||`, `;` and `|` end a command). In an `apt-get
//! install` / `apt install` command every `name=version` word is a pin (options and their
//! arguments, such as `-o Key=value`, are skipped); in a `pip install` / `pip3 install` /
//! `python -m pip install` command every `name==version` word is one. Pins written through
//! shell variables (`$VERSION`) are not resolved and are skipped.
//!
//! ```
//! use plinth_recipe::Container;
//! use plinth_recipe::pins::{PinManager, package_pins};
//!
//! let c = Container::from_address("docker.io/library/debian:bookworm").unwrap()
//!     .with_exec(["sh", "-c", "apt-get update && apt-get install -y socat=1.7.4.4-2 poppler-utils=22.12.0-2+b1"])
//!     .with_exec(["pip", "install", "--upgrade", "pip==24.0", "setuptools==70.0.0"]);
//! let pins = package_pins(&c);
//! assert_eq!(pins.len(), 4);
//! assert_eq!((pins[1].manager, pins[1].name.as_str(), pins[1].version.as_str(), pins[1].step), (PinManager::Apt, "poppler-utils", "22.12.0-2+b1", 2));
//! assert_eq!(pins[3].to_string(), "setuptools==70.0.0");
//! ```

use std::fmt;

use serde::Serialize;

use crate::container::Container;
use crate::op::Op;

/// Which package manager a pin is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PinManager {
    /// Debian's apt (`name=version`).
    Apt,
    /// pip (`name==version`).
    Pip,
}

/// One pinned package.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PackagePin {
    /// apt or pip.
    pub manager: PinManager,
    /// The package name as written.
    pub name: String,
    /// The pinned version as written.
    pub version: String,
    /// The step (1-based, as build messages number them) whose command holds the pin.
    pub step: usize,
}

impl fmt::Display for PackagePin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.manager {
            PinManager::Apt => write!(f, "{}={}", self.name, self.version),
            PinManager::Pip => write!(f, "{}=={}", self.name, self.version),
        }
    }
}

/// The pins of every `exec` step of `container`, in step order.
pub fn package_pins(container: &Container) -> Vec<PackagePin> {
    let mut pins = Vec::new();
    for (index, op) in container.ops().iter().enumerate() {
        let argv = match op {
            Op::Exec { argv, .. } => argv,
            Op::From { .. }
            | Op::Env { .. }
            | Op::Label { .. }
            | Op::User { .. }
            | Op::Workdir { .. }
            | Op::Entrypoint { .. }
            | Op::DefaultArgs { .. }
            | Op::File { .. }
            | Op::Directory { .. }
            | Op::MountedCache { .. }
            | Op::UnmountCache { .. }
            | Op::Config { .. }
            | Op::History { .. } => continue,
        };
        for words in commands_of(argv) {
            pins.extend(pins_of_command(&words, index + 1));
        }
    }
    pins
}

/// The simple commands an exec runs: its argv, or the commands of its `sh -c` script.
fn commands_of(argv: &[String]) -> Vec<Vec<String>> {
    let shell = argv
        .first()
        .map(|p| p.rsplit('/').next().unwrap_or(p))
        .is_some_and(|p| matches!(p, "sh" | "bash" | "dash"));
    if shell
        && let Some(at) = argv.iter().position(|a| a == "-c")
        && let Some(script) = argv.get(at + 1)
    {
        return split_script(script);
    }
    vec![argv.to_vec()]
}

/// Splits a shell script into simple commands of words: quotes removed, `&&`, `||`, `;`, `|`
/// and newlines separating commands. Enough for package installs; not a shell.
fn split_script(script: &str) -> Vec<Vec<String>> {
    let mut commands = vec![Vec::new()];
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = script.chars().peekable();
    let end_word = |word: &mut String, in_word: &mut bool, commands: &mut Vec<Vec<String>>| {
        if *in_word {
            commands
                .last_mut()
                .expect("there is always a command")
                .push(std::mem::take(word));
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    word.push(q);
                }
            }
            '"' => {
                in_word = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => {
                            if let Some(n) = chars.next() {
                                word.push(n);
                            }
                        }
                        _ => word.push(q),
                    }
                }
            }
            '\\' => {
                if let Some(n) = chars.next()
                    && n != '\n'
                {
                    in_word = true;
                    word.push(n);
                }
            }
            ';' | '&' | '|' | '\n' => {
                end_word(&mut word, &mut in_word, &mut commands);
                if matches!(chars.peek(), Some('&' | '|')) {
                    chars.next();
                }
                commands.push(Vec::new());
            }
            c if c.is_whitespace() => end_word(&mut word, &mut in_word, &mut commands),
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    end_word(&mut word, &mut in_word, &mut commands);
    commands.retain(|c| !c.is_empty());
    commands
}

/// apt-get options that take the next word as their argument.
const APT_OPTIONS_WITH_ARGUMENT: [&str; 5] = ["-o", "-t", "-c", "--option", "--target-release"];

fn pins_of_command(words: &[String], step: usize) -> Vec<PackagePin> {
    // Leading `VAR=value` assignments and `env`/`sudo` wrappers do not change the command.
    let is_assignment = |w: &str| w.contains('=') && !w.starts_with('-');
    let start = words
        .iter()
        .position(|w| !is_assignment(w) && w != "env" && w != "sudo")
        .unwrap_or(words.len());
    let words = &words[start..];
    let program = words
        .first()
        .map(|p| p.rsplit('/').next().unwrap_or(p).to_owned())
        .unwrap_or_default();
    let (manager, args) = match program.as_str() {
        "apt-get" | "apt" => (PinManager::Apt, &words[1..]),
        "pip" | "pip3" => (PinManager::Pip, &words[1..]),
        p if p.starts_with("python") => match words.iter().position(|w| w == "-m") {
            Some(i) if words.get(i + 1).is_some_and(|m| m == "pip") => {
                (PinManager::Pip, &words[i + 2..])
            }
            _ => return Vec::new(),
        },
        _ => return Vec::new(),
    };
    let mut args = args.iter().peekable();
    let mut installing = false;
    let mut pins = Vec::new();
    while let Some(word) = args.next() {
        if word.starts_with('-') {
            if manager == PinManager::Apt && APT_OPTIONS_WITH_ARGUMENT.contains(&word.as_str()) {
                args.next();
            }
            continue;
        }
        if !installing {
            // The first word that is not an option is the subcommand.
            if word != "install" {
                return Vec::new();
            }
            installing = true;
            continue;
        }
        let split = match manager {
            PinManager::Apt => word.split_once('=').filter(|(_, v)| !v.starts_with('=')),
            PinManager::Pip => word.split_once("=="),
        };
        if let Some((name, version)) = split
            && !name.is_empty()
            && !version.is_empty()
            && !word.contains('$')
        {
            pins.push(PackagePin {
                manager,
                name: name.to_owned(),
                version: version.to_owned(),
                step,
            });
        }
    }
    pins
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pins(argv: &[&str]) -> Vec<String> {
        let c = Container::from_address("busybox")
            .unwrap()
            .with_exec(argv.iter().copied());
        package_pins(&c).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn apt_pins_in_scripts_with_options_quotes_and_chains() {
        assert_eq!(
            pins(&[
                "sh",
                "-c",
                "apt-get update && apt-get -o Dpkg::Options::=--force-confold install -y 'socat=1.7.4.4-2' \"tesseract-ocr=5.3.0-2\" curl; echo a=b"
            ]),
            ["socat=1.7.4.4-2", "tesseract-ocr=5.3.0-2"]
        );
        assert_eq!(
            pins(&[
                "/bin/bash",
                "-c",
                "DEBIAN_FRONTEND=noninteractive apt install -y \\\n  poppler-utils=22.12.0-2+b1 | tee log"
            ]),
            ["poppler-utils=22.12.0-2+b1"]
        );
        assert_eq!(
            pins(&["apt-get", "install", "-y", "socat=1.7.4.4-2"]),
            ["socat=1.7.4.4-2"]
        );
        // Not an install, a variable, a remove.
        assert!(pins(&["sh", "-c", "apt-get remove foo=1 && apt-get install x=$V"]).is_empty());
    }

    #[test]
    fn pip_pins_through_pip_pip3_and_python_m_pip() {
        assert_eq!(
            pins(&[
                "pip",
                "install",
                "--upgrade",
                "pip==24.0",
                "setuptools==70.0.0"
            ]),
            ["pip==24.0", "setuptools==70.0.0"]
        );
        assert_eq!(
            pins(&[
                "sh",
                "-c",
                "python3 -m pip install poetry==1.8.4 requests>=2 && pip3 install 'nltk==3.8.1'"
            ]),
            ["poetry==1.8.4", "nltk==3.8.1"]
        );
        assert!(pins(&["pip", "download", "x==1"]).is_empty());
    }

    #[test]
    fn pins_name_their_step() {
        let c = Container::from_address("busybox")
            .unwrap()
            .with_env("A", "b")
            .with_exec(["pip", "install", "x==1"]);
        assert_eq!(package_pins(&c)[0].step, 3);
    }
}
