//! The sanity checks of each Airbyte version, with the original's parameters, as inheritance
//! changes (see [`plinth_catalog::family`]).

use plinth_catalog::checks::Check;
use plinth_catalog::family::{CheckChange, ChecksDecl};

use crate::kinds;

fn set(checks: impl IntoIterator<Item = Check>) -> ChecksDecl {
    ChecksDecl::Inherit(checks.into_iter().map(CheckChange::Set).collect())
}

/// python 1.0.0 (2023 prototype): timezone, bash, python 3.9.18, pip 23.2.1.
pub fn python_1_0_0() -> ChecksDecl {
    set([
        Check::timezone_is_utc(),
        Check::command_available("bash"),
        kinds::python_version("3.9.18"),
        kinds::pip_version("23.2.1"),
    ])
}

/// python 1.1.0 (inferred): 1.2.0's list without `cdk_system_dependencies`.
pub fn python_1_1_0() -> ChecksDecl {
    set([
        kinds::poetry_version("1.6.1"),
        kinds::python_env_vars(),
        Check::command_available_with("socat", "-V"),
        kinds::socat_version("1.7.4.4"),
    ])
}

/// python 1.2.0 (code): adds `cdk_system_dependencies`.
pub fn python_1_2_0() -> ChecksDecl {
    set([kinds::cdk_system_dependencies()])
}

/// python 1.2.1 (inferred; 1.2.2 and 1.2.3 inherit it): python 3.9.19, pip 24.0.
pub fn python_1_2_1() -> ChecksDecl {
    set([kinds::python_version("3.9.19"), kinds::pip_version("24.0")])
}

/// python 2.0.0 (code): python 3.10.14.
pub fn python_2_0_0() -> ChecksDecl {
    set([kinds::python_version("3.10.14")])
}

/// python 3.0.0-rc.1 and 3.0.0 (code): the user checks, between pip and poetry.
pub fn python_3_0_0() -> ChecksDecl {
    let before = |check: Check| CheckChange::InsertBefore {
        before: "poetry_version".to_owned(),
        check,
    };
    ChecksDecl::Inherit(vec![
        before(Check::user_exists("airbyte", 1000, 1000)),
        before(Check::user_can_read_dir("airbyte", "/airbyte")),
        before(Check::user_can_read_dir("airbyte", "/usr/share/nltk_data")),
        before(Check::user_can_read_dir("airbyte", "/custom_cache")),
        before(Check::user_can_write_dir("airbyte", "/airbyte")),
    ])
}

/// python 3.0.1-rc.1 (inferred from the PR text): airbyte can write `/tmp`.
pub fn python_3_0_1_rc_1() -> ChecksDecl {
    ChecksDecl::Inherit(vec![CheckChange::InsertBefore {
        before: "poetry_version".to_owned(),
        check: Check::user_can_write_dir("airbyte", "/tmp"),
    }])
}

/// python 4.0.0 (inferred): 3.0.0's list (so the `/tmp` check of the unmerged 3.0.1-rc.1 is
/// dropped) with python 3.11.11 and poetry 1.8.4.
pub fn python_4_0_0() -> ChecksDecl {
    ChecksDecl::Inherit(vec![
        CheckChange::Drop("user_can_write_dir:airbyte:/tmp".to_owned()),
        CheckChange::Set(kinds::python_version("3.11.11")),
        CheckChange::Set(kinds::poetry_version("1.8.4")),
    ])
}

/// The file, env, tar and openssl checks every java version runs.
fn java_common() -> Vec<Check> {
    let mut checks = vec![
        Check::file_exists("/airbyte/dd-java-agent.jar"),
        Check::file_exists("/airbyte/base.sh"),
        Check::file_exists("/airbyte/javabase.sh"),
    ];
    for cmd in ["spec", "check", "discover", "read", "write"] {
        checks.push(Check::env_var(
            &format!("AIRBYTE_{}_CMD", cmd.to_uppercase()),
            &format!("/airbyte/javabase.sh --{cmd}"),
        ));
    }
    checks.push(Check::env_var("AIRBYTE_ENTRYPOINT", "/airbyte/base.sh"));
    checks.push(Check::command_available("tar"));
    checks.push(Check::command_available_with("openssl", "version"));
    checks
}

/// java 1.0.0-rc.1 … 1.0.0 (code; the image user is root).
pub fn java_1_0_0_rc_1() -> ChecksDecl {
    let mut checks = vec![
        Check::user_can_read_dir("root", "/airbyte"),
        Check::user_can_write_dir("root", "/airbyte"),
    ];
    checks.extend(java_common());
    ChecksDecl::Replace(checks)
}

/// The directories airbyte must write and read from java 2.0.0-rc.2 on.
pub const JAVA_AIRBYTE_DIRS: [&str; 7] = [
    "/airbyte",
    "/custom_cache",
    "/tmp",
    "/secrets",
    "/config",
    "/usr/share/pki/ca-trust-source",
    "/etc/pki/ca-trust",
];

/// java 2.0.0-rc.2, 2.0.0, 2.0.1 (code): write then read each directory as airbyte, the ids,
/// then the common checks.
pub fn java_2_0_0_rc_2() -> ChecksDecl {
    let mut checks = Vec::new();
    for dir in JAVA_AIRBYTE_DIRS {
        checks.push(Check::user_can_write_dir("airbyte", dir));
        checks.push(Check::user_can_read_dir("airbyte", dir));
    }
    checks.push(Check::user_uid_gid("airbyte", 1000, 1000));
    checks.extend(java_common());
    ChecksDecl::Replace(checks)
}
