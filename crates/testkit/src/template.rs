//! `infra/template.yaml`, read as the single source: a YAML reader that understands
//! CloudFormation's short tags (`!Ref`, `!Sub`, `!GetAtt`, `!If`, `!Equals`, `!Not`, `!Select`,
//! `!Split`, `!Join`) and resolves them against a [`Context`] (parameters and the resources a
//! test created), so tests use the template's own statements, Retry clauses and code, never a
//! copy.

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};
use serde_yaml::Value;

pub struct Template {
    pub doc: Value,
}

/// What `!Ref` and `!GetAtt` resolve to in a test: parameter values (the template's defaults
/// otherwise) and the physical resources standing in for the template's.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub params: BTreeMap<String, String>,
    /// logical id → what `!Ref` gives
    pub refs: BTreeMap<String, String>,
    /// `Logical.Attribute` → what `!GetAtt` gives
    pub attrs: BTreeMap<String, String>,
    pub region: String,
    pub account: String,
    pub stack: String,
}

impl Context {
    pub fn new(region: &str, account: &str, stack: &str) -> Context {
        Context {
            region: region.into(),
            account: account.into(),
            stack: stack.into(),
            ..Context::default()
        }
    }
}

/// The placeholder for a resource the test did not create (logs, KMS, X-Ray): recognisable,
/// and never equal to a real ARN.
pub fn placeholder(what: &str) -> String {
    format!("arn:aws:placeholder:::{what}")
}

pub fn load() -> Template {
    let path = crate::repo_root().join("infra/template.yaml");
    let text = std::fs::read_to_string(path).expect("infra/template.yaml is readable");
    Template {
        doc: serde_yaml::from_str(&text).expect("infra/template.yaml is YAML"),
    }
}

fn tag_name(t: &serde_yaml::value::TaggedValue) -> String {
    t.tag.to_string().trim_start_matches('!').to_string()
}

impl Template {
    /// The whole document, for the parts without an accessor of their own.
    pub fn root(&self) -> &Value {
        &self.doc
    }

    pub fn resources(&self) -> &serde_yaml::Mapping {
        self.doc["Resources"]
            .as_mapping()
            .expect("the template has Resources")
    }

    pub fn resource(&self, id: &str) -> &Value {
        let r = &self.doc["Resources"][id];
        assert!(!r.is_null(), "infra/template.yaml has no resource {id}");
        r
    }

    /// The logical id a `!GetAtt X.Arn` or `!Ref X` names, without resolving it.
    pub fn named_resource(v: &Value) -> String {
        match v {
            Value::Tagged(t) => match &t.value {
                Value::String(s) => s.split('.').next().unwrap_or_default().to_string(),
                Value::Sequence(seq) => seq[0].as_str().unwrap_or_default().to_string(),
                other => panic!("not a resource reference: {other:?}"),
            },
            other => panic!("not a resource reference: {other:?}"),
        }
    }

    pub fn condition(&self, name: &str, ctx: &Context) -> bool {
        let c = &self.doc["Conditions"][name];
        assert!(!c.is_null(), "no condition {name}");
        self.resolve(c, ctx)
            .and_then(|v| v.as_bool())
            .unwrap_or_else(|| panic!("condition {name} is not a boolean"))
    }

    fn reference(&self, name: &str, ctx: &Context) -> Option<String> {
        match name {
            "AWS::NoValue" => return None,
            "AWS::Region" => return Some(ctx.region.clone()),
            "AWS::AccountId" => return Some(ctx.account.clone()),
            "AWS::Partition" => return Some("aws".into()),
            "AWS::StackName" => return Some(ctx.stack.clone()),
            "AWS::URLSuffix" => return Some("amazonaws.com".into()),
            _ => {}
        }
        if let Some(p) = ctx.params.get(name) {
            return Some(p.clone());
        }
        let param = &self.doc["Parameters"][name];
        if !param.is_null() {
            let default = &param["Default"];
            return Some(match default {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                other => panic!("parameter {name} has no usable default: {other:?}"),
            });
        }
        assert!(
            !self.doc["Resources"][name].is_null(),
            "!Ref {name}: no such parameter or resource"
        );
        Some(
            ctx.refs
                .get(name)
                .cloned()
                .unwrap_or_else(|| placeholder(name)),
        )
    }

    fn attribute(&self, logical: &str, attr: &str, ctx: &Context) -> String {
        assert!(
            !self.doc["Resources"][logical].is_null(),
            "!GetAtt {logical}.{attr}: no such resource"
        );
        ctx.attrs
            .get(&format!("{logical}.{attr}"))
            .cloned()
            .unwrap_or_else(|| placeholder(&format!("{logical}.{attr}")))
    }

    fn substitute(&self, text: &str, vars: &BTreeMap<String, String>, ctx: &Context) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find('}').expect("a closed ${...} in !Sub");
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str(&format!("${{{literal}}}"));
            } else if let Some(v) = vars.get(name) {
                out.push_str(v);
            } else if let Some((logical, attr)) =
                name.split_once('.').filter(|_| !name.starts_with("AWS::"))
            {
                out.push_str(&self.attribute(logical, attr, ctx));
            } else {
                out.push_str(
                    &self
                        .reference(name, ctx)
                        .unwrap_or_else(|| panic!("!Sub of ${{{name}}} is empty")),
                );
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// The value with every intrinsic function resolved; `None` for `AWS::NoValue`.
    pub fn resolve(&self, v: &Value, ctx: &Context) -> Option<Json> {
        Some(match v {
            Value::Null => Json::Null,
            Value::Bool(b) => json!(b),
            Value::Number(n) => serde_json::to_value(n).expect("a number"),
            Value::String(s) => json!(s),
            Value::Sequence(seq) => Json::Array(
                seq.iter()
                    .filter_map(|item| self.resolve(item, ctx))
                    .collect(),
            ),
            Value::Mapping(map) => {
                let mut out = serde_json::Map::new();
                for (k, v) in map {
                    let key = k.as_str().expect("string keys").to_string();
                    if let Some(v) = self.resolve(v, ctx) {
                        out.insert(key, v);
                    }
                }
                Json::Object(out)
            }
            Value::Tagged(t) => return self.intrinsic(&tag_name(t), &t.value, ctx),
        })
    }

    fn list<'a>(v: &'a Value, what: &str) -> &'a Vec<Value> {
        v.as_sequence()
            .unwrap_or_else(|| panic!("!{what} takes a list"))
    }

    fn string(&self, v: &Value, ctx: &Context) -> String {
        match self.resolve(v, ctx) {
            Some(Json::String(s)) => s,
            Some(Json::Number(n)) => n.to_string(),
            other => panic!("expected a string, got {other:?}"),
        }
    }

    /// `!tag arg` resolved: one function per CloudFormation intrinsic the templates use.
    fn intrinsic(&self, tag: &str, arg: &Value, ctx: &Context) -> Option<Json> {
        Some(match tag {
            "Ref" => json!(self.reference(arg.as_str().expect("!Ref takes a name"), ctx)?),
            "GetAtt" => self.get_att(arg, ctx),
            "Sub" => self.sub(arg, ctx),
            "If" => return self.if_(arg, ctx),
            "Equals" => self.equals(arg, ctx),
            "Not" => self.not(arg, ctx),
            "And" | "Or" => self.and_or(tag, arg, ctx),
            "Condition" => json!(self.condition(arg.as_str().expect("name"), ctx)),
            "Select" => self.select(arg, ctx),
            "Split" => self.split(arg, ctx),
            "Join" => self.join(arg, ctx),
            other => panic!("the test's template reader does not know !{other}"),
        })
    }

    /// `!GetAtt Logical.Attribute` or `!GetAtt [Logical, Attribute]`.
    fn get_att(&self, arg: &Value, ctx: &Context) -> Json {
        let (logical, attr) = match arg {
            Value::String(s) => {
                let (l, a) = s.split_once('.').expect("!GetAtt Logical.Attribute");
                (l.to_string(), a.to_string())
            }
            Value::Sequence(seq) => (
                seq[0].as_str().expect("name").to_string(),
                seq[1].as_str().expect("attribute").to_string(),
            ),
            other => panic!("!GetAtt {other:?}"),
        };
        json!(self.attribute(&logical, &attr, ctx))
    }

    /// `!Sub text` or `!Sub [text, {variables}]`.
    fn sub(&self, arg: &Value, ctx: &Context) -> Json {
        match arg {
            Value::String(s) => json!(self.substitute(s, &BTreeMap::new(), ctx)),
            Value::Sequence(seq) => {
                let vars = seq[1]
                    .as_mapping()
                    .expect("!Sub variables")
                    .iter()
                    .map(|(k, v)| (k.as_str().expect("name").to_string(), self.string(v, ctx)))
                    .collect();
                json!(self.substitute(seq[0].as_str().expect("!Sub text"), &vars, ctx))
            }
            other => panic!("!Sub {other:?}"),
        }
    }

    /// `!If [condition, when true, when false]`; `None` when the chosen value is `AWS::NoValue`.
    fn if_(&self, arg: &Value, ctx: &Context) -> Option<Json> {
        let args = Self::list(arg, "If");
        let chosen = if self.condition(args[0].as_str().expect("condition name"), ctx) {
            &args[1]
        } else {
            &args[2]
        };
        self.resolve(chosen, ctx)
    }

    /// `!Equals [a, b]`.
    fn equals(&self, arg: &Value, ctx: &Context) -> Json {
        let args = Self::list(arg, "Equals");
        json!(self.resolve(&args[0], ctx) == self.resolve(&args[1], ctx))
    }

    /// `!Not [condition]`.
    fn not(&self, arg: &Value, ctx: &Context) -> Json {
        let args = Self::list(arg, "Not");
        json!(
            !self
                .resolve(&args[0], ctx)
                .and_then(|b| b.as_bool())
                .expect("bool")
        )
    }

    /// `!And [conditions]` or `!Or [conditions]`, as `tag` says; every condition is resolved.
    fn and_or(&self, tag: &str, arg: &Value, ctx: &Context) -> Json {
        let values = Self::list(arg, tag).iter().map(|c| {
            self.resolve(c, ctx)
                .and_then(|b| b.as_bool())
                .expect("bool")
        });
        let mut values = values.collect::<Vec<_>>().into_iter();
        json!(if tag == "And" {
            values.all(|b| b)
        } else {
            values.any(|b| b)
        })
    }

    /// `!Select [index, list]`.
    fn select(&self, arg: &Value, ctx: &Context) -> Json {
        let args = Self::list(arg, "Select");
        let index: usize = self.string(&args[0], ctx).parse().expect("an index");
        match self.resolve(&args[1], ctx) {
            Some(Json::Array(items)) => items[index].clone(),
            other => panic!("!Select from {other:?}"),
        }
    }

    /// `!Split [delimiter, text]`.
    fn split(&self, arg: &Value, ctx: &Context) -> Json {
        let args = Self::list(arg, "Split");
        let delimiter = self.string(&args[0], ctx);
        let text = self.string(&args[1], ctx);
        json!(text.split(delimiter.as_str()).collect::<Vec<_>>())
    }

    /// `!Join [delimiter, list]`.
    fn join(&self, arg: &Value, ctx: &Context) -> Json {
        let args = Self::list(arg, "Join");
        let delimiter = self.string(&args[0], ctx);
        match self.resolve(&args[1], ctx) {
            Some(Json::Array(items)) => json!(
                items
                    .iter()
                    .map(|i| i.as_str().map(str::to_string).unwrap_or(i.to_string()))
                    .collect::<Vec<_>>()
                    .join(&delimiter)
            ),
            other => panic!("!Join of {other:?}"),
        }
    }
}

/// `*` and `?` glob matching, as IAM matches resource ARNs.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}
