# Pinned glmer optima for GLMMs with vector-valued random effects on badly scaled covariates.
#
# Two public data sets whose correlated random slopes sit on covariates in centimetres or
# years, and a simulated family with slope SDs 1/10 and 1/100 of the intercept SD (binomial
# and Poisson, 2x2 and 3x3 covariance matrices). Each case records glmer's default fit and a
# fit with glmerControl(tolPwrss = 1e-10) ("tight"); where glmer warns (convergence check),
# glmmTMB's fit of the same model is recorded as well, and the best log-likelihood of the
# fits is stored as "best_loglik". For glmmTMB, theta is lme4's parametrisation computed from
# its covariance matrix (lower Cholesky factor, column by column) and "singular" applies
# lme4's isSingular rule (a diagonal element below 1e-4) to it.
#
# Data: lme4::grouseticks (Elston et al. 2001, Parasitology 122; GPL >= 2, already exported
# to data/grouseticks.csv by glmm_reference.R); mlmRev::Contraception (1988 Bangladesh
# Fertility Survey; Huq & Cleland 1990; GPL >= 2), exported to data/contraception.csv; the
# simulated designs are drawn here with a fixed seed and written to data/scaling_*.csv.
#
# Usage (from this folder): Rscript --vanilla glmm_scaling.R   -> writes glmm_scaling.json
suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
  library(glmmTMB)
})

data(Contraception, package = "mlmRev")
write.csv(Contraception, "data/contraception.csv", row.names = FALSE)

simulate_case <- function(family, q, ratio, seed) {
  set.seed(seed)
  n_groups <- 60
  per_group <- 20
  g <- rep(seq_len(n_groups), each = per_group)
  n <- length(g)
  x1 <- rnorm(n, 0, 10)   # a covariate in "years": SD 10
  x2 <- rnorm(n, 0, 5)
  sd <- c(1, ratio, ratio)[seq_len(q)]
  R <- matrix(0.3, q, q)
  diag(R) <- 1
  S <- diag(sd, q) %*% R %*% diag(sd, q)
  b <- matrix(rnorm(n_groups * q), n_groups, q) %*% chol(S)
  Z <- cbind(1, x1, x2)[, seq_len(q), drop = FALSE]
  eta <- -0.3 + 0.02 * x1 - 0.03 * x2 + rowSums(Z * b[g, , drop = FALSE])
  y <- if (family == "binomial") rbinom(n, 1, plogis(eta)) else rpois(n, exp(eta))
  data.frame(g = sprintf("g%02d", g), x1 = x1, x2 = x2, y = y)
}

sim_cases <- list()
seed <- 20261130
for (family in c("binomial", "poisson")) {
  for (q in c(2, 3)) {
    for (ratio in c(0.1, 0.01)) {
      seed <- seed + 1
      name <- sprintf("scaling_%s_q%d_r%s", family, q, sub("\\.", "", format(ratio)))
      d <- simulate_case(family, q, ratio, seed)
      write.csv(d, file.path("data", paste0(name, ".csv")), row.names = FALSE)
      slopes <- c("x1", "x2")[seq_len(q - 1)]
      sim_cases[[name]] <- list(
        id = name, data = name, family = family,
        formula = sprintf("y ~ x1 + x2 + (1 + %s | g)", paste(slopes, collapse = " + ")),
        simulated = list(ratio = ratio, q = q, seed = seed)
      )
    }
  }
}

cases <- c(list(
  grouseticks_slope = list(
    id = "grouseticks_slope", data = "grouseticks", family = "poisson",
    formula = "TICKS ~ YEAR + cHEIGHT + (cHEIGHT | LOCATION)"),
  contraception_slopes = list(
    id = "contraception_slopes", data = "contraception", family = "binomial",
    formula = "use ~ age + I(age^2) + urban + livch + (1 + age + urban | district)",
    py_formula = "use ~ age + I(age ** 2) + urban + livch + (1 + age + urban | district)")
), sim_cases)

read_data <- function(name) {
  d <- read.csv(file.path("data", paste0(name, ".csv")), stringsAsFactors = TRUE)
  for (v in intersect(c("YEAR", "LOCATION", "BROOD", "district", "g", "livch", "urban", "use"),
                      names(d))) d[[v]] <- factor(d[[v]])
  d
}

summarise_fit <- function(fit) {
  msgs <- fit@optinfo$conv$lme4$messages
  list(
    loglik = as.numeric(logLik(fit)),
    deviance = as.numeric(-2 * logLik(fit)),
    theta = unname(getME(fit, "theta")),
    lower = getME(fit, "lower"),
    fixed = as.list(fixef(fit)),
    se = unname(sqrt(diag(as.matrix(vcov(fit))))),
    varcorr = as.data.frame(VarCorr(fit)),
    singular = isSingular(fit),
    warnings = if (is.null(msgs)) character(0) else msgs
  )
}

out <- list()
for (case in cases) {
  d <- read_data(case$data)
  fam <- if (case$family == "binomial") binomial() else poisson()
  f <- as.formula(case$formula)
  default <- glmer(f, data = d, family = fam)
  tight <- glmer(f, data = d, family = fam, control = glmerControl(tolPwrss = 1e-10))
  rec <- list(id = case$id, data = case$data, family = case$family, formula = case$formula,
              py_formula = if (is.null(case$py_formula)) case$formula else case$py_formula,
              nobs = nrow(d), default = summarise_fit(default), tight = summarise_fit(tight))
  if (!is.null(case$simulated)) rec$simulated <- case$simulated
  best <- max(rec$default$loglik, rec$tight$loglik)
  if (length(rec$default$warnings) || length(rec$tight$warnings)) {
    tmb <- glmmTMB(f, data = d, family = fam)
    S <- VarCorr(tmb)$cond[[1]]
    L <- tryCatch(t(chol(S)), error = function(e) NULL)
    theta <- if (is.null(L)) NULL else L[lower.tri(L, diag = TRUE)]
    rec$glmmTMB <- list(loglik = as.numeric(logLik(tmb)), fixed = as.list(fixef(tmb)$cond),
                        theta = theta,
                        singular = is.null(L) || any(diag(L) < 1e-4))
    best <- max(c(best, rec$glmmTMB$loglik), na.rm = TRUE)
  }
  rec$best_loglik <- best
  out[[case$id]] <- rec
  cat(sprintf("%-32s loglik %.6f tight %.6f singular %s\n", case$id, rec$default$loglik,
              rec$tight$loglik, rec$tight$singular))
}

meta <- list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
             glmmTMB = as.character(packageVersion("glmmTMB")),
             Matrix = as.character(packageVersion("Matrix")))
writeLines(toJSON(list(meta = meta, cases = out), auto_unbox = TRUE, digits = NA, pretty = TRUE,
                  null = "null", na = "null"),
           "glmm_scaling.json")
