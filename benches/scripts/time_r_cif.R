#!/usr/bin/env Rscript
# Cumulative incidence + Gray's test in R cmprsk::cuminc, from CSV file to tables.
# Usage: Rscript time_r_cif.R read.csv|fread FILE.csv OUTPREFIX
# Writes OUTPREFIX.cif.csv (group, cause, time, estimate, variance: every point of
# every curve) and OUTPREFIX.gray.csv (Gray's test). Phase times go to stderr.
suppressPackageStartupMessages(library(cmprsk))
args <- commandArgs(trailingOnly = TRUE)
reader <- args[1]; file <- args[2]; out <- args[3]
t0 <- proc.time()[["elapsed"]]
lap <- function(what) {
  t1 <- proc.time()[["elapsed"]]
  message(sprintf("phase %-10s %7.3f s", what, t1 - t0))
  t0 <<- t1
}
d <- if (reader == "fread") {
  data.table::setDTthreads(0L)
  as.data.frame(data.table::fread(file))
} else {
  read.csv(file)
}
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
write_full <- function(df, path) {  # 17 significant digits, so the agreement check is exact
  num <- vapply(df, is.double, TRUE)
  df[num] <- lapply(df[num], function(x) ifelse(is.na(x), "", sprintf("%.17g", x)))
  write.csv(df, path, row.names = FALSE, quote = FALSE)
}
write_full(tab, paste0(out, ".cif.csv"))
write_full(gray, paste0(out, ".gray.csv"))
lap("write")
