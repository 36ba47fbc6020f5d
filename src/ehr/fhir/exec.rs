//! Executes a vendor profile's plan: each request in order, the placeholders of earlier steps
//! replaced by what they created; idempotent through `If-None-Exist` or, where the server has no
//! conditional create, a search by identifier before creating.

use reqwest::Method;
use serde_json::Value;

use super::super::error::EhrError;
use super::client::{FhirClient, Response};
use crate::ehr::profiles::{Body, PlannedRequest, step_ref};

/// Replaces `urn:chartline:step:N` strings with the reference created by step N.
pub fn substitute(value: &mut Value, created: &[String]) {
    match value {
        Value::String(s) if s.starts_with("urn:chartline:step:") => {
            if let Some(r) = s["urn:chartline:step:".len()..].parse::<usize>().ok().and_then(|n| created.get(n)) {
                *s = r.clone();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| substitute(v, created)),
        Value::Object(map) => map.values_mut().for_each(|v| substitute(v, created)),
        _ => {}
    }
}

/// The reference a create answered with: from Location (`.../Task/12/_history/1`), the body, or
/// the profile's id field.
pub fn created_reference(request: &PlannedRequest, response: &Response) -> Result<String, EhrError> {
    if let (Some(kind), Some(id)) = (response.body.get("resourceType").and_then(Value::as_str), response.body.get("id").and_then(Value::as_str)) {
        return Ok(format!("{kind}/{id}"));
    }
    if let Some(location) = &response.location {
        let parts: Vec<&str> = location.split('?').next().unwrap_or("").split('/').collect();
        if let Some(id) = parts.iter().position(|p| *p == request.resource_type).and_then(|i| parts.get(i + 1)) {
            return Ok(format!("{}/{id}", request.resource_type));
        }
    }
    if let Some(field) = request.id_field {
        let id = response.body.get(field).or_else(|| response.body.pointer(&format!("/0/{field}")));
        if let Some(id) = id.and_then(|v| v.as_str().map(str::to_string).or_else(|| v.as_i64().map(|n| n.to_string()))) {
            return Ok(format!("{}/{id}", request.resource_type));
        }
    }
    Err(EhrError::Protocol(format!("creating {} returned no id", request.resource_type)))
}

/// The first match of a searchset, as a reference.
fn first_match(resource_type: &str, bundle: &Value) -> Option<String> {
    let entry = bundle.get("entry")?.as_array()?.first()?;
    let id = entry.pointer("/resource/id")?.as_str()?;
    Some(format!("{resource_type}/{id}"))
}

pub async fn execute(client: &FhirClient, plan: Vec<PlannedRequest>, conditional_create: bool) -> Result<Vec<String>, EhrError> {
    let mut created: Vec<String> = Vec::with_capacity(plan.len());
    for (step, mut request) in plan.into_iter().enumerate() {
        debug_assert!(step_ref(step).starts_with("urn:chartline:step:"));
        if let Body::Json(body) = &mut request.body {
            substitute(body, &created);
        }
        let method = Method::from_bytes(request.method.as_bytes()).map_err(|e| EhrError::Protocol(e.to_string()))?;
        let mut headers = Vec::new();
        if let Some(condition) = &request.if_none_exist {
            if conditional_create {
                headers.push(("If-None-Exist", condition.clone()));
            } else {
                let found = client.get(&format!("{}?{condition}", request.resource_type)).await?;
                if let Some(reference) = first_match(&request.resource_type, &found.body) {
                    created.push(reference);
                    continue;
                }
            }
        }
        let response = client.send(method, &request.path, Some(&request.body), &headers).await?;
        created.push(created_reference(&request, &response)?);
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(kind: &str, id_field: Option<&'static str>) -> PlannedRequest {
        PlannedRequest { method: "POST", path: kind.into(), body: Body::Json(json!({})), if_none_exist: None, resource_type: kind.into(), id_field }
    }

    #[test]
    fn placeholders_are_replaced_deeply() {
        let mut v = json!({"focus": {"reference": "urn:chartline:step:0"}, "basedOn": [{"reference": "urn:chartline:step:1"}], "x": "urn:chartline:step:9"});
        substitute(&mut v, &["Communication/5".into(), "Task/6".into()]);
        assert_eq!(v["focus"]["reference"], "Communication/5");
        assert_eq!(v["basedOn"][0]["reference"], "Task/6");
        assert_eq!(v["x"], "urn:chartline:step:9");
    }

    #[test]
    fn created_reference_sources() {
        let body = Response { status: 201, location: None, body: json!({"resourceType": "Task", "id": "12"}) };
        assert_eq!(created_reference(&request("Task", None), &body).unwrap(), "Task/12");
        let loc = Response { status: 201, location: Some("http://h/fhir/Task/13/_history/1".into()), body: Value::Null };
        assert_eq!(created_reference(&request("Task", None), &loc).unwrap(), "Task/13");
        let athena = Response { status: 200, location: None, body: json!([{"patientcaseid": 77, "success": true}]) };
        assert_eq!(created_reference(&request("patientcase", Some("patientcaseid")), &athena).unwrap(), "patientcase/77");
        let none = Response { status: 201, location: None, body: Value::Null };
        assert!(created_reference(&request("Task", None), &none).is_err());
    }
}
