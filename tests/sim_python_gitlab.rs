//! The simulator against python-gitlab, a widely used real client: if python-gitlab can page
//! through it (offset and keyset, following `Link` verbatim) and finds what `expected()` says,
//! the simulator speaks GitLab's dialect closely enough for a third-party client.

use std::path::PathBuf;
use std::process::Command;

use seatwatch_sim::Flavour;
use seatwatch_sim::{SimConfig, SimHandle, tokens};
use seatwatch_testkit::gitlab;
use serde_json::Value;

fn venv_python() -> PathBuf {
    let python = seatwatch_testkit::repo_root().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} not found: run scripts/test.sh first (it creates .venv with python-gitlab)",
        python.display()
    );
    python
}

/// Runs `tests/python/list_users.py` off the async runtime (the simulator lives on it).
async fn list_with_python_gitlab(sim: &SimHandle, token: &str, group: Option<&str>) -> Value {
    let python = venv_python();
    let script = seatwatch_testkit::repo_root().join("tests/python/list_users.py");
    let mut args = vec![
        script.display().to_string(),
        sim.base_url(),
        token.to_string(),
    ];
    args.extend(group.map(str::to_string));
    let output = tokio::task::spawn_blocking(move || Command::new(python).args(args).output())
        .await
        .expect("the python task finishes")
        .expect("python starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "list_users.py failed:\n{stdout}\n{stderr}"
    );
    assert!(
        !stderr.contains(token) && !stdout.contains(token),
        "the token was printed"
    );
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("list_users.py printed no JSON ({e}): {stdout}"))
}

/// The June events of the admin user, counted by a plain HTTP client for comparison.
async fn june_events_of_user_1(sim: &SimHandle) -> u64 {
    gitlab::get(
        sim,
        "/users/1/events?after=2026-05-31&before=2026-07-01&per_page=1",
        tokens::ADMIN,
    )
    .await
    .header("x-total")
    .expect("x-total")
    .parse()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn python_gitlab_lists_every_self_managed_user_once() {
    let sim = gitlab::start(SimConfig::new(Flavour::SelfManaged, 1_234)).await;
    let expected = sim.expected();
    let got = list_with_python_gitlab(&sim, tokens::ADMIN, None).await;
    assert_eq!(got["current_user"], "root");
    assert_eq!(got["current_user_id"], 1);
    for key in [
        "offset_users",
        "offset_unique",
        "keyset_users",
        "keyset_unique",
    ] {
        assert_eq!(got[key], expected.users, "{key}: {got}");
    }
    assert_eq!(got["keyset_ascending"], true);
    let events = june_events_of_user_1(&sim).await;
    assert!(events > 0);
    assert_eq!(got["events"], events, "{got}");
    assert_eq!(got["events_unique"], events, "{got}");
    let actions: Vec<&str> = got["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"pushed to") && actions.contains(&"commented on"),
        "{actions:?}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn python_gitlab_lists_gitlab_com_billable_members() {
    let sim = gitlab::start(SimConfig::new(Flavour::GitLabCom, 640)).await;
    let expected = sim.expected();
    let got = list_with_python_gitlab(&sim, tokens::ADMIN, Some("acme")).await;
    assert_eq!(got["current_user"], "acme-owner");
    assert_eq!(got["offset_users"], expected.users);
    assert_eq!(got["keyset_unique"], expected.users);
    assert_eq!(got["billable_members"], expected.billable_members, "{got}");
    assert_eq!(got["billable_unique"], expected.billable_members, "{got}");
    sim.shutdown().await;
}
