# Pinned negative binomial GLMM fits: lme4::glmer.nb and glmmTMB(family = nbinom2).
#
# Data (simulated here with a fixed seed, no patient data), written to data/nb_exercises.csv:
# home exercises done per session, overdispersed counts (negative binomial, shape 2.5, log
# link), patients (8 sessions on average) nested in therapists.
#
# glmer.nb estimates theta by optimize() over log(theta) on the Laplace log-likelihood, each
# evaluation a glmer refit (tol 5e-5); glmmTMB maximises the same Laplace log-likelihood in
# all parameters at once and reports log(theta) with a standard error from its Hessian.
#
# Usage (from this folder): Rscript --vanilla glmm_nb.R   -> writes glmm_nb.json
suppressPackageStartupMessages({
  library(lme4)
  library(glmmTMB)
  library(MASS)
  library(jsonlite)
})

set.seed(20261202)
n_ther <- 10
pat_per_ther <- 6
n_pat <- n_ther * pat_per_ther
sessions <- sample(5:11, n_pat, replace = TRUE)
patient <- rep(seq_len(n_pat), sessions)
therapist <- rep(rep(seq_len(n_ther), each = pat_per_ther), sessions)
session <- unlist(lapply(sessions, seq_len))
n <- length(patient)
alliance_c <- round(rnorm(n_pat, 0, 0.6)[patient] + rnorm(n, 0, 0.3), 3)
mu <- exp(1.6 + 0.05 * session + 0.3 * alliance_c + rnorm(n_pat, 0, 0.4)[patient] +
          rnorm(n_ther, 0, 0.25)[therapist])
done <- rnbinom(n, size = 2.5, mu = mu)
d <- data.frame(therapist = sprintf("T%02d", therapist), patient = sprintf("P%03d", patient),
                session = session, alliance_c = alliance_c, done = done)
write.csv(d, "data/nb_exercises.csv", row.names = FALSE)
d <- read.csv("data/nb_exercises.csv", stringsAsFactors = TRUE)

cases <- list(
  list(id = "nb_patient", formula = "done ~ session + alliance_c + (1 | patient)"),
  list(id = "nb_nested",
       formula = "done ~ session + alliance_c + (1 | patient) + (1 | therapist)")
)

lme4_fit <- function(fit) {
  cf <- summary(fit)$coefficients
  vc <- as.data.frame(VarCorr(fit))
  list(terms = rownames(cf), estimate = as.numeric(cf[, 1]), se = as.numeric(cf[, 2]),
       theta = as.numeric(getME(fit, "theta")), sdcor = vc$sdcor,
       nb_theta = getME(fit, "glmer.nb.theta"), loglik = as.numeric(logLik(fit)),
       npar = attr(logLik(fit), "df"), aic = AIC(fit), nobs = nobs(fit),
       fitted_head = as.numeric(head(fitted(fit), 8)))
}

tmb_fit <- function(fit) {
  cf <- summary(fit)$coefficients$cond
  V <- vcov(fit, full = TRUE)
  se_log <- sqrt(V["d~(Intercept)", "d~(Intercept)"])
  log_th <- fixef(fit)$disp[[1]]
  ci <- confint(fit, parm = "sigma")
  vc <- VarCorr(fit)$cond
  list(terms = rownames(cf), estimate = as.numeric(cf[, 1]), se = as.numeric(cf[, 2]),
       sd = as.numeric(sapply(vc, function(v) attr(v, "stddev"))),
       nb_theta = sigma(fit), log_theta = log_th, se_log_theta = se_log,
       theta_ci = exp(log_th + c(-1, 1) * qnorm(0.975) * se_log),
       confint_sigma = as.numeric(ci[1, 1:2]),
       loglik = as.numeric(logLik(fit)), npar = attr(logLik(fit), "df"),
       vcov_names = rownames(V))
}

results <- list()
for (cs in cases) {
  form <- as.formula(cs$formula)
  g <- glmer.nb(form, data = d)
  g_t <- glmer.nb(form, data = d, control = glmerControl(tolPwrss = 1e-10))
  tm <- glmmTMB(form, data = d, family = nbinom2)
  results[[cs$id]] <- list(id = cs$id, formula = cs$formula, glmer_nb = lme4_fit(g),
                           glmer_nb_tight = lme4_fit(g_t), glmmTMB = tmb_fit(tm))
  cat(cs$id, ": glmer.nb theta", getME(g, "glmer.nb.theta"), "logLik",
      format(logLik(g), digits = 12), " tight", format(logLik(g_t), digits = 12),
      " glmmTMB theta", sigma(tm), "logLik", format(logLik(tm), digits = 12), "\n")
}

out <- list(
  generated_by = "tests/reference/glmm/glmm_nb.R",
  R_version = R.version.string,
  lme4_version = as.character(packageVersion("lme4")),
  glmmTMB_version = as.character(packageVersion("glmmTMB")),
  cases = results
)
write_json(out, "glmm_nb.json", auto_unbox = TRUE, digits = NA, pretty = TRUE)
cat("wrote glmm_nb.json\n")
