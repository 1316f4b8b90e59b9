//! Spin's HTTP route syntax: exact paths, `:name` parameter segments and a trailing `/...`
//! wildcard.

/// A parsed route pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pattern: String,
    segments: Vec<Segment>,
    wildcard: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Parameter(String),
}

/// What a matched request path looks like against its route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch {
    /// The part of the path matched by the route's fixed part (Spin's `spin-matched-route`
    /// base for `spin-path-info`).
    pub matched_prefix: String,
    /// What the wildcard matched, starting with `/` (empty for exact routes).
    pub path_info: String,
    /// Parameter values by name.
    pub parameters: Vec<(String, String)>,
}

impl Route {
    /// Parses a route such as `/api/v1/mood/...` or `/users/:id`.
    ///
    /// # Errors
    /// A message saying what is wrong with the pattern.
    pub fn parse(pattern: &str) -> Result<Self, String> {
        if !pattern.starts_with('/') {
            return Err(format!("route `{pattern}` must start with `/`"));
        }
        let (fixed, wildcard) = match pattern.strip_suffix("/...") {
            Some(prefix) => (prefix, true),
            None if pattern == "/..." => ("", true),
            None => (pattern, false),
        };
        let mut segments = Vec::new();
        for segment in fixed.split('/').skip(1) {
            if segment.is_empty() {
                if fixed.len() > 1 {
                    return Err(format!("route `{pattern}` has an empty segment"));
                }
                continue;
            }
            if segment.contains("...") {
                return Err(format!("route `{pattern}`: `...` may only end a route"));
            }
            match segment.strip_prefix(':') {
                Some(name) if !name.is_empty() => segments.push(Segment::Parameter(name.into())),
                Some(_) => return Err(format!("route `{pattern}` has an unnamed parameter")),
                None => segments.push(Segment::Literal(segment.into())),
            }
        }
        Ok(Self {
            pattern: pattern.to_owned(),
            segments,
            wildcard,
        })
    }

    /// The pattern as written.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Orders overlapping routes: exact beats wildcard; more literal segments beat fewer.
    pub fn specificity(&self) -> (bool, usize, usize) {
        let literals = self
            .segments
            .iter()
            .filter(|s| matches!(s, Segment::Literal(_)))
            .count();
        (!self.wildcard, self.segments.len(), literals)
    }

    /// Whether the route matches a request path (without query), without building the match:
    /// a request is checked against every route, and only the winner's match is built.
    pub fn accepts(&self, path: &str) -> bool {
        let mut parts = path_segments(path);
        for segment in &self.segments {
            match (segment, parts.next()) {
                (_, None) => return false,
                (Segment::Literal(literal), Some(part)) if literal != part => return false,
                _ => {}
            }
        }
        self.wildcard || parts.next().is_none()
    }

    /// Matches a request path (without query).
    pub fn matches(&self, path: &str) -> Option<RouteMatch> {
        let mut parts = path_segments(path);
        let mut parameters = Vec::new();
        let mut prefix = String::new();
        for segment in &self.segments {
            let part = parts.next()?;
            match segment {
                Segment::Literal(literal) if literal == part => {}
                Segment::Literal(_) => return None,
                Segment::Parameter(name) => parameters.push((name.clone(), part.to_owned())),
            }
            prefix.push('/');
            prefix.push_str(part);
        }
        let rest: Vec<&str> = parts.collect();
        if !self.wildcard && !rest.is_empty() {
            return None;
        }
        let path_info = if rest.is_empty() {
            String::new()
        } else {
            format!("/{}", rest.join("/"))
        };
        Some(RouteMatch {
            matched_prefix: if prefix.is_empty() {
                "/".into()
            } else {
                prefix
            },
            path_info,
            parameters,
        })
    }
}

/// A request path's non-empty segments (a trailing `/` is not one).
fn path_segments(path: &str) -> impl Iterator<Item = &str> {
    let trimmed = path
        .strip_suffix('/')
        .filter(|p| !p.is_empty())
        .unwrap_or(path);
    trimmed.split('/').skip(1).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The match, after checking that `accepts` agrees with it.
    fn m(route: &str, path: &str) -> Option<RouteMatch> {
        let route = Route::parse(route).ok()?;
        let found = route.matches(path);
        assert_eq!(route.accepts(path), found.is_some(), "{route:?} on {path}");
        found
    }

    #[test]
    fn exact_route_matches_only_its_path() {
        assert!(m("/hello", "/hello").is_some());
        assert!(m("/hello", "/hello/").is_some());
        assert!(m("/hello", "/hello/x").is_none());
        assert!(m("/hello", "/hell").is_none());
    }

    #[test]
    fn wildcard_matches_prefix_and_reports_path_info() {
        let found = m("/api/v1/mood/...", "/api/v1/mood/logs/42").expect("match");
        assert_eq!(found.matched_prefix, "/api/v1/mood");
        assert_eq!(found.path_info, "/logs/42");
        assert_eq!(
            m("/api/v1/mood/...", "/api/v1/mood").map(|m| m.path_info),
            Some(String::new())
        );
        assert!(m("/api/v1/mood/...", "/api/v1/moods").is_none());
        assert!(m("/...", "/anything/at/all").is_some());
    }

    #[test]
    fn parameters_are_captured() {
        let found = m("/users/:id/posts", "/users/7/posts").expect("match");
        assert_eq!(found.parameters, vec![("id".to_owned(), "7".to_owned())]);
    }

    #[test]
    fn exact_beats_wildcard_and_longer_beats_shorter() {
        let exact = Route::parse("/a/b").expect("route");
        let wild = Route::parse("/a/...").expect("route");
        let longer = Route::parse("/a/b/...").expect("route");
        assert!(exact.specificity() > longer.specificity());
        assert!(longer.specificity() > wild.specificity());
    }

    #[test]
    fn malformed_routes_are_refused() {
        assert!(Route::parse("hello").is_err());
        assert!(Route::parse("/a/.../b").is_err());
        assert!(Route::parse("/a//b").is_err());
        assert!(Route::parse("/a/:").is_err());
    }
}
