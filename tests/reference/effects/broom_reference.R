# Reference values for alliancestats' tidy() and glance(): broom.mixed 0.2.9.4 on lme4 1.1-31 /
# lmerTest 3.1-3 fits (LMMs are fitted with lmerTest::lmer, so the fixed effects carry
# Satterthwaite df and p values as alliancestats' do). GLMMs use
# glmerControl(tolPwrss = 1e-10) (see ../glmm/README.md). Writes broom_reference.json.
#
# Run: bash tests/reference/regenerate.sh effects
suppressPackageStartupMessages({
  library(lme4); library(lmerTest); library(broom.mixed); library(jsonlite)
})

factor_cols <- c("Subject", "batch", "cask", "therapist", "patient", "herd", "period")
read_data <- function(path) {
  d <- read.csv(path, stringsAsFactors = FALSE)
  for (v in intersect(factor_cols, names(d))) d[[v]] <- factor(d[[v]])
  d
}
as_columns <- function(x) {
  s <- as.data.frame(x)
  lapply(s, function(col) if (is.factor(col)) as.character(col) else col)
}

cases <- list(
  list(id = "sleepstudy", data = "../lmm/data/sleepstudy.csv",
       formula = "Reaction ~ Days + (Days | Subject)"),
  list(id = "sleepstudy_ml", data = "../lmm/data/sleepstudy.csv", reml = FALSE,
       formula = "Reaction ~ Days + (Days | Subject)"),
  list(id = "sleepstudy_uncorr", data = "../lmm/data/sleepstudy.csv",
       formula = "Reaction ~ Days + (Days || Subject)"),
  list(id = "pastes", data = "../lmm/data/pastes.csv",
       formula = "strength ~ 1 + (1 | batch/cask)"),
  list(id = "sim_slopes", data = "../lmm/data/sim_unbalanced.csv",
       formula = paste("pain ~ session + alliance_within + alliance_between +",
                       "(1 + session | patient) + (1 | therapist)")),
  list(id = "cbpp", data = "../glmm/data/cbpp.csv", family = "binomial",
       formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)")
)

out <- list(meta = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                        lmerTest = as.character(packageVersion("lmerTest")),
                        broom.mixed = as.character(packageVersion("broom.mixed"))),
            cases = list())
for (cs in cases) {
  d <- read_data(cs$data)
  f <- as.formula(cs$formula)
  if (is.null(cs$family)) {
    fit <- lmerTest::lmer(f, data = d, REML = if (is.null(cs$reml)) TRUE else cs$reml)
  } else {
    fit <- glmer(f, data = d, family = binomial, control = glmerControl(tolPwrss = 1e-10))
  }
  res <- list(data = cs$data, formula = cs$formula,
              family = if (is.null(cs$family)) "gaussian" else cs$family,
              reml = if (is.null(cs$family)) (if (is.null(cs$reml)) TRUE else cs$reml) else FALSE,
              tidy = as_columns(tidy(fit, conf.int = TRUE)),
              glance = as_columns(glance(fit)),
              ran_vals = as_columns(tidy(fit, effects = "ran_vals")))
  if (!is.null(cs$family)) {
    res$tidy_exponentiated <- as_columns(tidy(fit, conf.int = TRUE, exponentiate = TRUE))
  }
  out$cases[[cs$id]] <- res
}
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, null = "null", na = "null",
                  pretty = TRUE), "broom_reference.json")
cat("wrote broom_reference.json\n")
