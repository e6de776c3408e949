# lavaan syntax for the ML-SEM dynamic panel model of Allison, Williams & Moral-Benito (2017,
# Socius 3), as fitted by R dpm 1.2.0 / Stata xtdpdml, written out explicitly for lavaan().
# dpm is not in Debian, so this builder stands in for it; dpm_reference.R checks it against
# dpm's own published chi-square values before pinning anything.
#
# preds: list of list(var =, lag =, pre = TRUE/FALSE); consts: time-invariant predictors.
dpm_syntax <- function(dv, preds, consts = character(0), waves = 1:7, y_lag = 1,
                       error_inv = FALSE, const_inv = FALSE, alpha_free = FALSE,
                       y_free = FALSE, x_free = FALSE, fixed_effects = TRUE,
                       partial_pre = FALSE) {
  nm <- function(v, w) paste0(v, "_", w)
  y_lag <- setdiff(y_lag, 0)
  lags <- vapply(preds, function(p) p$lag, numeric(1))
  first <- min(waves); last <- max(waves)
  start <- first + max(c(lags, y_lag, 0))
  if (length(y_lag) == 0 && all(lags == 0)) start <- first
  targets <- start:last
  vars <- unique(vapply(preds, function(p) p$var, character(1)))
  # waves of v that the model uses: over all its terms, or over its pre() terms only (as dpm:
  # the errors of y covary with later waves of v up to the last wave a pre() term reaches)
  lag_range <- function(v, pre_only = FALSE) {
    use <- vapply(preds, function(p) p$var == v && (!pre_only || isTRUE(p$pre)), logical(1))
    c(start - max(lags[use]), last - min(lags[use]))
  }
  is_pre <- function(v) any(vapply(preds, function(p) p$var == v && isTRUE(p$pre), logical(1)))
  lines <- character(0)
  # regressions of y_w, one per target wave
  for (w in targets) {
    rhs <- character(0)
    for (k in seq_along(preds)) {
      p <- preds[[k]]
      lab <- if (x_free) paste0("b", k, "_", w) else paste0("b", k)
      rhs <- c(rhs, paste0(lab, "*", nm(p$var, w - p$lag)))
    }
    for (k in seq_along(consts)) {
      lab <- if (x_free) paste0("c", k, "_", w) else paste0("c", k)
      rhs <- c(rhs, paste0(lab, "*", consts[k]))
    }
    for (l in y_lag) {
      lab <- if (y_free) paste0("p", l, "_", w) else paste0("p", l)
      rhs <- c(rhs, paste0(lab, "*", nm(dv, w - l)))
    }
    lines <- c(lines, paste(nm(dv, w), "~", paste(rhs, collapse = " + ")))
  }
  # alpha: loadings 1 (or free, first fixed at 1), variance free, mean 0
  load <- if (alpha_free) c(paste0("1*", nm(dv, start)), nm(dv, targets[-1])) else
    paste0("1*", nm(dv, targets))
  lines <- c(lines, paste("alpha =~", paste(load, collapse = " + ")), "alpha ~~ alpha",
             "alpha ~ 0*1")
  # exogenous block: predictor waves, constants, y waves before the first target
  block <- character(0)
  for (v in vars) {
    r <- lag_range(v)
    block <- c(block, nm(v, r[1]:r[2]))
  }
  prior_y <- if (length(y_lag) > 0 && start > first) nm(dv, first:(start - 1)) else character(0)
  block <- c(block, consts, prior_y)
  for (i in seq_along(block)) {
    lines <- c(lines, paste(block[i], "~~", paste(block[i:length(block)], collapse = " + ")))
  }
  # alpha with time-varying predictors and prior y (fixed effects) or not (random effects)
  tv <- setdiff(block, consts)
  pre0 <- if (fixed_effects) "" else "0*"
  lines <- c(lines, paste("alpha ~~", paste0(pre0, tv, collapse = " + ")))
  # predetermined predictors: error of y_w covaries with later waves of the predictor
  for (w in targets[targets < last]) {
    fut <- character(0)
    for (v in vars[vapply(vars, is_pre, logical(1))]) {
      r <- lag_range(v, pre_only = TRUE)
      from <- if (partial_pre) w else w + 1
      if (from <= r[2]) fut <- c(fut, nm(v, from:r[2]))
    }
    if (length(fut) > 0) lines <- c(lines, paste(nm(dv, w), "~~", paste(fut, collapse = " + ")))
  }
  # error variances and intercepts of y_w
  for (w in targets) {
    lines <- c(lines, paste0(nm(dv, w), " ~~ ", if (error_inv) "v*" else "", nm(dv, w)))
    lines <- c(lines, paste0(nm(dv, w), " ~ ", if (const_inv) "m*" else "", "1"))
  }
  paste(lines, collapse = "\n")
}

dpm_wide <- function(long, vars, consts, id = "id", wave = "t") {
  w <- reshape(long[, c(id, wave, vars)], idvar = id, timevar = wave, direction = "wide",
               sep = "_")
  cst <- long[!duplicated(long[[id]]), c(id, consts), drop = FALSE]
  merge(w, cst, by = id, sort = TRUE)
}
