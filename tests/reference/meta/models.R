# Reference values for alliancestats.meta core models (effect sizes, rma.uni, rma.mv, CR2).
# Run: bash tests/reference/regenerate.sh meta   (writes models.json and data/*.csv next to this file)
#
# Iterative estimators are run with tight convergence settings (threshold / tol / rel.tol) so
# the pinned numbers are the optimum itself, not metafor's default stopping point; a few
# default-control fits are pinned as well ("default_control") to show agreement with what users
# see in metafor with its defaults.
suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
  library(clubSandwich)
})

tight <- list(threshold = 1e-12, maxiter = 10000, tol = 1e-13)
mvtight <- list(rel.tol = 1e-10, eval.max = 10000, iter.max = 10000)
ci_tight <- list(tol = 1e-13)

uni <- function(fit) {
  out <- list(
    beta = unname(as.vector(fit$beta)), se = unname(fit$se), zval = unname(fit$zval),
    pval = unname(fit$pval), ci_lb = unname(fit$ci.lb), ci_ub = unname(fit$ci.ub),
    names = rownames(fit$beta), tau2 = fit$tau2, se_tau2 = fit$se.tau2,
    I2 = fit$I2, H2 = fit$H2, QE = fit$QE, QEp = fit$QEp, k = fit$k, p = fit$p,
    ll_ML = fit$fit.stats["ll", "ML"], ll_REML = fit$fit.stats["ll", "REML"],
    AIC_REML = fit$fit.stats["AIC", "REML"], BIC_ML = fit$fit.stats["BIC", "ML"],
    weights = unname(weights(fit)), fitted = unname(as.vector(fitted(fit))),
    ddf = if (is.null(fit$ddf) || all(is.na(fit$ddf))) NULL else unname(fit$ddf)
  )
  if (fit$int.only) {
    pr <- predict(fit)
    out$pi_lb <- pr$pi.lb
    out$pi_ub <- pr$pi.ub
  } else {
    out$QM <- fit$QM; out$QMp <- fit$QMp; out$QMdf <- unname(fit$QMdf[!is.na(fit$QMdf)])
    out$R2 <- if (is.null(fit$R2)) NULL else fit$R2
  }
  out
}

mv <- function(fit) {
  W <- diag(1 / fit$vi)
  X <- model.matrix(fit)
  P <- W - W %*% X %*% solve(t(X) %*% W %*% X) %*% t(X) %*% W
  vt <- (fit$k - fit$p) / sum(diag(P))
  out <- list(
    beta = unname(as.vector(fit$beta)), se = unname(fit$se), zval = unname(fit$zval),
    pval = unname(fit$pval), ci_lb = unname(fit$ci.lb), ci_ub = unname(fit$ci.ub),
    names = rownames(fit$beta), sigma2 = unname(fit$sigma2), s_nlevels = unname(fit$s.nlevels),
    QE = fit$QE, QEp = fit$QEp, k = fit$k, p = fit$p,
    ll_ML = fit$fit.stats["ll", "ML"], ll_REML = fit$fit.stats["ll", "REML"],
    I2_levels = unname(100 * fit$sigma2 / (sum(fit$sigma2) + vt)),
    weights = unname(weights(fit))
  )
  if (fit$int.only) {
    pr <- predict(fit)
    out$pi_lb <- pr$pi.lb
    out$pi_ub <- pr$pi.ub
  } else {
    out$QM <- fit$QM; out$QMp <- fit$QMp; out$QMdf <- unname(fit$QMdf[!is.na(fit$QMdf)])
  }
  out
}

rob <- function(fit) {
  out <- list(
    beta = unname(as.vector(fit$beta)), se = unname(fit$se), tval = unname(fit$zval),
    pval = unname(fit$pval), ci_lb = unname(fit$ci.lb), ci_ub = unname(fit$ci.ub),
    df = unname(fit$ddf), names = rownames(fit$beta),
    QM = fit$QM, QMp = fit$QMp, QMdf = unname(fit$QMdf)
  )
  if (fit$int.only) {
    pr <- predict(fit)
    out$pi_lb <- pr$pi.lb
    out$pi_ub <- pr$pi.ub
  }
  out
}

ref <- list(
  meta = list(
    R = R.version.string,
    metafor = as.character(packageVersion("metafor")),
    metadat = as.character(packageVersion("metadat")),
    clubSandwich = as.character(packageVersion("clubSandwich")),
    generated = format(Sys.time(), "%Y-%m-%d %H:%M:%S %Z")
  ),
  cases = list()
)
add <- function(name, value) ref$cases[[name]] <<- value

# ---------------------------------------------------------------- data export
write.csv(dat.molloy2014, "data/molloy2014.csv", row.names = FALSE)
write.csv(dat.bcg, "data/bcg.csv", row.names = FALSE)
write.csv(as.data.frame(dat.konstantopoulos2011), "data/konstantopoulos2011.csv", row.names = FALSE)
write.csv(dat.assink2016, "data/assink2016.csv", row.names = FALSE)

# ---------------------------------------------------------------- molloy 2014
mz <- escalc(measure = "ZCOR", ri = ri, ni = ni, data = dat.molloy2014)
mc <- escalc(measure = "COR", ri = ri, ni = ni, data = dat.molloy2014)
add("escalc_molloy_zcor", list(yi = as.vector(mz$yi), vi = as.vector(mz$vi)))
add("escalc_molloy_cor", list(yi = as.vector(mc$yi), vi = as.vector(mc$vi)))

for (m in c("REML", "ML", "DL", "PM", "EB", "HE", "SJ", "HS", "FE", "EE")) {
  fit <- rma(yi, vi, data = mz, method = m, control = tight)
  add(paste0("molloy_zcor_", m), uni(fit))
  if (!(m %in% c("FE", "EE"))) {
    fk <- rma(yi, vi, data = mz, method = m, test = "knha", control = tight)
    add(paste0("molloy_zcor_", m, "_knha"), uni(fk))
  }
}
add("molloy_cor_REML", uni(rma(yi, vi, data = mc, method = "REML", control = tight)))
add("molloy_cor_DL", uni(rma(yi, vi, data = mc, method = "DL", control = tight)))

fit <- rma(yi, vi, data = mz, control = tight)
ci <- confint(fit, control = ci_tight)
add("molloy_zcor_REML_confint", list(
  tau2 = unname(ci$random["tau^2", ]), tau = unname(ci$random["tau", ]),
  I2 = unname(ci$random["I^2(%)", ]), H2 = unname(ci$random["H^2", ])))
fdl <- rma(yi, vi, data = mz, method = "DL")
ci <- confint(fdl, control = ci_tight)
add("molloy_zcor_DL_confint", list(
  tau2 = unname(ci$random["tau^2", ]), tau = unname(ci$random["tau", ]),
  I2 = unname(ci$random["I^2(%)", ]), H2 = unname(ci$random["H^2", ])))
pr <- predict(fit, transf = transf.ztor)
add("molloy_zcor_REML_r", list(pred = pr$pred, ci_lb = pr$ci.lb, ci_ub = pr$ci.ub,
                                pi_lb = pr$pi.lb, pi_ub = pr$pi.ub))
add("default_control_molloy_zcor_REML", uni(rma(yi, vi, data = mz)))
add("default_control_molloy_zcor_PM", uni(rma(yi, vi, data = mz, method = "PM")))

for (m in c("REML", "ML", "DL", "FE")) {
  add(paste0("molloy_mreg_", m), uni(rma(yi, vi, mods = ~ meanage + quality, data = mz,
                                           method = m, control = tight)))
}
add("molloy_mreg_REML_knha", uni(rma(yi, vi, mods = ~ meanage + quality, data = mz,
                                     test = "knha", control = tight)))
add("molloy_mreg_design_REML", uni(rma(yi, vi, mods = ~ design, data = mz, control = tight)))
add("molloy_mreg_design_REML_knha", uni(rma(yi, vi, mods = ~ design, data = mz,
                                          test = "knha", control = tight)))

# subgroup analysis: separate REML fits per design, then a fixed-effect Wald test of the
# subgroup estimates (metafor's "separate models" approach; Q_between = QM of the FE model)
sg <- lapply(split(mz, mz$design), function(d) rma(yi, vi, data = d, control = tight))
sgdat <- data.frame(design = names(sg), est = sapply(sg, coef), se = sapply(sg, function(f) f$se),
                    tau2 = sapply(sg, function(f) f$tau2), k = sapply(sg, function(f) f$k))
qb <- rma(est, sei = se, mods = ~ design, data = sgdat, method = "FE")
add("molloy_subgroup_design", list(groups = sgdat$design, estimate = unname(sgdat$est),
                                   se = unname(sgdat$se), tau2 = unname(sgdat$tau2),
                                   k = unname(sgdat$k), Qb = qb$QM, Qb_p = qb$QMp,
                                   Qb_df = qb$QMdf[1]))

# ---------------------------------------------------------------- bcg
bz <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
add("escalc_bcg_rr", list(yi = as.vector(bz$yi), vi = as.vector(bz$vi)))
bo <- escalc(measure = "OR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
add("escalc_bcg_or", list(yi = as.vector(bo$yi), vi = as.vector(bo$vi)))
for (m in c("REML", "DL", "FE")) add(paste0("bcg_", m), uni(rma(yi, vi, data = bz, method = m, control = tight)))
add("bcg_REML_knha", uni(rma(yi, vi, data = bz, test = "knha", control = tight)))
add("bcg_mreg_ablat_REML", uni(rma(yi, vi, mods = ~ ablat, data = bz, control = tight)))
add("bcg_mreg_ablat_year_REML", uni(rma(yi, vi, mods = ~ ablat + year, data = bz, control = tight)))
add("bcg_mreg_ablat_year_REML_knha", uni(rma(yi, vi, mods = ~ ablat + year, data = bz,
                                           test = "knha", control = tight)))
add("bcg_mreg_ablat_year_ML", uni(rma(yi, vi, mods = ~ ablat + year, data = bz,
                                    method = "ML", control = tight)))
add("bcg_mreg_alloc_REML", uni(rma(yi, vi, mods = ~ alloc, data = bz, control = tight)))
ci <- confint(rma(yi, vi, data = bz, control = tight), control = ci_tight)
add("bcg_REML_confint", list(
  tau2 = unname(ci$random["tau^2", ]), tau = unname(ci$random["tau", ]),
  I2 = unname(ci$random["I^2(%)", ]), H2 = unname(ci$random["H^2", ])))

# ---------------------------------------------------------------- three-level
dk <- dat.konstantopoulos2011
k3 <- rma.mv(yi, vi, random = ~ 1 | district/school, data = dk, control = mvtight)
add("konst_REML", mv(k3))
add("konst_ML", mv(rma.mv(yi, vi, random = ~ 1 | district/school, data = dk, method = "ML",
                          control = mvtight)))
add("konst_year_REML", mv(rma.mv(yi, vi, mods = ~ I(year - 1990), random = ~ 1 | district/school,
                                 data = dk, control = mvtight)))
add("konst_REML_t", mv(rma.mv(yi, vi, random = ~ 1 | district/school, data = dk, test = "t",
                              control = mvtight)))
add("konst_REML_cr2", rob(robust(k3, cluster = dk$district, clubSandwich = TRUE)))
ky <- rma.mv(yi, vi, mods = ~ I(year - 1990), random = ~ 1 | district/school, data = dk,
             control = mvtight)
add("konst_year_REML_cr2", rob(robust(ky, cluster = dk$district, clubSandwich = TRUE)))
add("default_control_konst_REML", mv(rma.mv(yi, vi, random = ~ 1 | district/school, data = dk)))

da <- dat.assink2016
a3 <- rma.mv(yi, vi, random = ~ 1 | study/esid, data = da, control = mvtight)
add("assink_REML", mv(a3))
add("assink_REML_cr2", rob(robust(a3, cluster = da$study, clubSandwich = TRUE)))
ad <- rma.mv(yi, vi, mods = ~ deltype, random = ~ 1 | study/esid, data = da, control = mvtight)
add("assink_deltype_REML", mv(ad))
add("assink_deltype_REML_cr2", rob(robust(ad, cluster = da$study, clubSandwich = TRUE)))
ay <- rma.mv(yi, vi, mods = ~ year + deltype, random = ~ 1 | study/esid, data = da,
             control = mvtight)
add("assink_year_deltype_REML_cr2", rob(robust(ay, cluster = da$study, clubSandwich = TRUE)))
add("default_control_assink_REML", mv(rma.mv(yi, vi, random = ~ 1 | study/esid, data = da)))

# univariate model with CR2 (clusters = studies)
ua <- rma(yi, vi, data = da, control = tight)
add("assink_uni_REML_cr2", rob(robust(ua, cluster = da$study, clubSandwich = TRUE)))

writeLines(toJSON(ref, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"),
           "models.json")
cat("wrote models.json with", length(ref$cases), "cases\n")
