//! Report renderings: table, JSON and JUnit XML (checked with a real XML parser).

use std::io::Write;
use std::process::{Command, Stdio};

use plinth_airbyte::kinds;
use plinth_catalog::checks::{Check, CheckReport, CheckStatus, render_junit, run_checks};
use plinth_oci::Platform;
use plinth_test::checks::{Canned, ok, out};

fn report(platform: Platform) -> CheckReport {
    let runner = Canned::new()
        .on(&["date"], ok("Tue Jun  4 12:00:00 UTC 2024\n"))
        .on(&["python", "--version"], ok("Python 3.9.18\n"))
        .on(
            &["printenv"],
            ok("HOME=/root\nPATH=/usr/bin\nLANG=C.UTF-8\n"),
        )
        .on(
            &["test", "-f", "/airbyte/base.sh"],
            out(1, "", "\u{1b}[31m<missing> & \"quoted\" 'x'\u{0}\n"),
        )
        .broken(&["socat", "-V"], "the sandbox failed: <mount> & co");
    let checks = [
        Check::timezone_is_utc(),
        kinds::python_version("3.10.14"),
        kinds::python_env_vars(),
        Check::file_exists("/airbyte/base.sh"),
        kinds::socat_version("1.7.4.4"),
    ];
    run_checks(
        "airbyte/python-connector-base:3.0.0",
        &platform,
        &checks,
        &runner,
    )
}

#[test]
fn counts_and_table() {
    let r = report(Platform::linux_amd64());
    assert!(!r.passed());
    assert_eq!(
        (
            r.count(CheckStatus::Passed),
            r.count(CheckStatus::Failed),
            r.count(CheckStatus::Error)
        ),
        (1, 3, 1)
    );
    insta::assert_snapshot!("table", r.render_table());
}

#[test]
fn json_round_trips() {
    let r = report(Platform::linux_arm64());
    let json = r.to_json();
    let back: CheckReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["platform"]["architecture"], "arm64");
    assert_eq!(value["outcomes"][1]["status"], "failed");
    assert_eq!(
        value["outcomes"][1]["message"],
        "unexpected python version: Python 3.9.18\n"
    );
    assert_eq!(value["outcomes"][4]["status"], "error");
    assert_eq!(
        value["outcomes"][2]["children"].as_array().unwrap().len(),
        5
    );
    insta::assert_snapshot!("json", json);
}

#[test]
fn junit_is_well_formed_and_keeps_every_character_it_can() {
    let xml = render_junit(&[
        report(Platform::linux_amd64()),
        report(Platform::linux_arm64()),
    ]);
    insta::assert_snapshot!("junit", xml);
    // Parse with Python's XML parser and read the values back.
    let script = r#"
import sys, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.buffer.read())
print(root.get("tests"), root.get("failures"), root.get("errors"))
for suite in root:
    print(suite.get("name"))
    for case in suite:
        for child in case:
            print(case.get("name"), child.tag, repr(child.get("message")))
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is needed to validate the XML");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(xml.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "10 6 2");
    assert_eq!(lines[1], "airbyte/python-connector-base:3.0.0 linux/amd64");
    assert_eq!(
        lines[2],
        r"python_version failure 'unexpected python version: Python 3.9.18\n'"
    );
    assert_eq!(
        lines[3],
        "python_env_vars failure 'the PYTHON_VERSION environment variable is not defined.'"
    );
    assert_eq!(
        lines[4],
        "file_exists:/airbyte/base.sh failure '/airbyte/base.sh does not exist.'"
    );
    assert_eq!(
        lines[5],
        "socat_version error 'could not run `socat -V`: the sandbox failed: <mount> & co'"
    );
}
