# Reference values for the edge cases pinned by the review tests of alliancestats.meta
# (tests/meta/test_review_bias.py, tests/meta/test_review_inputs.py) and for the metafor values
# quoted in tests/meta/test_rma.py and tests/test_datasets.py.
#
# Source of truth: metafor 3.8-1 (Viechtbauer 2010, J Stat Softw 36(3)) with metadat 1.2-0.
# Data: small made-up inputs written into the JSON as analysed, and metadat::dat.molloy2014
# (Molloy, O'Carroll & Ferguson 2014, Ann Behav Med 47(1); GPL, carried with attribution).
#
# Iterative fits use metafor's Fisher scoring with the threshold tightened from 1e-5 to 1e-12
# (`ctrl`), so the pinned numbers are the converged optimum, not metafor's default stopping
# point. Warnings metafor raises are recorded (as text) rather than printed.
#
# Run: bash tests/reference/regenerate.sh meta   (writes edge_cases.json next to this script)
suppressPackageStartupMessages({
    library(metafor)
    library(jsonlite)
})

ctrl <- list(threshold = 1e-12, maxiter = 1000)

num <- function(x) unname(as.numeric(x))

# run an expression, keeping its value and the texts of the warnings it raised
with_warnings <- function(expr) {
    msgs <- character(0)
    value <- withCallingHandlers(expr, warning = function(w) {
        msgs <<- c(msgs, conditionMessage(w))
        invokeRestart("muffleWarning")
    })
    list(value = value, warnings = msgs)
}

fit_out <- function(res) {
    pr <- predict(res)
    list(estimate = num(res$beta), se = num(res$se), zval = num(res$zval),
         zval_is_inf = is.infinite(num(res$zval)), pval = num(res$pval),
         ci_lb = num(res$ci.lb), ci_ub = num(res$ci.ub), pi_lb = num(pr$pi.lb),
         pi_ub = num(pr$pi.ub), tau2 = num(res$tau2),
         se_tau2 = if (is.null(res$se.tau2) || is.na(res$se.tau2)) NULL else num(res$se.tau2),
         i2 = num(res$I2), h2 = num(res$H2), q = num(res$QE), q_p = num(res$QEp), k = res$k,
         method = res$method, test = res$test)
}

cases <- list()

## trim-and-fill with equal sampling variances: side must be given, here "left"
tf_yi <- c(0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
tf_vi <- rep(0.01, 6)
tf_res <- rma(yi = tf_yi, vi = tf_vi, method = "REML", control = ctrl)
tf <- trimfill(tf_res, side = "left", control = ctrl)
cases$trimfill_equal_variances_left <- list(
    yi = tf_yi, vi = tf_vi, method = "REML", side = tf$side, estimator = tf$k0.est,
    k0 = tf$k0, se_k0 = num(tf$se.k0), estimate = num(tf$beta), se = num(tf$se),
    tau2 = num(tf$tau2), k = tf$k
)

## REML with sampling variances spanning 13 orders of magnitude
ex <- with_warnings(rma(yi = c(0.1, 0.2, 0.3), vi = c(1e-14, 0.01, 0.1), method = "REML",
                        control = ctrl))
cases$extreme_variance_ratio <- c(list(yi = c(0.1, 0.2, 0.3), vi = c(1e-14, 0.01, 0.1),
                                       warnings = I(ex$warnings)), fit_out(ex$value))

## the same with tau^2 on the boundary (estimate 0)
bd <- with_warnings(rma(yi = c(0.1, 0.2, 0.3), vi = c(1e-10, 1, 0.1), method = "REML",
                        control = ctrl))
cases$extreme_variance_ratio_boundary <- c(list(yi = c(0.1, 0.2, 0.3), vi = c(1e-10, 1, 0.1),
                                                warnings = I(bd$warnings)), fit_out(bd$value))

## identical effects: every tau^2 estimator x {z, knha}
id_yi <- rep(0.3, 5)
id_vi <- c(0.01, 0.02, 0.03, 0.04, 0.05)
identical <- list()
for (m in c("REML", "ML", "DL", "PM", "EB", "HE", "SJ", "HS", "FE")) {
    for (tst in c("z", "knha")) {
        fit <- with_warnings(rma(yi = id_yi, vi = id_vi, method = m, test = tst, control = ctrl))
        identical[[paste(m, tst, sep = "_")]] <- c(list(warnings = I(fit$warnings)),
                                                   fit_out(fit$value))
    }
}
cases$identical_effects <- list(yi = id_yi, vi = id_vi, fits = identical)

## dat.molloy2014 (Fisher z): REML pooled r with CI / PI, and the common-effect pooled r
mol <- escalc(measure = "ZCOR", ri = ri, ni = ni, data = dat.molloy2014)
mol_reml <- rma(yi, vi, data = mol, method = "REML", control = ctrl)
mol_pred <- predict(mol_reml, transf = transf.ztor)
cases$molloy2014_reml_r <- list(
    yi = num(mol$yi), vi = num(mol$vi), method = "REML",
    pred = num(mol_pred$pred), ci_lb = num(mol_pred$ci.lb), ci_ub = num(mol_pred$ci.ub),
    pi_lb = num(mol_pred$pi.lb), pi_ub = num(mol_pred$pi.ub), tau2 = num(mol_reml$tau2),
    i2 = num(mol_reml$I2), q = num(mol_reml$QE)
)
mol_fe <- rma(yi, vi, data = mol, method = "FE")
cases$molloy2014_fe_r <- list(
    yi = num(mol$yi), vi = num(mol$vi), method = "FE", estimate_z = num(mol_fe$beta),
    pred = num(transf.ztor(mol_fe$beta))
)

out <- list(
    versions = list(R = R.version.string,
                    metafor = as.character(packageVersion("metafor")),
                    metadat = as.character(packageVersion("metadat")),
                    jsonlite = as.character(packageVersion("jsonlite")),
                    control = ctrl),
    cases = cases
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null",
                  pretty = TRUE),
           "edge_cases.json")
