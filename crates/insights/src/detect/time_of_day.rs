//! Time-of-day differences, compared within days: for each part of the day, the day's mood
//! in that part minus its mood at other times of the same day. Comparing within a day
//! removes the day-to-day swings (and with them most of the autocorrelation); the daily
//! differences are still tested with the AR(1) GLS mean test. The clearest part is
//! reported, its p-value multiplied by the number of parts compared (Bonferroni).

use super::{Candidate, Detail};
use crate::InsightType;
use crate::gls::ar1_test;
use crate::series::{PARTS, Series};

/// Days with entries both in the part and outside it, needed for an observation.
pub const MIN_OBSERVATION_DAYS: usize = 3;
/// The same, for a finding.
pub const MIN_FINDING_DAYS: usize = 14;

/// At most one candidate: the part of the day that differs most clearly.
#[must_use]
pub fn detect(s: &Series) -> Option<Candidate> {
    struct PartStats {
        part: usize,
        pos: Vec<i64>,
        diffs: Vec<f64>,
        in_sum: f64,
        out_sum: f64,
    }
    let mut per_part: Vec<PartStats> = Vec::new();
    for part in 0..PARTS.len() {
        let mut st = PartStats {
            part,
            pos: vec![],
            diffs: vec![],
            in_sum: 0.0,
            out_sum: 0.0,
        };
        for d in &s.days {
            let (ps, pc) = d.parts[part];
            let (os, oc) = d
                .parts
                .iter()
                .enumerate()
                .filter(|(k, _)| *k != part)
                .fold((0.0, 0u32), |(a, b), (_, (s, c))| (a + s, b + c));
            if pc == 0 || oc == 0 {
                continue;
            }
            let (pm, om) = (ps / f64::from(pc), os / f64::from(oc));
            st.pos.push(d.pos);
            st.diffs.push(pm - om);
            st.in_sum += pm;
            st.out_sum += om;
        }
        if st.diffs.len() >= MIN_OBSERVATION_DAYS {
            per_part.push(st);
        }
    }
    let eligible_parts = per_part
        .iter()
        .filter(|p| p.diffs.len() >= MIN_FINDING_DAYS)
        .count();
    let eligible = eligible_parts > 0;
    let mut best: Option<(f64, Candidate)> = None;
    for st in &per_part {
        let part_eligible = st.diffs.len() >= MIN_FINDING_DAYS;
        if eligible && !part_eligible {
            continue;
        }
        let n = st.diffs.len();
        let nf = crate::stats::len_f(n);
        let diff = crate::stats::mean(&st.diffs);
        let fit = ar1_test(&st.pos, &st.diffs, None);
        let p = fit.map_or(1.0, |f| f.p);
        let score = if eligible {
            p - diff.abs() * 1e-9
        } else {
            -diff.abs()
        };
        if best.as_ref().is_some_and(|(b, _)| *b <= score) {
            continue;
        }
        let factor = crate::stats::len_f(eligible_parts.max(1));
        best = Some((
            score,
            Candidate {
                key: "time_of_day".into(),
                insight_type: InsightType::TimeOfDay,
                subject: PARTS[st.part].into(),
                eligible,
                p: (p * factor).min(1.0),
                diff,
                n_with: n,
                n_without: 0,
                n_days: n,
                mean_with: st.in_sum / nf,
                mean_without: st.out_sum / nf,
                rank_corr: None,
                fit,
                method: "within_day_difference_ar1_gls_t_bonferroni_parts",
                detail: Detail::TimeOfDay,
            },
        ));
    }
    best.map(|(_, c)| c)
}
