# Reference values for the review tests of lmm() (tests/models/test_review_lmm*.py):
# lmerTest's anova (type III and type I, Satterthwaite) and lme4 fits of awkward model
# specifications. Writes lmm_review_cases.json next to this script (and data/ham.csv, exported from
# lmerTest's `ham` data set). Run: bash tests/reference/regenerate.sh lmm
suppressPackageStartupMessages({library(lme4); library(lmerTest); library(jsonlite)})

# lmerTest's ham (consumer liking of 4 hams, 81 consumers; GPL >= 2), column renamed so that
# it is a plain Python identifier
ham <- lmerTest::ham
names(ham)[names(ham) == "Informed.liking"] <- "informed_liking"
write.csv(ham, file.path("data", "ham.csv"), row.names = FALSE)

read_sites <- function() {
  d <- read.csv(file.path("data", "review_sites.csv"), stringsAsFactors = FALSE)
  for (f in c("therapist", "patient", "arm", "site")) d[[f]] <- factor(d[[f]])
  d
}
read_ham <- function() {
  d <- read.csv(file.path("data", "ham.csv"))
  for (f in c("Consumer", "Product", "Information", "Gender")) d[[f]] <- factor(d[[f]])
  d
}
read_orthodont <- function() {
  d <- read.csv(file.path("data", "orthodont_missing.csv"), stringsAsFactors = FALSE)
  d$Subject <- factor(d$Subject); d$Sex <- factor(d$Sex)
  d
}

anova_cases <- list(
  list(name = "sites", data = "review_sites.csv", reader = read_sites,
       formula = "pain ~ session * site + arm + (1 | patient) + (1 | therapist)"),
  list(name = "sites_slope", data = "review_sites.csv", reader = read_sites,
       formula = "pain ~ session * site + alliance + (1 + session | patient)"),
  list(name = "ham", data = "ham.csv", reader = read_ham,
       formula = "informed_liking ~ Product * Information + (1 | Consumer) + (1 | Consumer:Product)"),
  list(name = "orthodont", data = "orthodont_missing.csv", reader = read_orthodont,
       formula = "distance ~ age * Sex + (age | Subject)"),
  list(name = "sites_threeway", data = "review_sites.csv", reader = read_sites,
       formula = "pain ~ site * arm * session + (1 | patient)"),
  list(name = "sites_no_intercept", data = "review_sites.csv", reader = read_sites,
       formula = "pain ~ 0 + site + session + (1 | patient)"),
  # no intervention patients at the west site: an empty cell (lme4 drops the aliased column)
  list(name = "sites_missing_cell", data = "review_sites.csv",
       reader = function() {
         d <- read_sites()
         droplevels(d[!(d$site == "west" & d$arm == "intervention"), ])
       },
       formula = "pain ~ site * arm + (1 | patient)", drop = "west:intervention")
)

tab <- function(a) list(term = rownames(a), sum_sq = a[["Sum Sq"]], mean_sq = a[["Mean Sq"]],
                        num_df = a[["NumDF"]], den_df = a[["DenDF"]], F = a[["F value"]],
                        p = a[["Pr(>F)"]])

out <- list(meta = list(R = paste(R.version$major, R.version$minor, sep = "."),
                        lme4 = as.character(packageVersion("lme4")),
                        lmerTest = as.character(packageVersion("lmerTest"))),
            anova = list(), fits = list())
for (cs in anova_cases) {
  for (reml in c(TRUE, FALSE)) {
    d <- cs$reader()
    fm <- lmerTest::lmer(as.formula(cs$formula), data = d, REML = reml)
    key <- paste0(cs$name, if (reml) "_REML" else "_ML")
    out$anova[[key]] <- list(formula = cs$formula, data = cs$data, reml = reml,
                             drop = if (is.null(cs$drop)) NULL else cs$drop,
                             type3 = tab(anova(fm, type = 3, ddf = "Satterthwaite")),
                             type1 = tab(anova(fm, type = 1, ddf = "Satterthwaite")))
  }
}

fit_summary <- function(fm, formula, data, extra = list()) {
  co <- as.data.frame(summary(fm)$coefficients)
  vc <- as.data.frame(VarCorr(fm))
  c(list(formula = formula, data = data, reml = isREML(fm),
         criterion = if (isREML(fm)) REMLcrit(fm) else deviance(fm), sigma = sigma(fm),
         fixed = list(term = rownames(co), estimate = co[["Estimate"]], se = co[["Std. Error"]],
                      df = co[["df"]]),
         varcorr = list(grp = vc$grp, var1 = vc$var1, var2 = vc$var2, sdcor = vc$sdcor)),
    extra)
}

d <- read_sites()
# a factor with an unused level listed first: lme4 builds its model frame with
# drop.unused.levels = TRUE, so the first *used* level is the reference
d_unused <- d
d_unused$site <- factor(as.character(d$site), levels = c("aaa", "north", "south", "west"))
f <- "pain ~ session + site + (1 | patient)"
out$fits$unused_level <- fit_summary(lmer(as.formula(f), d_unused), f, "review_sites.csv",
                                     list(levels = levels(d_unused$site)))
# response in micro-units: estimates scale exactly; Satterthwaite df must not change
f <- "pain ~ session + site + (1 + session | patient)"
out$fits$unit_scale <- fit_summary(lmer(as.formula(f), d), f, "review_sites.csv")
f <- "pain_micro ~ session + site + (1 + session | patient)"
out$fits$micro_scale <- fit_summary(lmer(as.formula(f), d), f, "review_sites.csv")
# a random slope on a predictor in huge units (session x 1e6): lme4 does not rescale and stops
# far from the optimum (pinned to document it; the tests accept a lower criterion)
d_big <- d
d_big$session_big <- d$session * 1e6
f <- "pain ~ session_big + (1 + session_big | patient)"
out$fits$big_slope_units <- suppressWarnings(
  fit_summary(lmer(as.formula(f), d_big), f, "review_sites.csv"))
f <- "pain ~ session + (1 + session | patient)"
out$fits$slope_units <- fit_summary(lmer(as.formula(f), d), f, "review_sites.csv")
# profile intervals where the correlation's profile runs into the boundary (slope SD -> 0)
m_prof <- lmer(as.formula(f), d)
ci <- suppressWarnings(confint(m_prof, method = "profile", oldNames = FALSE))
out$profile$slope_units <- list(formula = f, data = "review_sites.csv", parm = rownames(ci),
                                lower = unname(ci[, 1]), upper = unname(ci[, 2]))
# random slope on a factor, (0 + x | g), interaction grouping factor
f <- "pain ~ session + (1 + arm | therapist)"
out$fits$slope_on_factor <- fit_summary(lmer(as.formula(f), d), f, "review_sites.csv")
f <- "pain ~ session + (0 + session | patient)"
out$fits$zero_plus_x <- fit_summary(lmer(as.formula(f), d), f, "review_sites.csv")
f <- "pain ~ session + (1 | site:therapist) + (1 | patient)"
out$fits$interaction_group <- fit_summary(lmer(as.formula(f), d), f, "review_sites.csv")

writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, null = "null", na = "null",
                  pretty = TRUE),
           "lmm_review_cases.json")
cat("wrote lmm_review_cases.json\n")
