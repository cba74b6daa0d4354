//! `EXPOSE`, `VOLUME`, `HEALTHCHECK`, `STOPSIGNAL`, `ONBUILD`, `SHELL` and `MAINTAINER`: image
//! settings, read as BuildKit's `instructions/parse.go` reads them.

use super::{Flags, Reader, json_array, no_flags};
use crate::op::Op;
use crate::setting::{HealthCheck, ImageSetting};
use crate::words::split_words;

impl Reader<'_> {
    /// Reads one settings instruction; `text` is the whole logical line (ONBUILD keeps it).
    pub(super) fn setting(
        &mut self,
        keyword: &str,
        flags: Flags,
        rest: &str,
        text: &str,
    ) -> Result<(), String> {
        if !matches!(keyword, "HEALTHCHECK" | "ONBUILD") {
            no_flags(keyword, &flags)?;
        }
        let setting = match keyword {
            "EXPOSE" => self.expose(rest)?,
            "VOLUME" => self.volume(rest)?,
            "HEALTHCHECK" => ImageSetting::Healthcheck {
                check: self.healthcheck(flags, rest)?,
            },
            "STOPSIGNAL" => {
                let words = split_words(rest, self.escape);
                let [signal] = words.as_slice() else {
                    return Err("STOPSIGNAL takes one signal, e.g. `STOPSIGNAL SIGTERM`".into());
                };
                ImageSetting::StopSignal {
                    signal: self.expand(signal)?,
                }
            }
            "ONBUILD" => self.on_build(text)?,
            "SHELL" => {
                let argv = json_array(rest)?
                    .ok_or("SHELL takes a JSON array, e.g. `SHELL [\"/bin/bash\", \"-c\"]`")?;
                if argv.is_empty() {
                    return Err("SHELL needs at least the shell's program".into());
                }
                self.stage().shell = Some(argv.clone());
                ImageSetting::Shell { argv }
            }
            "MAINTAINER" => {
                if rest.is_empty() {
                    return Err("MAINTAINER needs a name".into());
                }
                ImageSetting::Author {
                    name: rest.to_owned(),
                }
            }
            other => unreachable!("`{other}` is not a settings instruction"),
        };
        let line = crate::history::setting_line(&setting);
        self.push(Op::Config { setting });
        if let Some(line) = line {
            self.history(line, false);
        }
        Ok(())
    }

    fn expose(&mut self, rest: &str) -> Result<ImageSetting, String> {
        let mut ports = Vec::new();
        for w in split_words(rest, self.escape) {
            ports.extend(port_specs(&self.expand(&w)?)?);
        }
        if ports.is_empty() {
            return Err("EXPOSE needs at least one port, e.g. `EXPOSE 8080/tcp`".into());
        }
        Ok(ImageSetting::Expose { ports })
    }

    fn volume(&mut self, rest: &str) -> Result<ImageSetting, String> {
        let raw = match json_array(rest)? {
            Some(list) => list,
            None => split_words(rest, self.escape),
        };
        let mut paths = Vec::new();
        for w in raw {
            let path = self.expand(&w)?;
            if path.trim().is_empty() {
                return Err("VOLUME has an empty path".into());
            }
            paths.push(path);
        }
        if paths.is_empty() {
            return Err("VOLUME needs at least one path, e.g. `VOLUME /data`".into());
        }
        Ok(ImageSetting::Volume { paths })
    }

    /// `ONBUILD`: the trigger as written; it runs in a later build on this image.
    fn on_build(&mut self, text: &str) -> Result<ImageSetting, String> {
        if !self.heredocs.is_empty() {
            return Err(
                "ONBUILD with a heredoc is not supported: write the trigger without one (a RUN joined with `&&`, or a COPY of a file)"
                    .into(),
            );
        }
        let trigger = text
            .trim_start()
            .split_once(char::is_whitespace)
            .map_or("", |(_, t)| t)
            .trim();
        let inner = trigger
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        match inner.as_str() {
            "" => return Err("ONBUILD needs an instruction, e.g. `ONBUILD RUN make`".into()),
            "ONBUILD" => return Err("chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into()),
            "FROM" | "MAINTAINER" => {
                return Err(format!("{inner} isn't allowed as an ONBUILD trigger"));
            }
            _ => {}
        }
        self.stage().on_build.push(trigger.to_owned());
        Ok(ImageSetting::OnBuild {
            trigger: trigger.to_owned(),
        })
    }

    fn healthcheck(&mut self, flags: Flags, rest: &str) -> Result<HealthCheck, String> {
        let (kind, command) = rest
            .split_once(char::is_whitespace)
            .map_or((rest, ""), |(k, c)| (k, c.trim_start()));
        let mut check = HealthCheck::default();
        match kind.to_ascii_uppercase().as_str() {
            "NONE" => {
                if !command.is_empty() || !flags.is_empty() {
                    return Err("HEALTHCHECK NONE takes no arguments or flags".into());
                }
                check.test = vec!["NONE".into()];
                return Ok(check);
            }
            "CMD" => {}
            _ => {
                return Err(
                    "HEALTHCHECK takes `NONE` or `[--interval=…] CMD command`, e.g. `HEALTHCHECK CMD curl -f http://localhost/`"
                        .into(),
                );
            }
        }
        if command.is_empty() {
            return Err("HEALTHCHECK CMD needs a command".into());
        }
        check.test = match json_array(command)? {
            Some(argv) if !argv.is_empty() => {
                std::iter::once("CMD".to_owned()).chain(argv).collect()
            }
            Some(_) => return Err("HEALTHCHECK CMD [] has no command".into()),
            None => vec!["CMD-SHELL".into(), command.to_owned()],
        };
        for (name, value) in flags {
            let value = value.ok_or(format!("the HEALTHCHECK flag `--{name}` needs a value"))?;
            let duration = || -> Result<Option<u64>, String> {
                let ns = parse_duration(&value).ok_or(format!(
                    "`--{name}={value}` is not a duration like `30s` or `1m30s`"
                ))?;
                if ns != 0 && ns < 1_000_000 {
                    return Err(format!("`--{name}` cannot be less than 1ms"));
                }
                Ok((ns != 0).then_some(ns))
            };
            match name.as_str() {
                "interval" => check.interval = duration()?,
                "timeout" => check.timeout = duration()?,
                "start-period" => check.start_period = duration()?,
                "start-interval" => check.start_interval = duration()?,
                "retries" => {
                    let r: i64 = value
                        .parse()
                        .map_err(|_| format!("`--retries={value}` is not a number"))?;
                    if r < 0 {
                        return Err("`--retries` cannot be negative".into());
                    }
                    check.retries = u32::try_from(r).ok().filter(|r| *r > 0);
                }
                other => return Err(format!("the HEALTHCHECK flag `--{other}` is not supported")),
            }
        }
        Ok(check)
    }
}

/// `80`, `80/tcp`, `8000-8002/udp` → `["80/tcp"]`, … (docker's `nat.ParsePortSpecs`, without
/// host IPs, which a Dockerfile cannot give).
fn port_specs(spec: &str) -> Result<Vec<String>, String> {
    let (ports, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("`{spec}`: the protocol must be tcp, udp or sctp"));
    }
    let bad = || format!("`{spec}` is not a port, e.g. `80`, `53/udp` or `8000-8010`");
    let (start, end) = match ports.split_once('-') {
        Some((a, b)) => (a, b),
        None => (ports, ports),
    };
    let start: u16 = start.parse().map_err(|_| bad())?;
    let end: u16 = end.parse().map_err(|_| bad())?;
    if end < start {
        return Err(bad());
    }
    Ok((start..=end).map(|p| format!("{p}/{proto}")).collect())
}

/// A Go `time.ParseDuration` string in nanoseconds (`1m30s`, `1.5s`, `500ms`, `0`).
pub(crate) fn parse_duration(text: &str) -> Option<u64> {
    if text == "0" {
        return Some(0);
    }
    let mut rest = text;
    let mut total: f64 = 0.0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_end].parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += number * scale;
    }
    (total.is_finite() && total < 1.8e19).then(|| total.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_ports_read_as_go_and_docker_read_them() {
        assert_eq!(parse_duration("30s"), Some(30_000_000_000));
        assert_eq!(parse_duration("1m30s"), Some(90_000_000_000));
        assert_eq!(parse_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_duration("250ms"), Some(250_000_000));
        assert_eq!(parse_duration("0"), Some(0));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("5d"), None);
        assert_eq!(port_specs("80").unwrap(), ["80/tcp"]);
        assert_eq!(port_specs("53/UDP").unwrap(), ["53/udp"]);
        assert_eq!(
            port_specs("8000-8002").unwrap(),
            ["8000/tcp", "8001/tcp", "8002/tcp"]
        );
        assert!(port_specs("http").is_err());
        assert!(port_specs("80/xtp").is_err());
    }
}
