# Pinned lmer optima for linear mixed models with badly scaled random slopes.
#
# A simulated family (the designs of ../glmm/glmm_scaling.R with a Gaussian response): 60
# groups of 20 rows, covariates with SDs 10 and 5 (a covariate "in years"), random slopes
# whose SDs are 1/10 and 1/100 of the intercept SD, 2x2 and 3x3 covariance matrices,
# residual SD 1. Each case is fitted by REML and ML with lmer's defaults.
#
# Usage (from this folder): Rscript --vanilla lmm_scaling.R   -> writes lmm_scaling.json
suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})

simulate_case <- function(q, ratio, seed) {
  set.seed(seed)
  n_groups <- 60
  per_group <- 20
  g <- rep(seq_len(n_groups), each = per_group)
  n <- length(g)
  x1 <- rnorm(n, 0, 10)
  x2 <- rnorm(n, 0, 5)
  sd <- c(1, ratio, ratio)[seq_len(q)]
  R <- matrix(0.3, q, q)
  diag(R) <- 1
  S <- diag(sd, q) %*% R %*% diag(sd, q)
  b <- matrix(rnorm(n_groups * q), n_groups, q) %*% chol(S)
  Z <- cbind(1, x1, x2)[, seq_len(q), drop = FALSE]
  y <- 2 + 0.02 * x1 - 0.03 * x2 + rowSums(Z * b[g, , drop = FALSE]) + rnorm(n)
  data.frame(g = sprintf("g%02d", g), x1 = x1, x2 = x2, y = y)
}

out <- list()
seed <- 20261201
for (q in c(2, 3)) {
  for (ratio in c(0.1, 0.01)) {
    seed <- seed + 1
    name <- sprintf("scaling_gaussian_q%d_r%s", q, sub("\\.", "", format(ratio)))
    d <- simulate_case(q, ratio, seed)
    write.csv(d, file.path("data", paste0(name, ".csv")), row.names = FALSE)
    slopes <- c("x1", "x2")[seq_len(q - 1)]
    formula <- sprintf("y ~ x1 + x2 + (1 + %s | g)", paste(slopes, collapse = " + "))
    for (reml in c(TRUE, FALSE)) {
      fit <- lmer(as.formula(formula), data = d, REML = reml)
      msgs <- fit@optinfo$conv$lme4$messages
      key <- paste0(name, if (reml) "_REML" else "_ML")
      out[[key]] <- list(
        data = name, formula = formula, reml = reml, nobs = nrow(d),
        criterion = if (reml) REMLcrit(fit) else deviance(fit),
        theta = unname(getME(fit, "theta")), lower = getME(fit, "lower"),
        fixed = as.list(fixef(fit)), se = unname(sqrt(diag(as.matrix(vcov(fit))))),
        sigma = sigma(fit), singular = isSingular(fit),
        simulated = list(q = q, ratio = ratio, seed = seed),
        warnings = if (is.null(msgs)) character(0) else as.list(msgs)
      )
      cat(sprintf("%-36s crit %.6f singular %s\n", key, out[[key]]$criterion, isSingular(fit)))
    }
  }
}
meta <- list(R = R.version.string, lme4 = as.character(packageVersion("lme4")))
writeLines(toJSON(list(meta = meta, fits = out), auto_unbox = TRUE, digits = NA, pretty = TRUE,
                  null = "null", na = "null"), "lmm_scaling.json")
