//! The sandboxed process, split by stage as in youki: [`plan`] (parent, computes every step),
//! [`spawn`] (parent, clones and supervises), [`init`] (child, walks the plan until `execve`).

pub(crate) mod init;
pub(crate) mod output;
pub(crate) mod plan;
pub(crate) mod spawn;
