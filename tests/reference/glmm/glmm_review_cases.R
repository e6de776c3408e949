# Reference values for the review edge cases of alliancestats.glmm (tests/models/test_review_glmm.py).
#
# Data: data/adherence.csv (simulated by glmm_make_data.py; no patient data).
# Cases:
#   * factor_no_yes / factor_yes_no: a two-level factor response. glmer (via stats::binomial's
#     initialize) codes the FIRST level as failure, so the level order decides the sign.
#   * zero_trials: successes out of trials where the first session of every patient has zero
#     trials; such rows carry zero weight (binomial initialize: y = 0, weight = n = 0).
#
# Usage (from this folder): Rscript --vanilla glmm_review_cases.R   -> writes glmm_review_cases.json
suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})

d <- read.csv(file.path("data", "adherence.csv"), stringsAsFactors = FALSE)
d$patient <- factor(d$patient)

summarise_fit <- function(fit) {
  vc <- as.data.frame(VarCorr(fit))
  list(
    fixef = as.list(fixef(fit)),
    se = as.list(sqrt(diag(as.matrix(vcov(fit))))),
    sd = vc$sdcor[is.na(vc$var2)],
    loglik = as.numeric(logLik(fit)),
    nobs = nobs(fit)
  )
}

cases <- list()
d$status <- factor(ifelse(d$adhered == 1, "yes", "no"), levels = c("no", "yes"))
cases$factor_no_yes <- summarise_fit(
  glmer(status ~ session + alliance_within + (1 | patient), data = d, family = binomial))
d$status2 <- factor(ifelse(d$adhered == 1, "yes", "no"), levels = c("yes", "no"))
cases$factor_yes_no <- summarise_fit(
  glmer(status2 ~ session + alliance_within + (1 | patient), data = d, family = binomial))
z <- d
z$exercises_prescribed[z$session == 1] <- 0
z$exercises_done[z$session == 1] <- 0
cases$zero_trials <- summarise_fit(
  glmer(cbind(exercises_done, exercises_prescribed - exercises_done) ~ alliance_within +
          (1 | patient), data = z, family = binomial))

out <- list(
  R = R.version.string,
  lme4 = as.character(packageVersion("lme4")),
  cases = cases
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "glmm_review_cases.json")
