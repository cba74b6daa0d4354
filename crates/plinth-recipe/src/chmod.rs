//! `--chmod` values: octal (`755`) or chmod(1)'s symbolic form (`u=rwX,go=rX`, `+x`, `g=u`),
//! which BuildKit's frontend reads since Dockerfile 1.14.
//!
//! A symbolic mode is applied to each copied file's own mode, with a umask of 0, as BuildKit's
//! copy applies it: a port of BSD's `setmode(3)` as BuildKit uses it (`dchapes-mode`), its
//! compaction of consecutive `+`, `-` and `X` commands included, so the corner cases (`X` on a
//! directory, `=` clearing, copying one class's bits to another) come out the same.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const IS_UID: u32 = 0o4000;
const IS_GID: u32 = 0o2000;
const IS_TXT: u32 = 0o1000;
const RWX_U: u32 = 0o700;
const RWX_G: u32 = 0o070;
const RWX_O: u32 = 0o007;
const R_ALL: u32 = 0o444;
const W_ALL: u32 = 0o222;
const X_ALL: u32 = 0o111;
const STANDARD_BITS: u32 = IS_UID | IS_GID | RWX_U | RWX_G | RWX_O;

/// The mode a copy gives its files.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FileMode {
    /// Every copied file and directory gets these bits (`--chmod=755`).
    Octal(u32),
    /// Each copied file's own mode changed as chmod(1) would (`--chmod=u=rwX,go=rX`).
    Symbolic(SymbolicMode),
}

impl FileMode {
    /// The mode of a copied entry whose own mode is `mode`.
    pub fn apply(&self, mode: u32, is_dir: bool) -> u32 {
        match self {
            FileMode::Octal(bits) => *bits,
            FileMode::Symbolic(symbolic) => symbolic.apply(mode, is_dir),
        }
    }

    /// The octal bits, for a mode that does not depend on the file.
    pub fn octal(&self) -> Option<u32> {
        match self {
            FileMode::Octal(bits) => Some(*bits),
            FileMode::Symbolic(_) => None,
        }
    }

    /// The value as `--chmod=` takes it.
    pub fn flag_value(&self) -> String {
        match self {
            FileMode::Octal(bits) => format!("{bits:o}"),
            FileMode::Symbolic(symbolic) => symbolic.text.clone(),
        }
    }
}

impl From<u32> for FileMode {
    fn from(bits: u32) -> Self {
        FileMode::Octal(bits)
    }
}

/// A chmod(1) symbolic mode, checked when read.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SymbolicMode {
    text: String,
    commands: Vec<Command>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Command {
    op: u8,
    copy: CopyBits,
    bits: u32,
}

/// What a `u`, `g` or `o` command (copying one class's bits) does to which classes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
struct CopyBits {
    clear: bool,
    set: bool,
    user: bool,
    group: bool,
    other: bool,
}

impl SymbolicMode {
    /// Reads `text` as BuildKit does (`ParseWithUmask(text, 0)`); `None` when it is not a
    /// symbolic mode.
    pub fn parse(text: &str) -> Option<Self> {
        let commands = parse_commands(text)?;
        Some(Self {
            text: text.to_owned(),
            commands,
        })
    }

    /// The mode chmod would give a file whose mode is `mode` (permission and special bits).
    pub fn apply(&self, mode: u32, is_dir: bool) -> u32 {
        let old = mode & 0o7777;
        let mut new = old;
        for c in &self.commands {
            match c.op {
                b'u' => new = copy_class(new, c, (new & RWX_U) >> 6),
                b'g' => new = copy_class(new, c, (new & RWX_G) >> 3),
                b'o' => new = copy_class(new, c, new & RWX_O),
                b'+' => new |= c.bits,
                b'-' => new &= !c.bits,
                b'X' if old & X_ALL != 0 || is_dir => new |= c.bits,
                _ => {}
            }
        }
        new & 0o7777
    }
}

/// `mode` after a `u`, `g` or `o` command that copies the class bits `value`.
fn copy_class(mut mode: u32, c: &Command, value: u32) -> u32 {
    let classes = [(c.copy.user, 6), (c.copy.group, 3), (c.copy.other, 0)];
    if c.copy.clear {
        let clear = if c.copy.set { RWX_O } else { value };
        for (on, shift) in classes {
            if on {
                mode &= !((clear << shift) & c.bits);
            }
        }
    }
    if c.copy.set {
        for (on, shift) in classes {
            if on {
                mode |= (value << shift) & c.bits;
            }
        }
    }
    mode
}

impl Serialize for SymbolicMode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for SymbolicMode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        SymbolicMode::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("`{text}` is not a symbolic mode")))
    }
}

/// BSD `setmode`'s parser with a umask of 0; octal text is not symbolic.
fn parse_commands(text: &str) -> Option<Vec<Command>> {
    let s = text.as_bytes();
    if s.first().is_none_or(u8::is_ascii_digit) {
        return None;
    }
    let mask = !0u32;
    let mut out = Vec::new();
    let mut i = 0;
    let mut equal_done = false;
    loop {
        let mut who = 0u32;
        loop {
            match s.get(i)? {
                b'a' => who |= STANDARD_BITS,
                b'u' => who |= IS_UID | RWX_U,
                b'g' => who |= IS_GID | RWX_G,
                b'o' => who |= RWX_O,
                _ => break,
            }
            i += 1;
        }
        loop {
            // getop
            let op = *s.get(i)?;
            i += 1;
            match op {
                b'+' | b'-' => {}
                b'=' => equal_done = false,
                _ => return None,
            }
            who &= !IS_TXT;
            let (mut perm, mut perm_x) = (0u32, 0u32);
            loop {
                let b = s.get(i).copied().unwrap_or(0);
                match b {
                    b'r' => perm |= R_ALL,
                    b's' if who == 0 || who & !RWX_O != 0 => perm |= IS_UID | IS_GID,
                    b't' if who == 0 || who & !RWX_O != 0 => {
                        who |= IS_TXT;
                        perm |= IS_TXT;
                    }
                    b's' | b't' => {}
                    b'w' => perm |= W_ALL,
                    b'X' if op != b'-' => perm_x = X_ALL,
                    b'X' | b'x' => perm |= X_ALL,
                    b'u' | b'g' | b'o' => {
                        if perm != 0 {
                            add(&mut out, op, who, perm, mask);
                            perm = 0;
                        }
                        if op == b'=' {
                            equal_done = true;
                        }
                        if perm_x != 0 {
                            add(&mut out, b'X', who, perm_x, mask);
                            perm_x = 0;
                        }
                        add_copy(&mut out, b, who, op, mask);
                    }
                    _ => {
                        if perm != 0 || (op == b'=' && !equal_done) {
                            if op == b'=' {
                                equal_done = true;
                            }
                            add(&mut out, op, who, perm, mask);
                        }
                        if perm_x != 0 {
                            add(&mut out, b'X', who, perm_x, mask);
                        }
                        break;
                    }
                }
                i += 1;
            }
            if i >= s.len() {
                return Some(compress(out));
            }
            if s[i] == b',' {
                i += 1;
                break;
            }
        }
    }
}

fn add(out: &mut Vec<Command>, op: u8, who: u32, arg: u32, mask: u32) {
    let bits = |who: u32| if who != 0 { who & arg } else { mask & arg };
    let op = if op == b'=' {
        out.push(Command {
            op: b'-',
            copy: CopyBits::default(),
            bits: if who != 0 { who } else { STANDARD_BITS },
        });
        b'+'
    } else {
        op
    };
    out.push(Command {
        op,
        copy: CopyBits::default(),
        bits: bits(who),
    });
}

fn add_copy(out: &mut Vec<Command>, from: u8, who: u32, op: u8, mask: u32) {
    let mut copy = if who != 0 {
        CopyBits {
            user: who & 0o400 != 0,
            group: who & 0o040 != 0,
            other: who & 0o004 != 0,
            ..CopyBits::default()
        }
    } else {
        CopyBits {
            user: true,
            group: true,
            other: true,
            ..CopyBits::default()
        }
    };
    match op {
        b'+' => copy.set = true,
        b'-' => copy.clear = true,
        _ => {
            copy.set = true;
            copy.clear = true;
        }
    }
    out.push(Command {
        op: from,
        copy,
        bits: if who != 0 { !0 } else { mask },
    });
}

/// Consecutive `+`, `-` and `X` commands become at most one of each, in that order.
fn compress(commands: Vec<Command>) -> Vec<Command> {
    let mut out = Vec::with_capacity(commands.len());
    let mut i = 0;
    while i < commands.len() {
        if !matches!(commands[i].op, b'+' | b'-' | b'X') {
            out.push(commands[i]);
            i += 1;
            continue;
        }
        let (mut set, mut clear, mut x) = (0u32, 0u32, 0u32);
        while let Some(c) = commands
            .get(i)
            .filter(|c| matches!(c.op, b'+' | b'-' | b'X'))
        {
            match c.op {
                b'-' => {
                    clear |= c.bits;
                    set &= !c.bits;
                    x &= !c.bits;
                }
                b'+' => {
                    set |= c.bits;
                    clear &= !c.bits;
                    x &= !c.bits;
                }
                _ => x |= c.bits & !set,
            }
            i += 1;
        }
        for (op, bits) in [(b'-', clear), (b'+', set), (b'X', x)] {
            if bits != 0 {
                out.push(Command {
                    op,
                    copy: CopyBits::default(),
                    bits,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
