# Reference values for alliancestats.meta.bias / .sensitivity and the Baujat plot coordinates.
#
# Source of truth: metafor 3.8-1 (Viechtbauer 2010, J Stat Softw 36(3)) with metadat 1.2-0.
# Data sets (GPL, carried with attribution): metadat::dat.molloy2014 (Molloy, O'Carroll &
# Ferguson 2014, Ann Behav Med 47(1)) as Fisher z, and metadat::dat.bcg (Colditz et al. 1994)
# as log risk ratios. Both fitted with REML, test = "z" (metafor's defaults).
#
# metafor's Fisher-scoring threshold for tau^2 is tightened from 1e-5 to 1e-12 (`ctrl` below;
# trimfill() gets it through `...`, the other functions inherit it from the fitted model), so
# the pinned values are the converged optimum rather than metafor's default stopping point.
#
# The inputs actually analysed (yi, vi, labels, year) are written into the JSON as well, so the
# Python tests analyse exactly the numbers metafor analysed.
#
# Run: bash tests/reference/regenerate.sh meta   (writes bias.json next to this script)
suppressPackageStartupMessages({
    library(metafor)
    library(jsonlite)
})

ctrl <- list(threshold = 1e-12, maxiter = 1000)

num <- function(x) unname(as.numeric(x))
opt_num <- function(x) if (is.null(x) || length(x) == 0 || all(is.na(x))) NULL else num(x)

fit_summary <- function(res) {
    list(estimate = num(res$beta), se = num(res$se), ci_lb = num(res$ci.lb),
         ci_ub = num(res$ci.ub), tau2 = num(res$tau2), i2 = num(res$I2), h2 = num(res$H2),
         q = num(res$QE), q_p = num(res$QEp), k = res$k)
}

regtest_out <- function(res, model) {
    rt <- regtest(res, model = model)
    list(model = model, predictor = rt$predictor, statistic = num(rt$zval),
         p = num(rt$pval), df = opt_num(rt$dfs), limit_estimate = opt_num(rt$est),
         limit_ci_lb = opt_num(rt$ci.lb), limit_ci_ub = opt_num(rt$ci.ub))
}

ranktest_out <- function(res) {
    rk <- suppressWarnings(ranktest(res))
    list(tau = num(rk$tau), p = num(rk$pval))
}

trimfill_out <- function(res, estimator) {
    tf <- trimfill(res, estimator = estimator, control = ctrl)
    c(list(estimator = estimator, k0 = tf$k0, se_k0 = num(tf$se.k0), side = tf$side,
           p_k0 = opt_num(tf$p.k0), yi = num(tf$yi), vi = num(tf$vi), fill = tf$fill,
           labels = as.character(tf$slab)),
      fit_summary(tf))
}

l1o_out <- function(res) {
    l1 <- leave1out(res)
    list(label = as.character(l1$slab), estimate = num(l1$estimate), se = num(l1$se),
         statistic = num(l1[[3]]), p = num(l1$pval), ci_lb = num(l1$ci.lb),
         ci_ub = num(l1$ci.ub), q = num(l1$Q), q_p = num(l1$Qp), tau2 = num(l1$tau2),
         i2 = num(l1$I2), h2 = num(l1$H2))
}

infl_out <- function(res) {
    inf <- influence(res)
    out <- list(label = as.character(inf$inf$slab))
    for (nm in c("rstudent", "dffits", "cook.d", "cov.r", "tau2.del", "QE.del", "hat",
                 "weight")) {
        out[[nm]] <- num(inf$inf[[nm]])
    }
    coef_names <- rownames(res$beta)
    out$dfbs <- lapply(coef_names, function(nm) num(inf$dfbs[[nm]]))
    names(out$dfbs) <- coef_names
    out$inf <- as.logical(inf$is.infl)
    out
}

cumul_out <- function(res, order) {
    cu <- cumul(res, order = order)
    list(label = as.character(cu$slab), estimate = num(cu$estimate), se = num(cu$se),
         statistic = num(cu[[3]]), p = num(cu$pvals), ci_lb = num(cu$ci.lb),
         ci_ub = num(cu$ci.ub), q = num(cu$Q), q_p = num(cu$Qp), tau2 = num(cu$tau2),
         i2 = num(cu$I2), h2 = num(cu$H2))
}

baujat_out <- function(res) {
    pdf(NULL)
    bj <- baujat(res)
    invisible(dev.off())
    list(label = as.character(bj$slab), x = num(bj$x), y = num(bj$y))
}

inputs <- function(dat, labels, year) {
    list(label = labels, year = as.integer(year), yi = num(dat$yi), vi = num(dat$vi))
}

## dat.molloy2014: Fisher z of r, REML
mol <- escalc(measure = "ZCOR", ri = ri, ni = ni, data = dat.molloy2014)
mol_labels <- paste(dat.molloy2014$authors, dat.molloy2014$year)
res_mol <- rma(yi, vi, data = mol, slab = mol_labels, method = "REML", control = ctrl)

molloy <- list(
    data = inputs(mol, mol_labels, dat.molloy2014$year),
    measure = "ZCOR", method = "REML", test = "z",
    model = fit_summary(res_mol),
    regtest_rma = regtest_out(res_mol, "rma"),
    regtest_lm = regtest_out(res_mol, "lm"),
    ranktest = ranktest_out(res_mol),
    trimfill_L0 = trimfill_out(res_mol, "L0"),
    trimfill_R0 = trimfill_out(res_mol, "R0"),
    leave1out = l1o_out(res_mol),
    influence = infl_out(res_mol),
    cumul_year = cumul_out(res_mol, dat.molloy2014$year),
    baujat = baujat_out(res_mol)
)

## dat.bcg: log risk ratio, REML
bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
bcg_labels <- paste(dat.bcg$author, dat.bcg$year)
res_bcg <- rma(yi, vi, data = bcg, slab = bcg_labels, method = "REML", control = ctrl)

bcg_case <- list(
    data = inputs(bcg, bcg_labels, dat.bcg$year),
    measure = "RR", method = "REML", test = "z",
    model = fit_summary(res_bcg),
    regtest_rma = regtest_out(res_bcg, "rma"),
    regtest_lm = regtest_out(res_bcg, "lm"),
    ranktest = ranktest_out(res_bcg),
    trimfill_L0 = trimfill_out(res_bcg, "L0"),
    trimfill_R0 = trimfill_out(res_bcg, "R0"),
    leave1out = l1o_out(res_bcg),
    influence = infl_out(res_bcg),
    cumul_year = cumul_out(res_bcg, dat.bcg$year),
    baujat = baujat_out(res_bcg)
)

## dat.bcg with absolute latitude as moderator: diagnostics of a meta-regression
res_bcg_mr <- rma(yi, vi, mods = ~ ablat, data = bcg, slab = bcg_labels, method = "REML",
                  control = ctrl)
bcg_mr_data <- inputs(bcg, bcg_labels, dat.bcg$year)
bcg_mr_data$ablat <- num(dat.bcg$ablat)
bcg_ablat <- list(
    data = bcg_mr_data,
    measure = "RR", method = "REML", test = "z", mods = "ablat",
    model = list(beta = num(res_bcg_mr$beta), tau2 = num(res_bcg_mr$tau2)),
    regtest_rma = regtest_out(res_bcg_mr, "rma"),
    regtest_lm = regtest_out(res_bcg_mr, "lm"),
    influence = infl_out(res_bcg_mr),
    baujat = baujat_out(res_bcg_mr)
)

## dat.molloy2014 with the Knapp-Hartung adjustment (t tests, residual scale in deletions)
res_mol_kh <- rma(yi, vi, data = mol, slab = mol_labels, method = "REML", test = "knha",
                  control = ctrl)
molloy_knha <- list(
    data = inputs(mol, mol_labels, dat.molloy2014$year),
    measure = "ZCOR", method = "REML", test = "knha",
    model = fit_summary(res_mol_kh),
    regtest_rma = regtest_out(res_mol_kh, "rma"),
    leave1out = l1o_out(res_mol_kh),
    influence = infl_out(res_mol_kh),
    cumul_year = cumul_out(res_mol_kh, dat.molloy2014$year)
)

## dat.molloy2014 with the common-effect model (method = "FE"): method passed to every refit
res_mol_fe <- rma(yi, vi, data = mol, slab = mol_labels, method = "FE", control = ctrl)
molloy_fe <- list(
    data = inputs(mol, mol_labels, dat.molloy2014$year),
    measure = "ZCOR", method = "FE", test = "z",
    model = fit_summary(res_mol_fe),
    regtest_rma = regtest_out(res_mol_fe, "rma"),
    trimfill_L0 = trimfill_out(res_mol_fe, "L0"),
    leave1out = l1o_out(res_mol_fe),
    influence = infl_out(res_mol_fe)
)

out <- list(
    versions = list(R = R.version.string,
                    metafor = as.character(packageVersion("metafor")),
                    metadat = as.character(packageVersion("metadat")),
                    jsonlite = as.character(packageVersion("jsonlite")),
                    control = ctrl),
    cases = list(molloy2014 = molloy, bcg = bcg_case, bcg_ablat = bcg_ablat,
                 molloy2014_knha = molloy_knha, molloy2014_fe = molloy_fe)
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null",
                  pretty = TRUE),
           "bias.json")
