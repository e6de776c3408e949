# Reference values for the publication-bias and sensitivity additions of alliancestats.meta and
# the numbers behind the GOSH, radial, L'Abbé and bubble plots: Egger-type tests with other
# predictors, PET and PEESE intercepts, trim-and-fill Q0 and a negative k0 variance, fail-safe
# N, step-function selection models (selmodel), gosh, radial, labbe and regplot coordinates.
#
# Source of truth: metafor 3.8-1. Data (metadat 1.2-0, GPL, with attribution; see
# data/README.md): dat.molloy2014, dat.bcg, dat.li2007, dat.hackshaw1998 (written into the
# JSON). Iterative fits use a tight threshold.
#
# Run: bash tests/reference/regenerate.sh meta   (writes publication_bias.json next to this file)
suppressPackageStartupMessages({
    library(metafor)
    library(jsonlite)
})

tight <- list(threshold = 1e-12, maxiter = 10000)
num <- function(x) unname(as.numeric(x))
opt <- function(x) if (is.null(x) || length(x) == 0 || all(is.na(x))) NULL else num(x)
cases <- list()

mol <- escalc(measure = "ZCOR", ri = ri, ni = ni, data = dat.molloy2014)
bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
bcg$ni <- with(dat.bcg, tpos + tneg + cpos + cneg)
rm_mol <- rma(yi, vi, data = mol, control = tight)
rm_bcg <- rma(yi, vi, data = bcg, control = tight)

## Egger-type tests with other predictors
reg <- function(fit, model, predictor, ni) {
    rt <- regtest(fit, model = model, predictor = predictor, ni = ni)
    list(statistic = num(rt$zval), p = num(rt$pval), df = opt(rt$dfs), est = opt(rt$est),
         ci_lb = opt(rt$ci.lb), ci_ub = opt(rt$ci.ub))
}
for (pr in c("vi", "ni", "ninv", "sqrtninv")) {
    for (md in c("rma", "lm")) {
        cases[[paste("egger_molloy", md, pr, sep = "_")]] <- reg(rm_mol, md, pr, mol$ni)
        cases[[paste("egger_bcg", md, pr, sep = "_")]] <- reg(rm_bcg, md, pr, bcg$ni)
    }
}

## PET and PEESE: weighted least squares intercepts
petpeese <- function(d) {
    pet <- summary(lm(yi ~ sqrt(vi), weights = 1 / vi, data = d))$coefficients
    peese <- summary(lm(yi ~ vi, weights = 1 / vi, data = d))$coefficients
    r1 <- regtest(rma(yi, vi, data = d), model = "lm", predictor = "sei")
    r2 <- regtest(rma(yi, vi, data = d), model = "lm", predictor = "vi")
    list(pet = num(pet[, 1]), pet_se = num(pet[, 2]), pet_t = num(pet[, 3]), pet_p = num(pet[, 4]),
         peese = num(peese[, 1]), peese_se = num(peese[, 2]), peese_t = num(peese[, 3]),
         peese_p = num(peese[, 4]), pet_ci = num(c(r1$ci.lb, r1$ci.ub)),
         peese_ci = num(c(r2$ci.lb, r2$ci.ub)))
}
cases$petpeese_molloy <- petpeese(mol)
cases$petpeese_bcg <- petpeese(bcg)

## trim-and-fill: Q0 estimator; Li (2007) with DL on the left gives a negative variance
tf_out <- function(tf) list(k0 = tf$k0, se_k0 = opt(tf$se.k0), side = tf$side,
                            beta = num(tf$beta), se = num(tf$se), tau2 = tf$tau2)
cases$trimfill_molloy_Q0 <- tf_out(trimfill(rm_mol, estimator = "Q0", control = tight))
cases$trimfill_bcg_Q0 <- tf_out(trimfill(rm_bcg, estimator = "Q0", control = tight))
li <- dat.li2007
li_dl <- rma(measure = "OR", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = li, method = "DL")
cases$trimfill_li2007_DL_left <- c(tf_out(suppressWarnings(trimfill(li_dl, side = "left"))),
                                   list(yi = num(li_dl$yi), vi = num(li_dl$vi)))

## fail-safe N
fsn_out <- function(f) list(fsnum = num(f$fsnum), pval = opt(f$pval), meanes = opt(f$meanes),
                            target = opt(f$target))
for (nm in c("molloy", "bcg")) {
    d <- if (nm == "molloy") mol else bcg
    cases[[paste0("fsn_", nm, "_rosenthal")]] <- fsn_out(fsn(yi, vi, data = d))
    cases[[paste0("fsn_", nm, "_orwin")]] <- fsn_out(fsn(yi, vi, data = d, type = "Orwin"))
    cases[[paste0("fsn_", nm, "_orwin_weighted")]] <- fsn_out(
        fsn(yi, vi, data = d, type = "Orwin", weighted = TRUE, target = 0.05))
    cases[[paste0("fsn_", nm, "_rosenberg")]] <- fsn_out(fsn(yi, vi, data = d, type = "Rosenberg"))
}

## step-function selection models
sel_out <- function(s) list(beta = num(s$beta), se = num(s$se), tau2 = s$tau2,
                            se_tau2 = opt(s$se.tau2), delta = num(s$delta),
                            se_delta = num(s$se.delta), ll = s$ll, ll0 = s$ll0, LRT = s$LRT,
                            LRTp = s$LRTp, k = num(s$ptable$k))
hk <- dat.hackshaw1998
hk_ml <- rma(yi, vi, data = hk, method = "ML", control = tight)
cases$selmodel_hackshaw_3psm <- sel_out(selmodel(hk_ml, type = "stepfun", steps = 0.025))
cases$selmodel_hackshaw_4 <- sel_out(selmodel(hk_ml, type = "stepfun", steps = c(0.025, 0.1, 0.5, 1)))
cases$selmodel_molloy_3psm <- sel_out(selmodel(rm_mol, type = "stepfun", steps = 0.025))

## figure coordinates
b8 <- bcg[1:8, ]
for (m in c("FE", "DL", "REML")) {
    g <- gosh(rma(yi, vi, data = b8, method = m, control = tight), progbar = FALSE)
    cases[[paste0("gosh_bcg8_", m)]] <- list(
        incl = unname(apply(g$incl, 1, function(r) sum(2^(which(r) - 1)))),
        QE = num(g$res$QE), I2 = num(g$res$I2), H2 = num(g$res$H2), tau2 = num(g$res$tau2),
        estimate = num(g$res$estimate))
}
cases$radial_molloy <- list(x = num(1 / sqrt(mol$vi + rm_mol$tau2)),
                            z = num(mol$yi / sqrt(mol$vi + rm_mol$tau2)))
b <- dat.bcg
arm_t <- escalc(measure = "PLO", xi = b$tpos, mi = b$tneg)
arm_c <- escalc(measure = "PLO", xi = b$cpos, mi = b$cneg)
cases$labbe_bcg_OR <- list(x = num(arm_c$yi), y = num(arm_t$yi))
reg_bcg <- rma(yi, vi, mods = ~ ablat, data = bcg, control = tight)
xs <- seq(min(bcg$ablat), max(bcg$ablat), length.out = 5)
pr <- predict(reg_bcg, newmods = xs)
cases$regplot_bcg_ablat <- list(xs = xs, pred = num(pr$pred), ci_lb = num(pr$ci.lb),
                                ci_ub = num(pr$ci.ub), pi_lb = num(pr$pi.lb), pi_ub = num(pr$pi.ub),
                                weights = num(weights(reg_bcg)))

out <- list(
    versions = list(R = R.version.string, metafor = as.character(packageVersion("metafor")),
                    metadat = as.character(packageVersion("metadat"))),
    data = list(hackshaw1998 = list(yi = num(hk$yi), vi = num(hk$vi))),
    cases = cases
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null",
                  pretty = TRUE), "publication_bias.json")
cat("wrote publication_bias.json with", length(cases), "cases\n")
