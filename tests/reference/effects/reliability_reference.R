# Reference values for alliancestats' multilevel reliability and classical reliability wrappers:
# psych 2.2.9 (multilevel.reliability, statsBy, alpha, ICC) and the repeated-measures
# correlation of Bakdash & Marusich (2017, Front Psychol 8:456) computed from its ANCOVA
# definition with lm(). Writes reliability_reference.json.
#
# Data: the Shrout & Lane (2012) toy data printed on psych's multilevel.reliability help page
# (5 persons x 4 times x 3 items), and data/wai_*.csv (simulated WAI-SR items, make_wai_data.py).
#
# Run: bash tests/reference/regenerate.sh effects
suppressPackageStartupMessages({library(psych); library(jsonlite)})

shrout <- data.frame(
  Person = rep(1:5, 4), Time = rep(1:4, each = 5),
  Item1 = c(2, 3, 6, 3, 7, 3, 5, 6, 3, 8, 4, 4, 7, 5, 6, 1, 5, 8, 8, 6),
  Item2 = c(3, 4, 6, 4, 8, 3, 7, 7, 5, 8, 2, 6, 8, 6, 7, 3, 9, 9, 7, 8),
  Item3 = c(6, 4, 5, 3, 7, 4, 7, 8, 9, 9, 5, 7, 9, 7, 8, 4, 7, 9, 9, 6))
items <- paste0("wai_", 1:12)
balanced <- read.csv("data/wai_balanced.csv", stringsAsFactors = FALSE)
unbalanced <- read.csv("data/wai_unbalanced.csv", stringsAsFactors = FALSE)

mlr_values <- function(m) {
  comp <- m$components
  list(n_persons = m$n.obs, n_times = m$n.time, n_items = m$n.items,
       RkF = m$RkF, R1R = m$R1R, RkR = m$RkR, Rc = m$Rc, RkRn = m$RkRn, Rcn = m$Rcn,
       components = list(source = rownames(comp), variance = comp[, 1], percent = comp[, 2]))
}

out <- list(meta = list(R = R.version.string, psych = as.character(packageVersion("psych"))),
            multilevel = list(), alpha = list())

m <- multilevel.reliability(shrout, grp = "Person", Time = "Time", items = 3:5)
out$multilevel$shrout <- c(mlr_values(m), list(
  alpha_by_person = list(person = rownames(m$alpha), raw_alpha = unname(m$alpha[, 1]),
                         std_alpha = unname(m$alpha[, 2]))))
m <- multilevel.reliability(shrout, grp = "Person", Time = "Time", items = 3:5, lmer = TRUE)
out$multilevel$shrout_lmer <- mlr_values(m)
m <- multilevel.reliability(balanced, grp = "patient", Time = "session", items = items,
                            alpha = FALSE)
out$multilevel$wai_balanced <- mlr_values(m)
m <- multilevel.reliability(balanced, grp = "patient", Time = "session", items = items,
                            alpha = FALSE, lmer = TRUE)
out$multilevel$wai_balanced_lmer <- mlr_values(m)

# within- and between-patient alpha from statsBy's pooled within-group (rwg) and between-group
# (rbg) correlations; raw alpha from the covariances of the same within-patient deviations and
# patient means (expanded to the sessions, as statsBy weights them)
within_between <- function(d) {
  s <- statsBy(d[c("patient", items)], group = "patient")
  x <- as.matrix(d[items])
  means <- apply(x, 2, function(v) ave(v, d$patient))
  raw <- function(S) {k <- ncol(S); k / (k - 1) * (1 - sum(diag(S)) / sum(S))}
  list(within_std = suppressWarnings(alpha(s$rwg)$total$std.alpha),
       between_std = suppressWarnings(alpha(s$rbg)$total$std.alpha),
       within_raw = raw(cov(x - means)), between_raw = raw(cov(means)))
}
out$alpha$within_between_unbalanced <- within_between(unbalanced)
out$alpha$within_between_balanced <- within_between(balanced)

a <- suppressWarnings(alpha(unbalanced[items]))
out$alpha$cronbach_all_sessions <- list(raw_alpha = a$total$raw_alpha,
                                        std_alpha = a$total$std.alpha, n = nrow(unbalanced))
first <- unbalanced[unbalanced$session == ave(unbalanced$session, unbalanced$patient,
                                              FUN = min), ]
a <- suppressWarnings(alpha(first[items]))
out$alpha$cronbach_first_session <- list(raw_alpha = a$total$raw_alpha, n = nrow(first))

# rater-style ICCs: patients (targets) x sessions (raters) of the balanced alliance scores
wide <- reshape(balanced[c("patient", "session", "alliance")], idvar = "patient",
                timevar = "session", direction = "wide")
ic <- ICC(wide[, -1], lmer = FALSE)$results
out$icc_sessions <- list(type = as.character(ic$type), icc = ic$ICC, F = ic$F, df1 = ic$df1,
                         df2 = ic$df2, p = ic$p, lower = ic[["lower bound"]],
                         upper = ic[["upper bound"]])

# repeated-measures correlation of the first two WAI-SR items within patients:
# ANCOVA item_2 ~ patient + item_1; r_rm = sign(slope) sqrt(SS_x / (SS_x + SS_error))
fit <- lm(wai_2 ~ factor(patient) + wai_1, data = unbalanced)
av <- anova(fit)
ss_x <- av["wai_1", "Sum Sq"]
ss_e <- av["Residuals", "Sum Sq"]
r_rm <- sign(coef(fit)[["wai_1"]]) * sqrt(ss_x / (ss_x + ss_e))
out$rm_corr <- list(x = "wai_1", y = "wai_2", subject = "patient", r = r_rm,
                    dof = av["Residuals", "Df"], p = av["wai_1", "Pr(>F)"])

writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, null = "null", na = "null",
                  pretty = TRUE), "reliability_reference.json")
cat("wrote reliability_reference.json\n")
