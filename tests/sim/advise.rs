//! `syncsim advise`: the bisection search finds the full grid's choice
//! with a fraction of its runs, deterministically, and says so when
//! nothing meets the constraints.

use crate::common::{bin, temp_dir, validate};
use std::path::Path;
use syncsim::advise::{advise, full_grid, Options, Plan};

const SMALL: &str = "scenarios/advise-small.toml";

/// On `scenarios/advise-small.toml` (82 candidates, 164 runs on 2 seeds)
/// the grid's choice is computed here by running every candidate and
/// taking, among those that meet every constraint on every seed, the
/// lowest mean objective (ties: the earlier strategy, then the cheaper
/// end of each axis); `advise` must pick the same configuration with at
/// most a fifth of the grid's runs, confirmation runs included.
#[test]
fn advise_picks_the_grids_choice_with_a_fifth_of_its_runs() {
    let plan = Plan::new(Path::new(SMALL), None).unwrap_or_else(|e| panic!("{e}"));
    let opts = Options {
        jobs: 2,
        progress: false,
    };
    let grid = full_grid(&plan, opts).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(grid.len() * plan.seeds.len(), plan.grid_runs());
    assert_eq!(plan.grid_runs(), 164, "6 + 4 + 6×4×3 candidates × 2 seeds");
    let best = grid
        .iter()
        .filter(|e| {
            e.reports
                .iter()
                .all(|r| r.check(&plan.constraints).iter().all(|c| c.pass))
        })
        .min_by(|a, b| {
            let cost = |e: &syncsim::advise::Evaluation| {
                e.reports
                    .iter()
                    .map(|r| r.cost.as_ref().expect("priced").month)
                    .sum::<f64>()
                    / e.reports.len() as f64
            };
            cost(a)
                .total_cmp(&cost(b))
                .then(a.space.cmp(&b.space))
                .then(b.idx.cmp(&a.idx))
        })
        .expect("the grid has a feasible point");
    let advice = advise(&plan, opts).unwrap_or_else(|e| panic!("{e}"));
    let winner = advice.winner.as_ref().expect("advise recommends");
    assert_eq!(winner.label, best.label);
    assert!(
        advice.runs * 5 <= plan.grid_runs(),
        "{} runs against {}",
        advice.runs,
        plan.grid_runs()
    );
    // Confirmed on 3 more seeds, every one passing.
    assert_eq!(advice.confirmed.len(), 3);
    assert!(advice
        .confirmed
        .iter()
        .all(|r| r.check(&plan.constraints).iter().all(|c| c.pass)));
    // Webhooks alone lose the outage's changes (the github preset does
    // not retry): no webhook candidate passes, and the closest says why.
    let (_, best_hook, closest_hook) = &advice.per_strategy[1];
    assert!(best_hook.is_none());
    assert!(closest_hook
        .as_ref()
        .is_some_and(|c| c.breaks().contains("changes.lost")));
}

/// The same seed gives the same advice, byte for byte, with 1 or 2 jobs.
#[test]
fn advise_is_deterministic_whatever_the_jobs() {
    let plan = Plan::new(Path::new(SMALL), Some(5)).unwrap_or_else(|e| panic!("{e}"));
    let run = |jobs| {
        let a = advise(
            &plan,
            Options {
                jobs,
                progress: false,
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        (
            syncsim::advise::render(&plan, &a),
            a.evaluated
                .iter()
                .flat_map(|e| e.reports.iter().map(|r| r.digest.clone()))
                .collect::<Vec<_>>(),
        )
    };
    assert_eq!(run(1), run(2));
}

/// Constraints nothing can meet: exit 1, "no configuration meets the
/// constraints; closest: …" naming a candidate and the breach.
#[test]
fn an_infeasible_space_names_the_closest_candidate() {
    let dir = temp_dir("advise-infeasible");
    let f = dir.join("tight.toml");
    std::fs::write(
        &f,
        "name = \"tight\"\nseed = 3\nhorizon = \"2h\"\n[source]\nmailboxes = 5\nmessages_per_day = 100\n[consumer]\nstrategy = \"poll\"\npoll_interval = \"5m\"\n[advise]\nstrategies = [\"poll\"]\npoll_interval = [\"1m\", \"5m\", \"10m\"]\nseeds = 1\n[advise.constraints]\n\"latency_ms.all.p99\" = \"< 1s\"\n",
    )
    .unwrap();
    let o = std::process::Command::new(bin())
        .args(["advise", f.to_str().unwrap(), "--no-progress", "--out"])
        .arg(dir.join("out"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    // Polling every minute is the most capable corner: it is the only
    // candidate run (the others can only be slower) and the closest.
    assert!(
        err.contains("no configuration meets the constraints; closest: poll poll_interval=1m (latency_ms.all.p99 = "),
        "{err}"
    );
    assert!(dir.join("out/frontier.svg").exists());
    assert!(!dir.join("out/recommended.toml").exists());
}

/// A bad `[advise]` is refused with its key.
#[test]
fn bad_advise_tables_are_named() {
    let dir = temp_dir("advise-bad");
    let base = "name = \"t\"\nseed = 3\nhorizon = \"2h\"\n[source]\nmailboxes = 5\n[consumer]\nstrategy = \"poll\"\npoll_interval = \"5m\"\n";
    for (advise, key, words) in [
        (
            "[advise]\nobjective = \"requests.totl\"\n[advise.constraints]\n\"changes.lost\" = \"== 0\"\n",
            "advise.objective",
            "not a numeric report path",
        ),
        (
            "[advise]\nobjective = \"cost.month\"\n[advise.constraints]\n\"changes.lost\" = \"== 0\"\n",
            "advise.objective",
            "[cost]",
        ),
        ("[advise]\nseeds = 2\n", "advise", "no constraints"),
        (
            "[advise]\nstrategies = [\"hybrid\"]\n[advise.constraints]\n\"changes.lost\" = \"== 0\"\n",
            "advise.strategies",
            "[webhooks]",
        ),
        (
            "[advise]\nstrategies = [\"poll\"]\npoll_interval = [\"1m\", \"1m\"]\n[advise.constraints]\n\"changes.lost\" = \"== 0\"\n",
            "advise.poll_interval",
            "twice",
        ),
    ] {
        let f = dir.join("bad.toml");
        std::fs::write(&f, format!("{base}{advise}")).unwrap();
        let (code, err) = validate(&f);
        assert_eq!(code, Some(2), "{err}");
        assert!(
            err.contains(&format!("`{key}`")) && err.contains(words),
            "want {key} / {words}: {err}"
        );
    }
}
