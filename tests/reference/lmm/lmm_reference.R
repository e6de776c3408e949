# Reference values for alliancestats' linear mixed models (lme4 + lmerTest).
# Reads the CSVs in data/ (exported by lmm_export_data.R and lmm_make_simulated_data.py) and writes
# lmm_reference.json next to this script. Run: bash tests/reference/regenerate.sh lmm
suppressPackageStartupMessages({library(lme4); library(lmerTest); library(jsonlite)})

cases <- list(
  list(name = "sleepstudy", data = "sleepstudy.csv", factors = "Subject",
       formula = "Reaction ~ Days + (Days | Subject)"),
  list(name = "sleepstudy_uncorr", data = "sleepstudy.csv", factors = "Subject",
       formula = "Reaction ~ Days + (Days || Subject)"),
  list(name = "dyestuff", data = "dyestuff.csv", factors = "Batch",
       formula = "Yield ~ 1 + (1 | Batch)"),
  list(name = "pastes", data = "pastes.csv", factors = c("batch", "cask"),
       formula = "strength ~ 1 + (1 | batch/cask)"),
  list(name = "penicillin", data = "penicillin.csv", factors = c("plate", "sample"),
       formula = "diameter ~ 1 + (1 | plate) + (1 | sample)"),
  list(name = "hsb82", data = "hsb82.csv", factors = "school",
       formula = "mAch ~ ses_within + ses_mean + (1 | school)"),
  list(name = "hsb82_sector", data = "hsb82.csv", factors = "school",
       formula = "mAch ~ ses_within * sector + ses_mean + (1 + ses_within | school)"),
  list(name = "orthodont_missing", data = "orthodont_missing.csv", factors = "Subject",
       formula = "distance ~ age * Sex + (age | Subject)"),
  list(name = "sim_unbalanced", data = "sim_unbalanced.csv", factors = c("therapist", "patient"),
       formula = paste("pain ~ session + alliance_within + alliance_between +",
                       "(1 + session | patient) + (1 | therapist)")),
  list(name = "sim_arms", data = "sim_arms.csv", factors = c("therapist", "patient"),
       formula = paste("pain ~ session * arm + alliance_within + alliance_between +",
                       "(1 + session | patient) + (1 | therapist)")),
  list(name = "sim_singular", data = "sim_singular.csv", factors = c("therapist", "patient"),
       formula = paste("pain ~ session + alliance_within + alliance_between +",
                       "(1 | patient) + (1 | therapist)")),
  list(name = "sim_function_uncorr", data = "sim_function.csv",
       factors = c("therapist", "patient"),
       formula = paste("function_score ~ session + alliance_within + alliance_between +",
                       "(1 + session || patient) + (1 | therapist)")),
  list(name = "sim_three_level", data = "sim_arms.csv",
       factors = c("clinic", "therapist", "patient"),
       formula = paste("pain ~ session + alliance_within + (1 + session | patient) +",
                       "(1 | therapist) + (1 | clinic)")),
  list(name = "sim_function_nested", data = "sim_function.csv",
       factors = c("therapist", "patient"),
       formula = "function_score ~ session + alliance + (1 | therapist/patient)")
)

read_case <- function(cs) {
  d <- read.csv(file.path("data", cs$data), stringsAsFactors = FALSE)
  for (f in cs$factors) d[[f]] <- factor(d[[f]])
  d
}

fit_one <- function(cs, reml) {
  d <- read_case(cs)
  fm <- lmerTest::lmer(as.formula(cs$formula), data = d, REML = reml)
  s <- summary(fm)
  co <- as.data.frame(s$coefficients)
  vc <- as.data.frame(VarCorr(fm))
  re <- ranef(fm, condVar = TRUE)
  ranef_out <- lapply(names(re), function(g) {
    r <- re[[g]]
    pv <- attr(r, "postVar")
    keep <- seq_len(min(nrow(r), 25))
    list(levels = rownames(r)[keep], values = unname(as.matrix(r[keep, , drop = FALSE])),
         columns = colnames(r),
         condvar = if (is.array(pv) && length(dim(pv)) == 3)
           lapply(keep, function(i) unname(pv[, , i])) else NULL)
  })
  names(ranef_out) <- names(re)
  list(
    formula = cs$formula, data = cs$data, reml = reml,
    criterion = if (reml) REMLcrit(fm) else deviance(fm),
    loglik = as.numeric(logLik(fm)), npar = attr(logLik(fm), "df"),
    aic = AIC(fm), bic = BIC(fm), sigma = sigma(fm),
    theta = unname(getME(fm, "theta")), lower = getME(fm, "lower"),
    singular = isSingular(fm), nobs = nobs(fm), ngroups = as.list(ngrps(fm)),
    fixed = list(term = rownames(co), estimate = co[["Estimate"]], se = co[["Std. Error"]],
                 df = co[["df"]], t = co[["t value"]], p = co[["Pr(>|t|)"]]),
    varcorr = list(grp = vc$grp, var1 = vc$var1, var2 = vc$var2, vcov = vc$vcov,
                   sdcor = vc$sdcor),
    ranef = ranef_out,
    optimizer_messages = fm@optinfo$conv$lme4$messages
  )
}

out <- list(meta = list(R = R.version.string,
                        lme4 = as.character(packageVersion("lme4")),
                        lmerTest = as.character(packageVersion("lmerTest")),
                        note = "lmerTest::lmer defaults (nloptwrap BOBYQA), Satterthwaite df"),
            fits = list(), lrt = list(), profile = list())
for (cs in cases) {
  for (reml in c(TRUE, FALSE)) {
    key <- paste0(cs$name, if (reml) "_REML" else "_ML")
    out$fits[[key]] <- fit_one(cs, reml)
  }
}

# likelihood-ratio tests (anova refits REML models by ML)
ss <- read_case(cases[[1]])
m0 <- lmer(Reaction ~ Days + (1 | Subject), ss)
m1 <- lmer(Reaction ~ Days + (Days | Subject), ss)
a <- anova(m0, m1)
out$lrt$sleepstudy <- list(formulas = c("Reaction ~ Days + (1 | Subject)",
                                        "Reaction ~ Days + (Days | Subject)"),
                           npar = a$npar, loglik = a$logLik, aic = a$AIC, bic = a$BIC,
                           chisq = a$Chisq, df = a$Df, p = a[["Pr(>Chisq)"]])
su <- read_case(cases[[9]])
su <- su[complete.cases(su[, c("pain", "session", "alliance_within", "alliance_between")]), ]
s0 <- lmer(pain ~ session + (1 + session | patient) + (1 | therapist), su)
s1 <- lmer(pain ~ session + alliance_within + alliance_between + (1 + session | patient) +
             (1 | therapist), su)
a <- anova(s0, s1)
out$lrt$sim_unbalanced <- list(complete_cases = c("pain", "session", "alliance_within",
                                                  "alliance_between"), formulas = c(
  "pain ~ session + (1 + session | patient) + (1 | therapist)",
  "pain ~ session + alliance_within + alliance_between + (1 + session | patient) + (1 | therapist)"),
  npar = a$npar, loglik = a$logLik, aic = a$AIC, bic = a$BIC, chisq = a$Chisq, df = a$Df,
  p = a[["Pr(>Chisq)"]])

# profile-likelihood intervals for variance components
for (nm in c("dyestuff", "sleepstudy")) {
  cs <- Filter(function(x) x$name == nm, cases)[[1]]
  fm <- lme4::lmer(as.formula(cs$formula), read_case(cs), REML = TRUE)
  ci <- confint(fm, method = "profile", oldNames = FALSE)
  out$profile[[nm]] <- list(formula = cs$formula, parm = rownames(ci),
                            lower = unname(ci[, 1]), upper = unname(ci[, 2]))
}

writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, null = "null", na = "null",
                  pretty = TRUE),
           "lmm_reference.json")
cat("wrote lmm_reference.json\n")
