//! Conformance against the botocore service model (tests/data/ivschat-service-model.json):
//! every operation is routed, and every constrained input member (length, range, pattern, enum,
//! list/map size, required, union exactly-one) is rejected out of bounds with a 400
//! ValidationException whose fieldList names the member.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;

use common::*;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Map, Value, json};

const LAMBDA: &str = "arn:aws:lambda:us-east-1:123456789012:function:review";

struct Model(Value);

impl Model {
    fn load() -> Model {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/ivschat-service-model.json"
        ))
        .expect("model file");
        Model(serde_json::from_str(&text).expect("model json"))
    }

    fn shape(&self, name: &str) -> &Value {
        &self.0["shapes"][name]
    }

    /// A value that satisfies every constraint of the shape.
    fn valid(&self, name: &str) -> Value {
        match name {
            "RoomIdentifier" | "RoomArn" | "ResourceArn" => json!(room_arn("abcdefghijkl")),
            "LoggingConfigurationIdentifier" => json!(lc_arn("abcdefghijkl")),
            "MessageID" | "ID" => json!("abcdefghijkl"),
            "BucketName" => json!("my-bucket"),
            "LambdaArn" => json!(LAMBDA),
            // An empty list cannot be told apart from a missing one in a query string.
            "TagKeyList" => json!(["k"]),
            _ => {
                let s = self.shape(name);
                match s["type"].as_str().unwrap_or("") {
                    "string" => {
                        if let Some(e) = s["enum"].as_array() {
                            e[0].clone()
                        } else {
                            let min = s["min"].as_u64().unwrap_or(1).max(1) as usize;
                            json!("a".repeat(min))
                        }
                    }
                    "integer" => json!(s["min"].as_i64().unwrap_or(1)),
                    "list" => json!([]),
                    "map" => json!({}),
                    "structure" => {
                        let mut o = Map::new();
                        if s["union"].as_bool() == Some(true) {
                            let (m, spec) =
                                s["members"].as_object().unwrap().iter().next().unwrap();
                            o.insert(m.clone(), self.valid(spec["shape"].as_str().unwrap()));
                        } else {
                            for r in s["required"].as_array().into_iter().flatten() {
                                let r = r.as_str().unwrap();
                                let target = s["members"][r]["shape"].as_str().unwrap();
                                o.insert(r.to_string(), self.valid(target));
                            }
                        }
                        Value::Object(o)
                    }
                    other => panic!("no sample for {name} ({other})"),
                }
            }
        }
    }

    /// Out-of-bounds values for a shape's own constraints: (description, value).
    fn invalid(&self, name: &str) -> Vec<(String, Value)> {
        let s = self.shape(name);
        let min = s["min"].as_u64();
        let max = s["max"].as_u64();
        let mut out = Vec::new();
        match s["type"].as_str().unwrap_or("") {
            "string" => {
                if s["enum"].is_array() {
                    out.push(("enum".into(), json!("NOT_A_VALUE")));
                }
                if let Some(min) = min.filter(|m| *m > 0) {
                    out.push((format!("min {min}"), json!("a".repeat(min as usize - 1))));
                }
                if let Some(max) = max {
                    out.push((format!("max {max}"), json!("a".repeat(max as usize + 1))));
                }
                if s["pattern"].is_string() {
                    let len = (min.unwrap_or(0).max(3)).min(max.unwrap_or(u64::MAX)) as usize;
                    out.push(("pattern".into(), json!("!".repeat(len))));
                }
            }
            "integer" => {
                if let Some(min) = s["min"].as_i64() {
                    out.push((format!("min {min}"), json!(min - 1)));
                }
                if let Some(max) = s["max"].as_i64() {
                    out.push((format!("max {max}"), json!(max + 1)));
                }
            }
            "list" => {
                let member = s["member"]["shape"].as_str().unwrap();
                if let Some(max) = max {
                    let items: Vec<Value> = (0..=max).map(|_| self.valid(member)).collect();
                    out.push((format!("list max {max}"), Value::Array(items)));
                }
                for (d, v) in self.invalid(member) {
                    out.push((format!("list member {d}"), json!([v])));
                }
            }
            "map" => {
                let key = s["key"]["shape"].as_str().unwrap();
                let value = s["value"]["shape"].as_str().unwrap();
                if let Some(max) = max {
                    let m: Map<String, Value> = (0..=max)
                        .map(|i| (format!("k{i}"), self.valid(value)))
                        .collect();
                    out.push((format!("map max {max}"), Value::Object(m)));
                }
                for (d, k) in self.invalid(key) {
                    if let Some(k) = k.as_str() {
                        let mut m = Map::new();
                        m.insert(k.to_string(), self.valid(value));
                        out.push((format!("map key {d}"), Value::Object(m)));
                    }
                }
                for (d, v) in self.invalid(value) {
                    out.push((format!("map value {d}"), json!({"k": v})));
                }
            }
            _ => {}
        }
        out
    }
}

/// One out-of-bounds request.
#[derive(Debug)]
struct Case {
    op: String,
    /// Member path from the input; each step says whether it enters a union member.
    path: Vec<(String, bool)>,
    /// `None`: remove the member (required check).
    value: Option<Value>,
    what: String,
}

impl Case {
    fn field_name(&self) -> String {
        self.path
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(".")
    }
}

fn collect(
    model: &Model,
    op: &str,
    shape_name: &str,
    path: &mut Vec<(String, bool)>,
    out: &mut Vec<Case>,
) {
    let s = model.shape(shape_name);
    let is_union = s["union"].as_bool() == Some(true);
    let required: BTreeSet<&str> = s["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for (member, spec) in s["members"].as_object().into_iter().flatten() {
        let target = spec["shape"].as_str().unwrap();
        path.push((member.clone(), is_union));
        if required.contains(member.as_str()) {
            out.push(Case {
                op: op.into(),
                path: path.clone(),
                value: None,
                what: "required".into(),
            });
        }
        for (what, v) in model.invalid(target) {
            out.push(Case {
                op: op.into(),
                path: path.clone(),
                value: Some(v),
                what,
            });
        }
        let t = model.shape(target);
        if t["type"] == "structure" {
            if t["union"].as_bool() == Some(true) {
                let names: Vec<&String> = t["members"].as_object().unwrap().keys().collect();
                let mut two = Map::new();
                for n in names.iter().take(2) {
                    let st = t["members"][n.as_str()]["shape"].as_str().unwrap();
                    two.insert(n.to_string(), model.valid(st));
                }
                out.push(Case {
                    op: op.into(),
                    path: path.clone(),
                    value: Some(Value::Object(two)),
                    what: "union: two members".into(),
                });
                out.push(Case {
                    op: op.into(),
                    path: path.clone(),
                    value: Some(json!({})),
                    what: "union: no member".into(),
                });
            }
            collect(model, op, target, path, out);
        }
        path.pop();
    }
}

/// Set (or remove) `value` at `path`, creating containers; entering a union member replaces
/// the union with just that member.
fn set_at(
    input: &mut Value,
    path: &[(String, bool)],
    value: Option<Value>,
    model: &Model,
    top: &str,
) {
    let mut cur = input;
    let mut shape = top.to_string();
    for (i, (name, in_union)) in path.iter().enumerate() {
        if *in_union {
            *cur = json!({});
        }
        let target = model.shape(&shape)["members"][name]["shape"]
            .as_str()
            .unwrap()
            .to_string();
        let obj = cur.as_object_mut().unwrap();
        if i == path.len() - 1 {
            match value {
                Some(v) => {
                    obj.insert(name.clone(), v);
                }
                None => {
                    obj.remove(name);
                }
            }
            return;
        }
        if !obj.contains_key(name) {
            obj.insert(name.clone(), model.valid(&target));
        }
        cur = obj.get_mut(name).unwrap();
        shape = target;
    }
}

/// Send an operation input the way the restJson1 bindings of the model say.
async fn send(addr: SocketAddr, model: &Model, op: &str, input: &Value) -> RawResponse {
    let spec = &model.0["operations"][op];
    let method = spec["http"]["method"].as_str().unwrap();
    let mut uri = spec["http"]["requestUri"].as_str().unwrap().to_string();
    let input_shape = model.shape(spec["input"]["shape"].as_str().unwrap());
    let mut body = Map::new();
    let mut query = Vec::new();
    for (k, v) in input.as_object().unwrap() {
        let member = &input_shape["members"][k];
        match member["location"].as_str() {
            Some("uri") => {
                let s = v.as_str().unwrap_or("");
                let enc = utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
                uri = uri.replace(&format!("{{{k}}}"), &enc);
            }
            Some("querystring") => {
                let name = member["locationName"].as_str().unwrap_or(k);
                for item in v.as_array().into_iter().flatten() {
                    let s = item.as_str().unwrap_or("");
                    query.push(format!(
                        "{name}={}",
                        utf8_percent_encode(s, NON_ALPHANUMERIC)
                    ));
                }
            }
            _ => {
                body.insert(k.clone(), v.clone());
            }
        }
    }
    // A uri member left out: empty label.
    if let Some(i) = uri.find('{') {
        uri.truncate(i);
    }
    if !query.is_empty() {
        uri = format!("{uri}?{}", query.join("&"));
    }
    let body_text = serde_json::to_string(&Value::Object(body)).unwrap();
    let body = (method == "POST").then_some(body_text.as_str());
    signed(addr, method, &uri, body).await
}

fn base_input(model: &Model, op: &str) -> Value {
    let input = model.0["operations"][op]["input"]["shape"]
        .as_str()
        .unwrap();
    model.valid(input)
}

#[tokio::test]
async fn every_operation_is_routed() {
    let model = Model::load();
    let (addr, handle) = start(no_quotas()).await;
    let ops = model.0["operations"].as_object().unwrap();
    assert_eq!(ops.len(), 17);
    for (op, spec) in ops {
        let input = base_input(&model, op);
        let r = send(addr, &model, op, &input).await;
        let j = r.json();
        assert_ne!(
            j["reason"], "UNKNOWN_OPERATION",
            "{op} not routed: {}",
            r.body
        );
        assert!(
            [200, 204, 404].contains(&r.status),
            "{op}: valid input got {} {}",
            r.status,
            r.body
        );
        if r.status != 404 {
            assert_eq!(
                r.status as u64,
                spec["http"]["responseCode"].as_u64().unwrap(),
                "{op} success code"
            );
        }
        assert!(r.header("x-amzn-requestid").is_some());
    }
    let s = stats(addr).await;
    assert_eq!(s["operations"].as_object().unwrap().len(), 17, "{s}");
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn every_constrained_member_is_enforced() {
    let model = Model::load();
    let (addr, handle) = start(no_quotas()).await;
    let mut cases = Vec::new();
    for (op, spec) in model.0["operations"].as_object().unwrap() {
        let input = spec["input"]["shape"].as_str().unwrap();
        collect(&model, op, input, &mut Vec::new(), &mut cases);
    }
    let mut failures = Vec::new();
    let mut per_op = std::collections::BTreeMap::<String, usize>::new();
    for case in &cases {
        let top = model.0["operations"][&case.op]["input"]["shape"]
            .as_str()
            .unwrap();
        let mut input = base_input(&model, &case.op);
        set_at(&mut input, &case.path, case.value.clone(), &model, top);
        let r = send(addr, &model, &case.op, &input).await;
        let j = r.json();
        let expected = case.field_name();
        let named = j["fieldList"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|f| f["name"] == expected.as_str());
        if r.status != 400
            || r.header("x-amzn-errortype") != Some("ValidationException")
            || j["reason"] != "FIELD_VALIDATION_FAILED"
            || !named
        {
            failures.push(format!(
                "{} {} ({}): {} {}",
                case.op, expected, case.what, r.status, r.body
            ));
        }
        *per_op.entry(case.op.clone()).or_default() += 1;
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Every operation with input members got cases; the model is not trivially covered.
    assert_eq!(per_op.len(), 17, "{per_op:?}");
    assert!(cases.len() > 100, "only {} cases", cases.len());
    eprintln!(
        "{} out-of-bounds cases over {} operations",
        cases.len(),
        per_op.len()
    );
    handle.shutdown().await.unwrap();
}
