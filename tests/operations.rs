//! Issue 11 §5: the Lambda functions honour `SEATWATCH_LOG` as the template sets it, and the
//! alarms say what to do next in the words the CLI uses (read from the code, not copied here).

use seatwatch_gitlab::GitLabError;
use seatwatch_testkit::template::{self, Context};

fn alarm_description(name: &str) -> String {
    let t = template::load();
    let ctx = Context::new("us-east-1", "123456789012", "seatwatch");
    t.resolve(&t.resource(name)["Properties"]["AlarmDescription"], &ctx)
        .and_then(|d| {
            d.as_str()
                .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        })
        .unwrap_or_else(|| panic!("{name} has no AlarmDescription"))
}

#[test]
fn the_template_log_setting_is_the_filter_the_functions_use() {
    let t = template::load();
    let ctx = Context::new("us-east-1", "123456789012", "seatwatch");
    let value = t
        .resolve(
            &t.doc["Globals"]["Function"]["Environment"]["Variables"]["SEATWATCH_LOG"],
            &ctx,
        )
        .and_then(|v| v.as_str().map(str::to_string))
        .expect("the template sets SEATWATCH_LOG for every function");
    // A default that merely happened to equal it would prove nothing.
    assert_ne!(
        seatwatch::lambda::log_filter(None, None),
        value,
        "pick a SEATWATCH_LOG other than the default"
    );
    assert_eq!(
        seatwatch::lambda::log_filter(Some(&value), Some("ERROR")),
        value,
        "SEATWATCH_LOG must win over the runtime's level"
    );
}

#[test]
fn the_token_alarm_says_what_to_do_in_the_clis_words() {
    let hint = GitLabError::TokenExpired {
        endpoint: "/personal_access_tokens/self".into(),
    }
    .hint();
    let description = alarm_description("TokenExpiryAlarm");
    assert!(
        description.contains(&hint),
        "TokenExpiryAlarm must say {hint:?}; it says {description:?}"
    );
}

#[test]
fn function_alarms_point_to_the_clis_message_and_the_check() {
    for (alarm, command) in [
        ("CollectErrorsAlarm", "seatwatch collect"),
        ("ReportErrorsAlarm", "seatwatch report"),
        ("CheckErrorsAlarm", "seatwatch check"),
        ("DailyRunFailedAlarm", "seatwatch collect"),
    ] {
        let d = alarm_description(alarm);
        assert!(d.contains(&format!("`{command}")), "{alarm}: {d}");
    }
    for alarm in [
        "CollectErrorsAlarm",
        "DailyRunFailedAlarm",
        "TokenExpiryAlarm",
    ] {
        let d = alarm_description(alarm);
        assert!(
            d.contains("invoke the check function (CheckCommand output)"),
            "{alarm}: {d}"
        );
    }
    // The retry classes the alarms name are the ones the functions emit.
    let d = alarm_description("DailyRunFailedAlarm");
    for class in seatwatch::lambda::RetryClass::ALL {
        assert!(d.contains(class.error_type()), "{d}");
    }
}

/// In a YAML flow mapping a comma ends the value: `{ default: Duo seats, Guest candidates }` is
/// two keys, which cfn-lint and `sam validate` refuse (E4001) while YAML readers accept it. Each
/// group's label is one string, and every parameter is in exactly one group.
#[test]
fn each_parameter_group_label_is_one_string_and_every_parameter_has_a_group_quirk() {
    let t = template::load();
    let groups = t.root()["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
        .as_sequence()
        .expect("the template groups its parameters");
    let mut grouped = Vec::new();
    for group in groups {
        let label = group["Label"].as_mapping().expect("a group has a label");
        assert_eq!(label.len(), 1, "one key, `default`: {label:?}");
        assert!(group["Label"]["default"].as_str().is_some(), "{label:?}");
        let parameters = group["Parameters"]
            .as_sequence()
            .expect("a group lists parameters");
        grouped.extend(
            parameters
                .iter()
                .map(|p| p.as_str().expect("a name").to_string()),
        );
    }
    let mut declared: Vec<String> = t.root()["Parameters"]
        .as_mapping()
        .expect("the template has parameters")
        .keys()
        .map(|k| k.as_str().expect("a name").to_string())
        .collect();
    grouped.sort();
    declared.sort();
    assert_eq!(grouped, declared);
}
