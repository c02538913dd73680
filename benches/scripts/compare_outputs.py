#!/usr/bin/env python3
"""Check that hemosurv's output tables agree with R's (and lifelines') on EVERY row.

Usage:
  compare_outputs.py km  HS_PREFIX R_PREFIX [LIFELINES_PREFIX]
  compare_outputs.py cox HS_PREFIX R_PREFIX
  compare_outputs.py cif HS_PREFIX R_PREFIX

Relative difference of two numbers a, b: |a - b| / max(|a|, |b|) (0 when both are 0;
both missing counts as equal, one missing as a failure). Prints the maximum per column
and exits 1 if any exceeds TOL (1e-6) or a key (group, time, ...) is present in only one
table. Counts and medians must be exactly equal.
"""
import json
import sys

import numpy as np
import pandas as pd

TOL = 1e-6
failures = []


def rel(a, b):
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    both_na = np.isnan(a) & np.isnan(b)
    one_na = np.isnan(a) ^ np.isnan(b)
    den = np.maximum(np.abs(a), np.abs(b))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(den == 0, 0.0, np.abs(a - b) / den)
    r = np.where(both_na, 0.0, r)
    r = np.where(one_na, np.inf, r)
    return r


def check(label, a, b, exact=False):
    r = rel(a, b)
    worst = float(np.max(r)) if r.size else 0.0
    limit = 0.0 if exact else TOL
    ok = worst <= limit
    print(f"  {label:<42} n={r.size:<7} max rel diff {worst:.3g} {'ok' if ok else 'FAIL'}")
    if not ok:
        failures.append(label)


def join(h, r, keys, what):
    m = h.merge(r, on=keys, how="outer", suffixes=("_h", "_r"), indicator=True)
    only = m[m["_merge"] != "both"]
    print(f"  {what}: {len(m)} rows, {len(only)} present in only one table")
    if len(only):
        failures.append(what + " row sets differ")
        print(only.head())
    return m[m["_merge"] == "both"]


def km(hs, r, ll=None):
    h = pd.read_csv(hs + ".km.csv", float_precision="round_trip")
    rk = pd.read_csv(r + ".km.csv", float_precision="round_trip")
    print("KM table vs R summary(survfit, censored = TRUE):")
    m = join(h, rk, ["group", "time"], "km rows")
    for c in ["n_risk", "n_event", "n_censor"]:
        check(c, m[c + "_h"], m[c + "_r"], exact=True)
    for c in ["surv", "std_err", "lower", "upper", "cumhaz", "cumhaz_se"]:
        check(c, m[c + "_h"], m[c + "_r"])
    hsum = pd.read_csv(hs + ".summary.csv", float_precision="round_trip")
    rsum = pd.read_csv(r + ".summary.csv", float_precision="round_trip")
    m = join(hsum, rsum, ["group"], "summary rows")
    for c in ["n", "events", "median", "median_lower", "median_upper"]:
        check("summary " + c, m[c + "_h"], m[c + "_r"], exact=True)
    lr = json.load(open(hs + ".logrank.json"))
    rlr = pd.read_csv(r + ".logrank.csv", float_precision="round_trip")
    order = [lr["groups"].index(g) for g in rlr["group"].astype(str)]
    print("log-rank vs R survdiff:")
    check("chisq", [lr["chisq"]], [rlr["chisq"].iloc[0]])
    check("observed", np.array(lr["observed"])[order], rlr["observed"], exact=True)
    check("expected", np.array(lr["expected"])[order], rlr["expected"])
    check("variance[0][0]", [lr["variance"][order[0]][order[0]]], [rlr["variance_11"].iloc[0]])
    print(f"  chisq hemosurv {lr['chisq']!r}  R {rlr['chisq'].iloc[0]!r}")
    if ll:
        lk = pd.read_csv(ll + ".km.csv", float_precision="round_trip")
        print("KM vs lifelines (surv at every hemosurv time; lifelines adds time 0):")
        m = join(h, lk[lk["time"] > 0], ["group", "time"], "km rows")
        check("surv", m["surv_h"], m["surv_r"])
        lsum = pd.read_csv(ll + ".summary.csv", float_precision="round_trip")
        m = join(hsum, lsum, ["group"], "summary rows")
        for c in ["n", "events", "median"]:
            check("summary " + c, m[c + "_h"], m[c + "_r"], exact=True)
        # lifelines' median CI comes from its log(-log) pointwise band, not R's "log" band
        for c in ["median_lower", "median_upper"]:
            r_ = rel(m[c + "_h"], m[c + "_r"])
            print(f"  {'summary ' + c + ' (info: different CI type)':<42} max rel diff {float(np.max(r_)):.3g}")
        llr = pd.read_csv(ll + ".logrank.csv", float_precision="round_trip")
        check("logrank chisq", [lr["chisq"]], [llr["chisq"].iloc[0]])


def cox(hs, r):
    h = pd.read_csv(hs + ".cox.csv", float_precision="round_trip")
    rc = pd.read_csv(r + ".cox.csv", float_precision="round_trip")
    print("Cox coefficients vs R summary(coxph):")
    m = join(h, rc, ["term"], "coef rows")
    for c in ["coef", "hr", "se", "z", "p", "hr_lower", "hr_upper"]:
        check(c, m[c + "_h"], m[c + "_r"])
    j = json.load(open(hs + ".cox.json"))
    f = pd.read_csv(r + ".coxfit.csv", float_precision="round_trip").iloc[0]
    print("Cox fit statistics:")
    check("loglik_null", [j["loglik_null"]], [f["loglik_null"]])
    check("loglik", [j["loglik"]], [f["loglik"]])
    check("likelihood ratio test", [j["lr_test"]["statistic"]], [f["lr_test"]])
    check("Wald test", [j["wald_test"]["statistic"]], [f["wald_test"]])
    check("score test", [j["score_test"]["statistic"]], [f["score_test"]])
    check("concordance", [j["concordance"]["C"]], [f["concordance"]])
    check("concordance se", [j["concordance"]["se"]], [f["concordance_se"]])
    check("iterations, n, nevent", [j["iterations"], j["n"], j["nevent"]],
          [f["iterations"], f["n"], f["nevent"]], exact=True)


def cif(hs, r):
    h = pd.read_csv(hs + ".cif.csv", float_precision="round_trip")
    rc = pd.read_csv(r + ".cif.csv", float_precision="round_trip")
    # cuminc returns step functions with each jump time listed twice (before, after);
    # the value after the jump is the last row for that time.
    rc = rc.groupby(["group", "cause", "time"], as_index=False, sort=False).last()
    print("CIF curves vs R cmprsk::cuminc (value after each jump):")
    # cuminc ends every curve at the group's last follow-up time; when that cause has
    # no jump there, R has one extra, flat point. Check it is flat, then set it aside.
    last = h.groupby(["group", "cause"]).tail(1).set_index(["group", "cause"])
    hkeys = set(zip(h["group"], h["cause"], h["time"]))
    extra = rc[[k not in hkeys for k in zip(rc["group"], rc["cause"], rc["time"])]]
    for _, row in extra.iterrows():
        prev = last.loc[(row["group"], row["cause"])]
        if row["time"] > prev["time"]:
            print(f"  R-only trailing flat point: group {row['group']} cause {row['cause']} time {row['time']}")
            check(f"  its estimate = last hemosurv value", [row["estimate"]], [prev["estimate"]])
            check(f"  its variance = last hemosurv value", [row["variance"]], [prev["variance"]])
            rc = rc.drop(index=row.name)
    m = join(h, rc, ["group", "cause", "time"], "cif rows")
    check("estimate", m["estimate_h"], m["estimate_r"])
    check("variance", m["variance_h"], m["variance_r"])
    for t in [30, 365, 730, 1825]:
        for (g, c), sub in m.groupby(["group", "cause"]):
            row = sub[sub["time"] <= t].iloc[-1]
            print(f"  CIF group {g} cause {c} at day {t:>4}: hemosurv {row['estimate_h']:.12f}  R {row['estimate_r']:.12f}")
    j = json.load(open(hs + ".cif.json"))
    g = pd.read_csv(r + ".gray.csv", float_precision="round_trip")
    print("Gray's test vs R:")
    for t in j["gray_test"]:
        rr = g[g["cause"] == t["cause"]].iloc[0]
        check(f"Gray stat cause {t['cause']}", [t["stat"]], [rr["stat"]])
        print(f"    hemosurv {t['stat']!r}  R {rr['stat']!r}")


def main():
    kind = sys.argv[1]
    {"km": km, "cox": cox, "cif": cif}[kind](*sys.argv[2:])
    if failures:
        print("DISAGREEMENT: " + "; ".join(failures))
        sys.exit(1)
    print("all compared numbers agree")


if __name__ == "__main__":
    main()
