# Reference values for alliancestats' icc() and r2(): performance 0.10.2 / insight 0.19.0 on
# lme4 1.1-31 fits (Nakagawa & Schielzeth 2013; Johnson 2014; Nakagawa, Johnson & Schielzeth
# 2017). Writes variance_reference.json next to this script.
#
# Data: data/iris.csv (export_data.R), the lme4 and simulated CSVs of ../lmm/data and
# ../glmm/data (see the READMEs there).
#
# Besides performance's own values, the script records three quantities performance does not
# print, computed here from the same lme4 fit:
#   * Poisson distribution-specific variances by the delta (1/lambda) and trigamma
#     (trigamma(lambda)) approximations next to performance's lognormal one (log1p(1/lambda)),
#     with lambda = exp(intercept of the null model), as insight::get_variance computes it;
#   * for models with random intercepts of patients nested in therapists: the correlation of
#     two sessions of the same patient, of two patients of the same therapist, and the design
#     effect 1 + (n1 - 1) rho_patient + n1 (n2 - 1) rho_therapist with n1 the mean number of
#     sessions per patient and n2 the mean number of patients per therapist.
# GLMMs are fitted twice: with glmer's defaults (what performance users see) and with
# glmerControl(tolPwrss = 1e-10) ("tight"), which evaluates the Laplace approximation exactly.
#
# Run: bash tests/reference/regenerate.sh effects
suppressPackageStartupMessages({
  library(lme4); library(performance); library(insight); library(jsonlite)
})

factor_cols <- c("Subject", "batch", "cask", "plate", "sample", "school", "therapist",
                 "patient", "species", "herd", "period", "BROOD", "LOCATION", "YEAR")
read_data <- function(path) {
  d <- read.csv(path, stringsAsFactors = FALSE)
  for (v in intersect(factor_cols, names(d))) d[[v]] <- factor(d[[v]])
  d
}

cases <- list(
  list(id = "iris", data = "data/iris.csv",
       formula = "sepal_length ~ petal_length + (1 | species)"),
  list(id = "sleepstudy", data = "../lmm/data/sleepstudy.csv",
       formula = "Reaction ~ Days + (Days | Subject)"),
  list(id = "sleepstudy_ml", data = "../lmm/data/sleepstudy.csv", reml = FALSE,
       formula = "Reaction ~ Days + (Days | Subject)"),
  list(id = "sleepstudy_uncorr", data = "../lmm/data/sleepstudy.csv",
       formula = "Reaction ~ Days + (Days || Subject)"),
  list(id = "pastes", data = "../lmm/data/pastes.csv",
       formula = "strength ~ 1 + (1 | batch/cask)"),
  list(id = "penicillin", data = "../lmm/data/penicillin.csv",
       formula = "diameter ~ 1 + (1 | plate) + (1 | sample)"),
  list(id = "hsb82_null", data = "../lmm/data/hsb82.csv", formula = "mAch ~ 1 + (1 | school)"),
  list(id = "sim_nested", data = "../lmm/data/sim_function.csv", nested = c("patient", "therapist"),
       formula = "pain ~ session + alliance_within + alliance_between + (1 | therapist/patient)"),
  list(id = "sim_slopes", data = "../lmm/data/sim_unbalanced.csv",
       formula = paste("pain ~ session + alliance_within + alliance_between +",
                       "(1 + session | patient) + (1 | therapist)")),
  list(id = "cbpp_logit", data = "../glmm/data/cbpp.csv", family = "binomial", link = "logit",
       formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)"),
  list(id = "cbpp_probit", data = "../glmm/data/cbpp.csv", family = "binomial", link = "probit",
       formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)"),
  list(id = "cbpp_cloglog", data = "../glmm/data/cbpp.csv", family = "binomial",
       link = "cloglog", formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)"),
  list(id = "adherence_binary", data = "../glmm/data/adherence.csv", family = "binomial",
       link = "logit",
       formula = "adhered ~ alliance_within + alliance_between + (1 | patient) + (1 | therapist)"),
  list(id = "grouseticks", data = "../glmm/data/grouseticks.csv", family = "poisson",
       link = "log", formula = "TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | LOCATION)"),
  list(id = "adherence_counts", data = "../glmm/data/adherence_counts.csv", family = "poisson",
       link = "log", formula = "exercises_done ~ alliance + (1 | patient)")
)

fit_case <- function(cs, d, tight = FALSE) {
  f <- as.formula(cs$formula)
  if (is.null(cs$family)) {
    return(lmer(f, data = d, REML = if (is.null(cs$reml)) TRUE else cs$reml))
  }
  fam <- do.call(cs$family, list(link = cs$link))
  ctrl <- if (tight) glmerControl(tolPwrss = 1e-10) else glmerControl()
  glmer(f, data = d, family = fam, control = ctrl)
}

named_list <- function(x) if (is.null(x)) NULL else as.list(x)

variance_parts <- function(fit) {
  v <- insight::get_variance(fit, verbose = FALSE)
  list(fixed = v$var.fixed, random = v$var.random, residual = v$var.residual,
       distribution = v$var.distribution, dispersion = v$var.dispersion,
       intercept = named_list(v$var.intercept), slope = named_list(v$var.slope))
}

poisson_parts <- function(fit, v) {
  null_fit <- insight::null_model(fit, verbose = FALSE)
  lambda <- exp(unname(fixef(null_fit)))
  dist <- list(lognormal = log1p(1 / lambda), delta = 1 / lambda, trigamma = trigamma(lambda))
  r2 <- lapply(dist, function(vd) {
    total <- v$fixed + v$random + vd
    list(marginal = v$fixed / total, conditional = (v$fixed + v$random) / total,
         distribution = vd)
  })
  list(lambda = lambda, null_intercept = unname(fixef(null_fit)), approximations = r2)
}

nested_parts <- function(fit, d, lower, upper) {
  vc <- as.data.frame(VarCorr(fit))
  grp_lower <- paste0(lower, ":", upper)
  s_low <- vc$vcov[vc$grp == grp_lower]
  s_up <- vc$vcov[vc$grp == upper]
  s_e <- sigma(fit)^2
  total <- s_low + s_up + s_e
  rows <- d[complete.cases(d[, all.vars(formula(fit))]), ]
  n_low <- length(unique(paste(rows[[upper]], rows[[lower]])))
  n_up <- length(unique(rows[[upper]]))
  n1 <- nrow(rows) / n_low
  n2 <- n_low / n_up
  rho_low <- (s_low + s_up) / total
  rho_up <- s_up / total
  list(n1 = n1, n2 = n2, rho_same_lower = rho_low, rho_same_upper = rho_up,
       design_effect = 1 + (n1 - 1) * rho_low + n1 * (n2 - 1) * rho_up)
}

one_case <- function(cs, tight = FALSE) {
  d <- read_data(cs$data)
  fit <- fit_case(cs, d, tight)
  r2 <- performance::r2_nakagawa(fit, verbose = FALSE)
  ic <- performance::icc(fit)
  out <- list(
    id = cs$id, data = cs$data, formula = cs$formula,
    family = if (is.null(cs$family)) "gaussian" else cs$family,
    link = if (is.null(cs$link)) "identity" else cs$link,
    reml = if (is.null(cs$family)) (if (is.null(cs$reml)) TRUE else cs$reml) else FALSE,
    tight = tight, nobs = nobs(fit), ngroups = as.list(ngrps(fit)),
    singular = isSingular(fit),
    r2_conditional = unname(r2$R2_conditional), r2_marginal = unname(r2$R2_marginal),
    icc_adjusted = ic$ICC_adjusted, icc_unadjusted = ic$ICC_unadjusted,
    variance = variance_parts(fit)
  )
  if (is.null(insight::find_random_slopes(fit))) {
    bg <- performance::icc(fit, by_group = TRUE)
    out$icc_by_group <- list(group = bg$Group, icc = bg$ICC)
  }
  if (!is.null(cs$family) && cs$family == "poisson") {
    out$poisson <- poisson_parts(fit, out$variance)
  }
  if (!is.null(cs$nested)) {
    out$nested <- nested_parts(fit, d, cs$nested[1], cs$nested[2])
  }
  out
}

out <- list(meta = list(R = R.version.string,
                        lme4 = as.character(packageVersion("lme4")),
                        performance = as.character(packageVersion("performance")),
                        insight = as.character(packageVersion("insight"))),
            cases = list())
for (cs in cases) {
  out$cases[[cs$id]] <- one_case(cs)
  if (!is.null(cs$family)) out$cases[[paste0(cs$id, "_tight")]] <- one_case(cs, tight = TRUE)
}
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, null = "null", na = "null",
                  pretty = TRUE), "variance_reference.json")
cat("wrote variance_reference.json\n")
