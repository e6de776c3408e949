# Reference values for Kenward-Roger inference in alliancestats' linear mixed models.
# pbkrtest's adjusted covariance (vcovAdj) and lmerTest's Kenward-Roger t and F tests
# (summary, anova type III and I, contest for custom contrasts), plus emmeans' marginal means
# with lmer.df = "kenward-roger". Reads the CSVs in data/ and writes lmm_kenward_roger.json
# next to this script. Run: bash tests/reference/regenerate.sh lmm
suppressPackageStartupMessages({
  library(lme4); library(lmerTest); library(pbkrtest); library(emmeans); library(jsonlite)
})

# contrasts: each a matrix over the fixed effects (rows = directions), tested one row at a time
# (contest1D) and jointly (contestMD)
cases <- list(
  list(name = "sleepstudy", data = "sleepstudy.csv", factors = "Subject",
       formula = "Reaction ~ Days + (Days | Subject)",
       contrasts = list(mean_day5 = rbind(c(1, 5)), both = rbind(c(1, 0), c(0, 1))),
       emmeans = list(specs = "Days", at = list(Days = c(0, 4.5, 9)))),
  list(name = "sleepstudy_uncorr", data = "sleepstudy.csv", factors = "Subject",
       formula = "Reaction ~ Days + (Days || Subject)",
       contrasts = list(mean_day5 = rbind(c(1, 5)))),
  # sessions in patients in therapists: six therapists in three clinics (clinic varies
  # between therapists only, so its tests have few denominator df)
  list(name = "therapy_few_therapists", data = "sim_unbalanced.csv",
       factors = c("therapist", "patient", "clinic", "arm"), therapists = 6,
       formula = paste("pain ~ session * arm + alliance_between + clinic +",
                       "(1 + session | patient) + (1 | therapist)"),
       contrasts = list(
         clinics = rbind(c(0, 0, 0, 0, 1, 0, 0), c(0, 0, 0, 0, 0, 1, 0)),
         clinic_diff = rbind(c(0, 0, 0, 0, 1, -1, 0)),
         slope_intervention = rbind(c(0, 1, 0, 0, 0, 0, 1))),
       emmeans = list(specs = "arm", by = "session", at = list(session = c(1, 8)))),
  # unbalanced: Orthodont with missing visits
  list(name = "orthodont_missing", data = "orthodont_missing.csv", factors = c("Subject", "Sex"),
       formula = "distance ~ age * Sex + (age | Subject)",
       contrasts = list(female_slope = rbind(c(0, 1, 0, 1)),
                        sex = rbind(c(0, 0, 1, 0), c(0, 0, 0, 1))),
       emmeans = list(specs = "Sex", at = list(age = c(8, 14)), by = "age")),
  # crossed: consumers x products (ham)
  list(name = "ham_crossed", data = "ham.csv",
       factors = c("Consumer", "Product", "Information"),
       formula = "informed_liking ~ Information + Age + (1 | Consumer) + (1 | Product)",
       contrasts = list(info_age = rbind(c(0, 1, 0), c(0, 0, 1)))),
  # a boundary fit: the therapist variance is estimated as zero
  list(name = "therapy_singular", data = "sim_arms.csv",
       factors = c("therapist", "patient", "arm"), therapists = 6,
       formula = paste("pain ~ session * arm + alliance_between +",
                       "(1 + session | patient) + (1 | therapist)"),
       contrasts = list(arm_at_8 = rbind(c(0, 0, 1, 0, 8))))
)

read_case <- function(cs) {
  d <- read.csv(file.path("data", cs$data), stringsAsFactors = FALSE)
  if (!is.null(cs$therapists)) {
    keep <- sort(unique(d$therapist))[seq_len(cs$therapists)]
    d <- d[d$therapist %in% keep, ]
  }
  for (f in cs$factors) d[[f]] <- factor(d[[f]])
  d
}

ftable_out <- function(a) {
  list(term = rownames(a), sum_sq = a[["Sum Sq"]], mean_sq = a[["Mean Sq"]],
       num_df = a[["NumDF"]], den_df = a[["DenDF"]], F = a[["F value"]], p = a[["Pr(>F)"]])
}

kr_case <- function(cs) {
  d <- read_case(cs)
  fm <- lmerTest::lmer(as.formula(cs$formula), data = d, REML = TRUE)
  co <- as.data.frame(summary(fm, ddf = "Kenward-Roger")$coefficients)
  V <- as.matrix(vcov(fm))
  Va <- pbkrtest::vcovAdj(fm)
  out <- list(
    formula = cs$formula, data = cs$data, therapists = cs$therapists,
    criterion = REMLcrit(fm), theta = unname(getME(fm, "theta")), sigma = sigma(fm),
    singular = isSingular(fm), nobs = nobs(fm),
    fixed = list(term = rownames(co), estimate = co[["Estimate"]], se = co[["Std. Error"]],
                 df = co[["df"]], t = co[["t value"]], p = co[["Pr(>|t|)"]]),
    vcov = unname(V), vcov_adj = unname(as.matrix(Va)),
    anova3 = ftable_out(anova(fm, type = 3, ddf = "Kenward-Roger")),
    anova1 = ftable_out(anova(fm, type = 1, ddf = "Kenward-Roger")),
    contrasts = list())
  for (nm in names(cs$contrasts)) {
    L <- cs$contrasts[[nm]]
    one <- contest(fm, L, joint = FALSE, ddf = "Kenward-Roger")
    joint <- contest(fm, L, joint = TRUE, ddf = "Kenward-Roger")
    out$contrasts[[nm]] <- list(
      L = unname(L),
      rows = list(estimate = one[["Estimate"]], se = one[["Std. Error"]], df = one[["df"]],
                  t = one[["t value"]], p = one[["Pr(>|t|)"]],
                  lb_ddf = apply(L, 1, function(l) pbkrtest::Lb_ddf(l, V, Va))),
      joint = list(sum_sq = joint[["Sum Sq"]], mean_sq = joint[["Mean Sq"]],
                   num_df = joint[["NumDF"]], den_df = joint[["DenDF"]],
                   F = joint[["F value"]], p = joint[["Pr(>F)"]]))
  }
  if (!is.null(cs$emmeans)) {
    e <- cs$emmeans
    spec <- if (is.null(e$by)) as.formula(paste("~", e$specs)) else
      as.formula(paste("~", e$specs, "|", e$by))
    em <- as.data.frame(emmeans(fm, spec, at = e$at, lmer.df = "kenward-roger"))
    out$emmeans <- list(specs = e$specs, by = e$by, at = e$at,
                        table = lapply(as.list(em), function(x) if (is.factor(x))
                          as.character(x) else x))
  }
  out
}

out <- list(meta = list(R = R.version.string,
                        lme4 = as.character(packageVersion("lme4")),
                        lmerTest = as.character(packageVersion("lmerTest")),
                        pbkrtest = as.character(packageVersion("pbkrtest")),
                        emmeans = as.character(packageVersion("emmeans")),
                        note = paste("REML fits; lmerTest's Kenward-Roger t tests (get_KR1D:",
                                     "pbkrtest::vcovAdj and Lb_ddf) and F tests (KRmodcomp)")),
            cases = list())
for (cs in cases) out$cases[[cs$name]] <- kr_case(cs)

writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, null = "null", na = "null",
                  pretty = TRUE),
           "lmm_kenward_roger.json")
cat("wrote lmm_kenward_roger.json\n")
