#!/usr/bin/env python3
"""Generate seeded synthetic survival data for the estimator benchmarks.

Usage:
  gen_survival_data.py km  N OUT.csv [--real]   # time,status,group
  gen_survival_data.py cox N OUT.csv            # time,status,age,male,ldh,flt3,score
  gen_survival_data.py cif N OUT.csv            # time,cause,group

Times are integer days (1..3650) unless --real is given, then days with one
decimal (0.1..3650.0). About 30% of subjects are censored (status/cause 0).
Seeds are fixed, so the same arguments always give the same bytes.
Also writes OUT.parquet (same columns, int64/float64/string) next to OUT.csv.
"""
import sys

import numpy as np
import pandas as pd


def times(rng, n, scale, cens_scale, real):
    t_event = rng.exponential(scale, n)
    t_cens = rng.exponential(cens_scale, n)
    t = np.minimum(np.minimum(t_event, t_cens), 3650.0)
    event = (t_event <= t_cens) & (t_event <= 3650.0)
    if real:
        t = np.maximum(np.round(t, 1), 0.1)
    else:
        t = np.maximum(np.ceil(t), 1).astype(np.int64)
    return t, event


def gen_km(n, real):
    rng = np.random.default_rng(20240601)
    group = np.where(rng.random(n) < 0.5, "A", "B")
    # group B has a 25% higher hazard; censoring ~30%
    scale = np.where(group == "A", 900.0, 720.0)
    t, ev = times(rng, n, scale, 1900.0, real)
    return pd.DataFrame({"time": t, "status": ev.astype(np.int64), "group": group})


def gen_cox(n):
    rng = np.random.default_rng(20240602)
    age = np.round(rng.normal(62, 12, n), 1)
    male = (rng.random(n) < 0.55).astype(np.int64)
    ldh = np.round(rng.lognormal(5.6, 0.5, n), 0).astype(np.int64)
    flt3 = (rng.random(n) < 0.3).astype(np.int64)
    score = rng.integers(0, 5, n)
    lp = 0.02 * (age - 62) + 0.15 * male + 0.4 * (np.log(ldh) - 5.6) + 0.35 * flt3 + 0.1 * score
    t, ev = times(rng, n, 900.0 * np.exp(-lp), 1700.0, False)
    return pd.DataFrame({"time": t, "status": ev.astype(np.int64), "age": age, "male": male,
                         "ldh": ldh, "flt3": flt3, "score": score})


def gen_cif(n):
    rng = np.random.default_rng(20240603)
    group = np.where(rng.random(n) < 0.5, "A", "B")
    # cause 1 (relapse) and cause 2 (non-relapse mortality), latent exponentials
    t1 = rng.exponential(np.where(group == "A", 1400.0, 1100.0), n)
    t2 = rng.exponential(np.where(group == "A", 2200.0, 2300.0), n)
    tc = rng.exponential(1850.0, n)
    t = np.minimum.reduce([t1, t2, tc, np.full(n, 3650.0)])
    cause = np.where(t == t1, 1, np.where(t == t2, 2, 0)).astype(np.int64)
    t = np.maximum(np.ceil(t), 1).astype(np.int64)
    return pd.DataFrame({"time": t, "cause": cause, "group": group})


def main():
    kind, n, out = sys.argv[1], int(float(sys.argv[2])), sys.argv[3]
    real = "--real" in sys.argv[4:]
    df = {"km": lambda: gen_km(n, real), "cox": lambda: gen_cox(n), "cif": lambda: gen_cif(n)}[kind]()
    float_format = "%.1f" if kind in ("km", "cox") else None
    df.to_csv(out, index=False, float_format=float_format)
    df.to_parquet(out[:-4] + ".parquet" if out.endswith(".csv") else out + ".parquet", index=False)
    ev = df.iloc[:, 1]
    print(f"{out}: {n} rows, censored {np.mean(ev == 0):.3f}, unique times {df['time'].nunique()}")


if __name__ == "__main__":
    main()
