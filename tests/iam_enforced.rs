//! Issue 11 §1: every function runs under exactly the IAM statements `infra/template.yaml` gives
//! its role, with moto enforcing IAM.
//!
//! moto starts with `INITIAL_NO_AUTH_ACTION_COUNT` set to exactly the number of set-up actions:
//! the table (key schema and TTL read from the template), the site bucket, the secret, and one IAM
//! user per principal with an inline policy and an access key. From the next request on, moto
//! checks every call's signature and the caller's policies. For each function the test reads its
//! role from the template (`Role: !GetAtt XRole.Arn`), that role's statements (and any
//! `AWS::IAM::Policy` attached to it whose condition holds), resolves `!Ref`/`!Sub`/`!GetAtt`/`!If`
//! to the moto resources, and runs the function's own code path (`seatwatch::lambda`) with that
//! principal's keys: check, collect to a committed day against the simulator, report to a
//! published site. Then, for every action the template grants on DynamoDB, S3 or Secrets Manager,
//! it runs the function under the same statements minus that one action and expects the failure
//! the user would see: a `Seatwatch.Fatal` error (or a failed check) naming the refused call. An
//! action whose removal changes nothing is granted without need, and fails the test too.
//!
//! Two moto limits, handled openly (see /work/shared/TOOLCHAIN.md):
//! - moto evaluates DynamoDB and Secrets Manager calls against the resource `*`, so a statement
//!   scoped to an ARN would never match: the principal gets those statements with `Resource: "*"`
//!   (the *actions* are checked), and every ARN the template names is checked separately against
//!   the real ARN of the moto resource. S3 calls are evaluated against the object's ARN, so S3
//!   statements keep their ARNs.
//! - `sts:AssumeRole` is refused by moto, so each principal is a user with the role's statements
//!   inline rather than an assumed role.
//!
//! KMS, CloudWatch Logs and X-Ray statements are given to the principals as written but not
//! exercised: moto's resources here are not encrypted and the code under test writes no logs
//! through an API.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use seatwatch::app::App;
use seatwatch::config::{Config, RawConfig};
use seatwatch::lambda::{self, FunctionError, RetryClass};
use seatwatch_sim::Flavour;
use seatwatch_sim::{SimConfig, SimHandle, tokens};
use seatwatch_testkit::template::{self, Context, Template, glob_matches};
use serde_json::{Value as Json, json};

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";
const FUNCTIONS: [&str; 3] = ["CheckFunction", "CollectFunction", "ReportFunction"];
/// The services whose calls moto checks here; statements for others are granted, not exercised.
const EXERCISED: [&str; 3] = ["dynamodb", "s3", "secretsmanager"];
/// Set-up actions before the principals: CreateTable, UpdateTimeToLive, CreateBucket,
/// CreateSecret.
const RESOURCE_ACTIONS: u32 = 4;
/// Per principal: CreateUser, PutUserPolicy, CreateAccessKey.
const ACTIONS_PER_PRINCIPAL: u32 = 3;

fn date() -> NaiveDate {
    "2026-06-30".parse().expect("valid date")
}

fn now() -> DateTime<Utc> {
    date().and_hms_opt(7, 0, 0).expect("valid time").and_utc()
}

fn actions_of(statement: &Json) -> Vec<String> {
    match &statement["Action"] {
        Json::String(a) => vec![a.clone()],
        Json::Array(a) => a
            .iter()
            .map(|x| x.as_str().expect("action").to_string())
            .collect(),
        other => panic!("statement without Action: {other}"),
    }
}

fn resources_of(statement: &Json) -> Vec<String> {
    match &statement["Resource"] {
        Json::String(r) => vec![r.clone()],
        Json::Array(r) => r
            .iter()
            .map(|x| x.as_str().expect("resource").to_string())
            .collect(),
        other => panic!("statement without Resource: {other}"),
    }
}

fn service(action: &str) -> &str {
    action.split(':').next().unwrap_or_default()
}

/// The statements the template gives a function's role, resolved.
fn function_statements(t: &Template, ctx: &Context, function: &str) -> Vec<Json> {
    let role = Template::named_resource(&t.resource(function)["Properties"]["Role"]);
    let mut out = Vec::new();
    let policies = t.resource(&role)["Properties"]["Policies"]
        .as_sequence()
        .unwrap_or_else(|| panic!("{role} has no inline Policies"));
    for p in policies {
        let statements = t
            .resolve(&p["PolicyDocument"]["Statement"], ctx)
            .expect("statements");
        out.extend(statements.as_array().expect("a list").iter().cloned());
    }
    // Separate policies attached to the role, when their condition holds.
    for (_, r) in t.resources() {
        if r["Type"].as_str() != Some("AWS::IAM::Policy") {
            continue;
        }
        if let Some(cond) = r["Condition"].as_str()
            && !t.condition(cond, ctx)
        {
            continue;
        }
        let attached = r["Properties"]["Roles"]
            .as_sequence()
            .is_some_and(|roles| roles.iter().any(|x| Template::named_resource(x) == role));
        if attached {
            let statements = t
                .resolve(&r["Properties"]["PolicyDocument"]["Statement"], ctx)
                .expect("statements");
            out.extend(statements.as_array().expect("a list").iter().cloned());
        }
    }
    out
}

/// The function's environment: the template's Globals, then its own variables.
fn function_env(t: &Template, ctx: &Context, function: &str) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for vars in [
        &t.doc["Globals"]["Function"]["Environment"]["Variables"],
        &t.resource(function)["Properties"]["Environment"]["Variables"],
    ] {
        if let Some(Json::Object(m)) = t.resolve(vars, ctx) {
            for (k, v) in m {
                let v = v.as_str().map(str::to_string).unwrap_or(v.to_string());
                env.insert(k, v);
            }
        }
    }
    env
}

/// Settings as `Config::from_lambda_env` builds them from that environment, limited to the
/// variables that say where things are (URL, secret, table, bucket).
fn settings_from(env: &BTreeMap<String, String>) -> Config {
    const WHERE: [&str; 4] = [
        "GITLAB_URL",
        "SEATWATCH_SECRET_ID",
        "SEATWATCH_TABLE",
        "SEATWATCH_BUCKET",
    ];
    RawConfig::from_env(|name| {
        WHERE
            .contains(&name)
            .then(|| env.get(name).cloned())
            .flatten()
    })
    .parse()
    .expect("valid settings")
}

/// What moto can evaluate: non-S3 statements widened to `*` (moto checks those against `*`), and
/// `dynamodb:TransactWriteItems` wherever `dynamodb:PutItem` is granted: AWS authorises each Put
/// of a transaction as `PutItem` (there is no IAM action of the transaction's name), while moto
/// checks the call under its own name.
fn for_moto(statements: &[Json]) -> Json {
    let adapted: Vec<Json> = statements
        .iter()
        .map(|s| {
            let mut s = s.clone();
            let mut actions = actions_of(&s);
            if actions.iter().all(|a| service(a) != "s3") {
                s["Resource"] = json!("*");
            }
            if actions.iter().any(|a| a == "dynamodb:PutItem") {
                actions.push("dynamodb:TransactWriteItems".into());
            }
            s["Action"] = json!(actions);
            s
        })
        .collect();
    json!({"Version": "2012-10-17", "Statement": adapted})
}

/// The statements without one action (a statement left with none is dropped).
fn without(statements: &[Json], action: &str) -> Vec<Json> {
    statements
        .iter()
        .filter_map(|s| {
            let left: Vec<String> = actions_of(s).into_iter().filter(|a| a != action).collect();
            if left.is_empty() {
                return None;
            }
            let mut s = s.clone();
            s["Action"] = json!(left);
            Some(s)
        })
        .collect()
}

/// The calls a refused action shows up as, in the error the user reads.
fn refused_calls(action: &str) -> Vec<String> {
    let op = action.split(':').nth(1).unwrap_or_default().to_string();
    if action == "dynamodb:PutItem" {
        vec![op, "TransactWriteItems".into()]
    } else {
        vec![op]
    }
}

/// A principal: an IAM user whose inline policy is a function's statements.
struct Principal {
    access_key: String,
    secret_key: String,
}

/// The unauthenticated set-up window: counts what it spends, so the count given to moto is
/// checked to be exactly what was used.
struct Window {
    http: reqwest::Client,
    endpoint: String,
    used: u32,
}

fn xml_element(body: &str, name: &str) -> String {
    let open = format!("<{name}>");
    let start = body
        .find(&open)
        .unwrap_or_else(|| panic!("no <{name}> in {body}"))
        + open.len();
    let end = body[start..].find(&format!("</{name}>")).expect("closed") + start;
    body[start..end].to_string()
}

impl Window {
    /// One IAM Query-protocol call. Unsigned is fine inside the window; the credential scope in
    /// the header is how moto's server routes the request to IAM.
    async fn iam(&mut self, params: &[(&str, &str)]) -> String {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("Version", "2010-05-08")
            .extend_pairs(params)
            .finish();
        let response = self
            .http
            .post(format!("{}/", self.endpoint))
            .header("content-type", "application/x-www-form-urlencoded")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDSETUP/20260630/us-east-1/iam/aws4_request, \
                 SignedHeaders=host, Signature=0",
            )
            .body(body)
            .send()
            .await
            .expect("IAM call");
        self.used += 1;
        let status = response.status();
        let text = response.text().await.expect("IAM body");
        assert!(status.is_success(), "IAM {params:?}: {status} {text}");
        text
    }

    async fn principal(&mut self, name: &str, policy: &Json) -> Principal {
        self.iam(&[("Action", "CreateUser"), ("UserName", name)])
            .await;
        self.iam(&[
            ("Action", "PutUserPolicy"),
            ("UserName", name),
            ("PolicyName", "template"),
            ("PolicyDocument", &policy.to_string()),
        ])
        .await;
        let keys = self
            .iam(&[("Action", "CreateAccessKey"), ("UserName", name)])
            .await;
        Principal {
            access_key: xml_element(&keys, "AccessKeyId"),
            secret_key: xml_element(&keys, "SecretAccessKey"),
        }
    }
}

async fn as_principal(
    moto: &seatwatch_testkit::moto::Moto,
    p: &Principal,
) -> aws_config::SdkConfig {
    seatwatch_testkit::moto::sdk_config_as(moto, &p.access_key, &p.secret_key).await
}

/// What one run of a function gave.
enum Outcome {
    Ok(Json),
    Failed(FunctionError),
}

/// A function's output as the Lambda runtime returns it.
fn on_the_wire(output: impl serde::Serialize) -> Json {
    serde_json::to_value(output).expect("a function's output is JSON")
}

async fn run_function(function: &str, settings: Config, aws: aws_config::SdkConfig) -> Outcome {
    let app = match App::with_aws(settings, aws).await {
        Ok(app) => app,
        Err(e) => return Outcome::Failed(e.into()),
    };
    let result = match function {
        "CheckFunction" => lambda::check(&app, date()).await.map(on_the_wire),
        "CollectFunction" => {
            let deadline = Instant::now() + Duration::from_secs(900);
            let event = lambda::CollectEvent::on(date());
            lambda::collect(&app, &event, deadline)
                .await
                .map(on_the_wire)
        }
        "ReportFunction" => lambda::report(&app, now()).await.map(on_the_wire),
        other => panic!("no code path for {other}"),
    };
    match result {
        Ok(v) => Outcome::Ok(v),
        Err(e) => Outcome::Failed(e),
    }
}

/// Success as the user sees it: a passing check document, a committed day, a published site.
fn succeeded(function: &str, outcome: &Outcome) -> Result<(), String> {
    match outcome {
        Outcome::Failed(e) => Err(format!("{} {}", e.error_type(), e.message)),
        Outcome::Ok(v) => match function {
            "CheckFunction" if v["ok"] != json!(true) => Err(format!("check failed: {v}")),
            "CollectFunction" if v["status"] != json!("committed") => {
                Err(format!("not committed: {v}"))
            }
            _ => Ok(()),
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_function_runs_under_exactly_its_template_statements() {
    let t = template::load();
    let names = format!("iam-{}", std::process::id());
    let table = format!("{names}-snapshots");
    let bucket = format!("{names}-site");
    let secret = format!("seatwatch/{names}");

    let mut sim_cfg = SimConfig::new(Flavour::SelfManaged, 300);
    sim_cfg.as_of = date();
    let sim = SimHandle::start(sim_cfg).await.expect("simulator starts");

    let mut ctx = Context::new(REGION, ACCOUNT, "seatwatch-iam");
    ctx.params.insert("GitLabSecret".into(), secret.clone());
    ctx.params.insert("GitLabUrl".into(), sim.base_url());
    ctx.refs.insert("SnapshotTable".into(), table.clone());
    ctx.refs.insert("SiteBucket".into(), bucket.clone());
    ctx.attrs
        .insert("SiteBucket.Arn".into(), format!("arn:aws:s3:::{bucket}"));
    // The table ARN is known once moto made the table; the actions do not depend on it.
    let mut planned: Vec<(&str, Vec<String>)> = Vec::new();
    for function in FUNCTIONS {
        let statements = function_statements(&t, &ctx, function);
        let mut exercised: Vec<String> = statements
            .iter()
            .flat_map(actions_of)
            .filter(|a| EXERCISED.contains(&service(a)))
            .collect();
        exercised.dedup();
        planned.push((function, exercised));
    }
    let negatives: usize = planned.iter().map(|(_, e)| e.len()).sum();
    let principals = 1 + FUNCTIONS.len() + negatives;
    let window = RESOURCE_ACTIONS + ACTIONS_PER_PRINCIPAL * principals as u32;

    let moto = seatwatch_testkit::moto::start_private(&[(
        "INITIAL_NO_AUTH_ACTION_COUNT",
        window.to_string(),
    )]);
    let setup = seatwatch_testkit::moto::sdk_config(&moto).await;
    let mut w = Window {
        http: reqwest::Client::new(),
        endpoint: moto.endpoint.clone(),
        used: 0,
    };

    // The resources, as the template describes them.
    let table_props = t
        .resolve(&t.resource("SnapshotTable")["Properties"], &ctx)
        .expect("props");
    let ddb = aws_sdk_dynamodb::Client::new(&setup);
    let mut create = ddb
        .create_table()
        .table_name(&table)
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest);
    for k in table_props["KeySchema"].as_array().expect("KeySchema") {
        create = create.key_schema(
            aws_sdk_dynamodb::types::KeySchemaElement::builder()
                .attribute_name(k["AttributeName"].as_str().expect("name"))
                .key_type(k["KeyType"].as_str().expect("type").into())
                .build()
                .expect("key"),
        );
    }
    for a in table_props["AttributeDefinitions"]
        .as_array()
        .expect("AttributeDefinitions")
    {
        create = create.attribute_definitions(
            aws_sdk_dynamodb::types::AttributeDefinition::builder()
                .attribute_name(a["AttributeName"].as_str().expect("name"))
                .attribute_type(a["AttributeType"].as_str().expect("type").into())
                .build()
                .expect("attribute"),
        );
    }
    let created = create.send().await.expect("CreateTable");
    w.used += 1;
    let table_arn = created
        .table_description()
        .and_then(|d| d.table_arn())
        .expect("table ARN")
        .to_string();
    let ttl = &table_props["TimeToLiveSpecification"];
    ddb.update_time_to_live()
        .table_name(&table)
        .time_to_live_specification(
            aws_sdk_dynamodb::types::TimeToLiveSpecification::builder()
                .attribute_name(ttl["AttributeName"].as_str().expect("TTL attribute"))
                .enabled(ttl["Enabled"].as_bool().expect("TTL enabled"))
                .build()
                .expect("TTL"),
        )
        .send()
        .await
        .expect("UpdateTimeToLive");
    w.used += 1;
    seatwatch::publish::s3_client(&setup)
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("CreateBucket");
    w.used += 1;
    let secret_arn = aws_sdk_secretsmanager::Client::new(&setup)
        .create_secret()
        .name(&secret)
        .secret_string(tokens::ADMIN)
        .send()
        .await
        .expect("CreateSecret")
        .arn()
        .expect("secret ARN")
        .to_string();
    w.used += 1;
    ctx.attrs
        .insert("SnapshotTable.Arn".into(), table_arn.clone());

    // Every ARN the template names for an exercised service is the moto resource's own.
    let object_arn = format!("arn:aws:s3:::{bucket}/index.html");
    for (function, _) in &planned {
        for s in function_statements(&t, &ctx, function) {
            let actions = actions_of(&s);
            let Some(svc) = actions
                .iter()
                .map(|a| service(a))
                .find(|s| EXERCISED.contains(s))
            else {
                continue;
            };
            let target = match svc {
                "dynamodb" => &table_arn,
                "secretsmanager" => &secret_arn,
                _ => &object_arn,
            };
            for r in resources_of(&s) {
                assert!(
                    glob_matches(&r, target),
                    "{function}: the template grants {actions:?} on {r}, which is not {target}"
                );
            }
        }
    }

    let admin = w
        .principal(
            "admin",
            &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
        )
        .await;
    let mut roles = BTreeMap::new();
    for (function, _) in &planned {
        let statements = function_statements(&t, &ctx, function);
        let p = w.principal(function, &for_moto(&statements)).await;
        roles.insert(*function, p);
    }
    let mut missing = Vec::new();
    for (function, exercised) in &planned {
        let statements = function_statements(&t, &ctx, function);
        for action in exercised {
            let name = format!("{function}-without-{}", action.replace(':', "-"));
            let p = w
                .principal(&name, &for_moto(&without(&statements, action)))
                .await;
            missing.push((*function, action.clone(), p));
        }
    }
    assert_eq!(
        w.used, window,
        "the set-up used a different number of actions than moto allows"
    );

    // The window is closed: unknown credentials are refused from here on.
    let stranger = aws_sdk_dynamodb::Client::new(&setup)
        .list_tables()
        .send()
        .await;
    assert!(stranger.is_err(), "moto still accepts unknown credentials");

    // Each function under its own statements: check, collect to a committed day, report.
    let mut failures = Vec::new();
    for function in FUNCTIONS {
        let settings = settings_from(&function_env(&t, &ctx, function));
        let aws = as_principal(&moto, &roles[function]).await;
        let outcome = run_function(function, settings, aws).await;
        if let Err(e) = succeeded(function, &outcome) {
            failures.push(format!("{function}: {e}"));
        }
    }
    for f in &failures {
        eprintln!("under its template statements: {f}");
    }
    assert!(
        failures.is_empty(),
        "functions fail under their template statements:\n{}",
        failures.join("\n")
    );

    // What the runs left, read by the administrator.
    let admin_aws = as_principal(&moto, &admin).await;
    let day = aws_sdk_dynamodb::Client::new(&admin_aws)
        .query()
        .table_name(&table)
        .key_condition_expression("pk = :pk AND begins_with(sk, :day)")
        .expression_attribute_values(
            ":pk",
            aws_sdk_dynamodb::types::AttributeValue::S(
                seatwatch_core::snapshot::InstanceId::new(
                    &seatwatch_gitlab::BaseUrl::parse(&sim.base_url(), false)
                        .expect("sim URL")
                        .host_and_path(),
                    None,
                )
                .0,
            ),
        )
        .expression_attribute_values(
            ":day",
            aws_sdk_dynamodb::types::AttributeValue::S("DAY#".into()),
        )
        .send()
        .await
        .expect("query as admin");
    assert_eq!(day.count(), 1, "one committed day");
    let site = seatwatch::publish::s3_client(&admin_aws)
        .get_object()
        .bucket(&bucket)
        .key("index.html")
        .send()
        .await
        .expect("the published index.html");
    let page = site.body.collect().await.expect("body").into_bytes();
    let page = String::from_utf8_lossy(&page);
    assert!(
        page.contains(&date().to_string()),
        "index.html names the snapshot date"
    );

    // One granted action missing: the failure the user sees, never a silent success.
    let mut unneeded = Vec::new();
    for (function, action, p) in &missing {
        let settings = settings_from(&function_env(&t, &ctx, function));
        let aws = as_principal(&moto, p).await;
        let outcome = run_function(function, settings, aws).await;
        let calls = refused_calls(action);
        let shown = match &outcome {
            Outcome::Failed(e) => {
                assert_eq!(
                    e.class,
                    RetryClass::Fatal,
                    "{function} without {action}: a refused grant is not worth retrying: {}",
                    e.message
                );
                Some(e.message.clone())
            }
            // check reports a refused secret as a failed check, not as an error
            Outcome::Ok(v) if *function == "CheckFunction" && v["ok"] == json!(false) => Some(
                v["checks"]
                    .as_array()
                    .expect("checks")
                    .iter()
                    .filter(|c| c["status"] == json!("fail"))
                    .map(|c| c["detail"].as_str().unwrap_or_default().to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            Outcome::Ok(_) => None,
        };
        match shown {
            None => unneeded.push(format!("{function}: {action}")),
            Some(message) => {
                eprintln!("{function} without {action}: {message}");
                assert!(
                    calls.iter().any(|c| message.contains(c.as_str())),
                    "{function} without {action}: the error does not name {calls:?}: {message}"
                );
                assert!(
                    !message.contains(tokens::ADMIN),
                    "the token leaked into an error"
                );
            }
        }
    }
    assert!(
        unneeded.is_empty(),
        "granted by the template but never needed (remove them): {unneeded:?}"
    );
}
