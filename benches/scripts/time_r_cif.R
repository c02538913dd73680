#!/usr/bin/env Rscript
# Cumulative incidence + Gray's test in R cmprsk::cuminc, from CSV file to tables.
# Usage: Rscript time_r_cif.R read.csv|fread FILE.csv OUTPREFIX
# Writes OUTPREFIX.cif.csv (group, cause, time, estimate, variance: every point of
# every curve) and OUTPREFIX.gray.csv (Gray's test). Phase times go to stderr.
suppressPackageStartupMessages(library(cmprsk))
source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))), "common.R"))
d <- read_input()
lap("read")
ci <- cuminc(d$time, d$cause, d$group, cencode = 0)
lap("cuminc")
curves <- ci[names(ci) != "Tests"]
tab <- do.call(rbind, lapply(names(curves), function(nm) {
  parts <- strsplit(nm, " ", fixed = TRUE)[[1]]
  data.frame(group = parts[1], cause = as.integer(parts[2]), time = curves[[nm]]$time,
             estimate = curves[[nm]]$est, variance = curves[[nm]]$var)
}))
tests <- ci$Tests
gray <- data.frame(cause = as.integer(rownames(tests)), stat = tests[, "stat"], p = tests[, "pv"],
                   df = tests[, "df"])
lap("tables")
write_full(tab, paste0(out, ".cif.csv"))
write_full(gray, paste0(out, ".gray.csv"))
lap("write")
