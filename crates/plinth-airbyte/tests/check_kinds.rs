//! Pass rules and failure messages of the Airbyte check kinds, fed with recorded command outputs.
//!
//! Each table row is (command output → expected status and message), ported from the original
//! tool's check functions and their tests.

use plinth_airbyte::kinds;
use plinth_catalog::checks::{Check, CheckOutcome, CheckStatus};
use plinth_test::checks::{Canned, assert_check_table, ok, out};

fn data(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn socat_version() {
    let real = data("socat-1.7.4.4-V.txt");
    let no_line =
        "socat by Gerhard Rieger and contributors - see www.dest-unreach.org\nfeatures:\n";
    let three_parts = "socat version 1.8.0 on 01 Jan 2024 00:00:00\n";
    assert_check_table(
        &kinds::socat_version("1.7.4.4"),
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
    assert_check_table(
        &kinds::socat_version("1.7.4.4-2"),
        &["socat", "-V"],
        &[(ok(&real), Some("unexpected socat version: 1.7.4.4"))],
    );
}

#[test]
fn version_checks() {
    assert_check_table(
        &kinds::python_version("3.10.14"),
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
    assert_check_table(
        &kinds::pip_version("24.0"),
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
    assert_check_table(
        &kinds::poetry_version("1.6.1"),
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
    assert_check_table(
        &kinds::tesseract_version("5.3.0"),
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
    assert_check_table(
        &kinds::poppler_version("22.12.0"),
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
fn nltk_data_installs_nltk_then_finds_both_packages() {
    let find = "import nltk;nltk.data.find(\"taggers/averaged_perceptron_tagger\");nltk.data.find(\"tokenizers/punkt\")";
    let runner = Canned::new()
        .on(
            &["pip", "install", "nltk==3.8.1"],
            ok("Successfully installed nltk-3.8.1\n"),
        )
        .on(&["python", "-c", find], ok(""));
    assert!(kinds::nltk_data().evaluate(&runner).passed());
    let runner = Canned::new()
        .on(&["pip", "install", "nltk==3.8.1"], ok(""))
        .on(
            &["python", "-c", find],
            out(1, "", "LookupError: Resource punkt not found."),
        );
    assert_eq!(
        kinds::nltk_data().evaluate(&runner).message.as_deref(),
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
    let outcome = kinds::nltk_data().evaluate(&runner);
    assert_eq!(outcome.status, CheckStatus::Failed);
    assert_eq!(runner.call_lines(), ["pip install nltk==3.8.1"]);
}

fn python_env(printenv: &str) -> CheckOutcome {
    let runner = Canned::new().on(&["printenv"], ok(printenv));
    let outcome = kinds::python_env_vars().evaluate(&runner);
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
    let outcome = kinds::cdk_system_dependencies().evaluate(&runner);
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
fn airbyte_kinds_serialize_like_the_generic_ones_and_are_not_read_back() {
    let checks = [
        kinds::cdk_system_dependencies(),
        kinds::poetry_version("1.6.1"),
        Check::env_var("A", "b"),
    ];
    let json = serde_json::to_string(&checks).unwrap();
    assert_eq!(
        json,
        r#"[{"id":"cdk_system_dependencies","kind":"cdk_system_dependencies"},{"id":"poetry_version","kind":"poetry_version","version":"1.6.1"},{"id":"env_var:A","kind":"env_var","name":"A","value":"b"}]"#
    );
    assert_eq!(
        kinds::poetry_version("1.6.1"),
        kinds::poetry_version("1.6.1")
    );
    assert_ne!(
        kinds::poetry_version("1.6.1"),
        kinds::poetry_version("1.8.4")
    );
    assert_ne!(kinds::poetry_version("1.6.1"), kinds::pip_version("1.6.1"));
    // Only the crate declaring a kind can run it, so JSON never turns back into one.
    assert!(
        serde_json::from_str::<Check>(
            r#"{"id":"poetry_version","kind":"poetry_version","version":"1.6.1"}"#,
        )
        .is_err()
    );
}
