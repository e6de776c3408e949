# Printed summaries of lme4 / lmerTest fits, for the layout of MixedResult.summary().
# Captures print(summary(fit)) of several fits as text (the numbers are compared, not the
# whitespace: R's formatting depends on the locale and the console width) and writes
# lmm_summary.json next to this script. Run: bash tests/reference/regenerate.sh lmm
suppressPackageStartupMessages({library(lme4); library(lmerTest); library(jsonlite)})
options(width = 100)

read_data <- function(file, factors) {
  d <- read.csv(file, stringsAsFactors = FALSE)
  for (f in factors) d[[f]] <- factor(d[[f]])
  d
}

cases <- list(
  list(name = "sleepstudy_REML", data = "data/sleepstudy.csv", factors = "Subject",
       formula = "Reaction ~ Days + (Days | Subject)", engine = "lmer", REML = TRUE),
  list(name = "sleepstudy_ML", data = "data/sleepstudy.csv", factors = "Subject",
       formula = "Reaction ~ Days + (Days | Subject)", engine = "lmer", REML = FALSE),
  list(name = "sleepstudy_uncorr_KR", data = "data/sleepstudy.csv", factors = "Subject",
       formula = "Reaction ~ Days + (Days || Subject)", engine = "lmer", REML = TRUE,
       ddf = "Kenward-Roger"),
  list(name = "pastes", data = "data/pastes.csv", factors = c("batch", "cask"),
       formula = "strength ~ 1 + (1 | batch/cask)", engine = "lmer", REML = TRUE),
  list(name = "sim_arms", data = "data/sim_arms.csv",
       factors = c("therapist", "patient", "arm", "modality"),
       formula = paste("pain ~ session * arm + modality + alliance_within + alliance_between +",
                       "(1 + session | patient) + (1 | therapist)"),
       engine = "lmer", REML = TRUE),
  list(name = "sim_singular", data = "data/sim_singular.csv", factors = c("therapist", "patient"),
       formula = paste("pain ~ session + alliance_within + alliance_between +",
                       "(1 | patient) + (1 | therapist)"), engine = "lmer", REML = TRUE),
  list(name = "cbpp", data = "../glmm/data/cbpp.csv", factors = c("herd", "period"),
       formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)",
       engine = "glmer", family = "binomial"),
  list(name = "grouseticks", data = "../glmm/data/grouseticks.csv",
       factors = c("BROOD", "YEAR", "LOCATION"),
       formula = "TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | LOCATION)",
       engine = "glmer", family = "poisson")
)

out <- list(meta = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                        lmerTest = as.character(packageVersion("lmerTest")),
                        width = getOption("width")),
            cases = list())
for (cs in cases) {
  d <- read_data(cs$data, cs$factors)
  # the formula is spliced into the call so that the summary prints it
  fm <- if (cs$engine == "lmer") {
    eval(bquote(lmerTest::lmer(.(as.formula(cs$formula)), data = d, REML = .(cs$REML))))
  } else {
    eval(bquote(glmer(.(as.formula(cs$formula)), data = d, family = .(cs$family))))
  }
  s <- if (is.null(cs$ddf)) summary(fm) else summary(fm, ddf = cs$ddf)
  text <- capture.output(print(s))
  out$cases[[cs$name]] <- list(data = sub("^.*/", "", cs$data), formula = cs$formula,
                               engine = cs$engine, reml = cs$REML, family = cs$family,
                               ddf = cs$ddf, text = text)
}

writeLines(toJSON(out, auto_unbox = TRUE, null = "null", pretty = TRUE), "lmm_summary.json")
cat("wrote lmm_summary.json\n")
