//! Analysis, above measuring: the regression test and its policy,
//! baselines, the history of runs (`history` feature), the CI gate, and the
//! trends across the history (`cli` feature) with their report (`report`).

#[cfg(feature = "cli")]
pub(crate) mod analyze;
pub(crate) mod baseline;
#[cfg(feature = "cli")]
pub(crate) mod guard;
#[cfg(feature = "history")]
pub(crate) mod history;
#[cfg(feature = "cli")]
pub(crate) mod noise;
#[cfg(feature = "cli")]
pub(crate) mod paired;
#[cfg(feature = "report")]
pub(crate) mod plot;
pub(crate) mod regression;
