//! `FROM`: a stage on an image, scratch or an earlier stage, and the base's `ONBUILD` triggers.

use plinth_oci::Platform;

use super::vars::Vars;
use super::{Flags, Reader, Stage, source_chain};
use crate::Container;
use crate::op::Op;
use crate::setting::ImageSetting;
use crate::source::ImageSource;

impl Reader<'_> {
    /// The platform `FROM --platform=…` pins the stage to, expanded with the global and the
    /// automatic platform args; `None` without the flag or when it names the build's platform
    /// (so such a stage is the same recipe as one without the flag).
    pub(super) fn stage_platform(
        &self,
        flags: &Flags,
    ) -> std::result::Result<Option<Platform>, String> {
        let mut wanted = None;
        for (name, value) in flags {
            if name != "platform" {
                return Err(format!("the FROM flag `--{name}` is not supported"));
            }
            let value = self.expand_in(value.as_deref().unwrap_or(""), None)?;
            let platform = value.parse::<Platform>().map_err(|e| {
                format!("`FROM --platform={value}` is not a platform (`os/arch[/variant]`): {e}")
            })?;
            wanted = Some(platform);
        }
        let build = self.options.platform.clone().unwrap_or_else(Platform::host);
        Ok(wanted.filter(|w| !(w.matches(&build) || build.matches(w))))
    }

    pub(super) fn from(&mut self, flags: Flags, rest: &str) -> std::result::Result<(), String> {
        let platform = self.stage_platform(&flags)?;
        let (image, name) = super::plan::from_words(rest)?;
        // FROM sees the global args only.
        let image = self.expand_in(image, None)?;
        let mut stage = Stage::new(name, true);
        let mut triggers = Vec::new();
        if let Some(base) = self.find_stage(&image) {
            if !base.needed {
                return Err(format!(
                    "the stage `{image}` was judged unneeded, so it was not read: name it directly in FROM"
                ));
            }
            if platform.is_some() && platform.as_ref() != base.container.platform() {
                return Err(format!(
                    "`FROM --platform=…` names another platform than the stage `{image}` was built for: \
                     a stage built on a stage keeps its platform; put `--platform` on the FROM of `{image}`"
                ));
            }
            // BuildKit's stage inherits its base stage's run state (ARG values included) and
            // its platform.
            stage.container = base.container.clone();
            stage.vars = base.vars.clone();
            stage.shell = base.shell.clone();
            stage.base_workdir = base.base_workdir.clone();
            triggers = base.on_build.clone();
        } else if image != "scratch" {
            let source =
                ImageSource::parse(&image).map_err(|e| format!("{e}{}", source_chain(&e)))?;
            stage.container = Container::from_image(source);
            let config = match &platform {
                None => self.options.base_configs.get(&image),
                Some(p) => self
                    .options
                    .platform_base_configs
                    .get(&(p.clone(), image.clone())),
            };
            match config {
                Some(base) => {
                    triggers = base.on_build.clone();
                    stage.vars = Vars::from_base_env(&base.env);
                    stage.shell = base.shell.clone();
                    stage.base_workdir = base.workdir.clone();
                }
                None => stage.vars = Vars::unknown_base(),
            }
        }
        if let Some(platform) = platform
            && self.find_stage(&image).is_none()
        {
            stage.container = stage.container.with_platform(platform);
        }
        self.stages.push(stage);
        self.run_triggers(&image, &triggers)
    }

    /// Runs a base's `ONBUILD` triggers right after its `FROM`, in order, as BuildKit does,
    /// then drops them from the image.
    fn run_triggers(
        &mut self,
        image: &str,
        triggers: &[String],
    ) -> std::result::Result<(), String> {
        if triggers.is_empty() {
            return Ok(());
        }
        for trigger in triggers {
            let keyword = trigger
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            if matches!(keyword.as_str(), "ONBUILD" | "FROM" | "MAINTAINER") {
                return Err(format!(
                    "the base `{image}` has the ONBUILD trigger `{trigger}`, and {keyword} isn't allowed as a trigger \
                     (BuildKit refuses it too): build from an image without it"
                ));
            }
            self.instruction(trigger).map_err(|e| {
                format!("the ONBUILD trigger `{trigger}` of the base `{image}`: {e}")
            })?;
        }
        self.push(Op::Config {
            setting: ImageSetting::OnBuildTriggersRan,
        });
        Ok(())
    }

    pub(super) fn find_stage(&self, name: &str) -> Option<&Stage> {
        let lower = name.to_ascii_lowercase();
        if let Some(s) = self
            .stages
            .iter()
            .find(|s| s.name.as_deref() == Some(lower.as_str()))
        {
            return Some(s);
        }
        name.parse::<usize>().ok().and_then(|i| self.stages.get(i))
    }
}
