# Reference fits for formulas written the way R users write them (I(age^2), factor(x), poly(),
# scale(), sin/cos/exp/sqrt/pi, offset(log(n)), log(y + 1) on the left, dotted column names
# inside calls, text binary responses), and R's own names for the fixed-effect terms.
#
# Data (all distributed under the GPL with their R packages; exported unchanged to data/ so the
# Python tests need no R):
#   * nlme::Oxboys   heights of 26 boys at 9 occasions (Goldstein 1987)
#   * nlme::Oats     split-plot oats yields (Yates 1935)
#   * nlme::bdf      language scores of 2287 pupils in 131 schools (Snijders & Bosker 1999)
#   * lme4::Arabidopsis  fruit counts of Arabidopsis plants (Banta et al. 2010)
#   * lme4::sleepstudy   reaction times under sleep deprivation (Belenky et al. 2003)
#   * MASS::epil     epileptic seizure counts (Thall & Vail 1990)
#   * mlmRev::Contraception  contraceptive use in Bangladesh (Huq & Cleland 1990); `use` is
#                    written as the text "N"/"Y"
#   * lme4::cbpp     (already exported by ../glmm/glmm_reference.R to ../glmm/data/cbpp.csv)
# Every case reads the CSV back, so R fits exactly the data the Python test reads. Text columns
# become factors (R's default level order), as R users' read.csv(stringsAsFactors = TRUE) does.
#
# Also recorded: deparse() of a list of expressions (R's term names) and as.character() of
# numbers (R's factor level labels).
#
# Usage (from this folder): Rscript --vanilla lmm_r_spellings.R   -> writes lmm_r_spellings.json
suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})

w <- function(d, f) write.csv(d, file.path("data", f), row.names = FALSE)
ox <- as.data.frame(nlme::Oxboys)
ox$Subject <- as.character(ox$Subject)
w(ox[, c("Subject", "age", "height", "Occasion")], "oxboys.csv")
oats <- as.data.frame(nlme::Oats)
oats$Block <- as.character(oats$Block)
oats$Variety <- as.character(oats$Variety)
w(oats, "oats.csv")
bdf <- as.data.frame(nlme::bdf)
bdf$schoolNR <- as.character(bdf$schoolNR)
w(bdf[, c("schoolNR", "IQ.verb", "sex", "langPOST")], "bdf.csv")
w(lme4::Arabidopsis, "arabidopsis.csv")
w(MASS::epil[, c("y", "trt", "base", "age", "subject", "period")], "epil.csv")
w(mlmRev::Contraception[, c("district", "use", "livch", "age", "urban")], "contraception.csv")

read_case <- function(file) {
  d <- read.csv(file, stringsAsFactors = TRUE)
  for (v in intersect(c("Subject", "Block", "schoolNR", "popu", "gen", "subject", "herd",
                        "district"), names(d))) {
    d[[v]] <- factor(d[[v]])
  }
  d
}

cases <- list(
  list(id = "oxboys_I_power", data = "data/oxboys.csv",
       formula = "height ~ age + I(age^2) + (age | Subject)"),
  list(id = "oxboys_poly", data = "data/oxboys.csv",
       formula = "height ~ poly(age, 2) + (age | Subject)"),
  list(id = "oats_factor", data = "data/oats.csv",
       formula = "yield ~ factor(nitro) + Variety + (1 | Block/Variety)"),
  list(id = "bdf_scale_dotted", data = "data/bdf.csv",
       formula = "langPOST ~ scale(IQ.verb) + factor(sex) + (1 + scale(IQ.verb) | schoolNR)"),
  list(id = "arabidopsis_log_response", data = "data/arabidopsis.csv",
       formula = "log(total.fruits + 1) ~ factor(nutrient) * amd + (1 | popu) + (1 | gen)"),
  list(id = "sleepstudy_math", data = "data/sleepstudy.csv",
       formula = paste("Reaction ~ sin(2 * pi * Days/10) + cos(2 * pi * Days/10) + sqrt(Days) +",
                       "exp(-Days/10) + (1 | Subject)")),
  list(id = "epil_log_poisson", data = "data/epil.csv", family = "poisson",
       formula = "y ~ log(base/4) * trt + log(age) + (1 | subject)"),
  list(id = "cbpp_offset_poisson", data = "../glmm/data/cbpp.csv", family = "poisson",
       formula = "incidence ~ factor(period) + offset(log(size)) + (1 | herd)"),
  list(id = "contraception_text_response", data = "data/contraception.csv", family = "binomial",
       formula = "use ~ age + I(age^2) + urban + livch + (1 | district)"),
  list(id = "contraception_relevel", data = "data/contraception.csv", family = "binomial",
       formula = "use ~ relevel(livch, ref = \"3+\") + (1 | district)")
)

fit_case <- function(cs) {
  d <- read_case(cs$data)
  f <- as.formula(cs$formula)
  glmm <- !is.null(cs$family)
  fm <- if (glmm) glmer(f, d, family = cs$family) else lmer(f, d, REML = TRUE)
  co <- as.data.frame(summary(fm)$coefficients)
  vc <- as.data.frame(VarCorr(fm))
  list(id = cs$id, data = cs$data, formula = cs$formula,
       family = if (glmm) cs$family else "gaussian",
       criterion = if (glmm) deviance(fm) else REMLcrit(fm),
       loglik = as.numeric(logLik(fm)), nobs = nobs(fm),
       fixed = list(term = rownames(co), estimate = co[["Estimate"]],
                    se = co[["Std. Error"]]),
       varcorr = list(grp = vc$grp, var1 = vc$var1, var2 = vc$var2, sdcor = vc$sdcor),
       response_levels = if (is.factor(model.response(model.frame(fm))))
         levels(model.response(model.frame(fm))) else NULL)
}

expressions <- c("I(age^2)", "log(base/4)", "log(total.fruits + 1)", "scale(IQ.verb)",
                 "poly(x, 2, raw = TRUE)", "I(x/1e5)", "I(x * 0.0001 + 1000 - 0.001)",
                 "I((-x)^2 + x^-1 + -x^2)", "I(a > 1 & b < 2 | !c)", "I((a + b) * c)",
                 "I(a - (b - c))", "I(a - b - c)", "I(2^3^x)", "I((2^3)^x)",
                 "exp(-Days/10)", "sin(2*pi*Days/10)", "factor(x, levels = c(\"b\", \"a\"))",
                 "relevel(livch, ref = \"3+\")", "I(x %% 7)", "I(x == \"a\")",
                 "log(x, base = 2)", "pmin(x, 10)", "I(123456 * x)", "I(x^0.5)")
numbers <- c(0.2, 1e5, 123456, 1e-4, 0.001, 1 / 3, 2, 1e15, 0.1 + 0.2, -2.5, 12345678)

out <- list(
  meta = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
              note = "lmer REML / glmer Laplace with default controls"),
  fits = setNames(lapply(cases, fit_case), vapply(cases, `[[`, "", "id")),
  deparse = list(input = expressions,
                 output = vapply(expressions, function(e) deparse(str2lang(e)), "",
                                 USE.NAMES = FALSE)),
  numbers = list(value = numbers, as_character = as.character(numbers),
                 factor_levels = levels(factor(numbers)))
)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, null = "null", na = "null",
                  pretty = TRUE),
           "lmm_r_spellings.json")
cat("wrote lmm_r_spellings.json\n")
