//! The run's context, when the configuration leaves it unset: the commit
//! and branch measured, and the CI pipeline and its trigger, from the CI's
//! own variables (GitHub Actions, GitLab CI) or else from git.

use std::collections::BTreeMap;

use super::schema::Config;
use super::source::Source;

/// Fills `config`'s commit, branch, pipeline and trigger that are still
/// empty; returns the keys found and where from (a value that falls back to
/// its default is not listed).
pub(super) fn detect(
    config: &mut Config,
    env: &BTreeMap<String, String>,
) -> Vec<(&'static str, Source)> {
    let var = |names: &[&'static str]| {
        names.iter().find_map(|n| {
            env.get(*n)
                .filter(|v| !v.is_empty())
                .map(|v| (v.clone(), Source::Env((*n).into())))
        })
    };
    let git = |args: &[&str]| {
        crate::command::git(None, args)
            .ok()
            .filter(|out| !out.is_empty())
            .map(|out| (out, Source::Git))
    };
    let mut found = Vec::new();
    let slots = [
        (
            "commit",
            &mut config.commit,
            "unknown",
            var(&["GITHUB_SHA", "CI_COMMIT_SHA"]).or_else(|| git(&["rev-parse", "HEAD"])),
        ),
        (
            "branch",
            &mut config.branch,
            "unknown",
            var(&["GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME"])
                .or_else(|| git(&["rev-parse", "--abbrev-ref", "HEAD"])),
        ),
        (
            "pipeline",
            &mut config.pipeline,
            "local",
            var(&["GITHUB_WORKFLOW", "CI_PIPELINE_NAME", "CI_JOB_NAME"]),
        ),
        (
            "trigger",
            &mut config.trigger,
            "manual",
            var(&["GITHUB_EVENT_NAME", "CI_PIPELINE_SOURCE"]),
        ),
    ];
    for (key, slot, fallback, value) in slots {
        if !slot.is_empty() {
            continue;
        }
        match value {
            Some((value, source)) => {
                *slot = value;
                found.push((key, source));
            }
            None => *slot = fallback.into(),
        }
    }
    found
}
