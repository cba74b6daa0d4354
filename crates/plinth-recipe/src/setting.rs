//! Image settings that change no files: exposed ports, volumes, the health check, the stop
//! signal, ONBUILD triggers, the shell and the author.
//!
//! This is the one place a new config field goes: the variant, its Dockerfile line
//! ([`ImageSetting::dockerfile_line`], used by the buildable view and the engine's history) and
//! its effect on an image config ([`ImageSetting::apply_to`], used by the embedded engine; the
//! BuildKit backend builds the line). The reader makes them from `EXPOSE`, `VOLUME`,
//! `HEALTHCHECK`, `STOPSIGNAL`, `ONBUILD`, `SHELL` and `MAINTAINER`.

use std::collections::BTreeMap;

use plinth_oci::ImageConfig;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::words::word;

/// One image setting.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ImageSetting {
    /// Ports to expose, `port/proto` (`80/tcp`, `53/udp`); added to the image's.
    Expose {
        /// The ports, each with its protocol.
        ports: Vec<String>,
    },
    /// Mount points to declare as volumes; added to the image's.
    Volume {
        /// Absolute paths.
        paths: Vec<String>,
    },
    /// The health check (replaces the image's).
    Healthcheck {
        /// The check.
        check: HealthCheck,
    },
    /// The signal that stops the container (`SIGTERM`, `9`, …).
    StopSignal {
        /// The signal as written.
        signal: String,
    },
    /// A trigger later builds on this image run (`ONBUILD RUN …`, as written).
    OnBuild {
        /// The instruction.
        trigger: String,
    },
    /// The shell of shell-form instructions in builds on this image.
    Shell {
        /// The shell's argv (`["/bin/sh", "-c"]`).
        argv: Vec<String>,
    },
    /// The image's author (`MAINTAINER`).
    Author {
        /// The name.
        name: String,
    },
}

/// A health check: `Test` and the optional timings (nanoseconds, as in the image config).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    /// `["NONE"]`, `["CMD", argv…]` or `["CMD-SHELL", command]`.
    pub test: Vec<String>,
    /// `--interval`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<u64>,
    /// `--timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// `--start-period`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_period: Option<u64>,
    /// `--start-interval`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_interval: Option<u64>,
    /// `--retries`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
}

fn json_array(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_default()
}

/// A duration in Go's notation, exact: whole seconds, milliseconds or nanoseconds.
pub(crate) fn go_duration(ns: u64) -> String {
    if ns.is_multiple_of(1_000_000_000) {
        format!("{}s", ns / 1_000_000_000)
    } else if ns.is_multiple_of(1_000_000) {
        format!("{}ms", ns / 1_000_000)
    } else {
        format!("{ns}ns")
    }
}

impl ImageSetting {
    /// The Dockerfile instruction that makes this setting (it reads back into the same one).
    pub fn dockerfile_line(&self) -> String {
        let words = |items: &[String]| {
            items
                .iter()
                .map(|s| word(s).unwrap_or_else(|| json_array(std::slice::from_ref(s))))
                .collect::<Vec<_>>()
                .join(" ")
        };
        match self {
            ImageSetting::Expose { ports } => format!("EXPOSE {}", words(ports)),
            ImageSetting::Volume { paths } => format!("VOLUME {}", json_array(paths)),
            ImageSetting::Healthcheck { check } => {
                let mut line = "HEALTHCHECK".to_owned();
                for (flag, value) in [
                    ("interval", check.interval),
                    ("timeout", check.timeout),
                    ("start-period", check.start_period),
                    ("start-interval", check.start_interval),
                ] {
                    if let Some(ns) = value {
                        line.push_str(&format!(" --{flag}={}", go_duration(ns)));
                    }
                }
                if let Some(r) = check.retries {
                    line.push_str(&format!(" --retries={r}"));
                }
                match check.test.split_first() {
                    Some((kind, rest)) if kind == "CMD" => {
                        line.push_str(&format!(" CMD {}", json_array(rest)))
                    }
                    // CMD-SHELL: the shell form is the command itself.
                    Some((kind, [command])) if kind == "CMD-SHELL" => {
                        line.push_str(&format!(" CMD {command}"))
                    }
                    _ => line.push_str(" NONE"),
                }
                line
            }
            // STOPSIGNAL expands its word, so quoting keeps `$`, blanks and a leading `--`
            // (which would read as a flag) literal.
            ImageSetting::StopSignal { signal } => format!(
                "STOPSIGNAL {}",
                word(signal).unwrap_or_else(|| signal.clone())
            ),
            ImageSetting::OnBuild { trigger } => format!("ONBUILD {trigger}"),
            ImageSetting::Shell { argv } => format!("SHELL {}", json_array(argv)),
            ImageSetting::Author { name } => format!("MAINTAINER {name}"),
        }
    }

    /// Sets the field in an image config, as BuildKit writes it.
    pub fn apply_to(&self, config: &mut ImageConfig) {
        match self {
            ImageSetting::Expose { ports } => {
                let map = config
                    .runtime_mut()
                    .exposed_ports
                    .get_or_insert_with(BTreeMap::new);
                for port in ports {
                    map.insert(port.clone(), json!({}));
                }
            }
            ImageSetting::Volume { paths } => {
                let map = config
                    .runtime_mut()
                    .volumes
                    .get_or_insert_with(BTreeMap::new);
                for path in paths {
                    map.insert(path.clone(), json!({}));
                }
            }
            ImageSetting::Healthcheck { check } => {
                let mut value = serde_json::Map::new();
                value.insert("Test".into(), json!(check.test));
                for (key, ns) in [
                    ("Interval", check.interval),
                    ("Timeout", check.timeout),
                    ("StartPeriod", check.start_period),
                    ("StartInterval", check.start_interval),
                ] {
                    if let Some(ns) = ns.filter(|n| *n > 0) {
                        value.insert(key.into(), json!(ns));
                    }
                }
                if let Some(r) = check.retries.filter(|r| *r > 0) {
                    value.insert("Retries".into(), json!(r));
                }
                config
                    .runtime_mut()
                    .extra
                    .insert("Healthcheck".into(), Value::Object(value));
            }
            ImageSetting::StopSignal { signal } => {
                config.runtime_mut().stop_signal = Some(signal.clone())
            }
            ImageSetting::OnBuild { trigger } => {
                let runtime = config.runtime_mut();
                let mut list: Vec<String> = runtime
                    .extra
                    .get("OnBuild")
                    .and_then(|v| serde_json::from_value(v.clone()).ok())
                    .unwrap_or_default();
                list.push(trigger.clone());
                runtime.extra.insert("OnBuild".into(), json!(list));
            }
            ImageSetting::Shell { argv } => {
                config
                    .runtime_mut()
                    .extra
                    .insert("Shell".into(), json!(argv));
            }
            ImageSetting::Author { name } => {
                config.extra.insert("author".into(), json!(name));
            }
        }
    }

    /// What makes the setting invalid, if anything.
    pub fn problem(&self) -> Option<String> {
        let line_break = self.strings().iter().any(|s| s.contains(['\n', '\r']));
        match self {
            _ if line_break => Some("an image setting cannot hold a line break".into()),
            ImageSetting::Expose { ports } if ports.is_empty() => {
                Some("EXPOSE needs at least one port".into())
            }
            ImageSetting::Volume { paths } if paths.is_empty() => {
                Some("VOLUME needs at least one path".into())
            }
            ImageSetting::Shell { argv } if argv.is_empty() => {
                Some("SHELL needs at least the shell's program".into())
            }
            ImageSetting::OnBuild { trigger: text } | ImageSetting::Author { name: text }
                if text.trim_start().starts_with("--") =>
            {
                let (what, instruction) = match self {
                    ImageSetting::OnBuild { .. } => ("ONBUILD trigger", "ONBUILD"),
                    _ => ("author", "MAINTAINER"),
                };
                Some(format!(
                    "the {what} `{text}` starts with `--`, which a Dockerfile reads as a flag of {instruction} \
                     (BuildKit too), so no Dockerfile can hold it: start it with something else"
                ))
            }
            ImageSetting::Healthcheck { check } => match check.test.first().map(String::as_str) {
                Some("NONE") if check.test.len() == 1 => None,
                Some("CMD") if check.test.len() > 1 => None,
                Some("CMD-SHELL") if check.test.len() == 2 => None,
                _ => Some(
                    "a health check's test is `[\"NONE\"]`, `[\"CMD\", argv…]` or `[\"CMD-SHELL\", command]`"
                        .into(),
                ),
            },
            _ => None,
        }
    }

    /// The strings the setting holds (for the recipe's checks on line breaks and NULs).
    pub fn strings(&self) -> Vec<&str> {
        match self {
            ImageSetting::Expose { ports: items }
            | ImageSetting::Volume { paths: items }
            | ImageSetting::Shell { argv: items } => items.iter().map(String::as_str).collect(),
            ImageSetting::Healthcheck { check } => check.test.iter().map(String::as_str).collect(),
            ImageSetting::StopSignal { signal: s }
            | ImageSetting::OnBuild { trigger: s }
            | ImageSetting::Author { name: s } => vec![s.as_str()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_render_and_apply_as_buildkit_writes_them() {
        let mut config = ImageConfig::default();
        let settings = [
            ImageSetting::Expose {
                ports: vec!["80/tcp".into(), "53/udp".into()],
            },
            ImageSetting::Volume {
                paths: vec!["/data".into()],
            },
            ImageSetting::Healthcheck {
                check: HealthCheck {
                    test: vec!["CMD-SHELL".into(), "true".into()],
                    interval: Some(30_000_000_000),
                    timeout: Some(1_500_000_000),
                    retries: Some(3),
                    ..HealthCheck::default()
                },
            },
            ImageSetting::StopSignal {
                signal: "SIGQUIT".into(),
            },
            ImageSetting::OnBuild {
                trigger: "RUN echo hi".into(),
            },
            ImageSetting::Shell {
                argv: vec!["/bin/sh".into(), "-ec".into()],
            },
            ImageSetting::Author {
                name: "someone <a@b>".into(),
            },
        ];
        let lines: Vec<String> = settings.iter().map(ImageSetting::dockerfile_line).collect();
        assert_eq!(
            lines,
            [
                "EXPOSE 80/tcp 53/udp",
                "VOLUME [\"/data\"]",
                "HEALTHCHECK --interval=30s --timeout=1500ms --retries=3 CMD true",
                "STOPSIGNAL SIGQUIT",
                "ONBUILD RUN echo hi",
                "SHELL [\"/bin/sh\",\"-ec\"]",
                "MAINTAINER someone <a@b>",
            ]
        );
        for s in &settings {
            s.apply_to(&mut config);
        }
        let json: Value = serde_json::to_value(&config).unwrap();
        assert_eq!(
            json["config"]["ExposedPorts"],
            json!({"53/udp": {}, "80/tcp": {}})
        );
        assert_eq!(json["config"]["Volumes"], json!({"/data": {}}));
        assert_eq!(
            json["config"]["Healthcheck"],
            json!({"Test": ["CMD-SHELL", "true"], "Interval": 30_000_000_000u64, "Timeout": 1_500_000_000u64, "Retries": 3})
        );
        assert_eq!(json["config"]["StopSignal"], "SIGQUIT");
        assert_eq!(json["config"]["OnBuild"], json!(["RUN echo hi"]));
        assert_eq!(json["config"]["Shell"], json!(["/bin/sh", "-ec"]));
        assert_eq!(json["author"], "someone <a@b>");
    }

    #[test]
    fn values_a_dockerfile_reads_as_flags_are_quoted_or_refused() {
        let signal = ImageSetting::StopSignal {
            signal: "--x".into(),
        };
        assert_eq!(signal.dockerfile_line(), "STOPSIGNAL \"--x\"");
        assert_eq!(signal.problem(), None);
        for setting in [
            ImageSetting::Author {
                name: "--someone".into(),
            },
            ImageSetting::OnBuild {
                trigger: "--mount RUN x".into(),
            },
        ] {
            let problem = setting.problem().unwrap();
            assert!(problem.contains("starts with `--`"), "{problem}");
            assert!(
                problem.contains("start it with something else"),
                "{problem}"
            );
        }
        let single_dash = ImageSetting::Author { name: "-x".into() };
        assert_eq!(single_dash.problem(), None);
    }
}
