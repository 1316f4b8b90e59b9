//! Plain-language titles and descriptions. They describe what the person's own logs show
//! ("on days you logged …, your mood averaged …"), say how many days that rests on, and
//! never claim a cause or a diagnosis.

use crate::detect::{Candidate, Detail};
use crate::{Direction, Strength};

/// Words and phrases no text may contain (causal or diagnostic claims). Checked by tests
/// over generated patterns.
pub const FORBIDDEN: [&str; 10] = [
    "causes",
    "caused",
    "because",
    "improves",
    "worsens",
    "makes you",
    "leads to",
    "diagnos",
    "disorder",
    "depression",
];

/// Title (≤ 200 characters) and description of a pattern.
#[must_use]
pub fn describe(c: &Candidate, strength: Strength) -> (String, String) {
    let dir = c.direction();
    let hl = match dir {
        Direction::Higher => "higher",
        Direction::Lower => "lower",
    };
    let gap = format!("{:.1}", c.diff.abs());
    let means = format!("{:.1} vs {:.1}", c.mean_with, c.mean_without);
    let early = strength == Strength::Observation;
    let (title, body) = match &c.detail {
        Detail::Factor => {
            let f = factor_label(&c.subject);
            (
                format!("Your mood has been {hl} on days you logged {f}"),
                format!(
                    "On days you logged {f} your mood averaged {gap} points {hl} than on days \
                     without it ({means}). This rests on {} days with {f} and {} days without.",
                    c.n_with, c.n_without
                ),
            )
        }
        Detail::Weekday => {
            let d = capitalise(&c.subject);
            (
                format!("Your mood tends to be {hl} on {d}s"),
                format!(
                    "On {d}s your mood averaged {gap} points {hl} than on other days ({means}). \
                     This rests on {} {d}s and {} other days.",
                    c.n_with, c.n_without
                ),
            )
        }
        Detail::TimeOfDay => {
            let part = part_phrase(&c.subject);
            (
                format!("Your mood tends to be {hl} {part}"),
                format!(
                    "On days you logged both {part} and at other times, your mood {part} \
                     averaged {gap} points {hl} than the rest of the same day ({means}). This \
                     rests on {} such days.",
                    c.n_with
                ),
            )
        }
        Detail::Wearable {
            metric,
            lag,
            low_cut,
            high_cut,
        } => {
            let (title_subject, high, low, unit) =
                metric_phrases(*metric, *lag, *low_cut, *high_cut);
            (
                format!("Your mood has tended to be {hl} {title_subject}"),
                format!(
                    "{high} your mood averaged {gap} points {hl} than {low} ({means}). This \
                     rests on {} days with {unit} data and mood logs{}.",
                    c.n_days,
                    c.rank_corr
                        .map(|r| format!("; the rank correlation is {r:.2}"))
                        .unwrap_or_default()
                ),
            )
        }
        Detail::Trend { recent, prior } => {
            let weeks = prior / 7;
            (
                format!("Your mood has been {hl} over the last {} days", recent),
                format!(
                    "Over the last {recent} days your mood averaged {gap} points {hl} than in \
                     the {weeks} weeks before ({means}). This rests on {} logged days in the \
                     last {recent} days and {} in the {weeks} weeks before.",
                    c.n_with, c.n_without
                ),
            )
        }
    };
    if early {
        let title = format!("Early pattern: {}", lower_first(&title));
        let body = format!(
            "So far: {} That is too few days to tell whether it holds, so treat it as a \
             first impression; it becomes clearer as you keep logging.",
            body
        );
        (truncate(&title, 200), body)
    } else {
        let body = format!(
            "{body} This is a pattern in your own logs, not proof of what drives it: other \
             things can go along with it."
        );
        (truncate(&title, 200), body)
    }
}

/// "activity:exercise" → "exercise"; "sleep:poor" → "poor sleep"; underscores to spaces.
fn factor_label(key: &str) -> String {
    let (cat, name) = key.split_once(':').unwrap_or(("", key));
    let name = name.replace('_', " ");
    match cat {
        "sleep" if !name.contains("sleep") => format!("{name} sleep"),
        _ => name,
    }
}

fn part_phrase(part: &str) -> String {
    match part {
        "night" => "at night".into(),
        other => format!("in the {other}"),
    }
}

/// (title subject, high group phrase, low group phrase, unit name)
fn metric_phrases(
    metric: usize,
    lag: u8,
    low: f64,
    high: f64,
) -> (String, String, String, &'static str) {
    let next = lag == 1;
    match metric {
        0 => {
            let (h, l) = (hours(high), hours(low));
            if next {
                (
                    "the day after longer sleep".into(),
                    format!("On the day after a day that began with at least {h} of sleep"),
                    format!("the day after one that began with at most {l}"),
                    "sleep",
                )
            } else {
                (
                    "after longer sleep".into(),
                    format!("On days that began after at least {h} of sleep"),
                    format!("on days after at most {l}"),
                    "sleep",
                )
            }
        }
        1 => {
            let (h, l) = (format!("{high:.0} ms"), format!("{low:.0} ms"));
            if next {
                (
                    "the day after a higher heart rate variability (HRV)".into(),
                    format!("On the day after your HRV was at least {h}"),
                    format!("the day after it was at most {l}"),
                    "HRV",
                )
            } else {
                (
                    "on days with a higher heart rate variability (HRV)".into(),
                    format!("On days your HRV was at least {h}"),
                    format!("on days it was at most {l}"),
                    "HRV",
                )
            }
        }
        _ => {
            let (h, l) = (thousands(high), thousands(low));
            if next {
                (
                    "the day after more steps".into(),
                    format!("On the day after you took at least {h} steps"),
                    format!("the day after at most {l}"),
                    "step",
                )
            } else {
                (
                    "on days with more steps".into(),
                    format!("On days you took at least {h} steps"),
                    format!("on days with at most {l}"),
                    "step",
                )
            }
        }
    }
}

fn hours(minutes: f64) -> String {
    format!("{:.1} hours", minutes / 60.0)
}

fn thousands(v: f64) -> String {
    let rounded = (v / 100.0).round() * 100.0;
    // Step counts are far below i64's range; rounding to whole steps is the point.
    #[allow(clippy::cast_possible_truncation)]
    let n = rounded as i64;
    let digits = n.abs().to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if n < 0 { format!("-{out}") } else { out }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_lowercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// `true` if `text` contains none of [`FORBIDDEN`] (case-insensitive).
#[must_use]
pub fn is_non_causal(text: &str) -> bool {
    let lower = text.to_lowercase();
    FORBIDDEN.iter().all(|w| !lower.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_numbers() {
        assert_eq!(factor_label("activity:exercise"), "exercise");
        assert_eq!(factor_label("sleep:poor"), "poor sleep");
        assert_eq!(
            factor_label("social:time_with_friends"),
            "time with friends"
        );
        assert_eq!(factor_label("plain"), "plain");
        assert_eq!(thousands(12_345.0), "12,300");
        assert_eq!(thousands(950.0), "1,000");
        assert_eq!(hours(390.0), "6.5 hours");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert!(!is_non_causal("Exercise improves your mood"));
        assert!(!is_non_causal("because of sleep"));
        assert!(is_non_causal(
            "On days you logged exercise your mood averaged 1.4 points higher"
        ));
    }
}
