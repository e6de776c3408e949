# Profile-likelihood intervals of a GLMM with a random slope (vector-valued random effects):
# lme4's confint(method = "profile") on the SD/correlation scale. The data are simulated here
# (seeded; no real patients) and written to data/sim_poisson_slopes.csv; the intervals go to
# lmm_glmm_profile.json next to this script. Run: bash tests/reference/regenerate.sh lmm
suppressPackageStartupMessages({library(lme4); library(MASS); library(jsonlite)})

# counts over ten sessions of 40 patients: random intercept SD 0.5, session slope SD 0.08,
# correlation -0.3
set.seed(20240611)
ng <- 40; ns <- 10
patient <- rep(sprintf("P%02d", 1:ng), each = ns)
session <- rep(0:(ns - 1), ng)
sd0 <- 0.5; sd1 <- 0.08; r <- -0.3
S <- matrix(c(sd0^2, r * sd0 * sd1, r * sd0 * sd1, sd1^2), 2)
b <- mvrnorm(ng, c(0, 0), S)
x <- round(rnorm(ng * ns), 4)
eta <- 1 - 0.05 * session + 0.3 * x + b[rep(1:ng, each = ns), 1] +
  b[rep(1:ng, each = ns), 2] * session
d <- data.frame(patient = patient, session = session, x = x, count = rpois(ng * ns, exp(eta)))
write.csv(d, file.path("data", "sim_poisson_slopes.csv"), row.names = FALSE)

d <- read.csv(file.path("data", "sim_poisson_slopes.csv"), stringsAsFactors = FALSE)
d$patient <- factor(d$patient)
formula <- "count ~ session + x + (1 + session | patient)"
fm <- glmer(as.formula(formula), d, family = poisson)
ci <- confint(fm, method = "profile", oldNames = FALSE)
vc <- as.data.frame(VarCorr(fm))
out <- list(
  meta = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
              note = "glmer Laplace fit; confint(method = 'profile', level = 0.95)"),
  formula = formula, data = "sim_poisson_slopes.csv", family = "poisson",
  loglik = as.numeric(logLik(fm)), theta = unname(getME(fm, "theta")),
  sdcor = vc$sdcor, fixed = unname(fixef(fm)),
  profile = list(parm = rownames(ci), lower = unname(ci[, 1]), upper = unname(ci[, 2])))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "lmm_glmm_profile.json")
cat("wrote lmm_glmm_profile.json\n")
