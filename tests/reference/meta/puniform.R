# p-uniform reference values from the R package puniform 0.2.7 (van Aert, CRAN).
#
# puniform is not packaged in Debian, so this script is not part of the Debian toolchain that
# regenerate.sh installs: it runs when puniform is installed (install.packages("puniform")) or
# when PUNIFORM_SRC points at an unpacked puniform 0.2.7 source tree (its R/ files are sourced;
# the P, LNP and LN1MINP estimators need none of its compiled code). Otherwise it says so and
# leaves puniform.json untouched.
library(jsonlite)

src <- Sys.getenv("PUNIFORM_SRC")
if (requireNamespace("puniform", quietly = TRUE)) {
  puni <- puniform::puniform
  version <- as.character(packageVersion("puniform"))
  e <- new.env(); data("data.mccall93", package = "puniform", envir = e)
  mccall <- e$data.mccall93
} else if (nzchar(src)) {
  suppressPackageStartupMessages(library(metafor))
  for (f in list.files(file.path(src, "R"), full.names = TRUE)) {
    if (!grepl("RcppExports", f)) sys.source(f, envir = globalenv())
  }
  puni <- puniform
  version <- read.dcf(file.path(src, "DESCRIPTION"), fields = "Version")[1, 1]
  e <- new.env(); load(file.path(src, "data", "data.mccall93.RData"), envir = e)
  mccall <- e$data.mccall93
} else {
  message("puniform is not installed and PUNIFORM_SRC is unset: puniform.json left as it is")
  quit(save = "no", status = 0)
}

two_group <- data.frame(
  m1 = c(5.4, 6.1, 5.9, 6.6, 5.2, 6.3, 5.8, 6.9, 5.5),
  m2 = c(4.6, 5.0, 5.1, 5.2, 4.9, 5.0, 5.3, 5.1, 5.2),
  sd1 = c(1.1, 1.3, 1.0, 1.5, 1.2, 1.4, 1.1, 1.6, 1.0),
  sd2 = c(1.0, 1.2, 1.1, 1.4, 1.3, 1.2, 1.0, 1.5, 1.1),
  n1 = c(25, 40, 30, 22, 60, 35, 45, 20, 50),
  n2 = c(24, 38, 31, 20, 58, 36, 44, 21, 52))
generic <- data.frame(
  yi = c(0.42, 0.55, 0.18, 0.61, 0.30, 0.25, 0.48, 0.70, 0.12, 0.36),
  vi = c(0.040, 0.030, 0.020, 0.050, 0.015, 0.025, 0.045, 0.060, 0.010, 0.020))

fit <- function(data, method, side = "right", alpha = 0.05, mirror = FALSE) {
  if (data == "mccall") {
    return(puni(ri = mccall$ri, ni = mccall$ni, side = side, method = method, alpha = alpha))
  }
  if (data == "two_group") {
    d <- two_group
    if (mirror) { tmp <- d$m1; d$m1 <- d$m2; d$m2 <- tmp }
    return(puni(m1i = d$m1, m2i = d$m2, n1i = d$n1, n2i = d$n2, sd1i = d$sd1, sd2i = d$sd2,
                side = side, method = method, alpha = alpha))
  }
  y <- if (mirror) -generic$yi else generic$yi
  puni(yi = y, vi = generic$vi, side = side, method = method, alpha = alpha)
}

values <- function(r) {
  list(est = r$est, ci_lb = r$ci.lb, ci_ub = r$ci.ub, ksig = r$ksig, L_0 = r$L.0,
       pval_0 = r$pval.0, L_pb = r$L.pb, pval_pb = r$pval.pb, est_fe = r$est.fe,
       Qstat = r$Qstat)
}

cases <- list()
for (data in c("mccall", "two_group", "generic")) {
  for (method in c("P", "LNP", "LN1MINP")) {
    cases[[paste(data, method, sep = "/")]] <- values(fit(data, method))
  }
}
cases[["generic/P/alpha10"]] <- values(fit("generic", "P", alpha = 0.10))
cases[["two_group/P/left"]] <- values(fit("two_group", "P", side = "left", mirror = TRUE))
cases[["generic/P/left"]] <- values(fit("generic", "P", side = "left", mirror = TRUE))

out <- list(r_version = R.version.string, puniform_version = version,
            data = list(mccall_ri = mccall$ri, mccall_ni = mccall$ni), cases = cases)
write_json(out, "puniform.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
