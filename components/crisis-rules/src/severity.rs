//! The severity scale the rules grade on: a module of its own so that the compiled tables
//! and the engine both use it without importing each other.

/// How severe a crisis signal is (the WIT `severity`), ordered from `None` to `Imminent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// No crisis signal.
    None,
    /// Distress without a risk indicator.
    Low,
    /// Passive thoughts of death or self-harm, without plan or intent.
    Moderate,
    /// Active thoughts with a method, or recent self-harm.
    High,
    /// A plan, means, intent or timing: act now.
    Imminent,
}

impl Severity {
    /// All severities, in order.
    pub const ALL: [Severity; 5] = [
        Severity::None,
        Severity::Low,
        Severity::Moderate,
        Severity::High,
        Severity::Imminent,
    ];

    /// The WIT name (`none`, `low`, `moderate`, `high`, `imminent`).
    pub fn name(self) -> &'static str {
        match self {
            Severity::None => "none",
            Severity::Low => "low",
            Severity::Moderate => "moderate",
            Severity::High => "high",
            Severity::Imminent => "imminent",
        }
    }

    /// Parses a WIT name.
    pub fn parse(name: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|s| s.name() == name)
    }
}
