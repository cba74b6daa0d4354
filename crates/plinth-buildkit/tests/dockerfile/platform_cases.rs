//! Cases of `FROM --platform=…`: stages built on another platform than the build's (arm64
//! through qemu's binfmt handler in an amd64 build), copied or mounted from, built on, or the
//! final stage itself, with the platform named literally, through a global ARG and through the
//! automatic platform args.

use crate::cases::{Case, ContextEntry, Expect};

use ContextEntry::File;

const CONTEXT: &[(&str, ContextEntry)] = &[("a.txt", File("alpha\n", 0o644))];

const fn same(name: &'static str, dockerfile: &'static str) -> Case {
    Case {
        name,
        dockerfile,
        context: CONTEXT,
        build_args: &[],
        expect: Expect::Same,
    }
}

const fn refused(
    name: &'static str,
    dockerfile: &'static str,
    line: usize,
    needle: &'static str,
) -> Case {
    Case {
        name,
        dockerfile,
        context: CONTEXT,
        build_args: &[],
        expect: Expect::Refused { line, needle },
    }
}

pub const PLATFORM_CASES: &[Case] = &[
    // The cross-compiling idiom: a stage on the build platform, its output copied into the
    // target's. Here both are amd64, so the flag changes nothing, and the args must say so.
    same(
        "from_platform_buildplatform_stage",
        "FROM --platform=$BUILDPLATFORM {root} AS build\nARG TARGETPLATFORM\nARG TARGETARCH\nARG BUILDPLATFORM\n\
         RUN uname -m > /arch && echo \"$TARGETPLATFORM $TARGETARCH $BUILDPLATFORM\" > /args\n\
         FROM --platform=$TARGETPLATFORM {root}\nCOPY --from=build /arch /args /out/\n",
    ),
    // An arm64 stage in an amd64 build: its RUN runs on arm64, the automatic args still name
    // the build's target and build platforms.
    same(
        "from_platform_other_arch_stage_copied",
        "FROM --platform=linux/arm64 {root} AS cross\nARG TARGETARCH\nARG BUILDARCH\n\
         RUN uname -m > /arch && echo \"$TARGETARCH $BUILDARCH\" > /args && cp /bin/busybox /arm-busybox\n\
         FROM {root}\nCOPY --from=cross /arch /args /arm-busybox /cross/\nRUN uname -m > /native\n",
    ),
    same(
        "from_platform_from_global_arg",
        "ARG ARCH=arm64\nFROM --platform=linux/${ARCH} {root} AS cross\nRUN uname -m > /arch\n\
         FROM {root}\nCOPY --from=cross /arch /cross-arch\n",
    ),
    // A stage built on a pinned stage keeps its platform.
    same(
        "from_platform_inherited_by_child_stage",
        "FROM --platform=linux/arm64 {root} AS a\nRUN uname -m > /a\nFROM a AS b\nRUN uname -m > /b\n\
         FROM {root}\nCOPY --from=b /a /b /\n",
    ),
    same(
        "from_platform_stage_mounted",
        "FROM --platform=linux/arm64 {root} AS cross\nRUN uname -m > /arch\n\
         FROM {root}\nRUN --mount=type=bind,from=cross,source=/arch,target=/m cat /m > /seen\n",
    ),
    // The final stage on another platform: its files are arm64's, its image the build's.
    same(
        "from_platform_final_stage_other_arch",
        "FROM --platform=linux/arm64 {root}\nCOPY a.txt /a.txt\nRUN uname -m > /arch\nENV WHERE=arm\n",
    ),
    refused(
        "from_platform_not_a_platform",
        "FROM {root}\nFROM --platform=linux {root}\n",
        2,
        "is not a platform (`os/arch[/variant]`)",
    ),
    refused(
        "from_platform_on_a_stage_of_another_platform",
        "FROM {root} AS a\nFROM --platform=linux/arm64 a\n",
        2,
        "put `--platform` on the FROM of `a`",
    ),
];
