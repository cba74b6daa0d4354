//! The example catalog `examples/file-family` copied into a test's work directory and
//! published under a namespace of its own, with a busybox stand-in for its Debian root.

use std::path::{Path, PathBuf};
use std::process::Command;

use plinth_test::{LocalRegistry, TestContext};

use crate::fixture::{Root, push_root};

/// The example file family's repository.
pub const REPOSITORY: &str = "team/base";

/// The example catalog copied into a test's work directory, published under its own namespace.
pub struct FileCatalog {
    pub ctx: TestContext,
    pub registry: &'static LocalRegistry,
    pub namespace: String,
    pub root: String,
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

impl FileCatalog {
    pub fn new(namespace: &str) -> Self {
        let registry = LocalRegistry::shared();
        let ctx = TestContext::new().with_registry_filter(registry);
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/file-family");
        let this = Self {
            registry,
            namespace: format!("{namespace}-{}", std::process::id()),
            root: push_root(registry, Root::Good),
            ctx,
        };
        copy_tree(&example, &this.catalog_dir());
        this
    }

    pub fn catalog_dir(&self) -> PathBuf {
        self.ctx.work_dir().join("catalog")
    }

    pub fn family_dir(&self) -> PathBuf {
        self.catalog_dir().join("families/base")
    }

    pub fn published(&self) -> String {
        format!("{}/{}/base", self.registry.host(), self.namespace)
    }

    /// `plinth` in the catalog directory, publishing to the loopback registry, with the busybox
    /// stand-in for the Debian root (the checks pass on both; the root is cheap).
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = self.ctx.plinth();
        cmd.current_dir(self.catalog_dir())
            .env("PLINTH_NO_PROMPT", "1")
            .args(["--registry", &self.registry.host()])
            .args(["--namespace", &self.namespace])
            .args(["--registry-mirror", &self.registry.host()])
            .arg("--substitute-image")
            .arg(format!("plinth/debian:bookworm={}", self.root))
            .args(args);
        cmd
    }

    pub fn run(&self, cmd: &mut Command) -> std::process::Output {
        cmd.output()
            .unwrap_or_else(|e| panic!("failed to run {cmd:?}: {e}"))
    }

    pub fn changelog(&self) -> serde_json::Value {
        let path = self
            .catalog_dir()
            .join("generated/changelogs/team_base.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    /// Every file below the family folder, relative, with its bytes.
    pub fn files(&self, dir: &Path) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let rel = path.strip_prefix(dir).unwrap().display().to_string();
                    out.push((rel, std::fs::read(&path).unwrap()));
                }
            }
        }
        out.sort();
        out
    }
}
