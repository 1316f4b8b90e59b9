//! Spin variables in the manifest: application variables (`[variables]`, values from
//! `SPIN_VARIABLE_<NAME>` or the declared default) and component variables (templates such
//! as `https://{{ region }}.example.com` over application variables). The
//! `fermyon:spin/variables` capability serves the resolved values
//! (`capabilities::variables`).

use std::collections::{BTreeMap, HashMap};

use super::VariableDecl;

/// A parsed template such as `https://{{ region }}.example.com`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Variable(String),
}

impl Template {
    /// Parses a template; `{{ name }}` references an application variable.
    ///
    /// # Errors
    /// A message naming the malformed part.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Literal(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| format!("unclosed `{{{{` in `{text}`"))?;
            let name = after[..end].trim();
            if !crate::manifest::is_variable_name(name) {
                return Err(format!("`{name}` is not a valid variable name in `{text}`"));
            }
            parts.push(Part::Variable(name.to_owned()));
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        Ok(Self { parts })
    }

    /// Checks that every referenced application variable is declared.
    ///
    /// # Errors
    /// A message naming the undeclared variable.
    pub fn check_references(self, declared: &BTreeMap<String, VariableDecl>) -> Result<(), String> {
        for part in &self.parts {
            if let Part::Variable(name) = part
                && !declared.contains_key(name)
            {
                return Err(format!(
                    "references application variable `{name}`, which [variables] does not declare"
                ));
            }
        }
        Ok(())
    }

    /// Renders the template with application values.
    ///
    /// # Errors
    /// The name of a variable the template uses that `values` lacks.
    pub fn render(&self, values: &HashMap<String, String>) -> Result<String, String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Variable(name) => out.push_str(
                    values
                        .get(name)
                        .ok_or_else(|| format!("application variable `{name}` has no value"))?,
                ),
            }
        }
        Ok(out)
    }
}

/// Application variable values, resolved once at start-up.
///
/// # Errors
/// The name of a required variable that has no value.
pub fn resolve_application_variables(
    declared: &BTreeMap<String, VariableDecl>,
) -> Result<HashMap<String, String>, String> {
    let mut values = HashMap::new();
    for (name, decl) in declared {
        let env = format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase());
        match std::env::var(&env).ok().or_else(|| decl.default.clone()) {
            Some(value) => {
                values.insert(name.clone(), value);
            }
            None if decl.required => {
                return Err(format!(
                    "required variable `{name}` has no value: set {env}"
                ));
            }
            None => {}
        }
    }
    Ok(values)
}

/// Renders every component variable of one component.
pub fn resolve_component_variables(
    templates: &BTreeMap<String, String>,
    app_values: &HashMap<String, String>,
) -> HashMap<String, Result<String, String>> {
    templates
        .iter()
        .map(|(name, template)| {
            let value = Template::parse(template).and_then(|t| t.render(app_values));
            (name.clone(), value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_literals_and_references() {
        let template = Template::parse("https://{{ region }}.example.com/{{x}}").expect("parse");
        let values = HashMap::from([
            ("region".to_owned(), "eu".to_owned()),
            ("x".to_owned(), "y".to_owned()),
        ]);
        assert_eq!(
            template.render(&values).as_deref(),
            Ok("https://eu.example.com/y")
        );
    }

    #[test]
    fn refuses_malformed_templates() {
        assert!(Template::parse("{{ open").is_err());
        assert!(Template::parse("{{ Bad-Name }}").is_err());
    }
}
