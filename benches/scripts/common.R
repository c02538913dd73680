# Shared by the time_r_*.R scripts (sourced): command-line arguments, the phase
# timer, the CSV reader and the exact (17-digit) CSV writer.
# Arguments of every script: read.csv|fread FILE.csv OUTPREFIX
args <- commandArgs(trailingOnly = TRUE)
reader <- args[1]; file <- args[2]; out <- args[3]
t0 <- proc.time()[["elapsed"]]
lap <- function(what) {  # phase times go to stderr
  t1 <- proc.time()[["elapsed"]]
  message(sprintf("phase %-10s %7.3f s", what, t1 - t0))
  t0 <<- t1
}
read_input <- function() {
  if (reader == "fread") {
    data.table::setDTthreads(0L)
    as.data.frame(data.table::fread(file))
  } else {
    read.csv(file)
  }
}
write_full <- function(df, path) {  # 17 significant digits, so the agreement check is exact
  num <- vapply(df, is.double, TRUE)
  df[num] <- lapply(df[num], function(x) ifelse(is.na(x), "", sprintf("%.17g", x)))
  write.csv(df, path, row.names = FALSE, quote = FALSE)
}
