//! What a case's build context holds: files, links, FIFOs and test archives.

/// One file of a build context.
pub enum ContextEntry {
    /// Text with a mode.
    File(&'static str, u32),
    /// Raw bytes, mode 0644.
    Bytes(&'static [u8]),
    /// A directory with a mode.
    Dir(u32),
    /// A symlink to the target.
    Link(&'static str),
    /// A hard link to the earlier entry at this path of the context.
    HardLink(&'static str),
    /// A tar archive of these members.
    Tar(Packing, &'static [Member]),
    /// A FIFO.
    Fifo,
    /// A directory holding a host program, the libraries it links and their loader, side by
    /// side (run as `DIR/ld-linux-….so.2 --library-path DIR DIR/program`).
    HostProgram(&'static str),
}

/// How a test archive is compressed.
#[derive(Clone, Copy)]
pub enum Packing {
    Plain,
    Gzip,
    Bzip2,
    Xz,
    Zstd,
}

/// One member of a test archive.
pub struct Member {
    pub path: &'static str,
    pub kind: MemberKind,
    pub mode: u32,
    pub owner: (u64, u64),
}

pub enum MemberKind {
    Dir,
    File(&'static str),
    Link(&'static str),
    /// A hard link to the earlier member at this path.
    HardLink(&'static str),
    /// A named pipe.
    Fifo,
}

/// The members of the test archives: owners and modes of their own, a nested directory the
/// archive does not list, a symlink.
pub const BUNDLE: &[Member] = &[
    Member {
        path: "pkg",
        kind: MemberKind::Dir,
        mode: 0o750,
        owner: (1000, 1000),
    },
    Member {
        path: "pkg/a.txt",
        kind: MemberKind::File("alpha in the archive\n"),
        mode: 0o640,
        owner: (1000, 1000),
    },
    Member {
        path: "pkg/bin/run",
        kind: MemberKind::File("#!/bin/sh\necho run\n"),
        mode: 0o755,
        owner: (0, 0),
    },
    Member {
        path: "pkg/link",
        kind: MemberKind::Link("a.txt"),
        mode: 0o777,
        owner: (0, 0),
    },
    Member {
        path: "top.txt",
        kind: MemberKind::File("top\n"),
        mode: 0o600,
        owner: (33, 33),
    },
];
