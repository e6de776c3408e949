# lavaan syntax for the RI-CLPM (Hamaker, Kuiper & Grasman 2015) and the CLPM, in the layout of
# Mulder & Hamaker (2021, Struct Equ Modeling 28(4)): random intercepts with loadings fixed at 1,
# one within component per wave (loading 1, the observed variable keeps no residual variance),
# lagged paths between adjacent within components, wave-1 covariance and residual covariances
# per wave. Written out explicitly for lavaan(meanstructure = TRUE, int.ov.free = TRUE).
#
# Variable names follow alliancestats' riclpm(): observed x_1 ..., random intercepts RI_x,
# within components w_x_1 ... . equal: any of "paths", "innovations", "means", "groups".
riclpm_syntax <- function(x, y, waves, random_intercepts = TRUE, equal = character(0),
                          covariates = character(0), covariate_target = "intercepts",
                          ngroups = 1) {
  nm <- function(v, w) paste0(v, "_", w)
  wc <- function(v, w) if (random_intercepts) paste0("w_", v, "_", w) else nm(v, w)
  # a parameter label, shared over waves and/or groups as requested
  lab <- function(base, w, over_time, over_groups = FALSE) {
    stem <- if (over_time) base else paste0(base, "_", w)
    if (ngroups == 1) return(paste0(stem, "*"))
    labs <- if (over_groups) rep(stem, ngroups) else paste0(stem, "_g", seq_len(ngroups))
    paste0("c(", paste(labs, collapse = ", "), ")*")
  }
  free <- function(base, w) if (ngroups == 1) "" else
    paste0("c(", paste(paste0(base, "_", w, "_g", seq_len(ngroups)), collapse = ", "), ")*")
  L <- character(0)
  vars <- c(x, y)
  if (random_intercepts) {
    for (v in vars) {
      L <- c(L, paste0("RI_", v, " =~ ", paste0("1*", nm(v, waves), collapse = " + ")))
      for (w in waves) L <- c(L, paste0(wc(v, w), " =~ 1*", nm(v, w)))
    }
    L <- c(L, paste0("RI_", x, " ~~ RI_", x), paste0("RI_", y, " ~~ RI_", y),
           paste0("RI_", x, " ~~ RI_", y))
  }
  ep <- "paths" %in% equal; eg <- "groups" %in% equal; ei <- "innovations" %in% equal
  for (k in seq_along(waves)[-1]) {
    w <- waves[k]; p <- waves[k - 1]
    for (out in vars) {
      terms <- vapply(vars, function(pr) {
        base <- paste0("b_", out, "_", pr)
        l <- if (ep || eg) lab(base, w, ep, eg) else ""
        paste0(l, wc(pr, p))
      }, "")
      L <- c(L, paste(wc(out, w), "~", paste(terms, collapse = " + ")))
    }
  }
  # wave-1 (co)variances free; innovations per wave, optionally equal over waves
  L <- c(L, paste(wc(x, waves[1]), "~~", wc(x, waves[1])),
         paste(wc(y, waves[1]), "~~", wc(y, waves[1])),
         paste(wc(x, waves[1]), "~~", wc(y, waves[1])))
  for (w in waves[-1]) {
    li <- function(base) if (ei) lab(base, w, TRUE) else ""
    L <- c(L, paste0(wc(x, w), " ~~ ", li("vx"), wc(x, w)),
           paste0(wc(y, w), " ~~ ", li("vy"), wc(y, w)),
           paste0(wc(x, w), " ~~ ", li("cxy"), wc(y, w)))
  }
  if ("means" %in% equal) {
    for (v in vars) {
      for (w in waves) L <- c(L, paste0(nm(v, w), " ~ ", lab(paste0("m_", v), w, TRUE), "1"))
    }
  }
  if (length(covariates) > 0) {
    for (z in covariates) {
      if (covariate_target == "intercepts") {
        L <- c(L, paste0("RI_", x, " ~ ", z), paste0("RI_", y, " ~ ", z))
      } else {
        for (v in vars) {
          for (w in waves) {
            L <- c(L, paste0(nm(v, w), " ~ ", lab(paste0("s_", v, "_", z), w, TRUE), z))
          }
        }
      }
    }
    for (i in seq_along(covariates)) {
      L <- c(L, paste(covariates[i], "~~", paste(covariates[i:length(covariates)],
                                                 collapse = " + ")))
    }
  }
  paste(L, collapse = "\n")
}

riclpm_fit <- function(model, data, ..., se = "standard", information = "observed") {
  lavaan(model, data = data, missing = "ML", meanstructure = TRUE, int.ov.free = TRUE,
         fixed.x = FALSE, information = information, se = se, ...)
}
