# Pinned glmer fits for the families and links beyond binomial/Poisson-log, and for nAGQ = 0.
#
# Families with a dispersion parameter (Gamma, Gaussian with a log link, inverse Gaussian):
# lme4 evaluates the Laplace deviance as ldL2 + |u|^2 + family$aic(y, n, mu, wt, dev), where
# R's aic() plugs in the dispersion dev / sum(wt) (deviance residuals at the conditional
# modes) and adds 2; sigma() is sqrt((Pearson chi^2 + |u|^2) / n) and VarCorr() scales the
# random-effect SDs by it; logLik() counts sigma as a parameter. The pinned values below are
# what these rules give, so alliancestats can be compared with them line by line.
#
# Data (simulated here with a fixed seed, no patient data), written to data/families_*.csv:
#   * families_minutes.csv: minutes (and hours) of home exercise per session (Gamma, log link
#     in truth), and a pain rating on a 0-10-like continuous scale (Gaussian, log link in truth);
#   * families_counts.csv: exercises done per session (Poisson with identity link in truth);
#   * families_walk.csv: minutes to walk a fixed distance (inverse Gaussian, 1/mu^2 in truth).
# Patients (8 sessions on average) are nested in therapists.
#
# Each case records glmer's default fit and one with glmerControl(tolPwrss = 1e-10)
# ("tight"); nAGQ = 0 cases record glmer(nAGQ = 0).
#
# Usage (from this folder): Rscript --vanilla glmm_families.R   -> writes glmm_families.json
suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})

set.seed(20261201)
n_ther <- 12
pat_per_ther <- 6
n_pat <- n_ther * pat_per_ther
sessions <- sample(5:11, n_pat, replace = TRUE)
patient <- rep(seq_len(n_pat), sessions)
therapist <- rep(rep(seq_len(n_ther), each = pat_per_ther), sessions)
session <- unlist(lapply(sessions, seq_len))
n <- length(patient)
alliance <- round(rnorm(n_pat, 4.2, 0.6)[patient] + rnorm(n, 0, 0.3), 2)
alliance_c <- alliance - mean(alliance)
b_pat <- rnorm(n_pat, 0, 0.35)
b_pat_slope <- rnorm(n_pat, 0, 0.04)
b_ther <- rnorm(n_ther, 0, 0.2)
ids <- data.frame(therapist = sprintf("T%02d", therapist), patient = sprintf("P%03d", patient),
                  session = session, alliance_c = round(alliance_c, 4))

# Gamma (shape 5) with a log link for minutes; Gaussian (SD 0.6) with a log link for pain
mu_min <- exp(2.6 + 0.04 * session + 0.25 * alliance_c + b_pat[patient] +
              b_pat_slope[patient] * session + b_ther[therapist])
minutes <- round(rgamma(n, shape = 5, rate = 5 / mu_min), 3)
mu_pain <- exp(1.7 - 0.05 * session - 0.15 * alliance_c + 0.6 * b_pat[patient])
pain <- round(mu_pain + rnorm(n, 0, 0.6), 3)
write.csv(cbind(ids, minutes = minutes, hours = round(minutes / 60, 5), pain = pain),
          "data/families_minutes.csv",
          row.names = FALSE)

# Poisson with an identity link: exercises done per session
mu_cnt <- pmax(6 + 0.25 * session + 1.2 * alliance_c + 1.5 * b_pat[patient] / 0.35, 0.5)
done <- rpois(n, mu_cnt)
write.csv(cbind(ids, done = done), "data/families_counts.csv", row.names = FALSE)

# inverse Gaussian (Michael, Schucany & Haas 1976) with mean mu and shape lambda
rinvgauss <- function(mu, lambda) {
  nu <- rnorm(length(mu))^2
  x <- mu + mu^2 * nu / (2 * lambda) - mu / (2 * lambda) * sqrt(4 * mu * lambda * nu + mu^2 * nu^2)
  ifelse(runif(length(mu)) <= mu / (mu + x), x, mu^2 / x)
}
mu_walk <- 1 / sqrt(0.5 + 0.03 * session + 0.08 * alliance_c + 0.1 * b_pat[patient] / 0.35)
walk <- round(rinvgauss(mu_walk, lambda = 8), 5)
write.csv(cbind(ids, walk = walk), "data/families_walk.csv", row.names = FALSE)

read_data <- function(name) {
  d <- read.csv(file.path("data", paste0(name, ".csv")), stringsAsFactors = FALSE)
  d$patient <- factor(d$patient)
  d$therapist <- factor(d$therapist)
  d
}

cases <- list(
  list(id = "gamma_inverse", data = "families_minutes", family = "Gamma", link = "inverse",
       nAGQ = 1, formula = "hours ~ session + alliance_c + (1 | patient)"),
  list(id = "gamma_log", data = "families_minutes", family = "Gamma", link = "log",
       nAGQ = 1, formula = "minutes ~ session + alliance_c + (1 | patient)"),
  list(id = "gamma_log_nested", data = "families_minutes", family = "Gamma", link = "log",
       nAGQ = 1, formula = "minutes ~ session + alliance_c + (1 | patient) + (1 | therapist)"),
  list(id = "gamma_log_slope", data = "families_minutes", family = "Gamma", link = "log",
       nAGQ = 1, formula = "minutes ~ session + alliance_c + (1 + session | patient)"),
  list(id = "gamma_log_agq5", data = "families_minutes", family = "Gamma", link = "log",
       nAGQ = 5, formula = "minutes ~ session + alliance_c + (1 | patient)"),
  list(id = "gaussian_log", data = "families_minutes", family = "gaussian", link = "log",
       nAGQ = 1, formula = "pain ~ session + alliance_c + (1 | patient)"),
  list(id = "inverse_gaussian", data = "families_walk", family = "inverse.gaussian",
       link = "1/mu^2", nAGQ = 1, formula = "walk ~ session + alliance_c + (1 | patient)"),
  list(id = "poisson_sqrt", data = "families_counts", family = "poisson", link = "sqrt",
       nAGQ = 1, formula = "done ~ session + alliance_c + (1 | patient)"),
  list(id = "poisson_identity", data = "families_counts", family = "poisson",
       link = "identity", nAGQ = 1, formula = "done ~ session + alliance_c + (1 | patient)"),
  list(id = "poisson_identity_nested", data = "families_counts", family = "poisson",
       link = "identity", nAGQ = 1,
       formula = "done ~ session + alliance_c + (1 | patient) + (1 | therapist)"),
  list(id = "binomial_nagq0", data = "adherence", family = "binomial", link = "logit",
       nAGQ = 0,
       formula = "adhered ~ session + alliance_within + alliance_between + (1 | patient) + (1 | therapist)"),
  list(id = "poisson_nagq0", data = "families_counts", family = "poisson", link = "log",
       nAGQ = 0, formula = "done ~ session + alliance_c + (1 + session | patient)"),
  list(id = "gamma_log_nagq0", data = "families_minutes", family = "Gamma", link = "log",
       nAGQ = 0, formula = "minutes ~ session + alliance_c + (1 | patient) + (1 | therapist)")
)

one_fit <- function(fit) {
  vc <- as.data.frame(VarCorr(fit))
  vc$var1[is.na(vc$var1)] <- ""
  vc$var2[is.na(vc$var2)] <- ""
  cf <- summary(fit)$coefficients
  list(
    terms = rownames(cf), estimate = as.numeric(cf[, 1]), se = as.numeric(cf[, 2]),
    z = as.numeric(cf[, 3]), p = as.numeric(cf[, 4]),
    se_rx = as.numeric(sqrt(diag(as.matrix(vcov(fit, use.hessian = FALSE))))),
    theta = as.numeric(getME(fit, "theta")), sigma = sigma(fit),
    varcorr = list(grp = vc$grp, var1 = vc$var1, var2 = vc$var2, vcov = vc$vcov,
                   sdcor = vc$sdcor),
    loglik = as.numeric(logLik(fit)), deviance = deviance(fit),
    aic = AIC(fit), bic = BIC(fit), npar = attr(logLik(fit), "df"), nobs = nobs(fit),
    ngroups = as.list(getME(fit, "l_i")), singular = isSingular(fit),
    conv_messages = as.character(unlist(fit@optinfo$conv$lme4$messages)),
    pearson_chi2 = sum(residuals(fit, type = "pearson")^2),
    ranef = lapply(ranef(fit), function(r) lapply(as.list(r), as.numeric)),
    fitted_head = as.numeric(head(fitted(fit), 8))
  )
}

# glmer's default start (mustart = y + 0.1) sends the first PIRLS step of an identity-link
# Poisson model below zero ("PIRLS loop resulted in NaN value"); start it from max(y, 1)
fit_case <- function(form, d, fam, cs, control = glmerControl()) {
  if (identical(cs$link, "identity")) {
    d$start_mu <- pmax(d[[all.vars(form)[1]]], 1)
    return(glmer(form, data = d, family = fam, nAGQ = cs$nAGQ, mustart = start_mu,
                 control = control))
  }
  glmer(form, data = d, family = fam, nAGQ = cs$nAGQ, control = control)
}

results <- list()
for (cs in cases) {
  d <- read_data(cs$data)
  fam <- get(cs$family)(link = cs$link)
  form <- as.formula(cs$formula)
  fit <- fit_case(form, d, fam, cs)
  res <- c(list(id = cs$id, data = cs$data, family = cs$family, link = cs$link,
                nAGQ = cs$nAGQ, formula = cs$formula), one_fit(fit))
  fit_t <- fit_case(form, d, fam, cs, glmerControl(tolPwrss = 1e-10))
  res$tight <- one_fit(fit_t)
  results[[cs$id]] <- res
  cat(cs$id, ": logLik", format(res$loglik, digits = 12), " tight",
      format(res$tight$loglik, digits = 12), " sigma", format(res$sigma, digits = 8), "\n")
}

out <- list(
  generated_by = "tests/reference/glmm/glmm_families.R",
  R_version = R.version.string,
  lme4_version = as.character(packageVersion("lme4")),
  Matrix_version = as.character(packageVersion("Matrix")),
  cases = results
)
write_json(out, "glmm_families.json", auto_unbox = TRUE, digits = NA, pretty = TRUE)
cat("wrote glmm_families.json\n")
