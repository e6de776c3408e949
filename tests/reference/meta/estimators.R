# Reference values for the univariate estimators and pooling methods added to alliancestats.meta:
# GENQ, DLIT, SJIT and PMM tau^2 estimators, user weights, the "adhoc" Knapp-Hartung variant,
# a user-fixed tau^2 (R^2 and SE of tau^2), and Mantel-Haenszel / Peto common-effect models.
#
# Source of truth: metafor 3.8-1 (Viechtbauer 2010). Data (metadat 1.2-0, GPL, with
# attribution; see data/README.md): dat.molloy2014, dat.bcg, dat.li2007, dat.hart1999,
# dat.bangertdrowns2004. Iterative estimators run to a tight threshold.
#
# Run: bash tests/reference/regenerate.sh meta   (writes estimators.json next to this file)
suppressPackageStartupMessages({
    library(metafor)
    library(jsonlite)
})

tight <- list(threshold = 1e-12, maxiter = 10000, tol = 1e-13)
num <- function(x) unname(as.numeric(x))
opt <- function(x) if (is.null(x) || length(x) == 0 || all(is.na(x))) NULL else num(x)

uni <- function(fit) {
    out <- list(beta = num(fit$beta), se = num(fit$se), zval = num(fit$zval),
                pval = num(fit$pval), ci_lb = num(fit$ci.lb), ci_ub = num(fit$ci.ub),
                tau2 = fit$tau2, se_tau2 = opt(fit$se.tau2), I2 = fit$I2, H2 = fit$H2,
                QE = fit$QE, QEp = fit$QEp, k = fit$k, weights = num(weights(fit)),
                ll_ML = fit$fit.stats["ll", "ML"], ll_REML = fit$fit.stats["ll", "REML"])
    if (fit$int.only) {
        pr <- predict(fit)
        out$pi_lb <- pr$pi.lb
        out$pi_ub <- pr$pi.ub
    } else {
        out$QM <- fit$QM
        out$QMp <- fit$QMp
        out$R2 <- opt(fit$R2)
    }
    out
}

cases <- list()
mol <- escalc(measure = "ZCOR", ri = ri, ni = ni, data = dat.molloy2014)
bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
for (m in c("DLIT", "SJIT", "PMM")) {
    cases[[paste0("molloy_", m)]] <- uni(rma(yi, vi, data = mol, method = m, control = tight))
    cases[[paste0("bcg_", m)]] <- uni(rma(yi, vi, data = bcg, method = m, control = tight))
}
cases$molloy_GENQ <- uni(rma(yi, vi, weights = ni, data = mol, method = "GENQ", control = tight))
cases$bcg_GENQ_ablat <- uni(rma(yi, vi, weights = 1 / vi, mods = ~ ablat, data = bcg,
                                method = "GENQ", control = tight))
cases$molloy_weights_ni <- uni(rma(yi, vi, weights = ni, data = mol, control = tight))
cases$bcg_weights_ablat <- uni(rma(yi, vi, weights = 1 / sqrt(vi), mods = ~ ablat, data = bcg,
                                   control = tight))
cases$molloy_adhoc <- uni(rma(yi, vi, data = mol, test = "adhoc", control = tight))
cases$bcg_adhoc_ablat <- uni(rma(yi, vi, mods = ~ ablat, data = bcg, test = "adhoc",
                                 control = tight))
bd <- dat.bangertdrowns2004
cases$bangertdrowns_fixed_tau2 <- c(
    uni(rma(yi, vi, mods = ~ length, data = bd, tau2 = 0.02, test = "knha", control = tight)),
    list(data = list(yi = num(bd$yi), vi = num(bd$vi), length = num(bd$length))))
cases$molloy_fixed_tau2_DL <- uni(rma(yi, vi, data = mol, tau2 = 0.01, method = "DL"))

mh_out <- function(fit) {
    list(beta = num(fit$beta), se = num(fit$se), zval = num(fit$zval), pval = num(fit$pval),
         ci_lb = num(fit$ci.lb), ci_ub = num(fit$ci.ub), QE = fit$QE, QEp = fit$QEp,
         I2 = fit$I2, H2 = fit$H2, k = fit$k, k_yi = fit$k.yi, MH = opt(fit$MH),
         MHp = opt(fit$MHp), TA = opt(fit$TA), TAp = opt(fit$TAp), BD = opt(fit$BD),
         BDp = opt(fit$BDp), weights = num(weights(fit)),
         ll_ML = fit$fit.stats["ll", "ML"], ll_REML = fit$fit.stats["ll", "REML"])
}
b <- dat.bcg
for (m in c("OR", "RR", "RD")) {
    cases[[paste0("mh_bcg_", m)]] <- mh_out(rma.mh(ai = tpos, bi = tneg, ci = cpos, di = cneg,
                                                   data = b, measure = m))
}
li <- dat.li2007
for (m in c("OR", "RR", "RD")) {
    cases[[paste0("mh_li2007_", m)]] <- mh_out(rma.mh(ai = ai, n1i = n1i, ci = ci, n2i = n2i,
                                                      data = li, measure = m))
}
h <- dat.hart1999
for (m in c("IRR", "IRD")) {
    cases[[paste0("mh_hart1999_", m)]] <- mh_out(rma.mh(x1i = x1i, t1i = t1i, x2i = x2i,
                                                        t2i = t2i, data = h, measure = m))
}
peto_out <- function(fit) {
    list(beta = num(fit$beta), se = num(fit$se), zval = num(fit$zval), pval = num(fit$pval),
         ci_lb = num(fit$ci.lb), ci_ub = num(fit$ci.ub), QE = fit$QE, QEp = fit$QEp,
         I2 = fit$I2, H2 = fit$H2, k = fit$k, weights = num(weights(fit)),
         ll_ML = fit$fit.stats["ll", "ML"])
}
cases$peto_bcg <- peto_out(rma.peto(ai = tpos, bi = tneg, ci = cpos, di = cneg, data = b))
cases$peto_li2007 <- peto_out(rma.peto(ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = li))

out <- list(
    versions = list(R = R.version.string, metafor = as.character(packageVersion("metafor")),
                    metadat = as.character(packageVersion("metadat"))),
    data = list(li2007 = as.list(li[, c("ai", "n1i", "ci", "n2i")]),
                hart1999 = as.list(h[, c("x1i", "t1i", "x2i", "t2i")])),
    cases = cases
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null",
                  pretty = TRUE), "estimators.json")
cat("wrote estimators.json with", length(cases), "cases\n")
