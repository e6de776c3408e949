# Reference values for alliancestats' marginal_means(), its contrasts and predictions():
# emmeans 1.8.4 on lme4 1.1-31 / lmerTest 3.1-3 fits. Writes emmeans_reference.json.
#
# LMM degrees of freedom: Satterthwaite (emm_options(lmer.df = "satterthwaite"); emmeans'
# own default is Kenward-Roger when pbkrtest is installed). GLMMs: asymptotic (z) inference;
# glmer is run with glmerControl(tolPwrss = 1e-10) so that the Laplace fit is evaluated exactly
# (glmer's default PIRLS tolerance moves its finite-difference standard errors by up to ~1.5%,
# see ../glmm/README.md).
#
# Prediction intervals (section "predictions") are not an emmeans feature for random effects;
# they are the formulas alliancestats documents, evaluated here from lme4's vcov(), VarCorr()
# and condVar: population level, a new observation of a new group:
#   var = x' V x + z' Sigma z + sigma^2;
# conditional on a fitted group g: var = x' V x + z' C_g z (+ sigma^2 for prediction),
# with C_g the conditional covariance of group g's random effects; t quantiles with the
# Satterthwaite df of x' beta.
#
# Data: ../lmm/data and ../glmm/data (see the READMEs there). Run:
# bash tests/reference/regenerate.sh effects
suppressPackageStartupMessages({
  library(lme4); library(lmerTest); library(emmeans); library(jsonlite)
})
emm_options(lmer.df = "satterthwaite")

factor_cols <- c("Subject", "therapist", "patient", "arm", "modality", "site", "herd",
                 "period", "BROOD", "LOCATION", "YEAR")
read_data <- function(path) {
  d <- read.csv(path, stringsAsFactors = FALSE)
  for (v in intersect(factor_cols, names(d))) d[[v]] <- factor(d[[v]])
  d
}

# one emmGrid / contrast summary as a list of columns (factors as text)
as_columns <- function(x, ...) {
  s <- as.data.frame(summary(x, infer = c(TRUE, TRUE), ...))
  lapply(s, function(col) if (is.factor(col)) as.character(col) else col)
}

tight <- glmerControl(tolPwrss = 1e-10)
out <- list(meta = list(R = R.version.string,
                        lme4 = as.character(packageVersion("lme4")),
                        lmerTest = as.character(packageVersion("lmerTest")),
                        emmeans = as.character(packageVersion("emmeans"))),
            models = list())

add_model <- function(id, data, formula, fit, results) {
  out$models[[id]] <<- list(data = data, formula = formula, results = results)
}

# ---------------------------------------------------------------- LMM: session * arm
# (no therapist intercept: its variance is estimated as zero in these data, a singular fit)
arms_f <- paste("pain ~ session * arm + modality + alliance_within + alliance_between +",
                "(1 + session | patient)")
arms <- read_data("../lmm/data/sim_arms.csv")
fit <- lmerTest::lmer(as.formula(arms_f), data = arms)
em_arm_by_session <- emmeans(fit, ~ arm | session, at = list(session = c(1, 6, 12)))
em_session_by_arm <- emmeans(fit, ~ session | arm, at = list(session = c(1, 4, 8, 12)))
em_arm <- emmeans(fit, ~ arm)
em_arm_prop <- emmeans(fit, ~ arm, weights = "proportional")
em_cells <- emmeans(fit, ~ arm * modality, at = list(session = 6))
res <- list(
  arm_by_session = list(spec = "arm", by = "session", at = list(session = c(1, 6, 12)),
                        means = as_columns(em_arm_by_session),
                        pairs = as_columns(pairs(em_arm_by_session))),
  session_by_arm = list(spec = "session", by = "arm", at = list(session = c(1, 4, 8, 12)),
                        means = as_columns(em_session_by_arm)),
  arm = list(spec = "arm", means = as_columns(em_arm), pairs = as_columns(pairs(em_arm))),
  arm_proportional = list(spec = "arm", weights = "proportional",
                          means = as_columns(em_arm_prop)),
  arm_modality_at6 = list(spec = c("arm", "modality"), at = list(session = 6),
                          means = as_columns(em_cells),
                          pairs = as_columns(pairs(em_cells)))
)
for (adj in c("tukey", "holm", "bonferroni", "sidak", "scheffe", "none", "fdr")) {
  res$session_by_arm[[paste0("pairs_", adj)]] <- as_columns(pairs(em_session_by_arm,
                                                                  adjust = adj))
}
res$session_by_arm$revpairwise_tukey <- as_columns(contrast(em_session_by_arm, "revpairwise"))
res$session_by_arm$consec_holm <- as_columns(contrast(em_session_by_arm, "consec",
                                                      adjust = "holm"))
res$session_by_arm$trt_vs_ctrl_bonferroni <- as_columns(
  contrast(em_session_by_arm, "trt.vs.ctrl", adjust = "bonferroni"))
add_model("sim_arms", "../lmm/data/sim_arms.csv", arms_f, fit, res)

# ---------------------------------------------------------------- LMM: three-level factor
sites_f <- "pain ~ session * site + arm + (1 | patient) + (1 | therapist)"
sites <- read_data("../lmm/data/review_sites.csv")
fit <- lmerTest::lmer(as.formula(sites_f), data = sites)
em_site <- emmeans(fit, ~ site)
em_site_arm <- emmeans(fit, ~ site | arm, at = list(session = 3))
em_site_prop <- emmeans(fit, ~ site, weights = "proportional")
res <- list(
  site = list(spec = "site", means = as_columns(em_site),
              pairs_tukey = as_columns(pairs(em_site)),
              pairs_none = as_columns(pairs(em_site, adjust = "none"))),
  site_by_arm_at3 = list(spec = "site", by = "arm", at = list(session = 3),
                         means = as_columns(em_site_arm),
                         pairs_tukey = as_columns(pairs(em_site_arm))),
  site_proportional = list(spec = "site", weights = "proportional",
                           means = as_columns(em_site_prop)),
  site_level90 = list(spec = "site", level = 0.90,
                      means = as_columns(em_site, level = 0.90),
                      pairs_tukey = as_columns(pairs(em_site), level = 0.90))
)
add_model("sites", "../lmm/data/review_sites.csv", sites_f, fit, res)

# ---------------------------------------------------------------- LMM: sleepstudy
ss_f <- "Reaction ~ Days + (Days | Subject)"
ss <- read_data("../lmm/data/sleepstudy.csv")
fit <- lmerTest::lmer(as.formula(ss_f), data = ss)
days <- c(0, 3, 6, 9)
em_days <- emmeans(fit, ~ Days, at = list(Days = days))
res <- list(days = list(spec = "Days", at = list(Days = days), means = as_columns(em_days),
                        pairs_tukey = as_columns(pairs(em_days))))
# predictions: population level and conditional on fitted subjects
X <- cbind(1, days)
V <- as.matrix(vcov(fit))
est <- drop(X %*% fixef(fit))
se <- sqrt(diag(X %*% V %*% t(X)))
dfs <- summary(em_days)$df
Sigma <- VarCorr(fit)$Subject[, ]
s2 <- sigma(fit)^2
pop_re <- diag(X %*% Sigma %*% t(X))
q <- qt(0.975, dfs)
subj <- c("308", "335")
re <- ranef(fit, condVar = TRUE)$Subject
pv <- attr(re, "postVar")
cond <- lapply(subj, function(g) {
  k <- match(g, rownames(re))
  b <- unlist(re[k, ])
  cv <- diag(X %*% pv[, , k] %*% t(X))
  list(subject = g, estimate = est + drop(X %*% b),
       se_confidence = sqrt(se^2 + cv), se_prediction = sqrt(se^2 + cv + s2))
})
res$predictions <- list(
  Days = days, estimate = est, se = se, df = dfs,
  confidence_low = est - q * se, confidence_high = est + q * se,
  se_prediction = sqrt(se^2 + pop_re + s2),
  prediction_low = est - q * sqrt(se^2 + pop_re + s2),
  prediction_high = est + q * sqrt(se^2 + pop_re + s2),
  conditional = cond)
add_model("sleepstudy", "../lmm/data/sleepstudy.csv", ss_f, fit, res)

# ---------------------------------------------------------------- GLMM: binomial cbpp
cb_f <- "cbind(incidence, size - incidence) ~ period + (1 | herd)"
cbpp <- read_data("../glmm/data/cbpp.csv")
for (link in c("logit", "probit")) {
  fit <- glmer(as.formula(cb_f), data = cbpp, family = binomial(link = link), control = tight)
  em <- emmeans(fit, ~ period)
  res <- list(period = list(spec = "period", link = as_columns(em),
                            response = as_columns(em, type = "response"),
                            pairs_link = as_columns(pairs(em)),
                            pairs_response = as_columns(pairs(em), type = "response"),
                            pairs_holm_response = as_columns(pairs(em, adjust = "holm"),
                                                             type = "response")))
  add_model(paste0("cbpp_", link), "../glmm/data/cbpp.csv", cb_f, fit, res)
}

# ---------------------------------------------------------------- GLMM: Poisson grouseticks
gt_f <- "TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | LOCATION)"
gt <- read_data("../glmm/data/grouseticks.csv")
fit <- glmer(as.formula(gt_f), data = gt, family = poisson, control = tight)
em <- emmeans(fit, ~ YEAR)
em_h <- emmeans(fit, ~ cHEIGHT, at = list(cHEIGHT = c(-50, 0, 50)))
res <- list(year = list(spec = "YEAR", link = as_columns(em),
                        response = as_columns(em, type = "response"),
                        pairs_response = as_columns(pairs(em), type = "response")),
            height = list(spec = "cHEIGHT", at = list(cHEIGHT = c(-50, 0, 50)),
                          response = as_columns(em_h, type = "response")))
add_model("grouseticks", "../glmm/data/grouseticks.csv", gt_f, fit, res)

# ---------------------------------------------------------------- GLMM: binary adherence
ad_f <- "adhered ~ alliance_within + alliance_between + (1 | patient) + (1 | therapist)"
ad <- read_data("../glmm/data/adherence.csv")
fit <- glmer(as.formula(ad_f), data = ad, family = binomial, control = tight)
ab <- c(-0.5, 0, 0.5)
em <- emmeans(fit, ~ alliance_between, at = list(alliance_between = ab))
res <- list(alliance_between = list(spec = "alliance_between",
                                    at = list(alliance_between = ab),
                                    response = as_columns(em, type = "response"),
                                    pairs_response = as_columns(pairs(em), type = "response")))
add_model("adherence", "../glmm/data/adherence.csv", ad_f, fit, res)

writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, null = "null", na = "null",
                  pretty = TRUE), "emmeans_reference.json")
cat("wrote emmeans_reference.json\n")
