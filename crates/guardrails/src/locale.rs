//! The languages the fixed texts are written in, chosen from a BCP 47 tag.

/// A language the guardrails' fixed texts exist in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    /// English, also the fallback for every language not below.
    En,
    /// Spanish.
    Es,
    /// French.
    Fr,
    /// German.
    De,
}

/// The language of a BCP 47 tag (`"es-ES"`, `"fr"`, `"de_AT"`, `"EN-us"`), by its primary
/// subtag; English for anything else, an empty or malformed tag included.
pub(crate) fn lang(locale: &str) -> Lang {
    let primary = locale
        .trim()
        .split(['-', '_'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match primary.as_str() {
        "es" => Lang::Es,
        "fr" => Lang::Fr,
        "de" => Lang::De,
        _ => Lang::En,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primary_subtag_decides() {
        assert_eq!(lang("es-ES"), Lang::Es);
        assert_eq!(lang("es-419"), Lang::Es);
        assert_eq!(lang("FR-ca"), Lang::Fr);
        assert_eq!(lang("de_AT"), Lang::De);
        assert_eq!(lang("en-US"), Lang::En);
        assert_eq!(lang("pt-BR"), Lang::En);
        assert_eq!(lang(""), Lang::En);
        assert_eq!(lang("  "), Lang::En);
    }
}
