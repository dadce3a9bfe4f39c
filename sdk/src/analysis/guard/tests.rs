//! The gate's unit tests: its decisions on crafted runs (regressions,
//! allocations, complexity classes, the noise between runs) and what it
//! fails on besides (nothing compared, incomparable rows, paired rounds).

use super::*;

/// The gate at its default severity, `major`, allowing nothing.
fn at_major(current: &SuiteRun, base: &Baseline) -> GuardReport {
    GuardReport::compare(
        current,
        base,
        &Policy::default(),
        Severity::Major,
        Allow::default(),
    )
}

mod decisions {
    use super::*;
    use crate::measure::stats::Stats;

    fn run(means: &[(&str, f64)]) -> SuiteRun {
        let mut r = crate::results::fixtures::run("c0ffee", "main", means);
        for b in &mut r.benchmarks {
            // Spread of about 1 %, so changes above the noise floor are significant.
            b.samples_ns = (0..50)
                .map(|i| b.stats.mean * (1.0 + (i % 5) as f64 * 0.002))
                .collect();
            b.stats = Stats::from_samples(&b.samples_ns).unwrap();
        }
        r
    }

    fn baseline(means: &[(&str, f64)]) -> Baseline {
        Baseline {
            version: "main".into(),
            run: run(means),
        }
    }

    #[test]
    fn a_major_regression_fails_and_a_minor_one_does_not() {
        let base = baseline(&[("a", 100.0), ("b", 100.0), ("gone", 1.0)]);
        let current = run(&[("a", 130.0), ("b", 110.0), ("new", 1.0)]);
        let report = at_major(&current, &base);
        assert!(report.failed());
        assert_eq!(report.blocking().len(), 1);
        assert_eq!(report.blocking()[0].name, "a");
        assert_eq!(report.new, ["new"]);
        assert_eq!(report.missing, ["gone"]);
        assert!(
            report.table().ends_with(
                "1 blocking regression(s) at or above major; 1 benchmark(s) of the baseline did not run (--allow-missing lets that pass)"
            ),
            "{}",
            report.table()
        );
        let md = report.markdown();
        assert!(
            md.contains("| `a` |") && md.contains("REGRESSED (major)"),
            "{md}"
        );
        let lenient = GuardReport::compare(
            &current,
            &base,
            &Policy::default(),
            Severity::Critical,
            Allow {
                missing: true,
                ..Allow::default()
            },
        );
        assert!(!lenient.failed(), "{}", lenient.table());
    }

    fn with_allocations(mut run: SuiteRun, allocs: f64, bytes: f64) -> SuiteRun {
        for b in &mut run.benchmarks {
            b.allocations = Some(crate::results::Allocations {
                allocs,
                deallocs: allocs,
                bytes,
                peak_bytes: bytes as u64,
            });
        }
        run
    }

    #[test]
    fn more_allocations_per_iteration_fail_the_gate_at_the_same_time() {
        let base = Baseline {
            version: "main".into(),
            run: with_allocations(run(&[("a", 100.0)]), 2.0, 64.0),
        };
        let gate = |allocs: f64, bytes: f64| {
            let current = with_allocations(run(&[("a", 100.0)]), allocs, bytes);
            at_major(&current, &base)
        };
        let more = gate(3.0, 96.0);
        assert!(more.failed(), "{}", more.table());
        assert!(
            more.table()
                .contains("allocations REGRESSED (allocs/iter 2 → 3, bytes/iter 64 → 96)"),
            "{}",
            more.table()
        );
        // Amortised growth (one reallocation in 50 iterations) is not a change.
        assert!(!gate(2.02, 64.0).failed());
        // Fewer allocations are not a regression.
        assert!(!gate(1.0, 32.0).failed());
        // Same count, more bytes: a regression.
        assert!(gate(2.0, 128.0).failed());
    }

    /// A run of cases `name/n` whose means grow as `f(n)`.
    fn sized(name: &str, f: impl Fn(f64) -> f64) -> SuiteRun {
        let sizes = [64.0, 256.0, 1024.0, 4096.0, 16384.0];
        let names: Vec<String> = sizes.iter().map(|n| format!("{name}/{n}")).collect();
        let means: Vec<(&str, f64)> = names
            .iter()
            .zip(sizes)
            .map(|(name, n)| (name.as_str(), f(n)))
            .collect();
        let mut r = run(&means);
        for (b, n) in r.benchmarks.iter_mut().zip(sizes) {
            b.labels = vec![("param".into(), n.to_string())];
        }
        r
    }

    #[test]
    fn a_class_change_the_largest_case_does_not_show_is_not_counted() {
        let base = Baseline {
            version: "main".into(),
            run: sized("find", |n| 10.0 + n),
        };
        // O(n log n) by the fit, but the largest size as fast as before.
        let top = 16384.0f64;
        let scale = (10.0 + top) / (top * top.log2());
        let report = GuardReport::compare(
            &sized("find", |n| scale * n * n.log2()),
            &base,
            &Policy::default(),
            Severity::Major,
            Allow::default(),
        );
        assert_eq!(report.class_changes.len(), 1, "{}", report.table());
        let change = &report.class_changes[0];
        assert!(change.regressed());
        assert!(!change.confirmed(&report.rows, Severity::Major));
        assert!(!report.failed(), "{}", report.table());
        assert!(
            report
                .table()
                .contains("not counted: its largest case, find/16384, did not regress"),
            "{}",
            report.table()
        );
    }

    #[test]
    fn a_complexity_class_that_grows_fails_the_gate() {
        let base = Baseline {
            version: "main".into(),
            run: sized("find", |n| 10.0 + n),
        };
        let worse = GuardReport::compare(
            &sized("find", |n| 10.0 + n * n / 64.0),
            &base,
            &Policy::default(),
            Severity::Critical,
            Allow::default(),
        );
        assert_eq!(
            worse.class_changes,
            [ClassChange {
                benchmark: "find".into(),
                measure: Fitted::Time,
                baseline: Class::Linear,
                current: Class::Quadratic,
                largest: Some("find/16384".into()),
            }]
        );
        assert!(worse.failed());
        assert!(
            worse
                .failures()
                .iter()
                .any(|w| w.to_string().contains("find time: O(n) → O(n^2)")),
            "{:?}",
            worse.failures()
        );
        assert!(
            worse
                .markdown()
                .contains("| `find` time | O(n) | O(n^2) | regressed |")
        );
        let better = GuardReport::compare(
            &sized("find", |n| 10.0 + 4.0 * n.log2()),
            &base,
            &Policy::default(),
            Severity::Critical,
            Allow::default(),
        );
        assert!(better.class_changes.iter().all(|c| !c.regressed()));
        assert!(
            !better
                .failures()
                .iter()
                .any(|w| matches!(w, GateFailure::ClassesGrew(_)))
        );
    }

    #[test]
    fn a_shift_the_history_has_seen_is_not_a_regression() {
        let base = baseline(&[("a", 100.0), ("b", 100.0), ("c", 100.0)]);
        let current = run(&[("a", 125.0), ("b", 125.0), ("c", 125.0)]);
        let mut report = at_major(&current, &base);
        assert_eq!(
            report.blocking().len(),
            3,
            "the samples alone: three regressions"
        );
        let mut means = std::collections::BTreeMap::new();
        // a: unchanged code that wanders by ±15 % between runs.
        means.insert(
            "a".to_owned(),
            vec![100.0, 130.0, 95.0, 125.0, 105.0, 120.0],
        );
        // b: runs that agree within 1 %.
        means.insert("b".to_owned(), vec![100.0, 101.0, 99.0, 100.0, 100.5, 99.5]);
        // c: two runs, too few to say.
        means.insert("c".to_owned(), vec![100.0, 101.0]);
        report.weigh_history(&means, &Default::default(), &Policy::default());
        let blocking: Vec<&str> = report.blocking().iter().map(|r| r.name.as_str()).collect();
        assert_eq!(blocking, ["b", "c"]);
        // The α is shared over the three rows.
        let machine = crate::analysis::noise::machine_spread(&means);
        let row = |name: &str| report.rows.iter().find(|r| r.name == name).unwrap();
        assert_eq!(
            row("a").noise,
            Some(RunNoise::of(&means["a"], 0.01 / 3.0, machine))
        );
        assert_ne!(
            row("a").noise,
            Some(RunNoise::of(&means["a"], 0.01, machine))
        );
        let table = report.table();
        assert!(
            table.contains(
                "unchanged (the samples said REGRESSED (major); within the last 6 runs' spread"
            ),
            "{table}"
        );
        assert!(
            table.contains("2 earlier undisturbed run(s) on this machine, 5 needed"),
            "{table}"
        );
    }

    #[test]
    fn a_slow_baseline_run_does_not_hide_a_slowdown_the_baseline_commit_s_runs_show() {
        // The baseline run was measured while the machine was slow (+25 %);
        // its commit's other runs, and the branch's, run at 100.
        let base = baseline(&[("a", 125.0), ("b", 125.0)]);
        let current = run(&[("a", 130.0), ("b", 130.0)]);
        let usual: Vec<f64> = (0..8).map(|i| 100.0 + f64::from(i % 3)).collect();
        let means = std::collections::BTreeMap::from([
            ("a".to_owned(), usual.clone()),
            ("b".to_owned(), usual.clone()),
        ]);
        let compare = || at_major(&current, &base);
        let mut report = compare();
        assert!(!report.failed(), "+4 % on the baseline run alone");
        // `a`'s baseline commit has four runs in the history, `b`'s only
        // the baseline run: a level of other commits is never used.
        let baseline_runs = std::collections::BTreeMap::from([
            ("a".to_owned(), vec![100.0, 101.0, 125.0, 99.0]),
            ("b".to_owned(), vec![125.0]),
        ]);
        report.weigh_history(&means, &baseline_runs, &Policy::default());
        let blocking: Vec<&str> = report.blocking().iter().map(|r| r.name.as_str()).collect();
        assert_eq!(blocking, ["a"], "{}", report.table());
        assert!(
            report.table().contains(
                "REGRESSED (major) (beyond the last 8 runs' spread on this machine (usual 101.0 ns"
            ) && report
                .table()
                .contains("against the baseline commit's usual 100.5 ns, +30.8%"),
            "{}",
            report.table()
        );
        // Without the branch's history the baseline's level is not weighed.
        let mut alone = compare();
        alone.weigh_history(&Default::default(), &baseline_runs, &Policy::default());
        assert!(!alone.failed(), "{}", alone.table());
    }

    #[test]
    fn no_change_passes() {
        let base = baseline(&[("a", 100.0)]);
        let report = GuardReport::compare(
            &run(&[("a", 100.0)]),
            &base,
            &Policy::default(),
            Severity::Minor,
            Allow::default(),
        );
        assert!(!report.failed(), "{}", report.table());
    }
}

mod gates {
    use super::*;
    use crate::results::BenchResult;
    use crate::results::fixtures::run;

    fn baseline(run: SuiteRun) -> Baseline {
        Baseline {
            version: "main".into(),
            run,
        }
    }

    #[test]
    fn a_gate_that_compared_nothing_fails_unless_allowed() {
        let base = baseline(run("b", "main", &[("old_name", 100.0)]));
        let current = run("c", "main", &[("new_name", 100.0)]);
        let strict = at_major(&current, &base);
        assert!(strict.failed());
        assert!(
            strict.table().contains("nothing was compared"),
            "{}",
            strict.table()
        );
        let empty_run = SuiteRun::new("c", "main", Vec::new());
        assert!(at_major(&empty_run, &base).failed());
        let allow = Allow {
            empty: true,
            ..Allow::default()
        };
        assert!(
            !GuardReport::compare(&current, &base, &Policy::default(), Severity::Major, allow)
                .failed()
        );
    }

    #[test]
    fn could_not_compare_is_a_verdict_of_its_own_and_blocks_by_default() {
        let mut base_run = run("b", "main", &[("a", 100.0), ("b", 100.0)]);
        // One sample: no spread, no test.
        base_run.benchmarks[1] = BenchResult::from_samples("b", vec![100.0]).unwrap();
        let current = run("c", "main", &[("a", 100.0), ("b", 100.0)]);
        let report = at_major(&current, &baseline(base_run.clone()));
        assert_eq!(report.rows.len(), 1);
        assert_eq!(report.incomparable.len(), 1);
        assert!(
            report.incomparable[0].1.contains("1 sample"),
            "{:?}",
            report.incomparable
        );
        assert!(report.failed());
        assert!(
            report.table().contains("COULD NOT COMPARE"),
            "{}",
            report.table()
        );
        assert!(report.markdown().contains("could not compare"));
        let lenient = GuardReport::compare(
            &current,
            &baseline(base_run),
            &Policy::default(),
            Severity::Major,
            Allow {
                incomparable: true,
                ..Allow::default()
            },
        );
        assert!(!lenient.failed(), "{}", lenient.table());
    }

    #[test]
    fn paired_rounds_decide_the_time_and_too_few_make_a_row_incomparable() {
        // The pooled samples say +30 % (major for Welch); the rounds, A and B
        // alternating on a machine whose speed drifts, say 3 % slower.
        let current = run("c0ffee", "pr", &[("drifting", 130.0), ("short", 100.0)]);
        let mut report = GuardReport::compare(
            &current,
            &baseline(run(
                "base",
                "main",
                &[("drifting", 100.0), ("short", 100.0)],
            )),
            &Policy::default(),
            Severity::Major,
            Allow::default(),
        );
        let rounds: Vec<(f64, f64)> = (0..10)
            .map(|i| {
                let drift = 1.0 + 0.5 * (i % 3) as f64;
                let wobble = 1.0 + 0.002 * (i % 2) as f64;
                (100.0 * drift, 103.0 * drift * wobble)
            })
            .collect();
        let map = std::collections::BTreeMap::from([
            ("drifting".to_owned(), rounds),
            ("short".to_owned(), vec![(100.0, 100.0); 2]),
        ]);
        report.pair_rounds(&map, &Policy::default());
        assert_eq!(report.rows.len(), 1);
        let row = &report.rows[0];
        let paired = row.paired.as_ref().expect("paired");
        assert!((paired.ratio - 1.031).abs() < 0.002, "{paired:?}");
        assert_eq!(paired.alpha, 0.005, "α shared over the two rows");
        assert_eq!(
            row.comparison.comparison.verdict,
            Verdict::Regressed(Severity::Major)
        );
        assert!((row.comparison.comparison.change - 0.031).abs() < 0.002);
        assert!(
            report.table().contains("10 rounds, ratio 1.03"),
            "{}",
            report.table()
        );
        assert_eq!(report.incomparable.len(), 1);
        assert!(report.incomparable[0].1.contains("2 paired round(s)"));
        assert!(report.failed());
    }
}
