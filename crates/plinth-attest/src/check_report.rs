//! The check report attestation: the sanity checks one platform image passed before it was
//! published, with their results and the plinth version that ran them.
//!
//! Predicate type [`CHECK_REPORT_V1`]; the predicate is a [`CheckReportPredicate`]:
//!
//! ```json
//! {"checker": {"plinth": "0.1.0"}, "platform": "linux/amd64", "passed": true,
//!  "checks": [{"id": "python-version", "status": "passed"},
//!             {"id": "cdk", "status": "passed", "children": [...]}]}
//! ```
//!
//! Command output is left out: it is long, and the image itself reproduces it.

use serde::{Deserialize, Serialize};

use plinth_catalog::checks::{CheckOutcome, CheckReport};
use plinth_oci::Digest;

use crate::statement::Statement;

/// plinth's check report predicate type.
pub const CHECK_REPORT_V1: &str = "https://example.invalid/plinth/check-report/v1";

/// The predicate of a check report statement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReportPredicate {
    /// Who ran the checks: `{"plinth": VERSION}`.
    pub checker: Checker,
    /// The platform checked.
    pub platform: String,
    /// Whether every check passed.
    pub passed: bool,
    /// One result per check, in the order they ran.
    pub checks: Vec<CheckResult>,
}

/// The program that ran the checks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checker {
    /// plinth's version.
    pub plinth: String,
}

/// One check's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The check's id.
    pub id: String,
    /// `passed`, `failed` or `error`.
    pub status: String,
    /// Why it did not pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The members of a group check.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<CheckResult>,
}

impl From<&CheckOutcome> for CheckResult {
    fn from(outcome: &CheckOutcome) -> Self {
        Self {
            id: outcome.id.clone(),
            status: outcome.status.as_str().to_owned(),
            message: outcome.message.clone(),
            children: outcome.children.iter().map(CheckResult::from).collect(),
        }
    }
}

/// The check report statement of the platform image `subject` (named `image_name`).
pub fn check_report_statement(
    image_name: &str,
    report: &CheckReport,
    subject: &Digest,
) -> Statement<CheckReportPredicate> {
    let checks: Vec<CheckResult> = report.outcomes.iter().map(CheckResult::from).collect();
    let predicate = CheckReportPredicate {
        checker: Checker {
            plinth: env!("CARGO_PKG_VERSION").to_owned(),
        },
        platform: report.platform.to_string(),
        passed: report.outcomes.iter().all(CheckOutcome::passed),
        checks,
    };
    Statement::about(image_name, subject, CHECK_REPORT_V1, predicate)
}
