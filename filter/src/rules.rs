//! Per-path authorization: which scopes a route needs. Public paths (no
//! credentials at all) live in the config's `publicPaths`.

use crate::identity::Identity;
use crate::reject::Rejection;
use serde::Deserialize;

/// One rule; the first rule whose prefix and method match decides.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    /// Path prefix the rule covers.
    pub path_prefix: String,
    /// Methods the rule covers (empty: all).
    #[serde(default)]
    pub methods: Vec<String>,
    /// The caller needs at least one of these scopes.
    pub require_any_scope: Vec<String>,
}

/// Every problem in the rules, by index.
pub fn check(rules: &[Rule], errors: &mut Vec<String>) {
    for (i, r) in rules.iter().enumerate() {
        if !r.path_prefix.starts_with('/') {
            errors.push(format!("rules[{i}].pathPrefix: must start with '/'"));
        }
        if r.require_any_scope.is_empty() {
            errors.push(format!("rules[{i}].requireAnyScope: must list at least one scope"));
        }
    }
}

/// 403 when the first matching rule wants a scope the caller lacks.
pub fn authorize(rules: &[Rule], method: &str, path: &str, id: &Identity) -> Result<(), Rejection> {
    let Some(rule) = rules.iter().find(|r| {
        path.starts_with(&r.path_prefix)
            && (r.methods.is_empty() || r.methods.iter().any(|m| m.eq_ignore_ascii_case(method)))
    }) else {
        return Ok(());
    };
    if rule.require_any_scope.iter().any(|s| id.scopes.contains(s)) {
        return Ok(());
    }
    Err(Rejection {
        status: 403,
        description: format!(
            "{method} {} needs one of these scopes: {}",
            rule.path_prefix,
            rule.require_any_scope.join(", ")
        ),
        reason: "forbidden",
        extra_headers: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(scopes: &[&str]) -> Identity {
        Identity {
            tenant: "t".into(),
            subject: None,
            plan: None,
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn first_matching_rule_decides() {
        let rules: Vec<Rule> = serde_json::from_str(
            r#"[{"pathPrefix": "/v2/schemas", "methods": ["POST", "DELETE"], "requireAnyScope": ["admin", "schema:write"]},
                {"pathPrefix": "/v2/", "requireAnyScope": ["data"]}]"#,
        )
        .unwrap();
        assert!(authorize(&rules, "GET", "/health", &id(&[])).is_ok());
        assert!(authorize(&rules, "POST", "/v2/schemas/keyspaces", &id(&["schema:write"])).is_ok());
        let r = authorize(&rules, "DELETE", "/v2/schemas/keyspaces/k", &id(&["data"])).unwrap_err();
        assert_eq!(r.status, 403);
        assert!(r.description.contains("admin, schema:write"));
        assert!(authorize(&rules, "GET", "/v2/schemas/keyspaces", &id(&["data"])).is_ok());
        assert!(authorize(&rules, "GET", "/v2/keyspaces/k/t/rows", &id(&[])).is_err());
        let mut errors = Vec::new();
        check(&[Rule { path_prefix: "x".into(), methods: vec![], require_any_scope: vec![] }], &mut errors);
        assert_eq!(errors.len(), 2);
    }
}
