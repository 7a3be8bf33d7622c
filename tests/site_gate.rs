//! Issue 11 §4: the report site is closed to strangers unless its owner chooses otherwise.
//!
//! The template is read as the single source: the `SiteAccess` parameter's default, what each
//! value puts on the distribution, and the gate function's own JavaScript, which
//! `tests/cloudfront/gate_test.mjs` runs under node against CloudFront viewer-request events
//! (allowed, denied, malformed header, no credential stored).

use std::process::Command;

use seatwatch_testkit::template::{self, Context};
use serde_json::json;

fn context(access: &str) -> Context {
    let mut ctx = Context::new("us-east-1", "123456789012", "seatwatch");
    ctx.params.insert("SiteAccess".into(), access.into());
    ctx
}

#[test]
fn the_site_is_public_only_by_explicit_choice() {
    let t = template::load();
    let param = &t.doc["Parameters"]["SiteAccess"];
    let default = param["Default"].as_str().expect("SiteAccess has a default");
    assert_ne!(default, "public", "a new deployment must not be public");
    let allowed: Vec<&str> = param["AllowedValues"]
        .as_sequence()
        .expect("AllowedValues")
        .iter()
        .map(|v| v.as_str().expect("a value"))
        .collect();
    assert!(allowed.contains(&"public"), "public stays a choice");

    for access in allowed {
        let ctx = context(access);
        let behaviour = t
            .resolve(
                &t.resource("SiteDistribution")["Properties"]["DistributionConfig"]
                    ["DefaultCacheBehavior"],
                &ctx,
            )
            .expect("a cache behaviour");
        let gated = behaviour["FunctionAssociations"]
            .as_array()
            .is_some_and(|a| {
                a.iter().any(|f| {
                    f["EventType"] == json!("viewer-request")
                        && f["FunctionARN"]
                            .as_str()
                            .is_some_and(|arn| arn.contains("SiteGateFunction"))
                })
            });
        assert_eq!(
            gated,
            access != "public",
            "SiteAccess={access}: the gate on viewer requests"
        );
        // The gate's resources exist exactly when it is on.
        for resource in ["SiteGateFunction", "SiteCredentialStore"] {
            let condition = t.resource(resource)["Condition"]
                .as_str()
                .expect("a condition");
            assert_eq!(
                t.condition(condition, &ctx),
                access != "public",
                "SiteAccess={access}: {resource}"
            );
        }
    }
    // The function reads the credential hash from the store the template associates with it.
    let config = &t.resource("SiteGateFunction")["Properties"]["FunctionConfig"];
    assert_eq!(config["Runtime"].as_str(), Some("cloudfront-js-2.0"));
    let associations = t
        .resolve(&config["KeyValueStoreAssociations"], &context(default))
        .expect("associations");
    assert!(
        associations.to_string().contains("SiteCredentialStore.Arn"),
        "{associations}"
    );
}

#[test]
fn the_gate_function_admits_the_credential_and_refuses_everything_else_under_node() {
    let t = template::load();
    let code = t.resource("SiteGateFunction")["Properties"]["FunctionCode"]
        .as_str()
        .expect("inline function code");
    assert!(
        !code.contains("password ="),
        "no credential in the function code"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("gate.js");
    std::fs::write(&file, code).expect("write the function code");
    let harness = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/cloudfront/gate_test.mjs"
    );
    let out = Command::new("node")
        .arg(harness)
        .arg(&file)
        .output()
        .expect("node runs (install Node.js: the site gate is tested with it)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the gate failed under node:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("gate: all passed"), "{stdout}");
    // every documented case ran
    for case in ["allowed:", "denied:", "malformed:"] {
        assert!(stdout.contains(case), "no {case} case ran:\n{stdout}");
    }
}
