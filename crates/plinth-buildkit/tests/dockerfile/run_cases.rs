//! Cases of `RUN --mount` (bind, tmpfs, secret) and of stage selection (`--target`), which need
//! more than a Dockerfile and a context: secrets given to the build, a target stage, and the
//! mount points Debian's BuildKit leaves behind.

use crate::cases::{Case, ContextEntry, Expect};

/// What a case gives the build besides its Dockerfile, context and build args.
pub struct Extra {
    /// `--secret id=…` values.
    pub secrets: &'static [(&'static str, &'static str)],
    /// `--target`.
    pub target: Option<&'static str>,
    /// Paths Debian's BuildKit (before Docker 23) leaves as empty root-owned directories where it
    /// made a mount point; current BuildKit removes them, and so does plinth.
    pub stubs: &'static [&'static str],
    /// What the BuildKit backend must refuse it with, when it cannot build it (the embedded
    /// engine must still build BuildKit's tree and config).
    pub backend_refuses: Option<&'static str>,
    /// The SSH agent given as `--ssh default=…`, if any.
    pub ssh: SshGiven,
}

/// How a case gives the build the fixture's SSH agent.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum SshGiven {
    None,
    /// `--ssh default=SOCKET`: the running agent.
    Socket,
    /// `--ssh default=KEY`: the key file, which each tool serves from an agent of its own.
    Key,
}

pub const NO_EXTRA: Extra = Extra {
    secrets: &[],
    target: None,
    stubs: &[],
    backend_refuses: None,
    ssh: SshGiven::None,
};

const SECRET: &str = "s3cret-v4lue-never-stored";

use ContextEntry::{Dir, File, HostProgram, Link};

const CONTEXT: &[(&str, ContextEntry)] = &[
    ("a.txt", File("alpha\n", 0o644)),
    ("dir", Dir(0o755)),
    ("dir/one.txt", File("one\n", 0o644)),
    ("dir/sub", Dir(0o750)),
    ("dir/sub/two.txt", File("two\n", 0o640)),
    ("dir/link", Link("one.txt")),
];

const fn same(name: &'static str, dockerfile: &'static str, extra: Extra) -> (Case, Extra) {
    (
        Case {
            name,
            dockerfile,
            context: CONTEXT,
            build_args: &[],
            expect: Expect::Same,
        },
        extra,
    )
}

/// The host's ssh-add, a real agent client, for the ssh cases.
const SSH_CONTEXT: &[(&str, ContextEntry)] = &[("ssh", HostProgram("/usr/bin/ssh-add"))];

const fn with_ssh(name: &'static str, dockerfile: &'static str, given: SshGiven) -> (Case, Extra) {
    (
        Case {
            name,
            dockerfile,
            context: SSH_CONTEXT,
            build_args: &[],
            expect: Expect::Same,
        },
        ssh(given),
    )
}

const fn stubs(stubs: &'static [&'static str]) -> Extra {
    Extra {
        secrets: &[],
        target: None,
        stubs,
        backend_refuses: None,
        ssh: SshGiven::None,
    }
}

const fn secret(stubs: &'static [&'static str]) -> Extra {
    Extra {
        secrets: &[("tok", SECRET)],
        target: None,
        stubs,
        backend_refuses: None,
        ssh: SshGiven::None,
    }
}

const fn ssh(given: SshGiven) -> Extra {
    Extra {
        secrets: &[],
        target: None,
        stubs: &["h", "run", "run/buildkit"],
        backend_refuses: None,
        ssh: given,
    }
}

const fn target(name: &'static str) -> Extra {
    Extra {
        secrets: &[],
        target: Some(name),
        stubs: &[],
        backend_refuses: None,
        ssh: SshGiven::None,
    }
}

/// BuildKit runs a base's ONBUILD triggers itself, so the backend cannot hand it the steps
/// plinth read from them.
const TRIGGERS: Extra = Extra {
    backend_refuses: Some("--engine embedded"),
    ..NO_EXTRA
};

pub const RUN_CASES: &[(Case, Extra)] = &[
    // --- RUN --mount=type=cache ----------------------------------------------------------------
    // A cache is its id plus the owner and mode it names: `/c.same` lists `x`, the others not.
    same(
        "mount_cache_options",
        "FROM {root}\nRUN --mount=type=cache,target=/c,id=plinth-eq-modes,mode=0700,uid=1000,gid=1000 \
         stat -c '%a %u %g' /c > /c.stat && touch /c/x\n\
         RUN --mount=type=cache,target=/c,id=plinth-eq-modes,mode=0700,uid=1000,gid=1000 ls /c > /c.same\n\
         RUN --mount=type=cache,target=/c,id=plinth-eq-modes,sharing=locked ls /c > /c.locked\n\
         RUN --mount=type=cache,target=/c,id=plinth-eq-modes,sharing=private ls /c > /c.private\n\
         RUN --mount=type=cache,target=/r,id=plinth-eq-ro,readonly sh -c 'touch /r/x 2>/dev/null; echo $? > /r.status'\n",
        stubs(&["c", "r"]),
    ),
    same(
        // BuildKit's cache is a snapshot of the whole seed: two sources of one id and seed are
        // two directories of it (the third RUN sees what the first changed under /out), and
        // `uid`/`mode` make an empty directory of their own on the seed's root only.
        "mount_cache_seeded_from_a_stage",
        "FROM {root} AS deps\nRUN mkdir -p /out/sub /other && echo one > /out/a && echo two > /out/sub/b \
         && chown 1000:1000 /out/sub && chmod 700 /out/sub && echo o > /other/x\n\
         FROM {root}\n\
         RUN --mount=type=cache,target=/c,id=plinth-eq-seed,from=deps,source=/out find /c | sort > /first \
         && stat -c '%a %u %g %n' /c /c/sub >> /first && echo changed > /c/a && rm /c/sub/b\n\
         RUN --mount=type=cache,target=/c,id=plinth-eq-seed,from=deps,source=/out find /c | sort > /second; cat /c/a >> /second\n\
         RUN --mount=type=cache,target=/d,id=plinth-eq-seed,from=deps find /d/out /d/other | sort > /third; cat /d/out/a >> /third\n\
         RUN --mount=type=cache,target=/e,id=plinth-eq-seed,from=deps,uid=1000,mode=0700 stat -c '%a %u %g' /e > /fourth; ls -a /e >> /fourth\n\
         RUN --mount=type=cache,target=/f,from=deps,source=/out/sub,uid=5 stat -c '%a %u %g' /f > /fifth\n",
        stubs(&["c", "d", "e", "f"]),
    ),
    // --- RUN --mount=type=bind -----------------------------------------------------------------
    same(
        "mount_bind_context_dir_read_only",
        "FROM {root}\nRUN --mount=type=bind,source=dir,target=/mnt ls -R /mnt > /seen && cat /mnt/link /mnt/sub/two.txt > /cat \
         && stat -c '%a %u %g %n' /mnt/sub /mnt/sub/two.txt > /meta && (touch /mnt/new 2>/dev/null && echo rw || echo ro) > /ro\n",
        stubs(&["mnt"]),
    ),
    same(
        "mount_bind_context_root_by_default",
        "FROM {root}\nRUN --mount=type=bind,target=/mnt cat /mnt/a.txt /mnt/dir/one.txt > /both\n",
        stubs(&["mnt"]),
    ),
    same(
        "mount_bind_context_file",
        "FROM {root}\nRUN --mount=type=bind,source=a.txt,target=/home/airbyte/a.txt cat /home/airbyte/a.txt > /a\n",
        stubs(&[]),
    ),
    same(
        "mount_bind_rw_changes_are_thrown_away",
        "FROM {root}\nRUN --mount=type=bind,source=dir,target=/tmp,rw echo new > /tmp/new && rm /tmp/one.txt && ls /tmp > /seen\n",
        stubs(&[]),
    ),
    same(
        "mount_bind_from_stage",
        "FROM {root} AS build\nRUN mkdir -p /out/sub && echo x > /out/f && echo y > /out/sub/g && chown -R 1000:1000 /out/sub\n\
         FROM {root}\nRUN --mount=type=bind,from=build,source=/out,target=/tmp cat /tmp/f /tmp/sub/g > /fg && stat -c '%u %g' /tmp/sub > /owner\n",
        stubs(&[]),
    ),
    same(
        "mount_bind_from_stage_root_rw",
        "FROM {root} AS build\nRUN echo x > /made\nFROM {root}\nRUN --mount=type=bind,from=build,target=/mnt,rw cat /mnt/made > /m && rm /mnt/made\n",
        stubs(&["mnt"]),
    ),
    // --- RUN --mount=type=tmpfs ----------------------------------------------------------------
    same(
        "mount_tmpfs",
        "FROM {root}\nRUN --mount=type=tmpfs,target=/tmp echo x > /tmp/x && stat -c '%a %u' /tmp > /mode && ls /tmp > /seen\n",
        stubs(&[]),
    ),
    // --- RUN --mount=type=secret ---------------------------------------------------------------
    same(
        "mount_secret_default_target",
        "FROM {root}\nRUN --mount=type=secret,id=tok cat /run/secrets/tok > /copied && stat -c '%a %u %g' /run/secrets/tok > /meta\n",
        secret(&["run", "run/secrets"]),
    ),
    same(
        "mount_secret_options",
        "FROM {root}\nRUN --mount=type=secret,id=tok,target=/home/airbyte/t,mode=0440,uid=1000,gid=1000,required=true \
         stat -c '%a %u %g' /home/airbyte/t > /meta && wc -c < /home/airbyte/t > /len\n",
        secret(&[]),
    ),
    same(
        "mount_secret_missing_optional_is_skipped",
        "FROM {root}\nRUN --mount=type=secret,id=absent (test -e /run/secrets/absent && echo yes || echo no) > /r\n",
        stubs(&["run", "run/secrets"]),
    ),
    same(
        "mount_secret_id_from_target",
        "FROM {root}\nRUN --mount=type=secret,target=/tmp/tok wc -c < /tmp/tok > /len\n",
        secret(&[]),
    ),
    // --- RUN --mount=type=ssh -----------------------------------------------------------------
    // A real client: the host's ssh-add (with its libraries, run by their loader) lists the
    // fixture agent's key through the forwarded socket; the socket's path, mode and owner are
    // what the mount asks for, also for a non-root user.
    with_ssh(
        "mount_ssh_default_agent",
        "FROM {root}\nRUN --mount=type=ssh --mount=type=bind,source=ssh,target=/h \
         /h/ld-linux-x86-64.so.2 --library-path /h /h/ssh-add -l > /keys && echo \"$SSH_AUTH_SOCK\" > /sock \
         && stat -c '%a %u %g %F' \"$SSH_AUTH_SOCK\" > /meta\n\
         USER 1000\nRUN --mount=type=ssh,id=default,target=/tmp/agent,mode=0600,uid=1000,gid=1000,required=true \
         --mount=type=bind,source=ssh,target=/h \
         /h/ld-linux-x86-64.so.2 --library-path /h /h/ssh-add -l > /home/airbyte/keys && stat -c '%a %u %g' /tmp/agent > /home/airbyte/meta\n",
        SshGiven::Socket,
    ),
    with_ssh(
        "mount_ssh_key_file",
        "FROM {root}\nRUN --mount=type=ssh,required=true --mount=type=bind,source=ssh,target=/h \
         /h/ld-linux-x86-64.so.2 --library-path /h /h/ssh-add -l > /keys\n",
        SshGiven::Key,
    ),
    with_ssh(
        "mount_ssh_absent_optional_is_skipped",
        "FROM {root}\nRUN --mount=type=ssh,id=other (test -S /run/buildkit/ssh_agent.0 && echo yes || echo no) > /r\n",
        SshGiven::Socket,
    ),
    // --- stages ----------------------------------------------------------------------------------
    same(
        "target_stage",
        "FROM {root} AS one\nRUN echo one > /one\nFROM {root} AS two\nRUN echo two > /two\nFROM one\nRUN echo last > /last\n",
        target("two"),
    ),
    same(
        "target_skips_stages_it_does_not_need",
        "FROM {root} AS broken\nRUN exit 3\nFROM {root} AS base\nRUN echo base > /b\nFROM base AS final\nRUN echo f > /f\nFROM broken\n",
        target("final"),
    ),
    // --- ONBUILD triggers of a base ---------------------------------------------------------------
    same(
        "onbuild_triggers_run_after_from",
        "FROM {root} AS base\nONBUILD RUN echo t > /t\nONBUILD ENV T=1\nONBUILD COPY a.txt /from-trigger\nRUN echo b > /b\n\
         FROM base\nRUN echo \"$T\" > /after\n",
        TRIGGERS,
    ),
    // What an ONBUILD trigger copies from is needed by the stage that runs it (one built on the
    // declaring stage), not by the declaring stage: with `--target base` the stage `assets`
    // (whose missing context file BuildKit never sees) is not read.
    same(
        "onbuild_copy_from_stage_is_needed_only_where_it_runs",
        "FROM {root} AS assets\nCOPY missing.txt /x\nFROM {root} AS base\nONBUILD COPY --from=assets /x /y\nRUN echo b > /b\n\
         FROM base\nRUN echo child > /child\n",
        target("base"),
    ),
    // Debian's BuildKit (20.10) cannot resolve a stage named in a trigger ("/asset" not found);
    // the current frontend copies from it, as plinth does.
    (
        Case {
            name: "onbuild_copy_from_stage_runs_in_the_child",
            dockerfile: "FROM {root} AS assets\nRUN echo a > /asset\nFROM {root} AS base\n\
                         ONBUILD COPY --from=assets /asset /from-trigger\nRUN echo b > /b\n\
                         FROM base\nRUN cat /from-trigger > /seen\n",
            context: CONTEXT,
            build_args: &[],
            expect: Expect::Files(&[("from-trigger", "a\n"), ("seen", "a\n"), ("b", "b\n")]),
        },
        TRIGGERS,
    ),
    same(
        "unneeded_stage_is_not_built",
        "FROM {root} AS broken\nRUN exit 3\nFROM {root} AS used\nRUN echo u > /u\nFROM {root}\nCOPY --from=used /u /u\n",
        NO_EXTRA,
    ),
    // BuildKit neither resolves an unneeded stage's base nor reports what only dispatching it
    // would find: a base that does not exist, a missing context file, an image to copy from.
    same(
        "unneeded_stage_base_and_dispatch_errors_are_never_seen",
        "FROM {root} AS used\nRUN echo u > /u\n\
         FROM 127.0.0.1:9/plinth/absent:1 AS unused\nCOPY missing.txt /x\nCOPY --from=127.0.0.1:9/plinth/gone:1 /x /y\nRUN exit 3\n\
         FROM {root}\nCOPY --from=used /u /u\n",
        NO_EXTRA,
    ),
    same(
        "target_ignores_later_stages_with_errors",
        "FROM {root} AS final\nRUN echo f > /f\nFROM 127.0.0.1:9/plinth/absent:1\nCOPY missing.txt /\n",
        target("final"),
    ),
];
