#!/usr/bin/env python3
"""Markdown table of one `hlh_validation.csv` (written by `hemosurv detect --truth`), as in
docs/detection.md.

    python3 docs/detection/validation_table.py DETECT_OUT/hlh_validation.csv
"""
import csv
import sys

LABELS = {
    "hscore": "HScore >= 169 (as printed)",
    "hlh2004": "HLH-2004 >= 5/8 (as printed)",
    "ohi": "OHI (sCD25 > 3900 and ferritin > 1000)",
    "hlh2004_ignore_aplasia": "HLH-2004 with ignore_during_aplasia",
    "hlh_aml": "**hlh_aml**",
}
ORDER = ["hscore", "hlh2004", "ohi", "hlh2004_ignore_aplasia", "hlh_aml"]


def fmt(x, digits=3):
    return f"{float(x):.{digits}f}"


def main(path):
    rows = {r["criteria_set"]: r for r in csv.DictReader(open(path, encoding="utf-8"))}
    print("| definition | TP | FP | FN | sensitivity (95% CI) | PPV (95% CI) | specificity "
          "| estimated vs true incidence | difference (pp) | onset error median (IQR), days "
          "| onset within ±3 d |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name in ORDER + sorted(set(rows) - set(ORDER)):
        if name not in rows:
            continue
        r = rows[name]
        ci = lambda m: f"{fmt(r[m])} ({fmt(r[m + '_lower'])}–{fmt(r[m + '_upper'])})"
        est, true = float(r["estimated_incidence"]), float(r["true_incidence"])
        onset = (f"{float(r['onset_error_median']):g} ({float(r['onset_error_q1']):g} to "
                 f"{float(r['onset_error_q3']):g})") if r["onset_error_median"] not in ("", "NA") else "NA"
        print(f"| {LABELS.get(name, name)} | {r['true_positive']} | {r['false_positive']} | "
              f"{r['false_negative']} | {ci('sensitivity')} | {ci('ppv')} | {fmt(r['specificity'])} | "
              f"{est:.4f} vs {true:.4f} | {100 * (est - true):+.2f} | {onset} | "
              f"{r['onset_within_3_days']}/{r['true_positive']} |")


if __name__ == "__main__":
    main(sys.argv[1])
