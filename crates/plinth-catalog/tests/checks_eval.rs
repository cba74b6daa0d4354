//! Pass rules and failure messages of every check, fed with recorded command outputs.
//!
//! Each table row is (command output → expected status and message), ported from the original
//! tool's check functions and their tests.

mod support;

use plinth_catalog::checks::{Check, CheckOutcome, CheckStatus, CommandOutput};
use support::{Canned, ok, out};

fn data(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Evaluates `check` with `argv` answered by each row's output, and compares the outcome.
fn table(check: &Check, argv: &[&str], rows: &[(CommandOutput, Option<&str>)]) {
    for (i, (output, expected)) in rows.iter().enumerate() {
        let runner = Canned::new().on(argv, output.clone());
        let outcome = check.evaluate(&runner);
        match expected {
            None => assert!(outcome.passed(), "row {i} of {}: {outcome:?}", check.id()),
            Some(message) => {
                assert_eq!(
                    outcome.status,
                    CheckStatus::Failed,
                    "row {i} of {}",
                    check.id()
                );
                assert_eq!(
                    outcome.message.as_deref(),
                    Some(*message),
                    "row {i} of {}",
                    check.id()
                );
            }
        }
        assert_eq!(
            runner.call_lines(),
            [argv.join(" ")],
            "row {i} of {}",
            check.id()
        );
        assert_eq!(outcome.commands.len(), 1);
        assert_eq!(outcome.commands[0].output.as_ref(), Some(output));
    }
}

#[test]
fn timezone_is_utc() {
    table(
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
    table(
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
    table(
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
fn socat_version() {
    let real = data("socat-1.7.4.4-V.txt");
    let no_line =
        "socat by Gerhard Rieger and contributors - see www.dest-unreach.org\nfeatures:\n";
    let three_parts = "socat version 1.8.0 on 01 Jan 2024 00:00:00\n";
    table(
        &Check::socat_version("1.7.4.4"),
        &["socat", "-V"],
        &[
            (ok(&real), None),
            (
                ok(no_line),
                Some(&format!(
                    "Could not parse the socat version from the output: {no_line}"
                )),
            ),
            (
                ok(three_parts),
                Some(
                    "Could not find the socat version in the version output: socat version 1.8.0 on 01 Jan 2024 00:00:00",
                ),
            ),
            // The first `socat version` line decides, even when a later one would match.
            (
                ok("socat version 1.7.4.3 on x\nsocat version 1.7.4.4 on y\n"),
                Some("unexpected socat version: 1.7.4.3"),
            ),
            // The line must *start* with `socat version`.
            (
                ok(" socat version 1.7.4.4\n"),
                Some("Could not parse the socat version from the output:  socat version 1.7.4.4\n"),
            ),
            // CRLF output is split like Python's splitlines.
            (ok("socat by x\r\nsocat version 1.7.4.4 on y\r\n"), None),
        ],
    );
    // The apt pin has five parts; the check compares four, so the pin itself never matches.
    table(
        &Check::socat_version("1.7.4.4-2"),
        &["socat", "-V"],
        &[(ok(&real), Some("unexpected socat version: 1.7.4.4"))],
    );
}

#[test]
fn env_var_splits_at_the_first_equal_sign() {
    let printenv = "PATH=/usr/local/bin:/usr/bin\nHOME=/root\nJAVA_OPTS=-Dkey=value -Dother=1\nMULTI=line one\nline two\nEMPTY=\n";
    table(
        &Check::env_var("JAVA_OPTS", "-Dkey=value -Dother=1"),
        &["printenv"],
        &[(ok(printenv), None)],
    );
    table(
        &Check::env_var_defined("HOME"),
        &["printenv"],
        &[(ok(printenv), None)],
    );
    table(
        &Check::env_var("EMPTY", ""),
        &["printenv"],
        &[(ok(printenv), None)],
    );
    table(
        &Check::env_var("MULTI", "line one"),
        &["printenv"],
        &[(ok(printenv), None)],
    );
    table(
        &Check::env_var_defined("GPG_KEY"),
        &["printenv"],
        &[(
            ok(printenv),
            Some("the GPG_KEY environment variable is not defined."),
        )],
    );
    table(
        &Check::env_var("HOME", "/home/airbyte"),
        &["printenv"],
        &[(
            ok(printenv),
            Some("the HOME environment variable is defined but has an unexpected value: /root."),
        )],
    );
    // A continuation line without `=` defines nothing (the original crashed on it).
    table(
        &Check::env_var_defined("line two"),
        &["printenv"],
        &[(
            ok(printenv),
            Some("the line two environment variable is not defined."),
        )],
    );
    // The last definition wins, as in the original's dict.
    table(
        &Check::env_var("A", "2"),
        &["printenv"],
        &[(ok("A=1\nA=2\n"), None)],
    );
}

#[test]
fn version_checks() {
    table(
        &Check::python_version("3.10.14"),
        &["python", "--version"],
        &[
            (ok("Python 3.10.14\n"), None),
            // Equality, trailing newline included.
            (
                ok("Python 3.10.14"),
                Some("unexpected python version: Python 3.10.14"),
            ),
            (
                ok("Python 3.10.140\n"),
                Some("unexpected python version: Python 3.10.140\n"),
            ),
            (
                ok("Python 3.10.14\r\n"),
                Some("unexpected python version: Python 3.10.14\r\n"),
            ),
            // Python 2 printed its version on stderr: stdout is empty.
            (
                out(0, "", "Python 3.10.14\n"),
                Some("unexpected python version: "),
            ),
        ],
    );
    let pip = |v: &str| {
        ok(&format!(
            "pip {v} from /usr/local/lib/python3.10/site-packages/pip (python 3.10)\n"
        ))
    };
    table(
        &Check::pip_version("24.0"),
        &["pip", "--version"],
        &[
            (pip("24.0"), None),
            // Prefix match: 24.0 accepts 24.0.1 (and 24.01), as the original did.
            (pip("24.0.1"), None),
            (
                pip("23.2.1"),
                Some(
                    "unexpected pip version: pip 23.2.1 from /usr/local/lib/python3.10/site-packages/pip (python 3.10)\n",
                ),
            ),
        ],
    );
    table(
        &Check::poetry_version("1.6.1"),
        &["poetry", "--version"],
        &[
            (ok("Poetry (version 1.6.1)\n"), None),
            (
                ok("Poetry (version 1.8.4)\n"),
                Some("unexpected poetry version: Poetry (version 1.8.4)\n"),
            ),
            (
                ok("Poetry version 1.6.1\n"),
                Some("unexpected poetry version: Poetry version 1.6.1\n"),
            ),
        ],
    );
    let tesseract = "tesseract 5.3.0\n leptonica-1.82.0\n  libgif 5.2.1 : libjpeg 6b (libjpeg-turbo 2.1.2) : libpng 1.6.39 : libtiff 4.5.0 : zlib 1.2.13 : libwebp 1.2.4 : libopenjp2 2.5.0\n Found AVX2\n";
    table(
        &Check::tesseract_version("5.3.0"),
        &["tesseract", "--version"],
        &[
            (ok(tesseract), None),
            (
                ok("tesseract 4.1.1\n leptonica-1.79.0\n"),
                Some("unexpected tesseract version: tesseract 4.1.1\n leptonica-1.79.0\n"),
            ),
            (
                out(127, "", "sh: tesseract: not found"),
                Some(
                    "command `tesseract --version` failed with exit code 127: sh: tesseract: not found",
                ),
            ),
        ],
    );
    let poppler = "pdftotext version 22.12.0\nCopyright 2005-2022 The Poppler Developers - http://poppler.freedesktop.org\nCopyright 1996-2011, 2022 Glyph & Cog, LLC\n";
    table(
        &Check::poppler_version("22.12.0"),
        &["pdftotext", "-v"],
        &[
            // pdftotext prints its version on STDERR.
            (out(0, "", poppler), None),
            (out(0, poppler, ""), Some("unexpected poppler version: ")),
            (
                out(0, "", "pdftotext version 20.09.0\n"),
                Some("unexpected poppler version: pdftotext version 20.09.0\n"),
            ),
        ],
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
    table(
        &file,
        &["test", "-f", "/airbyte/base.sh"],
        &[
            (ok(""), None),
            (out(1, "", ""), Some("/airbyte/base.sh does not exist.")),
        ],
    );
}

#[test]
fn nltk_data_installs_nltk_then_finds_both_packages() {
    let find = "import nltk;nltk.data.find(\"taggers/averaged_perceptron_tagger\");nltk.data.find(\"tokenizers/punkt\")";
    let runner = Canned::new()
        .on(
            &["pip", "install", "nltk==3.8.1"],
            ok("Successfully installed nltk-3.8.1\n"),
        )
        .on(&["python", "-c", find], ok(""));
    assert!(Check::nltk_data().evaluate(&runner).passed());
    let runner = Canned::new()
        .on(&["pip", "install", "nltk==3.8.1"], ok(""))
        .on(
            &["python", "-c", find],
            out(1, "", "LookupError: Resource punkt not found."),
        );
    assert_eq!(
        Check::nltk_data().evaluate(&runner).message.as_deref(),
        Some(format!("command `python -c {find}` failed with exit code 1: LookupError: Resource punkt not found.").as_str())
    );
    let runner = Canned::new().on(
        &["pip", "install", "nltk==3.8.1"],
        out(
            1,
            "",
            "ERROR: No matching distribution found for nltk==3.8.1",
        ),
    );
    let outcome = Check::nltk_data().evaluate(&runner);
    assert_eq!(outcome.status, CheckStatus::Failed);
    assert_eq!(runner.call_lines(), ["pip install nltk==3.8.1"]);
}

fn python_env(printenv: &str) -> CheckOutcome {
    let runner = Canned::new().on(&["printenv"], ok(printenv));
    let outcome = Check::python_env_vars().evaluate(&runner);
    assert_eq!(
        runner.call_lines(),
        ["printenv"; 5],
        "printenv runs once per variable"
    );
    assert_eq!(
        runner.starts.borrow().as_slice(),
        ["python_env_vars"],
        "a group is one check"
    );
    outcome
}

#[test]
fn group_checks_report_every_member() {
    let full = "PYTHON_VERSION=3.10.14\nHOME=/root\nPATH=/usr/local/bin:/usr/bin\nLANG=C.UTF-8\nGPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D\n";
    let outcome = python_env(full);
    assert!(outcome.passed());
    let ids: Vec<&str> = outcome.children.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "env_var:PYTHON_VERSION",
            "env_var:HOME",
            "env_var:PATH",
            "env_var:LANG",
            "env_var:GPG_KEY"
        ]
    );
    let outcome = python_env("HOME=/root\nPATH=/usr/bin\n");
    assert_eq!(outcome.status, CheckStatus::Failed);
    assert_eq!(
        outcome.message.as_deref(),
        Some("the PYTHON_VERSION environment variable is not defined.")
    );
    assert_eq!(outcome.children.iter().filter(|c| !c.passed()).count(), 3);

    let find = "import nltk;nltk.data.find(\"taggers/averaged_perceptron_tagger\");nltk.data.find(\"tokenizers/punkt\")";
    let runner = Canned::new()
        .on(&["pip", "install", "nltk==3.8.1"], ok(""))
        .on(&["python", "-c", find], ok(""))
        .on(&["tesseract", "--version"], ok("tesseract 5.2.0\n"))
        .on(
            &["pdftotext", "-v"],
            out(0, "", "pdftotext version 22.12.0\n"),
        );
    let outcome = Check::cdk_system_dependencies().evaluate(&runner);
    assert_eq!(outcome.status, CheckStatus::Failed);
    assert_eq!(
        outcome.message.as_deref(),
        Some("unexpected tesseract version: tesseract 5.2.0\n")
    );
    assert_eq!(
        outcome
            .children
            .iter()
            .map(|c| (c.id.as_str(), c.status))
            .collect::<Vec<_>>(),
        [
            ("nltk_data", CheckStatus::Passed),
            ("tesseract_version", CheckStatus::Failed),
            ("poppler_version", CheckStatus::Passed)
        ]
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
        Check::cdk_system_dependencies(),
        Check::command_available_with("openssl", "version"),
    ];
    let json = serde_json::to_string(&checks).unwrap();
    assert_eq!(
        json,
        r#"[{"id":"env_var:A","kind":"env_var","name":"A","value":"b=c"},{"id":"user_exists:airbyte","kind":"user_exists","user":"airbyte","uid":1000,"gid":1000},{"id":"cdk_system_dependencies","kind":"cdk_system_dependencies"},{"id":"command_available:openssl","kind":"command_available","command":"openssl","option":"version"}]"#
    );
    let back: Vec<Check> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, checks);
}
