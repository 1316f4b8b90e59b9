#!/usr/bin/env python3
"""Validate exemplars.jsonl and print its counts.

    python3 components/crisis-rules/exemplars/check.py [FILE]

Every line must be a JSON object with allowed values (see README.md); ids and texts must be
unique; a text must not repeat a text of cases/cases.jsonl. Exits 1 and lists every problem
as FILE:LINE: message. Coverage below the targets (rung 25, means 15, kind 20) is a warning.
"""
import json
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNG_SEVERITY = {
    "wish-dead": "moderate",
    "active": "high",
    "method": "high",
    "selfharm": "high",
    "intent": "imminent",
    "plan": "imminent",
    "preparatory": "imminent",
    "negative": "none",
}
MEANS = ["overdose", "hanging", "heights", "firearm", "carbon-monoxide", "cutting",
         "drowning", "traffic", "other", "none"]
KINDS = ["idiom", "negation", "reported", "third-person", "everyday"]
POSITIVE_KEYS = {"id", "text", "severity", "rung", "means"}
NEGATIVE_KEYS = {"id", "text", "severity", "rung", "kind"}
MIN_WORDS, MAX_WORDS = 5, 45
TARGET_RUNG, TARGET_MEANS, TARGET_KIND = 25, 15, 20


def canonical(text):
    """Lowercase words without apostrophes: what counts as 'the same text'."""
    text = re.sub(r"['\u2019\u2018\u02bc]", "", text.lower())
    return " ".join(re.findall(r"[a-z0-9]+", text))


def case_texts():
    path = HERE.parent / "cases" / "cases.jsonl"
    texts = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("//"):
                case = json.loads(line)
                texts[canonical(case["text"])] = case["id"]
    return texts


def main():
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "exemplars.jsonl"
    errors, rows = [], []
    ids, texts = {}, {}
    cases = case_texts()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        def error(message):
            errors.append(f"{path.name}:{number}: {message}")
        if not line.strip():
            error("blank line")
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            error(f"not JSON: {e}")
            continue
        if not isinstance(row, dict):
            error("not a JSON object")
            continue
        rung = row.get("rung")
        if rung not in RUNG_SEVERITY:
            error(f"rung {rung!r} is not one of {', '.join(RUNG_SEVERITY)}")
            continue
        keys = NEGATIVE_KEYS if rung == "negative" else POSITIVE_KEYS
        if set(row) != keys:
            missing, extra = keys - set(row), set(row) - keys
            error("fields: " + "; ".join(
                part for part in (f"missing {sorted(missing)}" if missing else "",
                                  f"unexpected {sorted(extra)}" if extra else "") if part))
            continue
        if not all(isinstance(row[k], str) for k in keys):
            error("every field must be a string")
            continue
        if not re.fullmatch(r"ex-[a-z0-9]+(-[a-z0-9]+)*", row["id"]):
            error(f"id {row['id']!r}: use ex-, lowercase letters, digits and hyphens")
        if row["id"] in ids:
            error(f"id {row['id']!r} repeats line {ids[row['id']]}")
        ids.setdefault(row["id"], number)
        if row["severity"] != RUNG_SEVERITY[rung]:
            error(f"rung {rung} has severity {RUNG_SEVERITY[rung]}, not {row['severity']!r}")
        if rung == "negative":
            if row["kind"] not in KINDS:
                error(f"kind {row['kind']!r} is not one of {', '.join(KINDS)}")
        elif row["means"] not in MEANS:
            error(f"means {row['means']!r} is not one of {', '.join(MEANS)}")
        text = row["text"]
        if text != text.strip() or "\n" in text:
            error("text has surrounding spaces or a line break")
        words = len(text.split())
        if not MIN_WORDS <= words <= MAX_WORDS:
            error(f"text has {words} words ({MIN_WORDS}-{MAX_WORDS} allowed)")
        key = canonical(text)
        if key in texts:
            error(f"text repeats line {texts[key]}")
        texts.setdefault(key, number)
        if key in cases:
            error(f"text repeats case {cases[key]} of cases/cases.jsonl (exemplars must be new)")
        rows.append(row)

    if errors:
        print("\n".join(errors))
        print(f"{len(errors)} problem(s)")
        return 1

    positives = [r for r in rows if r["rung"] != "negative"]
    negatives = [r for r in rows if r["rung"] == "negative"]
    print(f"{path.name}: {len(rows)} exemplars, {len(positives)} positive, "
          f"{len(negatives)} negative")

    def table(title, counter, order):
        print(f"\n{title}")
        for name in order:
            print(f"  {name:<16}{counter.get(name, 0):>4}")

    table("severity", Counter(r["severity"] for r in rows),
          ["moderate", "high", "imminent", "none"])
    rungs = [r for r in RUNG_SEVERITY if r != "negative"]
    rung_counts = Counter(r["rung"] for r in positives)
    means_counts = Counter(r["means"] for r in positives)
    kind_counts = Counter(r["kind"] for r in negatives)
    table("rung (positives)", rung_counts, rungs)
    table("means (positives)", means_counts, MEANS)
    table("kind (negatives)", kind_counts, KINDS)

    cells = Counter((r["rung"], r["means"]) for r in positives)
    short = {"carbon-monoxide": "co"}
    print("\nrung x means")
    print("  " + f"{'':<12}" + "".join(f"{short.get(m, m)[:8]:>9}" for m in MEANS))
    for rung in rungs:
        print("  " + f"{rung:<12}" + "".join(
            f"{cells.get((rung, m), 0) or '.':>9}" for m in MEANS))

    warnings = [f"rung {r}: {rung_counts.get(r, 0)} < {TARGET_RUNG}" for r in rungs
                if rung_counts.get(r, 0) < TARGET_RUNG]
    warnings += [f"means {m}: {means_counts.get(m, 0)} < {TARGET_MEANS}" for m in MEANS
                 if means_counts.get(m, 0) < TARGET_MEANS]
    warnings += [f"kind {k}: {kind_counts.get(k, 0)} < {TARGET_KIND}" for k in KINDS
                 if kind_counts.get(k, 0) < TARGET_KIND]
    for warning in warnings:
        print(f"warning: coverage below target: {warning}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
