//! Evaluates the answer screener on the labelled chat-safety data.
//!
//! `cargo run -p mindflow-guardrails --example screen_eval -- <path to evaluation/chat-safety> [--misses] [--dev-only]`
//!
//! Prints, for the dev split and the held-out split, per kind: for unsafe kinds the recall
//! (flagged / all) and whether the flag names the labelled guardrail; for safe kinds the
//! false-positive rate. `--misses` lists the misclassified rows too; `--dev-only` skips the
//! held-out split (for tuning, which must never look at it).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use mindflow_guardrails::{Reason, screen};

/// One labelled answer.
struct Row {
    id: String,
    answer: String,
    unsafe_: bool,
    kind: String,
}

fn load(path: &Path) -> Result<Vec<Row>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let v: serde_json::Value =
                serde_json::from_str(line).map_err(|e| format!("{}: {e}", path.display()))?;
            let field = |name: &str| v.get(name).and_then(|x| x.as_str()).unwrap_or_default();
            Ok(Row {
                id: field("id").to_owned(),
                answer: field("answer").to_owned(),
                unsafe_: v
                    .get("unsafe")
                    .and_then(serde_json::Value::as_bool)
                    .unwrap_or(false),
                kind: field("kind").to_owned(),
            })
        })
        .collect()
}

/// Counts of one kind.
#[derive(Default)]
struct Tally {
    total: usize,
    flagged: usize,
    /// Flagged with the labelled reason among the reasons.
    right_reason: usize,
}

fn pct(n: usize, d: usize) -> String {
    if d == 0 {
        return "-".to_owned();
    }
    // Counts here are far below f64's exact integer range.
    #[allow(clippy::cast_precision_loss)]
    let p = n as f64 * 100.0 / d as f64;
    format!("{p:.1}%")
}

fn evaluate(name: &str, rows: &[Row], show_misses: bool) {
    let mut tallies: BTreeMap<(bool, String), Tally> = BTreeMap::new();
    let mut misses = Vec::new();
    for row in rows {
        let verdict = screen(&row.answer);
        let t = tallies.entry((row.unsafe_, row.kind.clone())).or_default();
        t.total += 1;
        if !verdict.is_safe() {
            t.flagged += 1;
        }
        if row
            .kind
            .parse::<Reason>()
            .is_ok_and(|r| verdict.reasons.contains(&r))
        {
            t.right_reason += 1;
        }
        if verdict.is_safe() == row.unsafe_ {
            misses.push(format!(
                "  {} [{}] flagged={:?}: {}",
                row.id,
                row.kind,
                verdict.reason_names(),
                row.answer
            ));
        }
    }
    println!("== {name} ({} rows)", rows.len());
    let (mut u_total, mut u_flag, mut s_total, mut s_flag) = (0, 0, 0, 0);
    for ((is_unsafe, kind), t) in tallies.iter().rev() {
        if *is_unsafe {
            u_total += t.total;
            u_flag += t.flagged;
            println!(
                "  unsafe {kind:<14} recall {:>6} ({}/{})  with its own reason {:>6}",
                pct(t.flagged, t.total),
                t.flagged,
                t.total,
                pct(t.right_reason, t.total)
            );
        } else {
            s_total += t.total;
            s_flag += t.flagged;
            println!(
                "  safe   {kind:<14} false positives {:>6} ({}/{})",
                pct(t.flagged, t.total),
                t.flagged,
                t.total
            );
        }
    }
    println!(
        "  all unsafe recall {} ({u_flag}/{u_total}); all safe false positives {} ({s_flag}/{s_total})",
        pct(u_flag, u_total),
        pct(s_flag, s_total)
    );
    if show_misses && !misses.is_empty() {
        println!("  misclassified:");
        for m in &misses {
            println!("{m}");
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let show_misses = args.iter().any(|a| a == "--misses");
    let dev_only = args.iter().any(|a| a == "--dev-only");
    let Some(dir) = args.iter().find(|a| !a.starts_with("--")) else {
        eprintln!("usage: screen_eval <path to evaluation/chat-safety> [--misses]");
        return ExitCode::FAILURE;
    };
    let dir = Path::new(dir);
    for (name, file) in [
        ("dev (tuning split)", "answers-dev.jsonl"),
        ("held-out (never tuned on)", "answers-held-out.jsonl"),
    ] {
        if dev_only && file.contains("held-out") {
            continue;
        }
        match load(&dir.join(file)) {
            Ok(rows) => evaluate(name, &rows, show_misses),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
