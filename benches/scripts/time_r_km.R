#!/usr/bin/env Rscript
# Kaplan-Meier + log-rank in R survival, from CSV file to tables.
# Usage: Rscript time_r_km.R read.csv|fread FILE.csv OUTPREFIX
# Writes OUTPREFIX.km.csv (summary(fit, censored = TRUE): every distinct time), OUTPREFIX.summary.csv
# (n, events, median and its CI per group), OUTPREFIX.logrank.csv (survdiff).
# Phase times go to stderr.
suppressPackageStartupMessages(library(survival))
source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))), "common.R"))
d <- read_input()
lap("read")
fit <- survfit(Surv(time, status) ~ group, data = d)
lap("survfit")
s <- summary(fit, censored = TRUE)  # every distinct time, as hemosurv PREFIX.km.csv
km <- data.frame(group = sub("^group=", "", as.character(s$strata)), time = s$time,
                 n_risk = s$n.risk, n_event = s$n.event, n_censor = s$n.censor,
                 surv = s$surv, std_err = s$std.err, lower = s$lower, upper = s$upper,
                 cumhaz = s$cumhaz, cumhaz_se = s$std.chaz)
tab <- s$table
summ <- data.frame(group = sub("^group=", "", rownames(tab)), n = tab[, "records"],
                   events = tab[, "events"], median = tab[, "median"],
                   median_lower = tab[, "0.95LCL"], median_upper = tab[, "0.95UCL"])
lap("summary")
sd <- survdiff(Surv(time, status) ~ group, data = d)
lr <- data.frame(group = sub("^group=", "", names(sd$n)), n = as.numeric(sd$n),
                 observed = sd$obs, expected = sd$exp, chisq = sd$chisq,
                 variance_11 = sd$var[1, 1])
lap("survdiff")
write_full(km, paste0(out, ".km.csv"))
write_full(summ, paste0(out, ".summary.csv"))
write_full(lr, paste0(out, ".logrank.csv"))
lap("write")
