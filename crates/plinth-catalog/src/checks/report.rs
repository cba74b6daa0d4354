//! The outcomes of a platform's checks and their renderings (table, JSON, JUnit XML).

use std::fmt::Write as _;

use plinth_oci::Platform;
use serde::{Deserialize, Serialize};

use super::kind::Check;
use super::{CheckOutcome, CheckStatus, CommandRunner};

/// The outcomes of every check of one image on one platform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    /// What was checked (`airbyte/python-connector-base:3.0.0`, an image reference, …).
    pub subject: String,
    /// The platform the checks ran on.
    pub platform: Platform,
    /// One outcome per check, in the order the checks ran.
    pub outcomes: Vec<CheckOutcome>,
}

/// Evaluates `checks` in order through `runner` (every check runs, also after a failure).
pub fn run_checks(
    subject: impl Into<String>,
    platform: &Platform,
    checks: &[Check],
    runner: &dyn CommandRunner,
) -> CheckReport {
    let subject = subject.into();
    let outcomes = checks
        .iter()
        .map(|check| {
            let _span =
                tracing::debug_span!("check", id = check.id(), platform = %platform).entered();
            let outcome = check.evaluate(runner);
            tracing::debug!(status = outcome.status.as_str(), "check done");
            outcome
        })
        .collect();
    CheckReport {
        subject,
        platform: platform.clone(),
        outcomes,
    }
}

impl CheckReport {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.outcomes.iter().all(CheckOutcome::passed)
    }

    /// The number of checks with `status`.
    pub fn count(&self, status: CheckStatus) -> usize {
        self.outcomes.iter().filter(|o| o.status == status).count()
    }

    /// The outcomes that did not pass.
    pub fn problems(&self) -> impl Iterator<Item = &CheckOutcome> {
        self.outcomes.iter().filter(|o| !o.passed())
    }

    /// A plain-text table for a terminal: a heading, then one line per check (`PASS`/`FAIL`/
    /// `ERROR`, the id, the first line of the message), group members indented below their group,
    /// then a summary line.
    pub fn render_table(&self) -> String {
        let mut rows = Vec::new();
        for outcome in &self.outcomes {
            push_rows(&mut rows, outcome, 0);
        }
        let width = rows
            .iter()
            .map(|(id, _, _)| id.chars().count())
            .max()
            .unwrap_or(0);
        let mut out = format!("{} ({})\n", self.subject, self.platform);
        for (id, status, message) in rows {
            let label = match status {
                CheckStatus::Passed => "PASS ",
                CheckStatus::Failed => "FAIL ",
                CheckStatus::Error => "ERROR",
            };
            let line = format!("  {label}  {id:<width$}  {message}");
            out.push_str(line.trim_end());
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "{} passed, {} failed, {} errored",
            self.count(CheckStatus::Passed),
            self.count(CheckStatus::Failed),
            self.count(CheckStatus::Error)
        );
        out
    }

    /// The report as pretty JSON (the `--json` output).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("reports hold only strings, numbers and lists")
    }
}

fn push_rows(rows: &mut Vec<(String, CheckStatus, String)>, outcome: &CheckOutcome, depth: usize) {
    rows.push((
        format!("{}{}", "  ".repeat(depth), outcome.id),
        outcome.status,
        outcome.message_first_line().to_owned(),
    ));
    for child in &outcome.children {
        push_rows(rows, child, depth + 1);
    }
}

/// JUnit XML for several reports: one `<testsuite>` per report (per platform), one `<testcase>`
/// per check with a `<failure>` or `<error>` element holding the message and the commands run.
pub fn render_junit(reports: &[CheckReport]) -> String {
    let total = |status: Option<CheckStatus>| {
        reports
            .iter()
            .map(|r| status.map_or(r.outcomes.len(), |s| r.count(s)))
            .sum::<usize>()
    };
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"plinth checks\" tests=\"{}\" failures=\"{}\" errors=\"{}\">",
        total(None),
        total(Some(CheckStatus::Failed)),
        total(Some(CheckStatus::Error))
    );
    for report in reports {
        let suite = format!("{} {}", report.subject, report.platform);
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\">",
            escape_xml(&suite, true),
            report.outcomes.len(),
            report.count(CheckStatus::Failed),
            report.count(CheckStatus::Error)
        );
        for outcome in &report.outcomes {
            let head = format!(
                "    <testcase classname=\"{}\" name=\"{}\"",
                escape_xml(&suite, true),
                escape_xml(&outcome.id, true)
            );
            let element = match outcome.status {
                CheckStatus::Passed => {
                    let _ = writeln!(out, "{head}/>");
                    continue;
                }
                CheckStatus::Failed => "failure",
                CheckStatus::Error => "error",
            };
            let message = outcome.message.as_deref().unwrap_or("");
            let _ = writeln!(out, "{head}>");
            let _ = writeln!(
                out,
                "      <{element} message=\"{}\">{}</{element}>",
                escape_xml(message, true),
                escape_xml(&details(outcome), false)
            );
            let _ = writeln!(out, "    </testcase>");
        }
        let _ = writeln!(out, "  </testsuite>");
    }
    out.push_str("</testsuites>\n");
    out
}

/// The message and the commands of an outcome (and of its members), for a JUnit body.
fn details(outcome: &CheckOutcome) -> String {
    let mut text = String::new();
    if let Some(m) = &outcome.message {
        text.push_str(m);
        text.push('\n');
    }
    for record in &outcome.commands {
        let _ = write!(text, "$ {}", record.command.display());
        if let Some(user) = &record.command.user {
            let _ = write!(text, "  (as {user})");
        }
        text.push('\n');
        if let Some(output) = &record.output {
            let _ = writeln!(text, "exit code: {}", output.exit_code);
            for (name, stream) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
                if !stream.is_empty() {
                    let _ = writeln!(text, "{name}:\n{}", stream.trim_end());
                }
            }
        }
        if let Some(error) = &record.error {
            let _ = writeln!(text, "not run: {error}");
        }
    }
    for child in &outcome.children {
        let _ = writeln!(text, "[{}] {}", child.id, child.status.as_str());
        text.push_str(&details(child));
    }
    text
}

/// Escapes text for XML 1.0 content (`attribute = false`) or a double-quoted attribute value.
///
/// Characters XML 1.0 cannot hold at all (most C0 controls, U+FFFE, U+FFFF) become U+FFFD, so a
/// binary byte in a command's output cannot make the document ill-formed. In attributes, tabs and
/// line breaks are written as character references, because a parser would normalise them to
/// spaces otherwise.
pub(crate) fn escape_xml(text: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\'' if attribute => out.push_str("&apos;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\t' | '\n' => out.push(c),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape_xml;

    #[test]
    fn escapes_for_content_and_attributes() {
        assert_eq!(escape_xml("a<b>&\"'", false), "a&lt;b&gt;&amp;\"'");
        assert_eq!(escape_xml("a<b>&\"'", true), "a&lt;b&gt;&amp;&quot;&apos;");
        assert_eq!(escape_xml("x\ny\tz\r", true), "x&#10;y&#9;z&#13;");
        assert_eq!(escape_xml("x\ny\tz\r", false), "x\ny\tz&#13;");
        assert_eq!(
            escape_xml("\u{0}\u{1b}[0m\u{ffff}é", false),
            "\u{fffd}\u{fffd}[0m\u{fffd}é"
        );
    }
}
