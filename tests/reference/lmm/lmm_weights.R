# Reference values for lmm(weights=) (prior weights): lme4 + lmerTest, REML and ML.
# Weights are a deterministic function of the CSV row number i (1-based), written into the
# JSON together with the results: w_i = 0.5 + ((7 i) mod 5) / 2, i.e. 0.5 to 2.5; in the
# sim_unbalanced case every 37th weight is missing (lme4's model frame drops those rows).
# Run from this directory: Rscript lmm_weights.R
suppressPackageStartupMessages({library(lme4); library(lmerTest); library(jsonlite)})

cases <- list(
  list(name = "sleepstudy", data = "sleepstudy.csv", factors = "Subject", na_every = 0,
       formula = "Reaction ~ Days + (Days | Subject)"),
  list(name = "penicillin", data = "penicillin.csv", factors = c("plate", "sample"),
       na_every = 0, formula = "diameter ~ 1 + (1 | plate) + (1 | sample)"),
  list(name = "sim_unbalanced", data = "sim_unbalanced.csv",
       factors = c("therapist", "patient"), na_every = 37,
       formula = paste("pain ~ session + alliance_within + alliance_between +",
                       "(1 + session | patient) + (1 | therapist)"))
)

case_data <- function(cs) {
  d <- read.csv(file.path("data", cs$data), stringsAsFactors = FALSE)
  for (f in cs$factors) d[[f]] <- factor(d[[f]])
  i <- seq_len(nrow(d))
  d$w <- 0.5 + ((7 * i) %% 5) / 2
  if (cs$na_every > 0) d$w[i %% cs$na_every == 0] <- NA
  d
}

fit_one <- function(cs, reml) {
  d <- case_data(cs)
  fm <- lmerTest::lmer(as.formula(cs$formula), data = d, REML = reml, weights = w)
  co <- as.data.frame(summary(fm)$coefficients)
  vc <- as.data.frame(VarCorr(fm))
  list(
    formula = cs$formula, data = cs$data, reml = reml, na_every = cs$na_every,
    criterion = if (reml) REMLcrit(fm) else deviance(fm),
    loglik = as.numeric(logLik(fm)), sigma = sigma(fm), nobs = nobs(fm),
    theta = unname(getME(fm, "theta")),
    fixed = list(term = rownames(co), estimate = co[["Estimate"]], se = co[["Std. Error"]],
                 df = co[["df"]]),
    varcorr = list(grp = vc$grp, var1 = vc$var1, var2 = vc$var2, vcov = vc$vcov,
                   sdcor = vc$sdcor),
    fitted_head = unname(head(fitted(fm), 10)),
    optimizer_messages = fm@optinfo$conv$lme4$messages
  )
}

out <- list(meta = list(R = R.version.string,
                        lme4 = as.character(packageVersion("lme4")),
                        lmerTest = as.character(packageVersion("lmerTest")),
                        weights = "w_i = 0.5 + ((7 i) mod 5) / 2 on the CSV row number i",
                        note = "lmerTest::lmer defaults (nloptwrap BOBYQA), Satterthwaite df"),
            fits = list())
for (cs in cases) {
  for (reml in c(TRUE, FALSE)) {
    out$fits[[paste0(cs$name, if (reml) "_REML" else "_ML")]] <- fit_one(cs, reml)
  }
}
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, null = "null", na = "null",
                  pretty = TRUE),
           "lmm_weights.json")
cat("wrote lmm_weights.json\n")
