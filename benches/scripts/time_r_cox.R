#!/usr/bin/env Rscript
# Cox PH (Efron) in R survival, from CSV file to tables.
# Usage: Rscript time_r_cox.R read.csv|fread FILE.csv OUTPREFIX
# Writes OUTPREFIX.cox.csv (coef table) and OUTPREFIX.coxfit.csv (loglik, tests,
# concordance). Phase times go to stderr.
suppressPackageStartupMessages(library(survival))
source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))), "common.R"))
d <- read_input()
lap("read")
fit <- coxph(Surv(time, status) ~ age + male + ldh + flt3 + score, data = d, ties = "efron")
lap("coxph")
s <- summary(fit)
cf <- s$coefficients; ci <- s$conf.int
coef <- data.frame(term = rownames(cf), coef = cf[, "coef"], hr = cf[, "exp(coef)"],
                   se = cf[, "se(coef)"], z = cf[, "z"], p = cf[, "Pr(>|z|)"],
                   hr_lower = ci[, "lower .95"], hr_upper = ci[, "upper .95"])
fitstats <- data.frame(loglik_null = fit$loglik[1], loglik = fit$loglik[2],
                       lr_test = s$logtest[["test"]], wald_test = fit$wald.test,
                       score_test = fit$score, concordance = s$concordance[[1]],
                       concordance_se = s$concordance[[2]], iterations = fit$iter,
                       n = fit$n, nevent = fit$nevent)
lap("summary")
write_full(coef, paste0(out, ".cox.csv"))
write_full(fitstats, paste0(out, ".coxfit.csv"))
lap("write")
