//! BuildKit's plain progress (`--progress=plain`), read line by line: which recipe step each
//! vertex is, its output, whether it was cached, and on failure the step, its Dockerfile line
//! and the tail of its output.
//!
//! ```text
//! #5 [stage-1 2/4] RUN ["sh","-c","make"]
//! #5 0.463 compiling…
//! #5 ERROR: executor failed running [sh -c make]: exit code: 2
//! ```
//!
//! Vertices are numbered `[<stage> k/M]` per stage, counting `FROM` and every instruction
//! that changes the filesystem (`RUN`, `COPY`, `ADD`, `WORKDIR`); `ENV`, `LABEL`, `USER`,
//! `ENTRYPOINT` and `CMD` only change the config and have no vertex.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use plinth_executor::{BuildReporter, CacheStatus, StepReport};
use plinth_oci::Platform;
use plinth_recipe::{Container, Op};
use regex::Regex;

/// How many output lines of a failing step the error keeps.
pub const OUTPUT_TAIL_LINES: usize = 25;

/// A failed BuildKit build, with the failing step when BuildKit named one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildFailure {
    /// The platform being built.
    pub platform: String,
    /// The builder it ran on.
    pub builder: String,
    /// 0-based index of the failing operation of the recipe, when it is a step of the recipe
    /// itself (not of a helper container).
    pub step: Option<usize>,
    /// The failing instruction as BuildKit names it (`RUN ["sh","-c","make"]`).
    pub instruction: Option<String>,
    /// Its 1-based line in the generated Dockerfile.
    pub line: Option<usize>,
    /// BuildKit's error message.
    pub message: String,
    /// The last lines of the step's output.
    pub output: Vec<String>,
}

impl fmt::Display for BuildFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let on = format!("on {} (builder `{}`)", self.platform, self.builder);
        match (&self.instruction, self.step) {
            (Some(instruction), Some(step)) => {
                write!(f, "BuildKit failed step #{} {on}: {instruction}", step + 1)?
            }
            (Some(instruction), None) => write!(f, "BuildKit failed {on} at: {instruction}")?,
            (None, _) => write!(f, "BuildKit failed the build {on}")?,
        }
        if let Some(line) = self.line {
            write!(f, " (generated Dockerfile line {line})")?;
        }
        write!(f, "\n  error: {}", self.message)?;
        if !self.output.is_empty() {
            write!(f, "\n  output (last {} lines):", self.output.len())?;
            for line in &self.output {
                write!(f, "\n    {line}")?;
            }
        }
        Ok(())
    }
}

/// The image a `FROM IMAGE [AS NAME]` vertex names.
fn name_from(instruction: &str) -> Option<&str> {
    instruction.strip_prefix("FROM ")?.split_whitespace().next()
}

/// Which recipe operation the `k`-th vertex of the final stage is.
#[derive(Clone, Debug, Default)]
pub(crate) struct StepMap {
    final_stage: Option<String>,
    vertex_ops: Vec<usize>,
}

impl StepMap {
    pub(crate) fn new(container: &Container, dockerfile: &str) -> Self {
        let ops = container.ops();
        let start = ops
            .iter()
            .rposition(|op| matches!(op, Op::From { .. }))
            .unwrap_or(0);
        let mut vertex_ops = vec![start];
        for (i, op) in ops.iter().enumerate().skip(start + 1) {
            if matches!(
                op,
                Op::Exec { .. } | Op::File { .. } | Op::Directory { .. } | Op::Workdir { .. }
            ) {
                vertex_ops.push(i);
            }
        }
        let stages = dockerfile
            .lines()
            .filter(|l| l.starts_with("FROM "))
            .count();
        let final_stage = (stages > 1).then(|| format!("stage-{}", stages - 1));
        Self {
            final_stage,
            vertex_ops,
        }
    }

    fn step(&self, stage: Option<&str>, k: usize, m: usize) -> Option<usize> {
        if stage != self.final_stage.as_deref() || m != self.vertex_ops.len() || k == 0 {
            return None;
        }
        self.vertex_ops.get(k - 1).copied()
    }
}

#[derive(Debug)]
struct Vertex {
    instruction: Option<String>,
    step: Option<usize>,
    output: Vec<String>,
    started: Instant,
    cached: bool,
    /// Whether BuildKit unpacked layers for it (a `FROM` that pulled its root).
    extracted: bool,
    error: Option<String>,
}

/// Reads the progress of one platform build, reporting steps as they go.
pub(crate) struct ProgressReader<'a> {
    pub(crate) platform: &'a Platform,
    pub(crate) builder: String,
    pub(crate) container: &'a Container,
    pub(crate) dockerfile: &'a str,
    pub(crate) map: StepMap,
    pub(crate) reporter: &'a dyn BuildReporter,
    vertices: BTreeMap<u64, Vertex>,
    other: Vec<String>,
    /// The report of each recipe step BuildKit finished, by index (each reported once).
    reports: BTreeMap<usize, StepReport>,
    /// Secret values replaced by `****` in every line before it is read: BuildKit relays a
    /// step's output as the step wrote it.
    redactions: Vec<String>,
}

fn line_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^#(\d+) (.*)$").expect("valid regex"))
}

fn name_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^\[(?:(\S+) )?(\d+)/(\d+)\] (.*)$").expect("valid regex"))
}

fn output_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^\d+\.\d+ ?(.*)$").expect("valid regex"))
}

impl<'a> ProgressReader<'a> {
    pub(crate) fn new(
        platform: &'a Platform,
        builder: String,
        container: &'a Container,
        dockerfile: &'a str,
        reporter: &'a dyn BuildReporter,
    ) -> Self {
        Self {
            platform,
            builder,
            container,
            dockerfile,
            map: StepMap::new(container, dockerfile),
            reporter,
            vertices: BTreeMap::new(),
            other: Vec::new(),
            reports: BTreeMap::new(),
            redactions: Vec::new(),
        }
    }

    /// Replaces these values (the build's secrets) by `****` in everything read.
    pub(crate) fn with_redactions(mut self, values: Vec<String>) -> Self {
        self.redactions = values;
        self
    }

    /// `line` with the secrets replaced, as it may be logged.
    pub(crate) fn redacted(&self, line: &str) -> String {
        plinth_executor::redact_line(line, &self.redactions)
    }

    /// Takes one line of the client's stderr.
    pub(crate) fn feed(&mut self, line: &str) {
        let line = &self.redacted(line);
        let Some(caps) = line_re().captures(line) else {
            if !line.trim().is_empty() {
                self.other.push(line.to_owned());
                let excess = self.other.len().saturating_sub(200);
                self.other.drain(..excess);
            }
            return;
        };
        let id: u64 = caps[1].parse().unwrap_or(0);
        let rest = caps[2].to_owned();
        if let std::collections::btree_map::Entry::Vacant(slot) = self.vertices.entry(id) {
            // The first line of a vertex is its name.
            let (instruction, step) = match name_re().captures(&rest) {
                Some(n) => {
                    let k = n[2].parse().unwrap_or(0);
                    let m = n[3].parse().unwrap_or(0);
                    (
                        Some(n[4].to_owned()),
                        self.map.step(n.get(1).map(|s| s.as_str()), k, m),
                    )
                }
                None => (None, None),
            };
            if let (Some(i), Some(text)) = (step, &instruction) {
                self.reporter.on_step_start(self.platform, i, text);
            }
            slot.insert(Vertex {
                instruction,
                step,
                output: Vec::new(),
                started: Instant::now(),
                cached: false,
                extracted: false,
                error: None,
            });
            return;
        }
        let v = self.vertices.get_mut(&id).expect("inserted above");
        if let Some(out) = output_re().captures(&rest) {
            let text = out[1].to_owned();
            if let Some(i) = v.step {
                self.reporter.on_step_output(self.platform, i, &text);
            }
            v.output.push(text);
            let excess = v.output.len().saturating_sub(OUTPUT_TAIL_LINES);
            v.output.drain(..excess);
        } else if rest == "CACHED" {
            v.cached = true;
        } else if rest.starts_with("extracting sha256:") {
            v.extracted = true;
        } else if let Some(msg) = rest
            .strip_prefix("ERROR:")
            .or_else(|| rest.strip_prefix("ERROR "))
        {
            v.error = Some(msg.trim().to_owned());
        }
        // A vertex may be printed again later; it is reported once.
        if (rest == "CACHED" || rest.starts_with("DONE"))
            && let Some(i) = v.step
            && !self.reports.contains_key(&i)
        {
            // BuildKit marks a `FROM` done, not cached, whenever it resolved the reference
            // again; it only did work if it unpacked layers (as the embedded engine counts it).
            let op = &self.container.ops()[i];
            let root_at_hand = matches!(op, Op::From { .. }) && !v.extracted && !v.cached;
            let (status, explanation) = if v.cached {
                (CacheStatus::Hit, "BuildKit found the step in its cache")
            } else if root_at_hand {
                (
                    CacheStatus::Hit,
                    "BuildKit already held the root image's layers",
                )
            } else {
                (CacheStatus::Miss, "BuildKit ran the step")
            };
            let report = StepReport {
                index: i,
                description: v.instruction.clone().unwrap_or_default(),
                status,
                duration: if v.cached {
                    Duration::ZERO
                } else {
                    v.started.elapsed()
                },
                key: op.op_digest(),
                explanation: explanation.to_owned(),
                layer: None,
            };
            self.reporter.on_step_done(self.platform, &report);
            self.reports.insert(i, report);
        }
    }

    /// The digest BuildKit resolved each root image to, by the address it printed
    /// (`FROM ADDRESS@sha256:…` vertices).
    pub(crate) fn resolved_roots(&self) -> BTreeMap<String, plinth_oci::Digest> {
        self.vertices
            .values()
            .filter_map(|v| {
                let from = name_from(v.instruction.as_deref()?)?;
                let (address, digest) = from.rsplit_once('@')?;
                Some((address.to_owned(), digest.parse().ok()?))
            })
            .collect()
    }

    /// The report of every recipe step BuildKit finished, in recipe order (config-only steps
    /// have none).
    pub(crate) fn into_reports(self) -> Vec<StepReport> {
        self.reports.into_values().collect()
    }

    /// The failure, from the failing vertex if there is one, else from the client's last words.
    pub(crate) fn failure(&self) -> BuildFailure {
        let failed = self
            .vertices
            .values()
            .find(|v| v.error.is_some() && v.instruction.is_some())
            .or_else(|| self.vertices.values().find(|v| v.error.is_some()));
        match failed {
            Some(v) => BuildFailure {
                platform: self.platform.to_string(),
                builder: self.builder.clone(),
                step: v.step,
                line: v
                    .instruction
                    .as_deref()
                    .and_then(|i| self.dockerfile.lines().position(|l| l == i).map(|n| n + 1)),
                instruction: v.instruction.clone(),
                message: v.error.clone().unwrap_or_default(),
                output: v.output.clone(),
            },
            None => {
                let keep = self.other.len().saturating_sub(6);
                let last = &self.other[keep..];
                BuildFailure {
                    platform: self.platform.to_string(),
                    builder: self.builder.clone(),
                    step: None,
                    instruction: None,
                    line: None,
                    message: if last.is_empty() {
                        "the docker client exited without saying why".to_owned()
                    } else {
                        last.join("\n    ")
                    },
                    output: Vec::new(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plinth_executor::NoReporter;

    const FAILING: &str = "\
#1 [internal] load build definition from Dockerfile
#1 transferring dockerfile: 143B 0.0s done
#1 DONE 0.1s
#5 [1/3] FROM 127.0.0.1:5000/bb:1
#5 CACHED
#4 [2/3] RUN [\"sh\",\"-c\",\"echo hi > /x\"]
#4 DONE 0.3s
#6 [3/3] RUN [\"sh\",\"-c\",\"echo line-one; exit 3\"]
#6 0.597 line-one
#6 0.598 to-stderr
#6 ERROR: executor failed running [sh -c echo line-one; exit 3]: exit code: 3
------
 > [3/3] RUN [\"sh\",\"-c\",\"echo line-one; exit 3\"]:
------
executor failed running [sh -c echo line-one; exit 3]: exit code: 3
";

    #[test]
    fn a_failing_step_is_named_with_its_line_and_output() {
        let c = Container::from_address("127.0.0.1:5000/bb:1")
            .unwrap()
            .with_env("A", "1")
            .with_exec(["sh", "-c", "echo hi > /x"])
            .with_exec(["sh", "-c", "echo line-one; exit 3"]);
        let dockerfile = "FROM 127.0.0.1:5000/bb:1\nENV A=\"1\"\nRUN [\"sh\",\"-c\",\"echo hi > /x\"]\nRUN [\"sh\",\"-c\",\"echo line-one; exit 3\"]\n";
        let platform = Platform::linux_amd64();
        let mut r = ProgressReader::new(&platform, "local".into(), &c, dockerfile, &NoReporter);
        for line in FAILING.lines() {
            r.feed(line);
        }
        let f = r.failure();
        assert_eq!(f.step, Some(3));
        assert_eq!(f.line, Some(4));
        assert_eq!(f.output, ["line-one", "to-stderr"]);
        assert_eq!(
            f.to_string(),
            "BuildKit failed step #4 on linux/amd64 (builder `local`): RUN [\"sh\",\"-c\",\"echo line-one; exit 3\"] \
             (generated Dockerfile line 4)\n  error: executor failed running [sh -c echo line-one; exit 3]: exit code: 3\n  \
             output (last 2 lines):\n    line-one\n    to-stderr"
        );
        let statuses: Vec<_> = r
            .into_reports()
            .into_iter()
            .map(|s| (s.index, s.status))
            .collect();
        assert_eq!(statuses, [(0, CacheStatus::Hit), (2, CacheStatus::Miss)]);
    }

    #[test]
    fn a_from_counts_as_run_only_when_layers_were_unpacked() {
        let c = Container::from_address("127.0.0.1:5000/bb:1")
            .unwrap()
            .with_exec(["true"]);
        let dockerfile = "FROM 127.0.0.1:5000/bb:1\nRUN [\"true\"]\n";
        let platform = Platform::linux_amd64();
        let statuses = |progress: &str| {
            let mut r = ProgressReader::new(&platform, "local".into(), &c, dockerfile, &NoReporter);
            for line in progress.lines() {
                r.feed(line);
            }
            r.into_reports()
                .iter()
                .map(|s| (s.index, s.status))
                .collect::<Vec<_>>()
        };
        // Resolved again, layers already held (as docker 20.10 prints it).
        let resolved = "\
#5 [1/2] FROM 127.0.0.1:5000/bb:1@sha256:929bf32fc789b49f16afd17c9ac68fdd2e87f6c4cf32f14e1b260fbe90dad1fc
#5 resolve 127.0.0.1:5000/bb:1@sha256:929bf32fc789b49f16afd17c9ac68fdd2e87f6c4cf32f14e1b260fbe90dad1fc done
#5 sha256:929bf32fc789b49f16afd17c9ac68fdd2e87f6c4cf32f14e1b260fbe90dad1fc 527B / 527B done
#5 DONE 0.0s
#4 [2/2] RUN [\"true\"]
#4 CACHED
";
        assert_eq!(
            statuses(resolved),
            [(0, CacheStatus::Hit), (1, CacheStatus::Hit)]
        );
        let pulled = "\
#5 [1/2] FROM 127.0.0.1:5000/bb:1@sha256:929bf32fc789b49f16afd17c9ac68fdd2e87f6c4cf32f14e1b260fbe90dad1fc
#5 sha256:5d98b29c92be53bfa8929a2025d82e47f614af1b081e9b37c9a8c9c2a97826a9 1.05MB / 1.05MB 0.1s done
#5 extracting sha256:5d98b29c92be53bfa8929a2025d82e47f614af1b081e9b37c9a8c9c2a97826a9 0.1s done
#5 DONE 0.3s
#4 [2/2] RUN [\"true\"]
#4 DONE 0.2s
";
        assert_eq!(
            statuses(pulled),
            [(0, CacheStatus::Miss), (1, CacheStatus::Miss)]
        );
    }

    #[test]
    fn helper_stages_do_not_map_to_recipe_steps() {
        let helper = Container::from_address("127.0.0.1:5000/bb:1")
            .unwrap()
            .with_exec(["true"]);
        let c = Container::from_address("127.0.0.1:5000/bb:1")
            .unwrap()
            .with_directory(
                "/out",
                plinth_recipe::DirectorySource::container(&helper, "/x"),
            );
        let dockerfile = "FROM a AS stage0\nRUN [\"true\"]\n\nFROM a\nCOPY --from=stage0 /x /out\n";
        let map = StepMap::new(&c, dockerfile);
        assert_eq!(map.step(Some("stage0"), 2, 2), None);
        assert_eq!(map.step(Some("stage-1"), 2, 2), Some(1));
        assert_eq!(map.step(None, 2, 2), None);
    }

    #[test]
    fn a_failure_without_a_vertex_keeps_the_last_words() {
        let c = Container::from_address("127.0.0.1:5000/bb:1").unwrap();
        let platform = Platform::linux_arm64();
        let mut r = ProgressReader::new(&platform, "tcp://h:1".into(), &c, "FROM x\n", &NoReporter);
        r.feed("failed to solve with frontend dockerfile.v0: failed to create LLB definition: not found");
        let text = r.failure().to_string();
        assert!(
            text.starts_with("BuildKit failed the build on linux/arm64 (builder `tcp://h:1`)"),
            "{text}"
        );
        assert!(text.contains("not found"), "{text}");
    }
}
