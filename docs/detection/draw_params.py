#!/usr/bin/env python3
"""Draw a simulator parameter file uniformly within the documented ranges of docs/simulation.md.

Used for held-out validation cohorts of the HLH definitions (docs/detection.md): the files are
drawn before any detection run and never used to change a definition.

    python3 docs/detection/draw_params.py SEED > params.json
"""
import json
import random
import sys

# (name, low, high, integer) — the "range to vary" column of docs/simulation.md.
MIMIC = [
    ("fn_prob_induction", 0.80, 0.89, False),
    ("fn_prob_consolidation", 0.45, 0.70, False),
    ("fn_prob_low_intensity", 0.10, 0.40, False),
    ("fn_recurrent_prob", 0.30, 0.50, False),
    ("fn_long_prob", 0.30, 0.45, False),
    ("fn_max_days", 7, 14, True),
    ("fn_temp_mean", 38.8, 39.3, False),
    ("sepsis_prob", 0.25, 0.37, False),
    ("fn_ferritin_factor", 1.2, 1.6, False),
    ("sepsis_ferritin_factor", 1.6, 2.5, False),
    ("sepsis_imaging_prob", 0.3, 0.7, False),
    ("anc_recovery_median_day", 25, 32, True),
    ("plt_recovery_median_day", 22, 30, True),
    ("consolidation_recovery_shift_days", 0, 8, True),
    ("prolonged_cytopenia_prob", 0.05, 0.30, False),
    ("ferritin_dx_median", 500, 1300, False),
    ("ferritin_dx_sigma", 0.8, 1.2, False),
    ("transfusion_ferritin_per_week", 100, 400, False),
    ("transfusion_ferritin_half_life_days", 90, 365, False),
    ("tg_dx_median", 1.2, 1.6, False),
    ("tg_event_factor", 1.2, 1.6, False),
    ("tg_nutrition_prob", 0.10, 0.30, False),
    ("dic_prob", 0.15, 0.42, False),
    ("ast_drug_prob", 0.1, 0.4, False),
    ("splenomegaly_dx_prob", 0.10, 0.20, False),
    ("scd25_workup_prob", 0.05, 0.30, False),
    ("scd25_median", 2000, 3500, False),
    ("marrow_day15_prob", 0.5, 1.0, False),
    ("incidental_hemophagocytosis_prob", 0.05, 0.40, False),
    ("tg_measured_prob", 0.3, 0.8, False),
    ("fibrinogen_measured_prob", 0.6, 1.0, False),
    ("sampling_jitter_prob", 0.0, 0.5, False),
    ("hlh_ferritin_peak_median", 10000, 30000, False),
    ("hlh_scd25_prob", 0.3, 0.8, False),
    ("hlh_scd25_median", 8000, 15000, False),
    ("hlh_splenomegaly_prob", 0.3, 0.7, False),
    ("hlh_infection_trigger_prob", 0.4, 0.8, False),
]
TOP = [
    ("qualified_values_fraction", 0.0, 0.3, False),
    ("hlh_prob_intensive", 0.07, 0.13, False),
    ("hlh_prob_low_intensity", 0.0, 0.04, False),
]


def draw(rng, spec):
    out = {}
    for name, lo, hi, integer in spec:
        out[name] = rng.randint(lo, hi) if integer else round(rng.uniform(lo, hi), 4)
    return out


def main():
    seed = int(sys.argv[1])
    rng = random.Random(seed)
    params = draw(rng, TOP)
    params["mimic"] = draw(rng, MIMIC)
    json.dump(params, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
