//! Pass rules and failure messages of every check, fed with recorded command outputs.
//!
//! Each table row is (command output → expected status and message), ported from the original
//! tool's check functions and their tests.

use plinth_catalog::checks::{Check, CheckStatus};
use plinth_test::checks::{Canned, assert_check_table, ok, out};

#[test]
fn timezone_is_utc() {
    assert_check_table(
        &Check::timezone_is_utc(),
        &["date"],
        &[
            (ok("Tue Jun  4 12:00:00 UTC 2024\n"), None),
            (
                ok("Tue Jun  4 14:00:00 CEST 2024\n"),
                Some("unexpected timezone: Tue Jun  4 14:00:00 CEST 2024\n"),
            ),
            (ok(""), Some("unexpected timezone: ")),
            (
                out(1, "", "date: invalid date\n"),
                Some("command `date` failed with exit code 1: date: invalid date"),
            ),
        ],
    );
}

#[test]
fn command_available() {
    let bash = "GNU bash, version 5.2.15(1)-release (x86_64-pc-linux-gnu)\nCopyright (C) 2022 Free Software Foundation, Inc.\n";
    assert_check_table(
        &Check::command_available("bash"),
        &["bash", "--version"],
        &[
            (ok(bash), None),
            // Only an empty stdout fails (the original compared with "").
            (ok("\n"), None),
            (ok(""), Some("unexpected bash version: ")),
            (
                out(
                    127,
                    "",
                    "exec: \"bash\": executable file not found in $PATH",
                ),
                Some(
                    "command `bash --version` failed with exit code 127: exec: \"bash\": executable file not found in $PATH",
                ),
            ),
            (
                out(2, "", ""),
                Some("command `bash --version` failed with exit code 2"),
            ),
        ],
    );
    assert_check_table(
        &Check::command_available_with("openssl", "version"),
        &["openssl", "version"],
        &[
            (
                ok("OpenSSL 3.0.8 7 Feb 2023 (Library: OpenSSL 3.0.8 7 Feb 2023)\n"),
                None,
            ),
            (ok(""), Some("unexpected openssl version: ")),
        ],
    );
    assert_eq!(
        Check::command_available_with("socat", "-V").id(),
        "command_available:socat"
    );
}

#[test]
fn env_var_splits_at_the_first_equal_sign() {
    let printenv = "PATH=/usr/local/bin:/usr/bin\nHOME=/root\nJAVA_OPTS=-Dkey=value -Dother=1\nMULTI=line one\nline two\nEMPTY=\n";
    assert_check_table(
        &Check::env_var("JAVA_OPTS", "-Dkey=value -Dother=1"),
        &["printenv"],
        &[(ok(printenv), None)],
    );
    assert_check_table(
        &Check::env_var_defined("HOME"),
        &["printenv"],
        &[(ok(printenv), None)],
    );
    assert_check_table(
        &Check::env_var("EMPTY", ""),
        &["printenv"],
        &[(ok(printenv), None)],
    );
    assert_check_table(
        &Check::env_var("MULTI", "line one"),
        &["printenv"],
        &[(ok(printenv), None)],
    );
    assert_check_table(
        &Check::env_var_defined("GPG_KEY"),
        &["printenv"],
        &[(
            ok(printenv),
            Some("the GPG_KEY environment variable is not defined."),
        )],
    );
    assert_check_table(
        &Check::env_var("HOME", "/home/airbyte"),
        &["printenv"],
        &[(
            ok(printenv),
            Some("the HOME environment variable is defined but has an unexpected value: /root."),
        )],
    );
    // A continuation line without `=` defines nothing (the original crashed on it).
    assert_check_table(
        &Check::env_var_defined("line two"),
        &["printenv"],
        &[(
            ok(printenv),
            Some("the line two environment variable is not defined."),
        )],
    );
    // The last definition wins, as in the original's dict.
    assert_check_table(
        &Check::env_var("A", "2"),
        &["printenv"],
        &[(ok("A=1\nA=2\n"), None)],
    );
}

#[test]
fn user_exists_runs_as_the_user() {
    let check = Check::user_exists("airbyte", 1000, 1000);
    let healthy = || {
        Canned::new()
            .on_as("airbyte", &["whoami"], ok("airbyte\n"))
            .on_as("airbyte", &["id", "-u"], ok("1000\n"))
    };
    let runner = healthy().on_as("airbyte", &["id", "-g"], ok("1000\n"));
    assert!(check.evaluate(&runner).passed());
    assert_eq!(
        runner.call_lines(),
        ["whoami@airbyte", "id -u@airbyte", "id -g@airbyte"]
    );

    let message = |runner: &Canned| check.evaluate(runner).message.unwrap();
    assert_eq!(
        message(&healthy().on_as("airbyte", &["id", "-g"], ok("1001\n"))),
        "Unexpected group id: 1001"
    );
    let runner = Canned::new().on_as("airbyte", &["whoami"], ok("root\n"));
    assert_eq!(
        message(&runner),
        "The user airbyte does not exist in the container."
    );
    assert_eq!(
        runner.call_lines(),
        ["whoami@airbyte"],
        "stops at the first failure"
    );
    let runner = Canned::new().on_as(
        "airbyte",
        &["whoami"],
        out(1, "", "whoami: cannot find name for user ID 1000"),
    );
    assert_eq!(
        message(&runner),
        "The user airbyte does not exist in the container."
    );
    let runner = Canned::new()
        .on_as("airbyte", &["whoami"], ok("airbyte\n"))
        .on_as("airbyte", &["id", "-u"], ok("999\n"));
    assert_eq!(message(&runner), "Unexpected user id: 999");
    let runner = Canned::new()
        .on_as("airbyte", &["whoami"], ok("airbyte\n"))
        .on_as("airbyte", &["id", "-u"], ok("abc\n"));
    assert_eq!(message(&runner), "Unexpected user id: abc");

    let uid_gid = Check::user_uid_gid("airbyte", 1000, 1000);
    let runner = Canned::new()
        .on_as("airbyte", &["id", "-u"], ok("1000\n"))
        .on_as("airbyte", &["id", "-g"], ok("1000\n"));
    assert!(uid_gid.evaluate(&runner).passed());
    assert_eq!(runner.call_lines(), ["id -u@airbyte", "id -g@airbyte"]);
}

#[test]
fn directory_access_checks() {
    let read = Check::user_can_read_dir("airbyte", "/airbyte");
    let runner = Canned::new()
        .on(&["touch", "/airbyte/foo.txt"], ok(""))
        .on_as("airbyte", &["cat", "/airbyte/foo.txt"], ok(""));
    assert!(read.evaluate(&runner).passed());
    // The file is created as the image's user, then read as the checked user.
    assert_eq!(
        runner.call_lines(),
        ["touch /airbyte/foo.txt", "cat /airbyte/foo.txt@airbyte"]
    );
    let runner = Canned::new()
        .on(&["touch", "/airbyte/foo.txt"], ok(""))
        .on_as(
            "airbyte",
            &["cat", "/airbyte/foo.txt"],
            out(1, "", "cat: /airbyte/foo.txt: Permission denied"),
        );
    assert_eq!(
        read.evaluate(&runner).message.as_deref(),
        Some("/airbyte is not readable by airbyte.")
    );
    let runner = Canned::new().on(
        &["touch", "/airbyte/foo.txt"],
        out(1, "", "touch: cannot touch"),
    );
    let outcome = read.evaluate(&runner);
    assert_eq!(
        outcome.message.as_deref(),
        Some("/airbyte is not readable by airbyte.")
    );
    assert_eq!(
        runner.call_lines().len(),
        1,
        "the read is not attempted after a failed touch"
    );

    let write = Check::user_can_write_dir("airbyte", "/tmp");
    let runner = Canned::new().on_as("airbyte", &["touch", "/tmp/foo.txt"], ok(""));
    assert!(write.evaluate(&runner).passed());
    let runner = Canned::new().on_as(
        "airbyte",
        &["touch", "/tmp/foo.txt"],
        out(
            1,
            "",
            "touch: cannot touch '/tmp/foo.txt': Permission denied",
        ),
    );
    assert_eq!(
        write.evaluate(&runner).message.as_deref(),
        Some("/tmp is not writable by the airbyte.")
    );

    let file = Check::file_exists("/airbyte/base.sh");
    assert_check_table(
        &file,
        &["test", "-f", "/airbyte/base.sh"],
        &[
            (ok(""), None),
            (out(1, "", ""), Some("/airbyte/base.sh does not exist.")),
        ],
    );
}

#[test]
fn runner_failures_are_errors_not_failures() {
    let runner = Canned::new().broken(&["date"], "the sandbox could not start: permission denied");
    let outcome = Check::timezone_is_utc().evaluate(&runner);
    assert_eq!(outcome.status, CheckStatus::Error);
    assert_eq!(
        outcome.message.as_deref(),
        Some("could not run `date`: the sandbox could not start: permission denied")
    );
    assert_eq!(
        outcome.commands[0].error.as_deref(),
        Some("the sandbox could not start: permission denied")
    );
    assert!(outcome.commands[0].output.is_none());

    let runner = Canned::new();
    let outcome = Check::user_can_write_dir("airbyte", "/tmp").evaluate(&runner);
    assert_eq!(outcome.status, CheckStatus::Error);
    assert_eq!(
        outcome.message.as_deref(),
        Some(
            "could not run `touch /tmp/foo.txt` as user airbyte: no recorded answer for `touch /tmp/foo.txt` as Some(\"airbyte\")"
        )
    );

    let mut runner = Canned::new().on(&["date"], ok("UTC"));
    runner.fail_start = Some("no space left on device".into());
    let outcome = Check::timezone_is_utc().evaluate(&runner);
    assert_eq!(outcome.status, CheckStatus::Error);
    assert_eq!(
        outcome.message.as_deref(),
        Some("could not prepare a container for the check: no space left on device")
    );
    assert!(runner.calls.borrow().is_empty());
}

#[test]
fn checks_round_trip_through_json() {
    let checks = [
        Check::env_var("A", "b=c"),
        Check::user_exists("airbyte", 1000, 1000),
        Check::file_exists("/etc/os-release"),
        Check::command_available_with("openssl", "version"),
    ];
    let json = serde_json::to_string(&checks).unwrap();
    assert_eq!(
        json,
        r#"[{"id":"env_var:A","kind":"env_var","name":"A","value":"b=c"},{"id":"user_exists:airbyte","kind":"user_exists","user":"airbyte","uid":1000,"gid":1000},{"id":"file_exists:/etc/os-release","kind":"file_exists","path":"/etc/os-release"},{"id":"command_available:openssl","kind":"command_available","command":"openssl","option":"version"}]"#
    );
    let back: Vec<Check> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, checks);
}
