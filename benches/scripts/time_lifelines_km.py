#!/usr/bin/env python3
"""Kaplan-Meier + log-rank in lifelines, from CSV file to tables.

Usage: time_lifelines_km.py FILE.csv OUTPREFIX
Writes OUTPREFIX.km.csv (survival function + CI per group), OUTPREFIX.summary.csv
(n, events, median and its CI per group) and OUTPREFIX.logrank.csv. Phase times go
to stderr. lifelines' default CI is the log(-log) ("exponential Greenwood") one,
R's default is "log", so only surv, medians and the chi-square are compared.
"""
import sys
import time

import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.statistics import logrank_test
from lifelines.utils import median_survival_times

t0 = time.perf_counter()


def lap(what):
    global t0
    t1 = time.perf_counter()
    print(f"phase {what:<10} {t1 - t0:7.3f} s", file=sys.stderr)
    t0 = t1


file, out = sys.argv[1], sys.argv[2]
d = pd.read_csv(file)
lap("read")
km_rows, summ_rows, data = [], [], {}
for g, sub in d.groupby("group", sort=True):
    kmf = KaplanMeierFitter()
    kmf.fit(sub["time"], event_observed=sub["status"], label=str(g))
    sf = kmf.survival_function_
    ci = kmf.confidence_interval_
    tab = pd.DataFrame({"group": g, "time": sf.index.values, "surv": sf.iloc[:, 0].values,
                        "lower": ci.iloc[:, 0].values, "upper": ci.iloc[:, 1].values})
    km_rows.append(tab)
    med_ci = median_survival_times(kmf.confidence_interval_)
    summ_rows.append({"group": g, "n": len(sub), "events": int(sub["status"].sum()),
                      "median": kmf.median_survival_time_,
                      "median_lower": med_ci.iloc[0, 0], "median_upper": med_ci.iloc[0, 1]})
    data[g] = sub
lap("km")
(ga, a), (gb, b) = list(data.items())[:2]
lr = logrank_test(a["time"], b["time"], event_observed_A=a["status"], event_observed_B=b["status"])
lap("logrank")
pd.concat(km_rows).to_csv(out + ".km.csv", index=False, float_format="%.17g")
pd.DataFrame(summ_rows).to_csv(out + ".summary.csv", index=False, float_format="%.17g")
pd.DataFrame([{"chisq": lr.test_statistic, "p": lr.p_value}]).to_csv(out + ".logrank.csv", index=False, float_format="%.17g")
lap("write")
