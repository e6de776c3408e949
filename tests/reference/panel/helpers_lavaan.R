# Helpers shared by the panel reference scripts: turn lavaan fits into plain lists for JSON.
suppressPackageStartupMessages({library(lavaan); library(jsonlite)})

FIT_MEASURES <- c("npar", "ntotal", "chisq", "df", "pvalue", "baseline.chisq", "baseline.df",
                  "cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "rmsea.pvalue",
                  "srmr", "srmr_bentler", "srmr_bentler_nomean", "aic", "bic", "logl",
                  "unrestricted.logl")

# Parameter table with estimates and the standard errors of each refit (same estimates).
param_table <- function(fit, se_fits = list()) {
  pe <- parameterEstimates(fit, standardized = TRUE, remove.nonfree = FALSE)
  if (is.null(pe$group)) pe$group <- 1L
  pt <- parTable(fit)
  key <- function(d) paste(d$lhs, d$op, d$rhs, d$group)
  pe$free <- pt$free[match(key(pe), key(pt))] > 0
  out <- data.frame(lhs = pe$lhs, op = pe$op, rhs = pe$rhs, group = pe$group,
                    label = if (is.null(pe$label)) "" else pe$label, free = pe$free, est = pe$est, se = pe$se,
                    std_all = pe$std.all, stringsAsFactors = FALSE)
  for (nm in names(se_fits)) {
    other <- parameterEstimates(se_fits[[nm]], remove.nonfree = FALSE)
    if (is.null(other$group)) other$group <- 1L
    out[[nm]] <- other$se[match(key(out), key(other))]
  }
  out[out$op %in% c("=~", "~", "~~", "~1"), ]
}

fit_record <- function(fit, se_fits = list(), extra = list()) {
  fm <- fitMeasures(fit, FIT_MEASURES)
  c(list(
    fit = as.list(fm),
    converged = lavInspect(fit, "converged"),
    information = lavInspect(fit, "options")$information[1],
    ngroups = lavInspect(fit, "ngroups"),
    group_labels = as.list(lavInspect(fit, "group.label")),
    nobs = as.list(lavInspect(fit, "nobs")),
    parameters = param_table(fit, se_fits)
  ), extra)
}

versions <- function() {
  list(R = R.version.string, lavaan = as.character(packageVersion("lavaan")))
}
