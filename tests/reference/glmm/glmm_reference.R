# Pinned reference values for alliancestats.glmm, computed with lme4::glmer.
#
# Data:
#   * lme4::cbpp (contagious bovine pleuropneumonia; Lesnoff et al. 2004), binomial with trials.
#   * lme4::grouseticks (Elston et al. 2001), Poisson counts of ticks on red grouse chicks.
#   * data/adherence*.csv: simulated home-exercise adherence written by glmm_make_data.py from
#     alliancestats.simulate.simulate_sessions (no patient data).
#
# Three cases also record profile-likelihood intervals (random-effect SDs, then fixed effects)
# (confint(method = "profile"), level 0.95).
#
# Each case is fitted twice: with glmer's defaults (the values users see) and with
# glmerControl(tolPwrss = 1e-10) ("tight"). glmer's default PIRLS tolerance (1e-7, relative
# change of the penalised deviance) leaves the Laplace deviance slightly inexact, which
# shifts the log-likelihood by up to ~3e-6 (relative) and its finite-difference Hessian (hence
# the standard errors) by up to ~1.5%; the tight fit evaluates the same Laplace
# approximation exactly and is what alliancestats reproduces to many digits.
# cbpp and grouseticks are distributed with lme4 (GPL >= 2); they are exported to data/ so the
# Python tests need no R.
#
# Usage (from this folder): Rscript --vanilla glmm_reference.R   -> writes glmm_reference.json
suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})

data(cbpp, package = "lme4")
data(grouseticks, package = "lme4")
write.csv(cbpp, "data/cbpp.csv", row.names = FALSE)
write.csv(grouseticks[, c("INDEX", "TICKS", "BROOD", "HEIGHT", "YEAR", "LOCATION", "cHEIGHT")],
          "data/grouseticks.csv", row.names = FALSE)

read_data <- function(name) {
  d <- read.csv(file.path("data", paste0(name, ".csv")), stringsAsFactors = FALSE)
  for (v in intersect(c("herd", "period", "BROOD", "LOCATION", "YEAR", "INDEX", "therapist",
                        "patient"), names(d))) {
    d[[v]] <- factor(d[[v]])
  }
  d
}

cases <- list(
  list(id = "cbpp_logit_laplace", profile = TRUE, data = "cbpp", family = "binomial", link = "logit", nAGQ = 1,
       r_formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)",
       py_formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)"),
  list(id = "cbpp_logit_agq9", profile = TRUE, data = "cbpp", family = "binomial", link = "logit", nAGQ = 9,
       r_formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)",
       py_formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)"),
  list(id = "cbpp_probit_laplace", data = "cbpp", family = "binomial", link = "probit", nAGQ = 1,
       r_formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)",
       py_formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)"),
  list(id = "cbpp_cloglog_laplace", data = "cbpp", family = "binomial", link = "cloglog",
       nAGQ = 1,
       r_formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)",
       py_formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)"),
  list(id = "grouseticks_poisson_laplace", data = "grouseticks", family = "poisson", link = "log",
       nAGQ = 1,
       r_formula = "TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | LOCATION)",
       py_formula = "TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | LOCATION)"),
  list(id = "grouseticks_poisson_agq8", data = "grouseticks", family = "poisson", link = "log",
       nAGQ = 8,
       r_formula = "TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)",
       py_formula = "TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)"),
  list(id = "adherence_binary_laplace", profile = TRUE, data = "adherence", family = "binomial", link = "logit",
       nAGQ = 1,
       r_formula = "adhered ~ session + alliance_within + alliance_between + (1 | patient) + (1 | therapist)",
       py_formula = "adhered ~ session + alliance_within + alliance_between + (1 | patient) + (1 | therapist)"),
  list(id = "adherence_binary_agq7", data = "adherence", family = "binomial", link = "logit",
       nAGQ = 7,
       r_formula = "adhered ~ session + alliance_within + alliance_between + (1 | patient)",
       py_formula = "adhered ~ session + alliance_within + alliance_between + (1 | patient)"),
  list(id = "adherence_binary_slope", data = "adherence", family = "binomial", link = "logit",
       nAGQ = 1,
       r_formula = "adhered ~ session + alliance_within + (1 + session | patient)",
       py_formula = "adhered ~ session + alliance_within + (1 + session | patient)"),
  list(id = "adherence_trials_laplace", data = "adherence", family = "binomial", link = "logit",
       nAGQ = 1,
       r_formula = "cbind(exercises_done, exercises_prescribed - exercises_done) ~ session + alliance_within + alliance_between + (1 | patient) + (1 | therapist)",
       py_formula = "exercises_done ~ session + alliance_within + alliance_between + (1 | patient) + (1 | therapist)",
       py_trials = "exercises_prescribed"),
  list(id = "adherence_poisson_offset_laplace", data = "adherence_counts", family = "poisson",
       link = "log", nAGQ = 1,
       r_formula = "exercises_done ~ session + alliance_within + alliance_between + offset(log(exercises_prescribed)) + (1 | patient) + (1 | therapist)",
       py_formula = "exercises_done ~ session + alliance_within + alliance_between + offset(log(exercises_prescribed)) + (1 | patient) + (1 | therapist)"),
  list(id = "adherence_poisson_offset_agq5", data = "adherence_counts", family = "poisson",
       link = "log", nAGQ = 5,
       r_formula = "exercises_done ~ session + alliance_within + alliance_between + offset(log(exercises_prescribed)) + (1 | patient)",
       py_formula = "exercises_done ~ session + alliance_within + alliance_between + (1 | patient)",
       py_offset = "log_prescribed"),
  list(id = "adherence_nearsep_laplace", data = "adherence_nearsep", family = "binomial",
       link = "logit", nAGQ = 1,
       r_formula = "adhered ~ session + booster + (1 | patient)",
       py_formula = "adhered ~ session + booster + (1 | patient)")
)

tidy_ranef <- function(fit) {
  re <- ranef(fit, condVar = TRUE)
  out <- list()
  for (g in names(re)) {
    d <- re[[g]]
    pv <- attr(d, "postVar")
    # conditional variances of each random effect (diagonal of each level's block)
    cv <- lapply(seq_len(ncol(d)), function(k) as.numeric(pv[k, k, ]))
    names(cv) <- names(d)
    out[[g]] <- list(levels = rownames(d), values = lapply(as.list(d), as.numeric),
                     terms = I(names(d)), condvar = cv)
  }
  out
}

results <- list()
for (cs in cases) {
  d <- read_data(cs$data)
  fam <- get(cs$family)(link = cs$link)
  fit <- glmer(as.formula(cs$r_formula), data = d, family = fam, nAGQ = cs$nAGQ)
  vc <- as.data.frame(VarCorr(fit))
  vc$var1[is.na(vc$var1)] <- ""
  vc$var2[is.na(vc$var2)] <- ""
  cf <- summary(fit)$coefficients
  se_rx <- sqrt(diag(as.matrix(vcov(fit, use.hessian = FALSE))))
  X <- getME(fit, "X")
  newd <- d[seq_len(min(8, nrow(d))), , drop = FALSE]
  pred <- list(
    link_re = as.numeric(predict(fit, newdata = newd, type = "link")),
    link_fixed = as.numeric(predict(fit, newdata = newd, type = "link", re.form = NA)),
    response_re = as.numeric(predict(fit, newdata = newd, type = "response")),
    response_fixed = as.numeric(predict(fit, newdata = newd, type = "response", re.form = NA))
  )
  fit_t <- glmer(as.formula(cs$r_formula), data = d, family = fam, nAGQ = cs$nAGQ,
                 control = glmerControl(tolPwrss = 1e-10))
  cf_t <- summary(fit_t)$coefficients
  tight <- list(estimate = as.numeric(cf_t[, 1]), se = as.numeric(cf_t[, 2]),
                theta = as.numeric(getME(fit_t, "theta")),
                loglik = as.numeric(logLik(fit_t)))
  res <- list(
    id = cs$id, data = cs$data, family = cs$family, link = cs$link, nAGQ = cs$nAGQ,
    r_formula = cs$r_formula, py_formula = cs$py_formula,
    py_trials = if (is.null(cs$py_trials)) "" else cs$py_trials,
    py_offset = if (is.null(cs$py_offset)) "" else cs$py_offset,
    terms = rownames(cf),
    estimate = as.numeric(cf[, 1]), se = as.numeric(cf[, 2]), z = as.numeric(cf[, 3]),
    p = as.numeric(cf[, 4]), se_rx = as.numeric(se_rx),
    theta = as.numeric(getME(fit, "theta")),
    varcorr = list(grp = vc$grp, var1 = vc$var1, var2 = vc$var2, vcov = vc$vcov,
                   sdcor = vc$sdcor),
    loglik = as.numeric(logLik(fit)), minus2loglik = -2 * as.numeric(logLik(fit)),
    aic = AIC(fit), bic = BIC(fit), nobs = nobs(fit),
    ngroups = as.list(getME(fit, "l_i")),
    npar = attr(logLik(fit), "df"),
    singular = isSingular(fit),
    conv_messages = as.character(unlist(fit@optinfo$conv$lme4$messages)),
    ranef = tidy_ranef(fit),
    predict_rows = seq_len(nrow(newd)),
    predict = pred,
    pearson_chi2 = sum(residuals(fit, type = "pearson")^2),
    df_residual = df.residual(fit),
    tight = tight
  )
  # profiling changes the fitted object's internal state, so it comes after everything else
  if (isTRUE(cs$profile)) {
    ci <- suppressMessages(confint(fit, method = "profile", level = 0.95))
    res$profile_ci <- list(lower = as.numeric(ci[, 1]), upper = as.numeric(ci[, 2]))
  }
  names(res$ngroups) <- names(getME(fit, "l_i"))
  results[[cs$id]] <- res
  cat(cs$id, ": logLik", format(res$loglik, digits = 12), "\n")
}

# predictions for an unseen group (population level) on one case
d <- read_data("adherence")
fit <- glmer(adhered ~ session + alliance_within + alliance_between + (1 | patient),
             data = d, family = binomial)
newd <- data.frame(session = c(1, 5), alliance_within = c(0.2, -0.1),
                   alliance_between = c(0, 0.3), patient = c("NEW1", "NEW2"))
unseen <- as.numeric(predict(fit, newdata = newd, type = "response", allow.new.levels = TRUE))

out <- list(
  generated_by = "tests/reference/glmm/glmm_reference.R",
  R_version = R.version.string,
  lme4_version = as.character(packageVersion("lme4")),
  Matrix_version = as.character(packageVersion("Matrix")),
  cases = results,
  unseen_groups = list(case = "adherence_binary_agq7 formula with nAGQ = 1",
                       newdata = newd, response = unseen)
)
write_json(out, "glmm_reference.json", auto_unbox = TRUE, digits = NA, pretty = TRUE)
cat("wrote glmm_reference.json\n")
